package dev.moe.operator.gang;

import dev.moe.operator.api.v1alpha1.MoETrainingJob;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Renders the job's other dependents (pure functions): the plan ConfigMap, the headless rendezvous Service, and
 * the trainer identity (ServiceAccount + Role + RoleBinding) that lets rank 0 annotate its own pod with progress.
 */
public final class JobResourceFactory {
    private JobResourceFactory() {
    }

    private static ObjectMeta meta(MoETrainingJob job, String name) {
        return new ObjectMetaBuilder()
                .withName(name)
                .withNamespace(job.getMetadata().getNamespace())
                .withLabels(GangNames.jobLabels(job))
                .withOwnerReferences(GangPodFactory.ownerReference(job))
                .build();
    }

    /** ConfigMap {@code <job>-plan}: the plan document, mounted into every pod. */
    public static ConfigMap planConfigMap(MoETrainingJob job, Plan plan) {
        return new ConfigMapBuilder()
                .withMetadata(meta(job, GangNames.planConfigMapName(job)))
                .withData(Map.of(GangNames.PLAN_KEY, plan.toJsonString()))
                .build();
    }

    /**
     * Headless Service {@code <job>}: gives every pod the DNS name {@code <pod>.<job>.<ns>.svc} (pods set
     * hostname and subdomain), so MASTER_ADDR resolves to node rank 0 before any pod is ready.
     */
    public static Service headlessService(MoETrainingJob job, int masterPort) {
        return new ServiceBuilder()
                .withMetadata(meta(job, GangNames.serviceName(job)))
                .withNewSpec()
                .withClusterIP("None")
                .withPublishNotReadyAddresses(true)
                .withSelector(Map.of(GangNames.JOB_LABEL, job.getMetadata().getName()))
                .addNewPort().withName("rendezvous").withPort(masterPort).withProtocol("TCP").endPort()
                .endSpec()
                .build();
    }

    public static ServiceAccount trainerServiceAccount(MoETrainingJob job) {
        return new ServiceAccountBuilder().withMetadata(meta(job, GangNames.trainerIdentityName(job))).build();
    }

    /** Role {@code <job>-trainer}: patch on this job's pods only (by name), for the progress report. */
    public static Role trainerRole(MoETrainingJob job, int nodes) {
        List<String> pods = new ArrayList<>();
        for (int r = 0; r < nodes; r++) {
            pods.add(GangNames.podName(job, r));
        }
        return new RoleBuilder()
                .withMetadata(meta(job, GangNames.trainerIdentityName(job)))
                .withRules(new PolicyRuleBuilder().withApiGroups("").withResources("pods")
                        .withVerbs("patch").withResourceNames(pods).build())
                .build();
    }

    public static RoleBinding trainerRoleBinding(MoETrainingJob job) {
        String name = GangNames.trainerIdentityName(job);
        return new RoleBindingBuilder()
                .withMetadata(meta(job, name))
                .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("Role").withName(name).endRoleRef()
                .addNewSubject().withKind("ServiceAccount").withName(name)
                .withNamespace(job.getMetadata().getNamespace()).endSubject()
                .build();
    }
}
