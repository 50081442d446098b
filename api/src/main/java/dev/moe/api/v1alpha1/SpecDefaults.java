package dev.moe.api.v1alpha1;

/**
 * The defaults of a {@code MoETrainingJob} spec, in one place.
 *
 * <p>Each CRD type uses a constant twice: {@code @Default(SpecDefaults.X)}, so the API server fills the value in,
 * and as the field's initial value, so a spec read without an API server (bin/moe-plan, tests) holds the same
 * value. CrdDefaultsTest compares every {@code default} of the committed CRD with a spec built in Java. Values are
 * strings because annotation values must be compile-time constants; the CRD generator converts them to the
 * field's type, and the types parse them ({@code Integer.valueOf(SpecDefaults.X)}).
 */
public final class SpecDefaults {
    private SpecDefaults() {
    }

    // spec.parallelism (data has no default: it is derived as world / (context × tensor))
    public static final String TENSOR = "1";
    public static final String EXPERT = "1";
    public static final String CONTEXT = "1";

    // spec.resources (nodes is required)
    public static final String GPUS_PER_NODE = "8";
    public static final String GPU_MEMORY_GIB = "80";

    // spec.training (globalBatchSize has no default: it is derived as microBatchSize × data)
    public static final String SEQ_LENGTH = "4096";
    public static final String MICRO_BATCH_SIZE = "1";
    public static final String ACTIVATION_CHECKPOINTING = "true";
    public static final String STEPS = "1000";
    public static final String LEARNING_RATE = "0.0003";
    public static final String MIN_LEARNING_RATE = "0.00003";
    public static final String WARMUP_STEPS = "100";
    public static final String WEIGHT_DECAY = "0.1";
    public static final String GRAD_CLIP = "1.0";
    public static final String SEED = "1234";
    public static final String CHECKPOINT_EVERY_STEPS = "200";
    public static final String DATASET_TYPE = "synthetic";
    public static final String DATASET_DTYPE = "uint32";

    // spec.restartPolicy
    public static final String MAX_RESTARTS = "5";
    public static final String BACKOFF_SECONDS = "10";
    public static final String MAX_BACKOFF_SECONDS = "300";
    public static final String GANG_SCHEDULING_TIMEOUT_SECONDS = "600";

    // spec
    public static final String SUSPEND = "false";
}
