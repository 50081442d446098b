package dev.moe.operator.gang;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.NcclSpec;
import dev.moe.api.v1alpha1.PodOverridesSpec;
import dev.moe.api.v1alpha1.TrainerContract;
import dev.moe.api.v1alpha1.TrainerResources;
import dev.moe.api.v1alpha1.TrainerSpec;
import dev.moe.api.v1alpha1.WorkloadSyntax;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvFromSourceBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
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
 * <p>Layout (docs/contract.md section 2): one pod per node requesting all its GPUs, torchrun env (the job's shared
 * part from ConfigMap {@code <job>-trainer-env}, the pod's own inline), the plan
 * mounted at {@value GangNames#PLAN_PATH}, memory-backed /dev/shm, checkpoint/model/data volumes, NCCL env.
 * Placement: pods of the job never share a node; when expert-parallel groups span nodes, consecutive node ranks
 * form a group and the group's pods are required to share a domain of the first topology key. With a Kueue
 * queue the pods form one Kueue pod group with topology annotations instead, and carry no affinity of ours.
 * The job's lifecycle and pod fields land here too: priorityClassName, CPU and memory (per-GPU defaults),
 * security contexts, image pull secrets, extra labels, annotations, volumes and mounts (spec.pod, spec.trainer),
 * always under the operator's own keys, volumes and mounts.
 */
public final class GangPodFactory {
    private GangPodFactory() {}

    /** The kubelet writes the container's last log lines as its termination message when it fails without one. */
    static final String TERMINATION_MESSAGE_POLICY = "FallbackToLogsOnError";

    /** Env the operator owns: spec.trainer.env and spec.nccl.extraEnv cannot override these (the rank layout). */
    static final Set<String> IDENTITY_ENV = Set.copyOf(TrainerContract.IDENTITY_ENV);

    public static Pod render(MoETrainingJob job, Plan plan, int attempt, int nodeRank, GangSettings settings) {
        MoETrainingJobSpec spec = job.getSpec();
        Placement placement = new Placement(job, plan);
        String name = GangNames.podName(job, nodeRank);

        Map<String, String> labels = new LinkedHashMap<>(GangNames.jobLabels(job));
        labels.put(GangNames.COMPONENT_LABEL, "trainer");
        if (job.getMetadata().getUid() != null) {
            labels.put(GangNames.JOB_UID_LABEL, job.getMetadata().getUid());
        }
        labels.put(GangNames.NODE_RANK_LABEL, String.valueOf(nodeRank));
        labels.put(GangNames.ATTEMPT_LABEL, String.valueOf(attempt));
        labels.putAll(placement.labels(nodeRank, attempt));
        PodOverridesSpec overrides = spec.pod != null ? spec.pod : new PodOverridesSpec();
        Map<String, String> annotations = new LinkedHashMap<>();
        // The user's labels and annotations first, the operator's over them: a key the operator owns always holds
        // its value (the plan engine refuses such keys, MetadataKeyReserved; this keeps a pod right regardless).
        userMetadata(overrides.annotations).forEach(annotations::put);
        annotations.putAll(placement.annotations());
        Map<String, String> userLabels = userMetadata(overrides.labels);
        if (!userLabels.isEmpty()) {
            Map<String, String> own = labels;
            labels = new LinkedHashMap<>(userLabels);
            labels.putAll(own);
        }
        Map<String, String> nodeSelector = placement.nodeSelector();

        Volumes volumes = volumes(job);
        TrainerSpec trainer = spec.trainer != null ? spec.trainer : new TrainerSpec();
        Container container = new ContainerBuilder()
                .withName(GangNames.TRAINER_CONTAINER)
                .withImage(
                        trainer.image != null && !trainer.image.isBlank()
                                ? trainer.image
                                : settings.defaultTrainerImage())
                .withImagePullPolicy("IfNotPresent")
                // A failed trainer's last log lines become its termination message: the operator keeps them in
                // status.lastFailure and the restart Event after the pods are gone.
                .withTerminationMessagePolicy(TERMINATION_MESSAGE_POLICY)
                .withCommand(trainer.command != null && !trainer.command.isEmpty() ? trainer.command : null)
                .withArgs(trainer.args != null && !trainer.args.isEmpty() ? trainer.args : null)
                .withEnvFrom(new EnvFromSourceBuilder()
                        .withNewConfigMapRef()
                        .withName(GangNames.trainerEnvConfigMapName(job))
                        .endConfigMapRef()
                        .build())
                .withEnv(podEnv(job, attempt, nodeRank, volumes.checkpointDir))
                .addNewPort()
                .withName("rendezvous")
                .withContainerPort(settings.masterPort())
                .withProtocol("TCP")
                .endPort()
                .addNewPort()
                .withName("metrics")
                .withContainerPort(settings.metricsPort())
                .withProtocol("TCP")
                .endPort()
                .withResources(resources(trainer.resources, plan.gpusPerNode()))
                .withSecurityContext(trainer.securityContext)
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
                .withPriorityClassName(priorityClassName(spec))
                .withHostname(name)
                .withSubdomain(GangNames.serviceName(job))
                .withServiceAccountName(GangNames.trainerIdentityName(job))
                .withAutomountServiceAccountToken(true)
                .withEnableServiceLinks(false)
                .withNodeSelector(nodeSelector.isEmpty() ? null : nodeSelector)
                .withTolerations(placement.tolerations())
                .withAffinity(placement.affinity(nodeRank))
                .withContainers(container)
                .withImagePullSecrets(
                        overrides.imagePullSecrets != null && !overrides.imagePullSecrets.isEmpty()
                                ? overrides.imagePullSecrets
                                : null)
                .withSecurityContext(overrides.securityContext)
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

    /**
     * The environment every pod of the job shares, as the data of ConfigMap {@code <job>-trainer-env}
     * ({@link GangNames#trainerEnvConfigMapName}) that the trainer container reads through {@code envFrom}
     * (docs/contract.md section 2): the rank layout of the whole job, the trainer's settings and PyTorch's NCCL
     * watchdog settings. It is kept out of the pods because each pod is written four times as a gang starts
     * (create, the scheduler's nomination and binding, the kubelet's status) and each write costs the API server
     * and every watcher in proportion to the pod's size: these variables were 2.1 KB of a 10.9 KB pod, counting
     * the managedFields entry the create adds for each.
     *
     * <p>Only what stays the same for the life of the job belongs here: the plan's degrees and sizes
     * (spec.parallelism and spec.resources are immutable while the job runs), its name and the operator's
     * settings. The kubelet reads the ConfigMap when it starts each container, so a value a user may edit while the
     * job runs would reach the pods of one attempt that start after the edit and not those before: such values
     * (spec.nccl, the checkpoint directory that comes with spec.training.checkpoint's volume) go inline in
     * {@link #podEnv}, fixed when the pod is written, so every pod of an attempt holds the same.
     */
    public static Map<String, String> sharedEnv(MoETrainingJob job, Plan plan, GangSettings settings) {
        Map<String, String> env = new TreeMap<>();
        env.put(TrainerContract.MASTER_ADDR, GangNames.masterAddress(job));
        env.put(TrainerContract.MASTER_PORT, String.valueOf(settings.masterPort()));
        env.put(TrainerContract.NNODES, String.valueOf(plan.nodes()));
        env.put(TrainerContract.NPROC_PER_NODE, String.valueOf(plan.gpusPerNode()));
        env.put(TrainerContract.WORLD_SIZE, String.valueOf(plan.worldSize()));
        env.put(TrainerContract.MOE_PLAN_PATH, TrainerContract.PLAN_PATH);
        env.put(TrainerContract.MOE_TENSOR_PARALLEL, String.valueOf(plan.tensor()));
        env.put(TrainerContract.MOE_EXPERT_PARALLEL, String.valueOf(plan.expert()));
        env.put(TrainerContract.MOE_CONTEXT_PARALLEL, String.valueOf(plan.context()));
        env.put(TrainerContract.MOE_DATA_PARALLEL, String.valueOf(plan.data()));
        env.put(TrainerContract.MOE_JOB_NAME, job.getMetadata().getName());
        env.put(TrainerContract.PET_NNODES, String.valueOf(plan.nodes()));
        env.put(TrainerContract.PET_NPROC_PER_NODE, String.valueOf(plan.gpusPerNode()));
        env.put(TrainerContract.PET_MASTER_ADDR, GangNames.masterAddress(job));
        env.put(TrainerContract.PET_MASTER_PORT, String.valueOf(settings.masterPort()));
        env.put(TrainerContract.MOE_METRICS_PORT, String.valueOf(settings.metricsPort()));
        env.put(TrainerContract.MOE_PROGRESS, TrainerContract.PROGRESS_TO_POD_ANNOTATION);
        env.put(TrainerContract.MOE_POD_ANNOTATIONS, TrainerContract.POD_ANNOTATIONS_PATH);
        // NCCL: fail fast on a broken peer so the gang restarts instead of hanging.
        env.put("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1");
        env.put("TORCH_NCCL_BLOCKING_WAIT", "0");
        env.put("TORCH_NCCL_ENABLE_MONITORING", "1");
        env.put("TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC", "600");
        return env;
    }

    /**
     * The container's own environment, over {@link #sharedEnv} (a container's {@code env} wins over its
     * {@code envFrom}): what differs from pod to pod (node rank, attempt, the pod's name and namespace), what a
     * user may edit while the job runs (the checkpoint directory, spec.nccl's hints and extraEnv; see
     * {@link #sharedEnv} for why) and {@code spec.trainer.env}, which may use {@code valueFrom} and may change any
     * shared variable outside the rank layout. The later entries win: trainer.env over nccl.extraEnv over the NCCL
     * hints.
     */
    static List<EnvVar> podEnv(MoETrainingJob job, int attempt, int nodeRank, String checkpointDir) {
        Map<String, EnvVar> env = new LinkedHashMap<>();
        put(env, TrainerContract.NODE_RANK, String.valueOf(nodeRank));
        put(env, TrainerContract.PET_NODE_RANK, String.valueOf(nodeRank));
        put(env, TrainerContract.MOE_RESTART_ATTEMPT, String.valueOf(attempt));
        fieldRef(env, TrainerContract.POD_NAME, "metadata.name");
        fieldRef(env, TrainerContract.POD_NAMESPACE, "metadata.namespace");
        if (checkpointDir != null) {
            put(env, TrainerContract.MOE_CHECKPOINT_DIR, checkpointDir);
        }
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

    private static void fieldRef(Map<String, EnvVar> env, String name, String fieldPath) {
        env.put(
                name,
                new EnvVarBuilder()
                        .withName(name)
                        .withNewValueFrom()
                        .withNewFieldRef()
                        .withFieldPath(fieldPath)
                        .endFieldRef()
                        .endValueFrom()
                        .build());
    }

    private static void put(Map<String, EnvVar> env, String name, String value) {
        env.remove(name);
        env.put(name, new EnvVar(name, value, null));
    }

    /** Volumes and mounts of the trainer container. */
    record Volumes(List<Volume> volumes, List<VolumeMount> mounts, String checkpointDir) {}

    static Volumes volumes(MoETrainingJob job) {
        MoETrainingJobSpec spec = job.getSpec();
        List<Volume> volumes = new ArrayList<>();
        List<VolumeMount> mounts = new ArrayList<>();
        volumes.add(new VolumeBuilder()
                .withName(WorkloadSyntax.PLAN_VOLUME)
                .withNewConfigMap()
                .withName(GangNames.planConfigMapName(job))
                .addNewItem()
                .withKey(GangNames.PLAN_KEY)
                .withPath(GangNames.PLAN_KEY)
                .endItem()
                .endConfigMap()
                .build());
        mounts.add(new VolumeMountBuilder()
                .withName(WorkloadSyntax.PLAN_VOLUME)
                .withMountPath(GangNames.PLAN_DIR)
                .withReadOnly(true)
                .build());
        // NCCL and the data loader need far more shared memory than the container runtime's 64 MiB default.
        volumes.add(new VolumeBuilder()
                .withName(WorkloadSyntax.SHM_VOLUME)
                .withNewEmptyDir()
                .withMedium("Memory")
                .endEmptyDir()
                .build());
        mounts.add(new VolumeMountBuilder()
                .withName(WorkloadSyntax.SHM_VOLUME)
                .withMountPath(TrainerContract.SHM_DIR)
                .build());
        // Checkpoint before stop (docs/contract.md §5): the kubelet keeps this file equal to the pod's annotations,
        // so the trainer sees the operator's checkpoint request without API access of its own.
        volumes.add(new VolumeBuilder()
                .withName(WorkloadSyntax.POD_INFO_VOLUME)
                .withNewDownwardAPI()
                .addNewItem()
                .withPath(TrainerContract.POD_ANNOTATIONS_FILE)
                .withNewFieldRef()
                .withFieldPath("metadata.annotations")
                .endFieldRef()
                .endItem()
                .endDownwardAPI()
                .build());
        mounts.add(new VolumeMountBuilder()
                .withName(WorkloadSyntax.POD_INFO_VOLUME)
                .withMountPath(TrainerContract.POD_INFO_DIR)
                .withReadOnly(true)
                .build());
        String checkpointDir = null;
        if (spec.training != null && spec.training.checkpoint != null && spec.training.checkpoint.claimName != null) {
            checkpointDir = TrainerContract.CHECKPOINT_DIR;
            volumes.add(new VolumeBuilder()
                    .withName(WorkloadSyntax.CHECKPOINT_VOLUME)
                    .withNewPersistentVolumeClaim()
                    .withClaimName(spec.training.checkpoint.claimName)
                    .endPersistentVolumeClaim()
                    .build());
            mounts.add(new VolumeMountBuilder()
                    .withName(WorkloadSyntax.CHECKPOINT_VOLUME)
                    .withMountPath(checkpointDir)
                    .build());
        }
        if (spec.model != null
                && spec.model.checkpoint != null
                && spec.model.checkpoint.claimName != null
                && spec.model.checkpoint.path != null) {
            volumes.add(new VolumeBuilder()
                    .withName(WorkloadSyntax.MODEL_VOLUME)
                    .withNewPersistentVolumeClaim()
                    .withClaimName(spec.model.checkpoint.claimName)
                    .withReadOnly(true)
                    .endPersistentVolumeClaim()
                    .build());
            mounts.add(new VolumeMountBuilder()
                    .withName(WorkloadSyntax.MODEL_VOLUME)
                    .withMountPath(WorkloadSyntax.modelMountPath(spec.model.checkpoint.path))
                    .withReadOnly(true)
                    .build());
        }
        if (spec.training != null && spec.training.dataset != null && spec.training.dataset.claimName != null) {
            volumes.add(new VolumeBuilder()
                    .withName(WorkloadSyntax.DATA_VOLUME)
                    .withNewPersistentVolumeClaim()
                    .withClaimName(spec.training.dataset.claimName)
                    .withReadOnly(true)
                    .endPersistentVolumeClaim()
                    .build());
            mounts.add(new VolumeMountBuilder()
                    .withName(WorkloadSyntax.DATA_VOLUME)
                    .withMountPath(TrainerContract.DATA_DIR)
                    .withReadOnly(true)
                    .build());
        }
        // The user's extra volumes and mounts after the operator's (the plan engine refuses names and paths that
        // collide with the operator's own: VolumeNameConflict, MountPathConflict).
        if (spec.pod != null && spec.pod.volumes != null) {
            for (Volume v : spec.pod.volumes) {
                if (v != null && !WorkloadSyntax.OPERATOR_VOLUMES.contains(v.getName())) {
                    volumes.add(v);
                }
            }
        }
        if (spec.trainer != null && spec.trainer.volumeMounts != null) {
            for (VolumeMount m : spec.trainer.volumeMounts) {
                if (m != null && !WorkloadSyntax.OPERATOR_VOLUMES.contains(m.getName())) {
                    mounts.add(m);
                }
            }
        }
        return new Volumes(volumes, mounts, checkpointDir);
    }

    /** spec.placement.priorityClassName, or null for the cluster's default. */
    static String priorityClassName(MoETrainingJobSpec spec) {
        String name = spec.placement != null ? spec.placement.priorityClassName : null;
        return name != null && !name.isEmpty() ? name : null;
    }

    /** spec.pod.labels or .annotations without the operator's keys. */
    static Map<String, String> userMetadata(Map<String, String> metadata) {
        Map<String, String> out = new TreeMap<>();
        if (metadata != null) {
            metadata.forEach((k, v) -> {
                if (k != null && v != null && !WorkloadSyntax.isReservedMetadataKey(k)) {
                    out.put(k, v);
                }
            });
        }
        return out;
    }

    /**
     * The trainer container's resources: all the node's GPUs (the plan's), and CPU and memory from
     * spec.trainer.resources; an absent request without a limit is the per-GPU default of {@link TrainerResources}
     * (so pods are at least Burstable), one with a limit is left to the API server, which makes it the limit.
     */
    static ResourceRequirements resources(TrainerResources r, int gpusPerNode) {
        Quantity gpus = new Quantity(String.valueOf(gpusPerNode));
        Map<String, Quantity> requests = new LinkedHashMap<>();
        Map<String, Quantity> limits = new LinkedHashMap<>();
        TrainerResources.CpuMemory req =
                r != null && r.requests != null ? r.requests : new TrainerResources.CpuMemory();
        TrainerResources.CpuMemory lim = r != null && r.limits != null ? r.limits : new TrainerResources.CpuMemory();
        if (req.cpu != null) {
            requests.put("cpu", req.cpu);
        } else if (lim.cpu == null) {
            requests.put("cpu", new Quantity(String.valueOf(TrainerResources.DEFAULT_CPU_PER_GPU * gpusPerNode)));
        }
        if (req.memory != null) {
            requests.put("memory", req.memory);
        } else if (lim.memory == null) {
            requests.put("memory", new Quantity(TrainerResources.DEFAULT_MEMORY_PER_GPU_GIB * gpusPerNode + "Gi"));
        }
        requests.put(Placement.GPU_RESOURCE, gpus);
        if (lim.cpu != null) {
            limits.put("cpu", lim.cpu);
        }
        if (lim.memory != null) {
            limits.put("memory", lim.memory);
        }
        limits.put(Placement.GPU_RESOURCE, gpus);
        return new ResourceRequirementsBuilder()
                .withRequests(requests)
                .withLimits(limits)
                .build();
    }
}
