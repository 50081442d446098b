package dev.moe.operator.gang;

import dev.moe.operator.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.operator.api.v1alpha1.NcclSpec;
import dev.moe.operator.api.v1alpha1.PlacementSpec;
import dev.moe.operator.api.v1alpha1.TrainerSpec;
import dev.moe.plan.Plan;
import dev.moe.plan.SpecDefaults;
import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.AffinityBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodAffinityTerm;
import io.fabric8.kubernetes.api.model.PodAffinityTermBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.WeightedPodAffinityTerm;
import io.fabric8.kubernetes.api.model.WeightedPodAffinityTermBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Renders the pod of one node rank: a pure function of (job, plan, attempt, node rank, settings). No API calls,
 * so every detail of the pod spec is unit-testable.
 *
 * <p>Layout (docs/contract.md section 2): one pod per node requesting all its GPUs, torchrun env, the plan
 * mounted at {@value GangNames#PLAN_PATH}, memory-backed /dev/shm, checkpoint/model/data volumes, NCCL env.
 * Placement: pods of the job never share a node; when expert-parallel groups span nodes, consecutive node ranks
 * form a group and the group's pods are required to share a domain of the first topology key. With a Kueue
 * queue the pods form one Kueue pod group with topology annotations instead, and carry no affinity of ours.
 */
public final class GangPodFactory {
    private GangPodFactory() {
    }

    public static final String GPU_RESOURCE = "nvidia.com/gpu";
    public static final String GPU_PRODUCT_LABEL = "nvidia.com/gpu.product";
    public static final String HOSTNAME_KEY = "kubernetes.io/hostname";

    public static final String KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name";
    public static final String KUEUE_GROUP_LABEL = "kueue.x-k8s.io/pod-group-name";
    public static final String KUEUE_GROUP_COUNT_ANNOTATION = "kueue.x-k8s.io/pod-group-total-count";
    public static final String KUEUE_INDEX_LABEL_ANNOTATION = "kueue.x-k8s.io/pod-group-pod-index-label";
    public static final String KUEUE_PREFERRED_TOPOLOGY = "kueue.x-k8s.io/podset-preferred-topology";
    public static final String KUEUE_SLICE_REQUIRED_TOPOLOGY = "kueue.x-k8s.io/podset-slice-required-topology";
    public static final String KUEUE_SLICE_SIZE = "kueue.x-k8s.io/podset-slice-size";

    /** Env the operator owns: spec.trainer.env cannot override these (they define the rank layout). */
    static final Set<String> IDENTITY_ENV = Set.of("MASTER_ADDR", "MASTER_PORT", "NNODES", "NODE_RANK",
            "NPROC_PER_NODE", "WORLD_SIZE", "MOE_PLAN_PATH", "MOE_RESTART_ATTEMPT", "MOE_JOB_NAME", "POD_NAME",
            "POD_NAMESPACE", "MOE_TENSOR_PARALLEL", "MOE_EXPERT_PARALLEL", "MOE_CONTEXT_PARALLEL",
            "MOE_DATA_PARALLEL");

    /** Nodes spanned by one expert-parallel group (1 when groups lie inside a node). */
    public static int expertGroupSpan(Plan plan) {
        return plan.expert() > plan.gpusPerNode() ? plan.expert() / plan.gpusPerNode() : 1;
    }

    /** Expert-parallel group of a node rank: consecutive node ranks share a group. */
    public static int expertGroup(Plan plan, int nodeRank) {
        return nodeRank / expertGroupSpan(plan);
    }

    /** Kueue pod group of one attempt of the gang. */
    public static String kueueGroupName(MoETrainingJob job, int attempt) {
        return job.getMetadata().getName() + "-a" + attempt;
    }

    public static Pod render(MoETrainingJob job, Plan plan, int attempt, int nodeRank, GangSettings settings) {
        MoETrainingJobSpec spec = job.getSpec();
        PlacementSpec placement = spec.placement != null ? spec.placement : new PlacementSpec();
        String queue = placement.queueName == null || placement.queueName.isBlank() ? null : placement.queueName;
        List<String> keys = placement.topologyKeys != null ? placement.topologyKeys : List.of();
        String name = GangNames.podName(job, nodeRank);

        Map<String, String> labels = new LinkedHashMap<>(GangNames.jobLabels(job));
        labels.put(GangNames.COMPONENT_LABEL, "trainer");
        if (job.getMetadata().getUid() != null) {
            labels.put(GangNames.JOB_UID_LABEL, job.getMetadata().getUid());
        }
        labels.put(GangNames.NODE_RANK_LABEL, String.valueOf(nodeRank));
        labels.put(GangNames.ATTEMPT_LABEL, String.valueOf(attempt));
        labels.put(GangNames.EXPERT_GROUP_LABEL, String.valueOf(expertGroup(plan, nodeRank)));
        Map<String, String> annotations = new LinkedHashMap<>();
        if (queue != null) {
            labels.put(KUEUE_QUEUE_LABEL, queue);
            labels.put(KUEUE_GROUP_LABEL, kueueGroupName(job, attempt));
            annotations.put(KUEUE_GROUP_COUNT_ANNOTATION, String.valueOf(plan.nodes()));
            annotations.put(KUEUE_INDEX_LABEL_ANNOTATION, GangNames.NODE_RANK_LABEL);
            if (!keys.isEmpty()) {
                int span = expertGroupSpan(plan);
                if (span > 1) {
                    annotations.put(KUEUE_SLICE_REQUIRED_TOPOLOGY, keys.get(0));
                    annotations.put(KUEUE_SLICE_SIZE, String.valueOf(span));
                }
                annotations.put(KUEUE_PREFERRED_TOPOLOGY, keys.get(keys.size() - 1));
            }
        }

        Map<String, String> nodeSelector = new TreeMap<>();
        if (placement.nodeSelector != null) {
            nodeSelector.putAll(placement.nodeSelector);
        }
        if (spec.resources != null && spec.resources.gpuProduct != null && !spec.resources.gpuProduct.isBlank()) {
            nodeSelector.put(GPU_PRODUCT_LABEL, spec.resources.gpuProduct);
        }

        List<Toleration> tolerations = new ArrayList<>();
        if (placement.tolerations != null) {
            tolerations.addAll(placement.tolerations);
        }
        if (tolerations.stream().noneMatch(t -> GPU_RESOURCE.equals(t.getKey()))) {
            tolerations.add(new TolerationBuilder().withKey(GPU_RESOURCE).withOperator("Exists")
                    .withEffect("NoSchedule").build());
        }

        Volumes volumes = volumes(job);
        Quantity gpus = new Quantity(String.valueOf(plan.gpusPerNode()));
        TrainerSpec trainer = spec.trainer != null ? spec.trainer : new TrainerSpec();
        Container container = new ContainerBuilder()
                .withName(GangNames.TRAINER_CONTAINER)
                .withImage(trainer.image != null && !trainer.image.isBlank() ? trainer.image
                        : settings.defaultTrainerImage())
                .withImagePullPolicy("IfNotPresent")
                .withCommand(trainer.command != null && !trainer.command.isEmpty() ? trainer.command : null)
                .withArgs(trainer.args != null && !trainer.args.isEmpty() ? trainer.args : null)
                .withEnv(env(job, plan, attempt, nodeRank, settings, volumes.checkpointDir))
                .addNewPort().withName("rendezvous").withContainerPort(settings.masterPort()).withProtocol("TCP")
                .endPort()
                .addNewPort().withName("metrics").withContainerPort(settings.metricsPort()).withProtocol("TCP")
                .endPort()
                .withNewResources().addToLimits(GPU_RESOURCE, gpus).addToRequests(GPU_RESOURCE, gpus).endResources()
                .withVolumeMounts(volumes.mounts)
                .build();

        return new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(job.getMetadata().getNamespace())
                .withLabels(labels)
                .withAnnotations(annotations.isEmpty() ? null : annotations)
                .withOwnerReferences(ownerReference(job))
                .endMetadata()
                .withNewSpec()
                .withRestartPolicy("Never")
                .withHostname(name)
                .withSubdomain(GangNames.serviceName(job))
                .withServiceAccountName(GangNames.trainerIdentityName(job))
                .withAutomountServiceAccountToken(true)
                .withEnableServiceLinks(false)
                .withNodeSelector(nodeSelector.isEmpty() ? null : nodeSelector)
                .withTolerations(tolerations)
                .withAffinity(queue != null ? null : affinity(job, plan, nodeRank, keys))
                .withContainers(container)
                .withVolumes(volumes.volumes)
                .endSpec()
                .build();
    }

    /** Controller owner reference to the job: garbage collection deletes the object with the job. */
    public static OwnerReference ownerReference(MoETrainingJob job) {
        return new OwnerReferenceBuilder()
                .withApiVersion(job.getApiVersion())
                .withKind(job.getKind())
                .withName(job.getMetadata().getName())
                .withUid(job.getMetadata().getUid())
                .withController(true)
                .withBlockOwnerDeletion(true)
                .build();
    }

    static Affinity affinity(MoETrainingJob job, Plan plan, int nodeRank, List<String> keys) {
        String jobName = job.getMetadata().getName();
        // One pod per node: never two ranks of the job on one node.
        PodAffinityTerm oneper = new PodAffinityTermBuilder()
                .withLabelSelector(new LabelSelectorBuilder().addToMatchLabels(GangNames.JOB_LABEL, jobName).build())
                .withTopologyKey(HOSTNAME_KEY).build();
        AffinityBuilder b = new AffinityBuilder().withNewPodAntiAffinity()
                .withRequiredDuringSchedulingIgnoredDuringExecution(oneper).endPodAntiAffinity();
        if (keys.isEmpty()) {
            return b.build();
        }
        List<PodAffinityTerm> required = new ArrayList<>();
        List<WeightedPodAffinityTerm> preferred = new ArrayList<>();
        int span = expertGroupSpan(plan);
        int first = 0;
        if (span > 1) {
            // The expert-parallel group's all-to-all must stay inside the fastest domain.
            required.add(new PodAffinityTermBuilder()
                    .withLabelSelector(new LabelSelectorBuilder()
                            .addToMatchLabels(GangNames.JOB_LABEL, jobName)
                            .addToMatchLabels(GangNames.EXPERT_GROUP_LABEL,
                                    String.valueOf(expertGroup(plan, nodeRank)))
                            .build())
                    .withTopologyKey(keys.get(0)).build());
            first = 1;
        }
        // The rest of the gang as close as possible: fastest domain first.
        int weight = 100;
        for (int i = first; i < keys.size(); i++) {
            preferred.add(new WeightedPodAffinityTermBuilder().withWeight(Math.max(weight, 1))
                    .withNewPodAffinityTerm()
                    .withLabelSelector(new LabelSelectorBuilder().addToMatchLabels(GangNames.JOB_LABEL, jobName).build())
                    .withTopologyKey(keys.get(i))
                    .endPodAffinityTerm().build());
            weight /= 2;
        }
        return b.withNewPodAffinity()
                .withRequiredDuringSchedulingIgnoredDuringExecution(required.isEmpty() ? null : required)
                .withPreferredDuringSchedulingIgnoredDuringExecution(preferred.isEmpty() ? null : preferred)
                .endPodAffinity().build();
    }

    static List<EnvVar> env(MoETrainingJob job, Plan plan, int attempt, int nodeRank, GangSettings settings,
            String checkpointDir) {
        Map<String, EnvVar> env = new LinkedHashMap<>();
        put(env, "MASTER_ADDR", GangNames.masterAddress(job));
        put(env, "MASTER_PORT", String.valueOf(settings.masterPort()));
        put(env, "NNODES", String.valueOf(plan.nodes()));
        put(env, "NODE_RANK", String.valueOf(nodeRank));
        put(env, "NPROC_PER_NODE", String.valueOf(plan.gpusPerNode()));
        put(env, "WORLD_SIZE", String.valueOf(plan.worldSize()));
        put(env, "MOE_PLAN_PATH", GangNames.PLAN_PATH);
        put(env, "MOE_TENSOR_PARALLEL", String.valueOf(plan.tensor()));
        put(env, "MOE_EXPERT_PARALLEL", String.valueOf(plan.expert()));
        put(env, "MOE_CONTEXT_PARALLEL", String.valueOf(plan.context()));
        put(env, "MOE_DATA_PARALLEL", String.valueOf(plan.data()));
        put(env, "MOE_RESTART_ATTEMPT", String.valueOf(attempt));
        put(env, "MOE_JOB_NAME", job.getMetadata().getName());
        env.put("POD_NAME", new EnvVarBuilder().withName("POD_NAME").withNewValueFrom().withNewFieldRef()
                .withFieldPath("metadata.name").endFieldRef().endValueFrom().build());
        env.put("POD_NAMESPACE", new EnvVarBuilder().withName("POD_NAMESPACE").withNewValueFrom().withNewFieldRef()
                .withFieldPath("metadata.namespace").endFieldRef().endValueFrom().build());
        if (checkpointDir != null) {
            put(env, "MOE_CHECKPOINT_DIR", checkpointDir);
        }
        put(env, "MOE_METRICS_PORT", String.valueOf(settings.metricsPort()));
        put(env, "MOE_PROGRESS", "pod-annotation");
        // NCCL: fail fast on a broken peer so the gang restarts instead of hanging.
        put(env, "TORCH_NCCL_ASYNC_ERROR_HANDLING", "1");
        put(env, "TORCH_NCCL_BLOCKING_WAIT", "0");
        put(env, "TORCH_NCCL_ENABLE_MONITORING", "1");
        put(env, "TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC", "600");
        NcclSpec nccl = job.getSpec().nccl;
        if (nccl != null) {
            if (nccl.socketIfname != null && !nccl.socketIfname.isBlank()) {
                put(env, "NCCL_SOCKET_IFNAME", nccl.socketIfname);
            }
            if (nccl.ibHca != null && !nccl.ibHca.isBlank()) {
                put(env, "NCCL_IB_HCA", nccl.ibHca);
            }
            if (nccl.extraEnv != null) {
                new TreeMap<>(nccl.extraEnv).forEach((k, v) -> {
                    if (!IDENTITY_ENV.contains(k)) {
                        put(env, k, v);
                    }
                });
            }
        }
        TrainerSpec trainer = job.getSpec().trainer;
        if (trainer != null && trainer.env != null) {
            for (EnvVar e : trainer.env) {
                if (e.getName() != null && !IDENTITY_ENV.contains(e.getName())) {
                    env.remove(e.getName());
                    env.put(e.getName(), e);
                }
            }
        }
        return new ArrayList<>(env.values());
    }

    private static void put(Map<String, EnvVar> env, String name, String value) {
        env.remove(name);
        env.put(name, new EnvVar(name, value, null));
    }

    /** Volumes and mounts of the trainer container. */
    record Volumes(List<Volume> volumes, List<VolumeMount> mounts, String checkpointDir) {
    }

    static Volumes volumes(MoETrainingJob job) {
        MoETrainingJobSpec spec = job.getSpec();
        List<Volume> volumes = new ArrayList<>();
        List<VolumeMount> mounts = new ArrayList<>();
        volumes.add(new VolumeBuilder().withName("plan").withNewConfigMap()
                .withName(GangNames.planConfigMapName(job))
                .addNewItem().withKey(GangNames.PLAN_KEY).withPath(GangNames.PLAN_KEY).endItem()
                .endConfigMap().build());
        mounts.add(new VolumeMountBuilder().withName("plan").withMountPath(GangNames.PLAN_DIR).withReadOnly(true)
                .build());
        // NCCL and the data loader need far more shared memory than the container runtime's 64 MiB default.
        volumes.add(new VolumeBuilder().withName("dshm").withNewEmptyDir().withMedium("Memory").endEmptyDir()
                .build());
        mounts.add(new VolumeMountBuilder().withName("dshm").withMountPath("/dev/shm").build());
        String checkpointDir = null;
        if (spec.training != null && spec.training.checkpoint != null && spec.training.checkpoint.claimName != null) {
            checkpointDir = SpecDefaults.CHECKPOINT_MOUNT_PATH;
            volumes.add(new VolumeBuilder().withName("checkpoints").withNewPersistentVolumeClaim()
                    .withClaimName(spec.training.checkpoint.claimName).endPersistentVolumeClaim().build());
            mounts.add(new VolumeMountBuilder().withName("checkpoints").withMountPath(checkpointDir).build());
        }
        if (spec.model != null && spec.model.checkpoint != null && spec.model.checkpoint.claimName != null
                && spec.model.checkpoint.path != null) {
            volumes.add(new VolumeBuilder().withName("model").withNewPersistentVolumeClaim()
                    .withClaimName(spec.model.checkpoint.claimName).withReadOnly(true).endPersistentVolumeClaim()
                    .build());
            mounts.add(new VolumeMountBuilder().withName("model").withMountPath(modelMountPath(spec.model.checkpoint.path))
                    .withReadOnly(true).build());
        }
        if (spec.training != null && spec.training.dataset != null && spec.training.dataset.claimName != null) {
            volumes.add(new VolumeBuilder().withName("data").withNewPersistentVolumeClaim()
                    .withClaimName(spec.training.dataset.claimName).withReadOnly(true).endPersistentVolumeClaim()
                    .build());
            mounts.add(new VolumeMountBuilder().withName("data").withMountPath("/data").withReadOnly(true).build());
        }
        return new Volumes(volumes, mounts, checkpointDir);
    }

    /**
     * Where the model claim is mounted: the parent of spec.model.checkpoint.path (the claim holds the model
     * directory, e.g. claim root /Qwen3-30B-A3B for path /models/Qwen3-30B-A3B), or the path itself when it is
     * a top-level directory.
     */
    static String modelMountPath(String path) {
        String p = path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path;
        int slash = p.lastIndexOf('/');
        return slash > 0 ? p.substring(0, slash) : p;
    }
}
