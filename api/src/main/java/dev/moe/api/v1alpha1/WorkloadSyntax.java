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
