package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.NcclSpec;
import dev.moe.api.v1alpha1.PlacementSpec;
import dev.moe.api.v1alpha1.TrainerContract;
import dev.moe.api.v1alpha1.TrainerSpec;
import dev.moe.api.v1alpha1.TrainingSpec;
import dev.moe.operator.TestJobs;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodAffinityTerm;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class GangPodFactoryTest {

    /**
     * The container's environment with a value, as the kubelet builds it: the ConfigMap of its envFrom (the job's
     * shared environment, whose name the pod must give) first, its own env over it.
     */
    private static Map<String, String> env(MoETrainingJob job, Plan plan, Pod pod) {
        Container c = pod.getSpec().getContainers().get(0);
        assertThat(c.getEnvFrom())
                .singleElement()
                .satisfies(from ->
                        assertThat(from.getConfigMapRef().getName()).isEqualTo(GangNames.trainerEnvConfigMapName(job)));
        Map<String, String> env = new java.util.TreeMap<>(GangPodFactory.sharedEnv(job, plan, GangSettings.defaults()));
        c.getEnv().stream().filter(e -> e.getValue() != null).forEach(e -> env.put(e.getName(), e.getValue()));
        return env;
    }

    @Test
    void torchrunEnvDegreesAttemptAndIdentity() {
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2);
        Plan plan = TestJobs.plan(job);
        Pod pod = GangPodFactory.render(job, plan, 3, 1, GangSettings.defaults());

        Map<String, String> env = env(job, plan, pod);
        assertThat(env)
                .containsEntry("MASTER_ADDR", "tiny-node-0.tiny.ml.svc")
                .containsEntry("MASTER_PORT", "29500")
                .containsEntry("NNODES", "2")
                .containsEntry("NODE_RANK", "1")
                .containsEntry("NPROC_PER_NODE", "2")
                .containsEntry("WORLD_SIZE", "4")
                .containsEntry("MOE_PLAN_PATH", "/etc/moe/plan.json")
                .containsEntry("MOE_TENSOR_PARALLEL", "2")
                .containsEntry("MOE_EXPERT_PARALLEL", "2")
                .containsEntry("MOE_CONTEXT_PARALLEL", "1")
                .containsEntry("MOE_DATA_PARALLEL", "2")
                .containsEntry("MOE_RESTART_ATTEMPT", "3")
                .containsEntry("MOE_JOB_NAME", "tiny")
                .containsEntry("MOE_METRICS_PORT", "9400")
                .containsEntry("MOE_PROGRESS", "pod-annotation")
                .containsEntry(TrainerContract.MOE_POD_ANNOTATIONS, TrainerContract.POD_ANNOTATIONS_PATH)
                .containsEntry("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")
                .containsEntry("TORCH_NCCL_BLOCKING_WAIT", "0")
                .doesNotContainKey("MOE_CHECKPOINT_DIR");
        // torchrun's own names (PET_<ARG>), for a trainer whose command is bare `torchrun train.py`
        assertThat(env)
                .containsEntry("PET_NNODES", env.get("NNODES"))
                .containsEntry("PET_NODE_RANK", env.get("NODE_RANK"))
                .containsEntry("PET_NPROC_PER_NODE", env.get("NPROC_PER_NODE"))
                .containsEntry("PET_MASTER_ADDR", env.get("MASTER_ADDR"))
                .containsEntry("PET_MASTER_PORT", env.get("MASTER_PORT"));
        List<EnvVar> all = pod.getSpec().getContainers().get(0).getEnv();
        assertThat(all)
                .filteredOn(e -> e.getName().equals("POD_NAME"))
                .singleElement()
                .satisfies(e -> assertThat(e.getValueFrom().getFieldRef().getFieldPath())
                        .isEqualTo("metadata.name"));
        assertThat(all)
                .filteredOn(e -> e.getName().equals("POD_NAMESPACE"))
                .singleElement()
                .satisfies(e -> assertThat(e.getValueFrom().getFieldRef().getFieldPath())
                        .isEqualTo("metadata.namespace"));
        // Every name once; in the pod only what differs from pod to pod.
        assertThat(all.stream().map(EnvVar::getName).distinct().count()).isEqualTo(all.size());
        assertThat(all)
                .extracting(EnvVar::getName)
                .containsExactly("NODE_RANK", "PET_NODE_RANK", "MOE_RESTART_ATTEMPT", "POD_NAME", "POD_NAMESPACE");
    }

    @Test
    void namesLabelsDnsAndOwner() {
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2);
        Pod pod = GangPodFactory.render(job, TestJobs.plan(job), 0, 1, GangSettings.defaults());
        assertThat(pod.getMetadata().getName()).isEqualTo("tiny-node-1");
        assertThat(pod.getMetadata().getLabels())
                .containsEntry("training.moe.dev/job", "tiny")
                .containsEntry("training.moe.dev/node-rank", "1")
                .containsEntry("training.moe.dev/attempt", "0");
        assertThat(pod.getSpec().getHostname()).isEqualTo("tiny-node-1");
        assertThat(pod.getSpec().getSubdomain()).isEqualTo("tiny");
        assertThat(pod.getSpec().getRestartPolicy()).isEqualTo("Never");
        assertThat(pod.getSpec().getServiceAccountName()).isEqualTo("tiny-trainer");
        assertThat(pod.getMetadata().getOwnerReferences()).singleElement().satisfies(o -> {
            assertThat(o.getUid()).isEqualTo("uid-tiny");
            assertThat(o.getController()).isTrue();
            assertThat(o.getKind()).isEqualTo("MoETrainingJob");
        });
    }

    @Test
    void gpusNodeSelectorTolerationsAndImage() {
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2);
        job.getSpec().placement = new PlacementSpec();
        job.getSpec().placement.nodeSelector = Map.of("pool", "train");
        job.getSpec().placement.tolerations = List.of(new TolerationBuilder()
                .withKey("dedicated")
                .withOperator("Equal")
                .withValue("ml")
                .withEffect("NoSchedule")
                .build());
        Pod pod = GangPodFactory.render(job, TestJobs.plan(job), 0, 0, new GangSettings("img:default", 29500, 9400));
        Container c = pod.getSpec().getContainers().get(0);
        assertThat(c.getImage()).isEqualTo("img:default");
        assertThat(c.getCommand()).isNullOrEmpty();
        assertThat(c.getTerminationMessagePolicy())
                .as("a failed trainer's last log lines are its termination message")
                .isEqualTo("FallbackToLogsOnError");
        assertThat(c.getResources().getLimits()).containsEntry("nvidia.com/gpu", new Quantity("2"));
        assertThat(c.getResources().getRequests()).containsEntry("nvidia.com/gpu", new Quantity("2"));
        assertThat(pod.getSpec().getNodeSelector())
                .containsEntry("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3")
                .containsEntry("pool", "train");
        assertThat(pod.getSpec().getTolerations())
                .extracting(t -> t.getKey())
                .containsExactlyInAnyOrder("dedicated", "nvidia.com/gpu");

        // The plan engine refuses a job that sets NODE_RANK (EnvNameReserved); rendering still ignores it
        // (defense in depth for a job planned before the rule), so the plan is made before the env is set.
        Plan plan = TestJobs.plan(job);
        job.getSpec().trainer = new TrainerSpec();
        job.getSpec().trainer.image = "my/trainer:1";
        job.getSpec().trainer.command = List.of("python", "-m", "x");
        job.getSpec().trainer.env = List.of(
                new EnvVar("FOO", "bar", null),
                new EnvVar("NODE_RANK", "7", null),
                new EnvVar("TORCH_NCCL_BLOCKING_WAIT", "1", null));
        Pod custom = GangPodFactory.render(job, plan, 0, 0, GangSettings.defaults());
        assertThat(custom.getSpec().getContainers().get(0).getImage()).isEqualTo("my/trainer:1");
        assertThat(custom.getSpec().getContainers().get(0).getCommand()).containsExactly("python", "-m", "x");
        // User env is added and may tune NCCL, but never changes the rank layout.
        assertThat(env(job, plan, custom))
                .containsEntry("FOO", "bar")
                .containsEntry("NODE_RANK", "0")
                .containsEntry("TORCH_NCCL_BLOCKING_WAIT", "1");
    }

    @Test
    void volumesPlanShmCheckpointModelData() {
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2);
        job.getSpec().training.checkpoint = new TrainingSpec.CheckpointSpec();
        job.getSpec().training.checkpoint.claimName = "ckpt";
        job.getSpec().training.checkpoint.everySteps = 10;
        job.getSpec().training.dataset = new TrainingSpec.DatasetSpec();
        job.getSpec().training.dataset.type = TrainingSpec.DatasetType.tokens;
        job.getSpec().training.dataset.claimName = "corpus";
        job.getSpec().training.dataset.path = "/data/tokens.bin";
        job.getSpec().model.checkpoint = new dev.moe.api.v1alpha1.ModelSpec.ModelCheckpointSpec();
        job.getSpec().model.checkpoint.claimName = "weights";
        job.getSpec().model.checkpoint.path = "/models/Tiny";
        Pod pod = GangPodFactory.render(job, TestJobs.plan(job), 0, 0, GangSettings.defaults());

        Map<String, Volume> volumes =
                pod.getSpec().getVolumes().stream().collect(Collectors.toMap(Volume::getName, v -> v));
        Map<String, VolumeMount> mounts = pod.getSpec().getContainers().get(0).getVolumeMounts().stream()
                .collect(Collectors.toMap(VolumeMount::getName, m -> m));
        assertThat(volumes.get("plan").getConfigMap().getName()).isEqualTo("tiny-plan");
        assertThat(mounts.get("plan").getMountPath()).isEqualTo("/etc/moe");
        assertThat(mounts.get("plan").getReadOnly()).isTrue();
        assertThat(volumes.get("dshm").getEmptyDir().getMedium()).isEqualTo("Memory");
        assertThat(mounts.get("dshm").getMountPath()).isEqualTo("/dev/shm");
        assertThat(volumes.get("checkpoints").getPersistentVolumeClaim().getClaimName())
                .isEqualTo("ckpt");
        assertThat(mounts.get("checkpoints").getMountPath()).isEqualTo("/checkpoints");
        assertThat(volumes.get("model").getPersistentVolumeClaim().getClaimName())
                .isEqualTo("weights");
        assertThat(mounts.get("model").getMountPath()).isEqualTo("/models");
        assertThat(mounts.get("model").getReadOnly()).isTrue();
        assertThat(volumes.get("data").getPersistentVolumeClaim().getClaimName())
                .isEqualTo("corpus");
        assertThat(mounts.get("data").getMountPath()).isEqualTo("/data");
        assertThat(env(job, TestJobs.plan(job), pod)).containsEntry("MOE_CHECKPOINT_DIR", "/checkpoints");
        // checkpoint before stop: the kubelet keeps the pod's annotations in a file the trainer polls
        var items = volumes.get("pod-info").getDownwardAPI().getItems();
        assertThat(items).singleElement().satisfies(i -> {
            assertThat(i.getPath()).isEqualTo("annotations");
            assertThat(i.getFieldRef().getFieldPath()).isEqualTo("metadata.annotations");
        });
        assertThat(mounts.get("pod-info").getMountPath()).isEqualTo(TrainerContract.POD_INFO_DIR);
        assertThat(mounts.get("pod-info").getReadOnly()).isTrue();
    }

    @Test
    void ncclEnvFromSpec() {
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2);
        job.getSpec().nccl = new NcclSpec();
        job.getSpec().nccl.socketIfname = "eth0";
        job.getSpec().nccl.ibHca = "mlx5_0,mlx5_1";
        job.getSpec().nccl.extraEnv = Map.of("NCCL_DEBUG", "WARN");
        Plan plan = TestJobs.plan(job);
        // refused by the plan engine (EnvNameReserved), and ignored by the pod factory all the same
        job.getSpec().nccl.extraEnv = Map.of("NCCL_DEBUG", "WARN", "MASTER_PORT", "1");
        Map<String, String> env = env(job, plan, GangPodFactory.render(job, plan, 0, 0, GangSettings.defaults()));
        assertThat(env)
                .containsEntry("NCCL_SOCKET_IFNAME", "eth0")
                .containsEntry("NCCL_IB_HCA", "mlx5_0,mlx5_1")
                .containsEntry("NCCL_DEBUG", "WARN")
                .containsEntry("MASTER_PORT", "29500");
    }

    @Test
    void whatAUserMayEditWhileTheJobRunsIsFixedInThePodNotTheSharedConfigMap() {
        // The kubelet reads envFrom when it starts a container: a ConfigMap value that followed an edit of a running
        // job would differ between the pods of one attempt that started before the edit and after it.
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2);
        Plan plan = TestJobs.plan(job);
        Map<String, String> shared = GangPodFactory.sharedEnv(job, plan, GangSettings.defaults());
        job.getSpec().nccl = new NcclSpec();
        job.getSpec().nccl.socketIfname = "eth0";
        job.getSpec().nccl.extraEnv = Map.of("TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC", "1200");
        job.getSpec().training.checkpoint = new dev.moe.api.v1alpha1.TrainingSpec.CheckpointSpec();
        job.getSpec().training.checkpoint.claimName = "ckpt";

        assertThat(GangPodFactory.sharedEnv(job, plan, GangSettings.defaults())).isEqualTo(shared);
        Pod pod = GangPodFactory.render(job, plan, 0, 1, GangSettings.defaults());
        Map<String, String> inline = new java.util.TreeMap<>();
        pod.getSpec().getContainers().get(0).getEnv().forEach(e -> inline.put(e.getName(), e.getValue()));
        assertThat(inline)
                .containsEntry("NCCL_SOCKET_IFNAME", "eth0")
                .containsEntry("MOE_CHECKPOINT_DIR", "/checkpoints")
                .containsEntry("TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC", "1200");
        // the pod's own env wins over the ConfigMap's default
        assertThat(env(job, plan, pod)).containsEntry("TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC", "1200");
    }

    @Test
    void expertGroupsSpanningNodesShareTheFirstTopologyDomainInRankOrder() {
        // expert 4 over 2-GPU nodes: each expert group spans 2 consecutive node ranks.
        MoETrainingJob job = TestJobs.tiny("ml", "big", 4);
        job.getSpec().parallelism.expert = 4;
        job.getSpec().parallelism.tensor = 1;
        job.getSpec().placement = new PlacementSpec();
        job.getSpec().placement.topologyKeys = List.of("nvidia.com/gpu.clique", "topology.kubernetes.io/rack");
        Plan plan = TestJobs.plan(job);
        List<Pod> pods = java.util.stream.IntStream.range(0, 4)
                .mapToObj(r -> GangPodFactory.render(job, plan, 0, r, GangSettings.defaults()))
                .toList();

        assertThat(pods)
                .extracting(p -> p.getMetadata().getLabels().get("training.moe.dev/expert-group"))
                .containsExactly("0", "0", "1", "1");
        for (Pod p : pods) {
            var aff = p.getSpec().getAffinity();
            // one pod per node
            assertThat(aff.getPodAntiAffinity().getRequiredDuringSchedulingIgnoredDuringExecution())
                    .singleElement()
                    .satisfies(t -> {
                        assertThat(t.getTopologyKey()).isEqualTo("kubernetes.io/hostname");
                        assertThat(t.getLabelSelector().getMatchLabels()).containsEntry("training.moe.dev/job", "big");
                    });
            List<PodAffinityTerm> req = aff.getPodAffinity().getRequiredDuringSchedulingIgnoredDuringExecution();
            assertThat(req).singleElement().satisfies(t -> {
                assertThat(t.getTopologyKey()).isEqualTo("nvidia.com/gpu.clique");
                assertThat(t.getLabelSelector().getMatchLabels())
                        .containsEntry(
                                "training.moe.dev/expert-group",
                                p.getMetadata().getLabels().get("training.moe.dev/expert-group"))
                        .containsEntry("training.moe.dev/job", "big");
            });
            assertThat(aff.getPodAffinity().getPreferredDuringSchedulingIgnoredDuringExecution())
                    .extracting(w -> w.getPodAffinityTerm().getTopologyKey())
                    .containsExactly("topology.kubernetes.io/rack");
        }
    }

    @Test
    void expertGroupsInsideANodeOnlyPreferProximity() {
        MoETrainingJob job = TestJobs.tiny("ml", "tiny", 2);
        job.getSpec().placement = new PlacementSpec();
        job.getSpec().placement.topologyKeys = List.of("nvidia.com/gpu.clique");
        Pod pod = GangPodFactory.render(job, TestJobs.plan(job), 0, 1, GangSettings.defaults());
        assertThat(pod.getSpec().getAffinity().getPodAffinity().getRequiredDuringSchedulingIgnoredDuringExecution())
                .isNullOrEmpty();
        assertThat(pod.getSpec().getAffinity().getPodAffinity().getPreferredDuringSchedulingIgnoredDuringExecution())
                .extracting(w -> w.getPodAffinityTerm().getTopologyKey())
                .containsExactly("nvidia.com/gpu.clique");
    }

    @Test
    void kueueQueueMakesOnePodGroupWithTopologyAnnotationsAndNoAffinity() {
        MoETrainingJob job = TestJobs.tiny("ml", "big", 4);
        job.getSpec().parallelism.expert = 4;
        job.getSpec().parallelism.tensor = 1;
        job.getSpec().placement = new PlacementSpec();
        job.getSpec().placement.queueName = "gpu-queue";
        job.getSpec().placement.topologyKeys = List.of("nvidia.com/gpu.clique", "topology.kubernetes.io/rack");
        Pod pod = GangPodFactory.render(job, TestJobs.plan(job), 2, 3, GangSettings.defaults());
        assertThat(pod.getMetadata().getLabels())
                .containsEntry("kueue.x-k8s.io/queue-name", "gpu-queue")
                .containsEntry("kueue.x-k8s.io/pod-group-name", "big-a2");
        assertThat(pod.getMetadata().getAnnotations())
                .containsEntry("kueue.x-k8s.io/pod-group-total-count", "4")
                .containsEntry("kueue.x-k8s.io/pod-group-pod-index-label", "training.moe.dev/node-rank")
                .containsEntry("kueue.x-k8s.io/retriable-in-group", "false")
                .containsEntry("kueue.x-k8s.io/podset-slice-required-topology", "nvidia.com/gpu.clique")
                .containsEntry("kueue.x-k8s.io/podset-slice-size", "2")
                .containsEntry("kueue.x-k8s.io/podset-preferred-topology", "topology.kubernetes.io/rack");
        assertThat(pod.getSpec().getAffinity()).isNull();
    }
}
