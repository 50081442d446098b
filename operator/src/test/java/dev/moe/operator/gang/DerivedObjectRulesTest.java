package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.ModelSpec;
import dev.moe.api.v1alpha1.ObjectNameRules;
import dev.moe.api.v1alpha1.TrainingSpec;
import dev.moe.api.v1alpha1.WorkloadSyntax;
import dev.moe.operator.TestJobs;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The plan engine's rules about derived objects (ObjectNameRules, WorkloadSyntax) describe what this operator
 * really derives: the names of the longest valid job at the largest rank and attempt are valid, and the reserved
 * env, the operator's mounts and the model mount path are the pod factory's. If the factory changes a name, a
 * mount or an identity variable, this test says which rule to change with it.
 */
class DerivedObjectRulesTest {
    static final String LONGEST = "j" + "x".repeat(ObjectNameRules.MAX_JOB_NAME_LENGTH - 1);

    static boolean dnsLabel(String s) {
        return s.length() <= 63 && s.matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    }

    @Test
    void every_name_derived_from_the_longest_job_name_is_valid() {
        MoETrainingJob job = TestJobs.tiny("n".repeat(63), LONGEST, 2);
        assertThat(dev.moe.plan.JobNameRules.checkJobName(LONGEST)).isEmpty();
        String pod = GangNames.podName(job, ObjectNameRules.MAX_NODE_RANK);
        assertThat(pod).endsWith("-node-4095");
        assertThat(dnsLabel(pod)).as("pod name = hostname " + pod).isTrue();
        assertThat(GangNames.serviceName(job)).matches(ObjectNameRules.DNS1035_LABEL);
        assertThat(ObjectNameRules.isDns1123Subdomain(GangNames.planConfigMapName(job)))
                .isTrue();
        assertThat(ObjectNameRules.isDns1123Subdomain(GangNames.trainerIdentityName(job)))
                .isTrue();
        assertThat(ObjectNameRules.isDns1123Subdomain(GangNames.trainerEnvConfigMapName(job)))
                .isTrue();
        assertThat(ObjectNameRules.isLabelValue(GangNames.jobLabels(job).get(GangNames.JOB_LABEL)))
                .isTrue();
        String group = Placement.kueueGroupName(job, ObjectNameRules.MAX_ATTEMPT);
        assertThat(ObjectNameRules.isLabelValue(group))
                .as("Kueue pod group " + group)
                .isTrue();
        assertThat(GangNames.masterAddress(job).length())
                .as("MASTER_ADDR is a DNS name")
                .isLessThanOrEqualTo(253);
        // one character more and the longest derived names stop fitting
        MoETrainingJob longer = TestJobs.tiny("ns", LONGEST + "x", 2);
        assertThat(ObjectNameRules.isLabelValue(Placement.kueueGroupName(longer, ObjectNameRules.MAX_ATTEMPT)))
                .isFalse();
    }

    @Test
    void the_reserved_env_is_what_the_pod_factory_protects() {
        assertThat(WorkloadSyntax.RESERVED_ENV).containsExactlyInAnyOrderElementsOf(GangPodFactory.IDENTITY_ENV);
        assertThat(WorkloadSyntax.TRAINER_CONTAINER).isEqualTo(GangNames.TRAINER_CONTAINER);
    }

    @Test
    void the_operator_mounts_and_the_model_mount_are_the_pod_factorys() {
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2);
        Plan plan = TestJobs.plan(job);
        job.getSpec().training.checkpoint = new TrainingSpec.CheckpointSpec();
        job.getSpec().training.checkpoint.claimName = "ckpt";
        job.getSpec().training.dataset = new TrainingSpec.DatasetSpec();
        job.getSpec().training.dataset.claimName = "corpus";
        job.getSpec().model.checkpoint = new ModelSpec.ModelCheckpointSpec();
        job.getSpec().model.checkpoint.claimName = "weights";
        job.getSpec().model.checkpoint.path = "/models/Qwen3-30B-A3B";
        Pod pod = GangPodFactory.render(job, plan, 0, 0, GangSettings.defaults());
        List<String> mounts = new ArrayList<>();
        for (VolumeMount m : pod.getSpec().getContainers().get(0).getVolumeMounts()) {
            mounts.add(m.getMountPath());
        }
        List<String> expected = new ArrayList<>(WorkloadSyntax.OPERATOR_MOUNTS);
        expected.add(WorkloadSyntax.modelMountPath("/models/Qwen3-30B-A3B"));
        assertThat(mounts).containsExactlyInAnyOrderElementsOf(expected);
    }
}
