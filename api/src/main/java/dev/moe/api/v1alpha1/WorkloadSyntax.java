package dev.moe.api.v1alpha1;

import java.util.List;

/**
 * What a job may put into its pods, as constants: the operator's reserved env and mounts, the image directories a
 * volume must not hide, and the patterns of paths and downward-API references. The CRD's annotations use them
 * (patterns, CEL list literals), and the plan engine's WorkloadRules checks a spec against the same constants, so
 * the cluster and {@code bin/moe-plan} refuse the same values.
 */
public final class WorkloadSyntax {
    private WorkloadSyntax() {}

    /**
     * Env the operator sets on every pod from the plan and the pod's identity; spec.trainer.env and
     * spec.nccl.extraEnv may not set them.
     */
    public static final List<String> RESERVED_ENV = TrainerContract.IDENTITY_ENV;
    /** {@link #RESERVED_ENV} as a CEL list literal, for the CRD's rules (WorkloadSyntaxTest compares the two). */
    public static final String RESERVED_ENV_CEL = "['" + TrainerContract.MASTER_ADDR + "', '"
            + TrainerContract.MASTER_PORT + "', '"
            + TrainerContract.NNODES + "', '"
            + TrainerContract.NODE_RANK + "', '"
            + TrainerContract.NPROC_PER_NODE + "', '"
            + TrainerContract.WORLD_SIZE + "', '"
            + TrainerContract.MOE_PLAN_PATH + "', '"
            + TrainerContract.MOE_TENSOR_PARALLEL + "', '"
            + TrainerContract.MOE_EXPERT_PARALLEL + "', '"
            + TrainerContract.MOE_CONTEXT_PARALLEL + "', '"
            + TrainerContract.MOE_DATA_PARALLEL + "', '"
            + TrainerContract.MOE_RESTART_ATTEMPT + "', '"
            + TrainerContract.MOE_JOB_NAME + "', '"
            + TrainerContract.POD_NAME + "', '"
            + TrainerContract.POD_NAMESPACE + "', '"
            + TrainerContract.PET_NNODES + "', '"
            + TrainerContract.PET_NODE_RANK + "', '"
            + TrainerContract.PET_NPROC_PER_NODE + "', '"
            + TrainerContract.PET_MASTER_ADDR + "', '"
            + TrainerContract.PET_MASTER_PORT + "']";

    /** The trainer container's name: the only container of a pod. */
    public static final String TRAINER_CONTAINER = TrainerContract.TRAINER_CONTAINER;

    /** Every mount the operator makes itself; the model claim's mount may not be, contain or lie inside one. */
    public static final List<String> OPERATOR_MOUNTS = List.of(
            TrainerContract.PLAN_DIR,
            TrainerContract.SHM_DIR,
            TrainerContract.CHECKPOINT_DIR,
            TrainerContract.DATA_DIR,
            TrainerContract.POD_INFO_DIR);
    /** {@link #OPERATOR_MOUNTS} as a CEL list literal, a compile-time constant for the CRD's annotations. */
    public static final String OPERATOR_MOUNTS_CEL = "['" + TrainerContract.PLAN_DIR + "', '" + TrainerContract.SHM_DIR
            + "', '" + TrainerContract.CHECKPOINT_DIR + "', '" + TrainerContract.DATA_DIR + "', '"
            + TrainerContract.POD_INFO_DIR + "']";
    /** The names of the operator's own pod volumes: spec.pod.volumes may not use them. */
    public static final String PLAN_VOLUME = "plan";

    public static final String SHM_VOLUME = "dshm";
    public static final String CHECKPOINT_VOLUME = "checkpoints";
    public static final String MODEL_VOLUME = "model";
    public static final String DATA_VOLUME = "data";
    /** The downward-API volume with the pod's annotations (checkpoint before stop, docs/contract.md §5). */
    public static final String POD_INFO_VOLUME = "pod-info";

    public static final List<String> OPERATOR_VOLUMES =
            List.of(PLAN_VOLUME, SHM_VOLUME, CHECKPOINT_VOLUME, MODEL_VOLUME, DATA_VOLUME, POD_INFO_VOLUME);
    /** {@link #OPERATOR_VOLUMES} as a CEL list literal. */
    public static final String OPERATOR_VOLUMES_CEL = "['" + PLAN_VOLUME + "', '" + SHM_VOLUME + "', '"
            + CHECKPOINT_VOLUME + "', '" + MODEL_VOLUME + "', '" + DATA_VOLUME + "', '" + POD_INFO_VOLUME + "']";

