package dev.moe.operator.dependents;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.config.OperatorConfig;
import dev.moe.operator.gang.GangNames;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;
import jakarta.inject.Inject;
import java.util.Map;
import java.util.Objects;

/**
 * Headless Service {@code <job>}: gives every pod the DNS name {@code <pod>.<job>.<ns>.svc} (pods set hostname and
 * subdomain), so MASTER_ADDR resolves to node rank 0 before any pod is ready.
 */
@KubernetesDependent(informer = @Informer(labelSelector = GangNames.JOB_LABEL))
public class HeadlessService extends JobDependent<Service> {

    @Inject
    OperatorConfig config;

    public HeadlessService() {
        super(Service.class);
    }

    @Override
    String name(MoETrainingJob job) {
        return GangNames.serviceName(job);
    }

    @Override
    protected Service desired(MoETrainingJob job, Context<MoETrainingJob> context) {
        return new ServiceBuilder()
                .withMetadata(meta(job, name(job)))
                .withNewSpec()
                .withClusterIP("None")
                .withPublishNotReadyAddresses(true)
                .withSelector(Map.of(GangNames.JOB_LABEL, job.getMetadata().getName()))
                .addNewPort()
                .withName("rendezvous")
                .withPort(config.gangSettings().masterPort())
                .withProtocol("TCP")
                .endPort()
                .endSpec()
                .build();
    }

    @Override
    boolean matches(Service desired, Service actual) {
        var a = actual.getSpec();
        return a != null
                && "None".equals(a.getClusterIP())
                && Objects.equals(desired.getSpec().getSelector(), a.getSelector())
                && Boolean.TRUE.equals(a.getPublishNotReadyAddresses())
                && a.getPorts() != null
                && a.getPorts().size() == 1
                && Objects.equals(
                        a.getPorts().get(0).getPort(), config.gangSettings().masterPort());
    }
}
