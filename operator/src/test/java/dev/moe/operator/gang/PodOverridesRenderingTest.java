package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.PlacementSpec;
import dev.moe.api.v1alpha1.PodOverridesSpec;
import dev.moe.api.v1alpha1.TrainerResources;
import dev.moe.api.v1alpha1.TrainerSpec;
import dev.moe.operator.TestJobs;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.LocalObjectReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The lifecycle fields and pod overrides as the gang pod builder renders them. */
class PodOverridesRenderingTest {

    /**
     * Rank 1's pod. The plan is the base job's: the plan engine refuses the operator's keys and volume names, and
     * these tests look at what the builder does even so (the operator's own always win).
     */
    private static Pod render(MoETrainingJob job) {
        Plan plan = TestJobs.plan(TestJobs.tiny("ml", "tiny", 2));
        return GangPodFactory.render(job, plan, 0, 1, GangSettings.defaults());
    }

    private static Container trainer(Pod pod) {
        return pod.getSpec().getContainers().get(0);
    }

    @Test
    void withoutResourcesEachPodRequestsCpuAndMemoryPerGpuAndIsBurstable() {
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2); // 2 GPUs per node
        var r = trainer(render(job)).getResources();
        assertThat(r.getRequests())
                .containsEntry("cpu", new Quantity(String.valueOf(2 * TrainerResources.DEFAULT_CPU_PER_GPU)))
                .containsEntry("memory", new Quantity(2 * TrainerResources.DEFAULT_MEMORY_PER_GPU_GIB + "Gi"))
                .containsEntry("nvidia.com/gpu", new Quantity("2"));
        // no CPU or memory limit: Burstable, not Guaranteed (the GPU limit is the extended resource's rule)
        assertThat(r.getLimits()).containsOnlyKeys("nvidia.com/gpu");
    }

    @Test
    void givenResourcesAreTakenAndALimitAloneLeavesTheRequestToTheApiServer() {
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2);
        job.getSpec().trainer = new TrainerSpec();
        var res = new TrainerResources();
        res.requests = new TrainerResources.CpuMemory();
        res.requests.cpu = new Quantity("6");
        res.limits = new TrainerResources.CpuMemory();
        res.limits.cpu = new Quantity("12");
        res.limits.memory = new Quantity("64Gi");
        job.getSpec().trainer.resources = res;
        var r = trainer(render(job)).getResources();
        assertThat(r.getRequests())
                .containsEntry("cpu", new Quantity("6"))
                .doesNotContainKey("memory") // = its limit, as Kubernetes defaults it
                .containsEntry("nvidia.com/gpu", new Quantity("2"));
        assertThat(r.getLimits())
                .containsEntry("cpu", new Quantity("12"))
                .containsEntry("memory", new Quantity("64Gi"))
                .containsEntry("nvidia.com/gpu", new Quantity("2"));
    }

    @Test
    void priorityClassNameReachesThePod() {
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2);
        assertThat(render(job).getSpec().getPriorityClassName()).isNull();
        job.getSpec().placement = new PlacementSpec();
        job.getSpec().placement.priorityClassName = "training-high";
        assertThat(render(job).getSpec().getPriorityClassName()).isEqualTo("training-high");
    }

    @Test
    void podOverridesLandOnThePodUnderTheOperatorsOwn() {
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2);
        PodOverridesSpec pod = new PodOverridesSpec();
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("team.example.com/owner", "research");
        labels.put("training.moe.dev/node-rank", "7"); // the operator's: refused by the plan engine, never applied
        pod.labels = labels;
        Map<String, String> annotations = new LinkedHashMap<>();
        annotations.put("cluster-autoscaler.kubernetes.io/safe-to-evict", "false");
        annotations.put("kueue.x-k8s.io/pod-group-total-count", "1");
        pod.annotations = annotations;
        pod.imagePullSecrets = List.of(new LocalObjectReference("registry-creds"));
        pod.securityContext = new PodSecurityContextBuilder()
                .withRunAsUser(1000L)
                .withFsGroup(2000L)
                .build();
        pod.volumes = List.of(new VolumeBuilder()
                .withName("cache")
                .withNewEmptyDir()
                .withSizeLimit(new Quantity("100Gi"))
                .endEmptyDir()
                .build());
        job.getSpec().pod = pod;
        job.getSpec().trainer = new TrainerSpec();
        job.getSpec().trainer.volumeMounts = List.of(new VolumeMountBuilder()
                .withName("cache")
                .withMountPath("/mnt/cache")
                .build());
        job.getSpec().trainer.securityContext = new SecurityContextBuilder()
                .withAllowPrivilegeEscalation(false)
                .withNewCapabilities()
                .addToAdd("IPC_LOCK")
                .endCapabilities()
                .build();

        Pod p = render(job);
        assertThat(p.getMetadata().getLabels())
                .containsEntry("team.example.com/owner", "research")
                .containsEntry("training.moe.dev/node-rank", "1")
                .containsEntry("training.moe.dev/job", "tiny");
        assertThat(p.getMetadata().getAnnotations())
                .containsEntry("cluster-autoscaler.kubernetes.io/safe-to-evict", "false")
                .doesNotContainKey("kueue.x-k8s.io/pod-group-total-count");
        assertThat(p.getSpec().getImagePullSecrets())
                .extracting(LocalObjectReference::getName)
                .containsExactly("registry-creds");
        assertThat(p.getSpec().getSecurityContext().getRunAsUser()).isEqualTo(1000L);
        assertThat(p.getSpec().getSecurityContext().getFsGroup()).isEqualTo(2000L);
        assertThat(p.getSpec().getVolumes())
                .extracting(Volume::getName)
                .containsExactly("plan", "dshm", "pod-info", "cache");
        assertThat(trainer(p).getVolumeMounts())
                .extracting(VolumeMount::getMountPath)
                .containsExactly("/etc/moe", "/dev/shm", "/etc/moe-pod", "/mnt/cache");
        assertThat(trainer(p).getSecurityContext().getAllowPrivilegeEscalation())
                .isFalse();
        assertThat(trainer(p).getSecurityContext().getCapabilities().getAdd()).containsExactly("IPC_LOCK");
    }

    @Test
    void aVolumeNamedLikeTheOperatorsNeverReplacesIt() {
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2);
        job.getSpec().pod = new PodOverridesSpec();
        job.getSpec().pod.volumes = List.of(new VolumeBuilder()
                .withName("plan")
                .withNewEmptyDir()
                .endEmptyDir()
                .build());
        Pod p = render(job);
        assertThat(p.getSpec().getVolumes())
                .filteredOn(v -> v.getName().equals("plan"))
                .singleElement()
                .satisfies(v -> assertThat(v.getConfigMap()).isNotNull());
    }

    @Test
    void withoutOverridesThePodHasNone() {
        Pod p = render(TestJobs.tiny("ml", "tiny", 2));
        assertThat(p.getSpec().getImagePullSecrets()).isNullOrEmpty();
        assertThat(p.getSpec().getSecurityContext()).isNull();
        assertThat(trainer(p).getSecurityContext()).isNull();
    }
}