    /**
     * Pod label and annotation key prefixes the operator owns (its job, rank, attempt and expert-group labels, the
     * progress annotation, Kueue's pod-group labels and annotations): spec.pod.labels and spec.pod.annotations
     * may not set keys under them, so a user's value never changes which job, rank or pod group a pod belongs to.
     */
    public static final List<String> RESERVED_METADATA_PREFIXES = List.of("training.moe.dev/", "kueue.x-k8s.io/");
    /** {@link #RESERVED_METADATA_PREFIXES} as a CEL list literal. */
    public static final String RESERVED_METADATA_PREFIXES_CEL = "['training.moe.dev/', 'kueue.x-k8s.io/']";
    /** Single keys the operator sets on every pod (the managed-by and component labels). */
    public static final List<String> RESERVED_METADATA_KEYS =
            List.of("app.kubernetes.io/managed-by", "app.kubernetes.io/component");
    /** {@link #RESERVED_METADATA_KEYS} as a CEL list literal. */
    public static final String RESERVED_METADATA_KEYS_CEL =
            "['app.kubernetes.io/managed-by', 'app.kubernetes.io/component']";

    /** Whether a pod label or annotation key is the operator's own ({@link #RESERVED_METADATA_PREFIXES}, ...). */
    public static boolean isReservedMetadataKey(String key) {
        return RESERVED_METADATA_KEYS.contains(key)
                || RESERVED_METADATA_PREFIXES.stream().anyMatch(key::startsWith);
    }

    /**
     * A Kubernetes quantity (the API server's grammar): a decimal number and an optional binary (Ki … Ei) or
     * decimal (n, u, m, k, M … E) suffix or exponent.
     */
    public static final String QUANTITY = "^[+]?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]"
            + "|([eE][+-]?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

    /** A relative path without '..' segments (volumeMounts[*].subPath), or empty. */
    public static final String SUB_PATH = "^(([^/\\x00-\\x1f]+)(/[^/\\x00-\\x1f]+)*)?$";

    /** Directories of the container image a volume must not hide (the trainer would not start). */
    public static final List<String> IMAGE_DIRECTORIES = List.of(
            "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root", "/run", "/sbin",
            "/sys", "/tmp", "/usr", "/var");
    /** {@link #IMAGE_DIRECTORIES} as a CEL list literal. */
    public static final String IMAGE_DIRECTORIES_CEL = "['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib',"
            + " '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/sys', '/tmp', '/usr', '/var']";

    /**
     * An absolute, normalised path: '/'-separated segments, none empty, '.' or '..', no trailing '/', no control
     * characters.
     */
    public static final String ABSOLUTE_PATH =
            "^(/([^/.\\x00-\\x1f][^/\\x00-\\x1f]*|\\.[^/.\\x00-\\x1f][^/\\x00-\\x1f]*" + "|\\.\\.[^/\\x00-\\x1f]+))+$";
    /** spec.trainer.env[*].valueFrom.fieldRef.fieldPath values a container's env may read (downward API). */
    public static final String ENV_FIELD_PATH = "^(metadata\\.(name|namespace|uid)|metadata\\.(labels|annotations)\\['"
            + ObjectNameRules.QUALIFIED_NAME_BODY + "'\\]|spec\\.(nodeName|serviceAccountName)"
            + "|status\\.(hostIP|hostIPs|podIP|podIPs))$";
    /** spec.trainer.env[*].valueFrom.resourceFieldRef.resource values. */
    public static final String ENV_RESOURCE =
            "^(limits|requests)\\.(cpu|memory|ephemeral-storage|hugepages-[-A-Za-z0-9_.]+)$";

    /**
     * Where the model claim is mounted: the parent of spec.model.checkpoint.path (the claim holds the model
     * directory: path /models/Qwen3-30B-A3B mounts the claim at /models), or the path itself when it is a
     * top-level directory. The operator's pods mount it there; {@link #MODEL_MOUNT_CEL} says the same in CEL.
     */
    public static String modelMountPath(String path) {
        String p = path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path;
        int slash = p.lastIndexOf('/');
        return slash > 0 ? p.substring(0, slash) : p;
    }

    /** {@link #modelMountPath} of {@code self.path} as CEL, for the CRD's rule on model.checkpoint. */
    public static final String MODEL_MOUNT_CEL =
            "(self.path.lastIndexOf('/') > 0" + " ? self.path.substring(0, self.path.lastIndexOf('/')) : self.path)";
}
