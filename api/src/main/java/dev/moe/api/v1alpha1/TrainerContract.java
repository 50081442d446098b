package dev.moe.api.v1alpha1;

import java.util.List;

/**
 * The names the operator and a trainer share (docs/contract.md sections 2–4), in one place: the pod environment,
 * the paths the operator mounts, the exit codes and the progress annotation. The operator renders pods from these
 * constants, the plan engine refuses specs that would override them, and the trainer reads the same names.
 */
public final class TrainerContract {
    private TrainerContract() {}

    // Section 2: the pod environment. The rank layout first: the operator sets these and nothing may override them.
    public static final String MASTER_ADDR = "MASTER_ADDR";
    public static final String MASTER_PORT = "MASTER_PORT";
    public static final String NNODES = "NNODES";
    public static final String NODE_RANK = "NODE_RANK";
    public static final String NPROC_PER_NODE = "NPROC_PER_NODE";
    public static final String WORLD_SIZE = "WORLD_SIZE";
    public static final String MOE_PLAN_PATH = "MOE_PLAN_PATH";
    public static final String MOE_TENSOR_PARALLEL = "MOE_TENSOR_PARALLEL";
    public static final String MOE_EXPERT_PARALLEL = "MOE_EXPERT_PARALLEL";
    public static final String MOE_CONTEXT_PARALLEL = "MOE_CONTEXT_PARALLEL";
    public static final String MOE_DATA_PARALLEL = "MOE_DATA_PARALLEL";
    public static final String MOE_RESTART_ATTEMPT = "MOE_RESTART_ATTEMPT";
    public static final String MOE_JOB_NAME = "MOE_JOB_NAME";
    public static final String POD_NAME = "POD_NAME";
    public static final String POD_NAMESPACE = "POD_NAMESPACE";
    /**
     * torchrun's own spelling of the rank layout: torchrun reads {@code PET_<ARG>} for each of its arguments, so a
     * trainer that calls bare {@code torchrun train.py} (no --nnodes, ...) runs in the gang unchanged. Same values as
     * NNODES, NODE_RANK, NPROC_PER_NODE, MASTER_ADDR, MASTER_PORT.
     */
    public static final String PET_NNODES = "PET_NNODES";

    public static final String PET_NODE_RANK = "PET_NODE_RANK";
    public static final String PET_NPROC_PER_NODE = "PET_NPROC_PER_NODE";
    public static final String PET_MASTER_ADDR = "PET_MASTER_ADDR";
    public static final String PET_MASTER_PORT = "PET_MASTER_PORT";

    /** The rank layout and identity: set by the operator, never overridden by spec.trainer.env or spec.nccl. */
    public static final List<String> IDENTITY_ENV = List.of(
            MASTER_ADDR,
            MASTER_PORT,
            NNODES,
            NODE_RANK,
            NPROC_PER_NODE,
            WORLD_SIZE,
            MOE_PLAN_PATH,
            MOE_TENSOR_PARALLEL,
            MOE_EXPERT_PARALLEL,
            MOE_CONTEXT_PARALLEL,
            MOE_DATA_PARALLEL,
            MOE_RESTART_ATTEMPT,
            MOE_JOB_NAME,
            POD_NAME,
            POD_NAMESPACE,
            PET_NNODES,
            PET_NODE_RANK,
            PET_NPROC_PER_NODE,
            PET_MASTER_ADDR,
            PET_MASTER_PORT);

    // Section 2: settings the operator sets that a job may change.
    public static final String MOE_CHECKPOINT_DIR = "MOE_CHECKPOINT_DIR";
    public static final String MOE_METRICS_PORT = "MOE_METRICS_PORT";
    public static final String MOE_PROGRESS = "MOE_PROGRESS";
    /** {@link #MOE_PROGRESS} in a cluster: rank 0 patches its own pod's {@link #PROGRESS_ANNOTATION}. */
    public static final String PROGRESS_TO_POD_ANNOTATION = "pod-annotation";

    /** The pod's only container. */
    public static final String TRAINER_CONTAINER = "trainer";

    // Mounts of the operator's own volumes (a job's paths must not clash with them).
    public static final String PLAN_DIR = "/etc/moe";
    public static final String PLAN_KEY = "plan.json";
    public static final String PLAN_PATH = PLAN_DIR + "/" + PLAN_KEY;
    public static final String SHM_DIR = "/dev/shm";
    public static final String CHECKPOINT_DIR = "/checkpoints";
    public static final String DATA_DIR = "/data";

    // Section 3: exit codes.
    /** EX_CONFIG: a configuration error, raised before any collective; never retried. */
    public static final int EXIT_CONFIG_ERROR = 78;
    /** EX_TEMPFAIL: a runtime failure worth retrying (NCCL, distributed). */
    public static final int EXIT_RETRIABLE = 75;

    /**
     * 128 + SIGTERM: the trainer stopped on request (SIGTERM or {@link #CHECKPOINT_REQUEST_ANNOTATION}) after
     * saving a checkpoint; what the container would report had the signal killed it. Not a failure while the
     * operator stops the gang (a suspend or a disruption).
     */
    public static final int EXIT_STOPPED = 143;

    // Section 4: progress report.
    public static final String PROGRESS_ANNOTATION = "training.moe.dev/progress";
    /**
     * Global rank 0 reports at most once per this many seconds (and at the end), so a report can lag a step by up to
     * this long: stall deadlines must be longer ({@link SpecLimits#MIN_PROGRESS_DEADLINE_SECONDS}).
     */
    public static final int PROGRESS_MIN_INTERVAL_SECONDS = 10;

    // Section 5: checkpoint before stop.
    /**
     * Set by the operator on every pod of a running gang it is about to stop (suspend, a DisruptionTarget): the
     * trainer saves a checkpoint at the next step boundary and exits {@link #EXIT_STOPPED}. The value is the time
     * of the request (RFC 3339); any non-empty value asks.
     */
    public static final String CHECKPOINT_REQUEST_ANNOTATION = "training.moe.dev/checkpoint-request";
    /** Where the pod's annotations are (a downwardAPI volume the kubelet updates when they change). */
    public static final String POD_INFO_DIR = "/etc/moe-pod";

    public static final String POD_ANNOTATIONS_FILE = "annotations";
    public static final String POD_ANNOTATIONS_PATH = POD_INFO_DIR + "/" + POD_ANNOTATIONS_FILE;
    /**
     * The path of the pod's annotations file ({@link #POD_ANNOTATIONS_PATH}); the trainer polls it at step
     * boundaries. A job may set it empty (a trainer that ignores checkpoint requests: the operator then stops the
     * pods after checkpoint.stopTimeoutSeconds).
     */
    public static final String MOE_POD_ANNOTATIONS = "MOE_POD_ANNOTATIONS";
}
