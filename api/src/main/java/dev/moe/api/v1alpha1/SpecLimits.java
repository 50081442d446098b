package dev.moe.api.v1alpha1;

import io.fabric8.crd.generator.annotation.SchemaFrom;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import java.lang.reflect.AnnotatedParameterizedType;
import java.lang.reflect.AnnotatedType;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The bounds of every number, string, list and map a MoETrainingJob spec may carry: the one table of limits.
 *
 * <p>Used three ways: the CRD types beside it declare them ({@code @Min}/{@code @Max}/{@code @Size} take these
 * constants, and each integer field says why with {@link LimitReason}), so {@code kubectl apply} refuses a job
 * outside them; the plan engine checks every spec against {@link #RANGES}, read from those declarations (files
 * checked offline, objects stored before the CRD carried a bound); and the plan arithmetic relies on them to stay
 * far inside 64 bits: the largest model the bounds admit has about 10^16 parameters and its memory estimate about
 * 10^18 bytes, under the 9.2 × 10^18 of a {@code long}.
 *
 * <p>Each bound is sized to reality with room to spare, and its reason is the {@link Range#why()} users see in
 * the error. {@code docs/limits.md} is the same table for readers (a test keeps the two equal).
 */
public final class SpecLimits {
    private SpecLimits() {}

    // ---- the gang

    /** One pod per node; the operator names (up to {@code <job>-node-4095}), creates and watches each one. */
    public static final int MAX_NODES = 4096;
    /** The largest GPU servers have 16 GPUs; tensor parallelism stays inside one node. */
    public static final int MAX_GPUS_PER_NODE = 16;
    /**
     * GPUs of one job (nodes × gpusPerNode). The plan document lists every rank (about 124 bytes each); at
     * 8,192 ranks it is about 1.02 MB, just inside the 1 MiB a ConfigMap holds. More needs a plan document
     * without the per-rank list (a contract change, docs/contract.md).
     */
    public static final int MAX_WORLD = 8192;
    /** Largest accelerator memory today is 288 GB; 1 TiB leaves room. */
    public static final int MAX_GPU_MEMORY_GIB = 1024;

    // ---- parallel degrees

    /** Tensor parallelism stays inside one node. */
    public static final int MAX_TENSOR = MAX_GPUS_PER_NODE;

    // ---- model (spec.model.config overrides; the presets are far inside)

    /** Largest vocabularies are about 256K tokens. */
    public static final int MAX_VOCAB_SIZE = 1_048_576;
    /** Largest models have hidden sizes around 16K-25K. */
    public static final int MAX_HIDDEN_SIZE = 65_536;
    /** Largest dense feed-forward widths are around 74K. */
    public static final int MAX_INTERMEDIATE_SIZE = 262_144;
    /** Expert feed-forward widths are 768-14,336 in released MoE models. */
    public static final int MAX_MOE_INTERMEDIATE_SIZE = 65_536;
    /** Largest models have around 130 decoder layers. */
    public static final int MAX_LAYERS = 1024;
    /** Attention heads (and key/value heads) of the largest models are at most 128. */
    public static final int MAX_ATTENTION_HEADS = 1024;
    /** Head dimensions are 64-256. */
    public static final int MAX_HEAD_DIM = 1024;
    /** Released MoE models have at most a few hundred experts per layer. */
    public static final int MAX_EXPERTS = 1024;
    /** Released MoE models route each token to at most about 16 experts. */
    public static final int MAX_EXPERTS_PER_TOKEN = 64;
    /** Longest trained contexts are about 10M positions. */
    public static final int MAX_POSITION_EMBEDDINGS = 16_777_216;

    /** Expert ranks own at least one expert each. */
    public static final int MAX_EXPERT = MAX_EXPERTS;

    // ---- training

    /** The longest trained contexts are around 1M tokens. */
    public static final int MAX_SEQ_LENGTH = 1_048_576;
    /** Sequences per GPU per forward/backward pass. */
    public static final int MAX_MICRO_BATCH_SIZE = 4096;
    /**
     * Tokens one GPU processes in a micro-batch (microBatchSize × seqLength): 4M tokens is far beyond any GPU's
     * memory (the logits alone of a 150K vocabulary need 7 TB), and keeps the memory arithmetic inside 64 bits.
     */
    public static final int MAX_TOKENS_PER_MICRO_BATCH = 4_194_304;
    /** Sequences per optimizer step; large runs use a few thousand. */
    public static final int MAX_GLOBAL_BATCH_SIZE = 16_777_216;
    /** Optimizer steps; the longest runs take a few million. */
    public static final int MAX_STEPS = 100_000_000;
    /** AdamW learning rates are far below 1. */
    public static final double MAX_LEARNING_RATE = 1.0;
    /** AdamW decoupled weight decay is 0-0.1 in practice; 1 would erase the weights in one step at lr 1. */
    public static final double MAX_WEIGHT_DECAY = 1.0;
    /** Largest integer every JSON reader (also those that read numbers as doubles) keeps exact: 2^53 − 1. */
    public static final long MAX_SEED = 9_007_199_254_740_991L;

    // ---- restart policy

    /** Gang restarts before the job fails. */
    public static final int MAX_RESTARTS = 1000;
    /** Restart delays of more than a day are a stopped job. */
    public static final int MAX_BACKOFF_SECONDS = 86_400;
    /** A gang that has not started within a week will not start. */
    public static final int MAX_GANG_SCHEDULING_TIMEOUT_SECONDS = 604_800;
    /** Container exit codes are 0-255 (0 is success, so never non-retryable). */
    public static final int MIN_EXIT_CODE = 1;

    public static final int MAX_EXIT_CODE = 255;
    public static final int MAX_NON_RETRYABLE_EXIT_CODES = 32;
    /** Failure rules of one job: they are read in order for every failure. */
    public static final int MAX_FAILURE_RULES = 32;
    /** Failure reasons, exit codes or termination reasons one rule lists. */
    public static final int MAX_RULE_MATCHES = 32;
    /** A container termination reason (OOMKilled, Error, ContainerCannotRun …). */
    public static final int MAX_TERMINATION_REASON_LENGTH = 128;
    /**
     * A rule's message substring. Matching is a plain substring search (no regular expression, so no pattern a user
     * writes can make matching slow); a message is at most {@link #MAX_FAILURE_MESSAGE_LENGTH} characters.
     */
    public static final int MAX_MESSAGE_CONTAINS_LENGTH = 256;
    /** The termination message the operator keeps from a failed container (its last log lines): the tail. */
    public static final int MAX_FAILURE_MESSAGE_LENGTH = 2048;
    /** Progress deadlines and startup graces: at most a day without a step. */
    public static final int MAX_PROGRESS_DEADLINE_SECONDS = 86_400;
    /**
     * A stall deadline below two of the trainer's report intervals would call a healthy gang Stalled: a step
     * reported just after one report waits a whole interval for the next.
     */
    public static final int MIN_PROGRESS_DEADLINE_SECONDS = 2 * TrainerContract.PROGRESS_MIN_INTERVAL_SECONDS;
    /** How long the operator waits for a checkpoint before a stop: at most an hour holding a suspended gang. */
    public static final int MAX_STOP_CHECKPOINT_TIMEOUT_SECONDS = 3600;

    // ---- placement

    /** tolerationSeconds of a toleration: at most a year. */
    public static final int MAX_TOLERATION_SECONDS = 31_536_000;

    public static final int MAX_TOPOLOGY_KEYS = 8;
    public static final int MAX_NODE_SELECTOR_ENTRIES = 16;
    public static final int MAX_TOLERATIONS = 16;

    // ---- lifecycle

    /** activeDeadlineSeconds and ttlSecondsAfterFinished: at most a year (a run that long is checkpointed anew). */
    public static final int MAX_LIFECYCLE_SECONDS = 31_536_000;

    // ---- pod overrides (spec.pod, spec.trainer.volumeMounts, spec.trainer.resources)

    /** Extra pod labels and annotations (each map). */
    public static final int MAX_POD_METADATA_ENTRIES = 32;
    /** One annotation value. */
    public static final int MAX_ANNOTATION_VALUE_LENGTH = 4096;
    /** Extra volumes and extra volume mounts (each list). */
    public static final int MAX_EXTRA_VOLUMES = 16;
    /** imagePullSecrets. */
    public static final int MAX_IMAGE_PULL_SECRETS = 8;
    /** Linux capabilities added or dropped, and supplemental groups. */
    public static final int MAX_CAPABILITIES = 16;
    /** A CPU or memory quantity of spec.trainer.resources. */
    public static final int MAX_QUANTITY_LENGTH = 32;
    /** User and group ids (runAsUser, runAsGroup, fsGroup, supplementalGroups): Linux ids are 32-bit. */
    public static final long MAX_LINUX_ID = 2_147_483_647L;

    // ---- strings and lists that reach every pod. Their sum (about 1.1 MB) keeps a pod under etcd's 1.5 MiB
    // ---- object limit, so the API server never refuses a pod derived from a job it accepted.

    /** Image references: a 255-character name, a 128-character tag and a digest fit. */
    public static final int MAX_IMAGE_LENGTH = 512;

    public static final int MAX_COMMAND_ITEMS = 16;
    public static final int MAX_ARGS = 128;
    /** One command or argument string. */
    public static final int MAX_ARG_LENGTH = 4096;

    public static final int MAX_ENV = 64;
    public static final int MAX_ENV_NAME_LENGTH = 256;
    public static final int MAX_ENV_VALUE_LENGTH = 4096;
    public static final int MAX_NCCL_EXTRA_ENV = 32;
    /** NCCL interface and adapter lists (NCCL_SOCKET_IFNAME, NCCL_IB_HCA). */
    public static final int MAX_NCCL_SETTING_LENGTH = 256;
    /** Paths inside the pod (model checkpoint, token file). */
    public static final int MAX_PATH_LENGTH = 1024;
    /** Preset names. */
    public static final int MAX_PRESET_LENGTH = 63;
    /** Keys in spec.model.config (there are 20 model settings). */
    public static final int MAX_MODEL_CONFIG_KEYS = 64;
    /** Entries of spec.model.config.mlpOnlyLayers: at most one per layer. */
    public static final int MAX_MLP_ONLY_LAYERS = MAX_LAYERS;

    // ---- what the engine itself produces

    /**
     * The plan document must fit the ConfigMap {@code <job>-plan}: the API server refuses a ConfigMap whose data
     * exceeds 1 MiB (1,048,576 bytes); 1 KiB stays free for the key and metadata.
     */
    public static final int MAX_PLAN_DOCUMENT_BYTES = 1_048_576 - 1024;
    /** Errors reported for one job (status condition, Event, CLI); the rest are counted. */
    public static final int MAX_REPORTED_ERRORS = 20;
    /** A value shown in an error message is cut to this many characters. */
    public static final int MAX_SHOWN_VALUE_LENGTH = 120;

    /**
     * An integer range of one field and why it is bounded there.
     *
     * @param min smallest value allowed
     * @param max largest value allowed
     * @param why the reason for the maximum, shown in the error
     */
    public record Range(long min, long max, String why) {}

    /**
     * Every bounded integer of the spec: path below {@code spec} ({@code [*]} = every list item) → its range. The
     * fields of the spec's types say their own bounds ({@code @Min}, {@code @Max}, {@link LimitReason}: the CRD is
     * generated from the same annotations) and are read from them; model.config is a free map in the CRD, so its
     * settings are listed here, by their camelCase spelling (the snake_case key of a setting has the same range).
     */
    public static final Map<String, Range> RANGES;

    static {
        Map<String, Range> r = new LinkedHashMap<>();
        declaredRanges(MoETrainingJobSpec.class, "", r);
        r.put(
                "model.config.vocabSize",
                new Range(1, MAX_VOCAB_SIZE, "the largest vocabularies have about 256K tokens"));
        r.put(
                "model.config.hiddenSize",
                new Range(1, MAX_HIDDEN_SIZE, "the largest models have hidden sizes around 16K-25K"));
        r.put(
                "model.config.intermediateSize",
                new Range(1, MAX_INTERMEDIATE_SIZE, "the widest dense feed-forward layers are around 74K"));
        r.put(
                "model.config.moeIntermediateSize",
                new Range(
                        1, MAX_MOE_INTERMEDIATE_SIZE, "expert feed-forward widths are 768-14,336 in released models"));
        r.put("model.config.numHiddenLayers", new Range(1, MAX_LAYERS, "the largest models have about 130 layers"));
        r.put(
                "model.config.numAttentionHeads",
                new Range(1, MAX_ATTENTION_HEADS, "the largest models have at most 128 heads"));
        r.put(
                "model.config.numKeyValueHeads",
                new Range(1, MAX_ATTENTION_HEADS, "the largest models have at most 128 heads"));
        r.put("model.config.headDim", new Range(1, MAX_HEAD_DIM, "head dimensions are 64-256"));
        r.put(
                "model.config.numExperts",
                new Range(1, MAX_EXPERTS, "released MoE models have at most a few hundred experts"));
        r.put(
                "model.config.numExpertsPerTok",
                new Range(1, MAX_EXPERTS_PER_TOKEN, "released MoE models route a token to at most about 16 experts"));
        r.put("model.config.decoderSparseStep", new Range(1, MAX_LAYERS, "at most the number of layers"));
        r.put(
                "model.config.maxPositionEmbeddings",
                new Range(1, MAX_POSITION_EMBEDDINGS, "the longest trained contexts are about 10M positions"));
        r.put("model.config.mlpOnlyLayers[*]", new Range(0, MAX_LAYERS - 1, "layer indices are below numHiddenLayers"));
        RANGES = Collections.unmodifiableMap(r);
    }

    /**
     * The ranges the fields of {@code type} declare, and those of the spec types below it: Integer and Long fields,
     * the items of lists of them, and the fields of list items (of the schema class, for a Kubernetes type whose CRD
     * schema is {@code @SchemaFrom} another class).
     */
    private static void declaredRanges(Class<?> type, String path, Map<String, Range> out) {
        for (Field f : type.getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers()) || Modifier.isTransient(f.getModifiers())) {
                continue;
            }
            String child = path.isEmpty() ? f.getName() : path + "." + f.getName();
            LimitReason why = f.getAnnotation(LimitReason.class);
            if (isInteger(f.getType())) {
                declaredRange(f, f.getAnnotation(Min.class), f.getAnnotation(Max.class), why, child, out);
            } else if (List.class.isAssignableFrom(f.getType())) {
                SchemaFrom schema = f.getAnnotation(SchemaFrom.class);
                AnnotatedType item =
                        ((AnnotatedParameterizedType) f.getAnnotatedType()).getAnnotatedActualTypeArguments()[0];
                Class<?> itemType = schema != null ? schema.type().getComponentType() : (Class<?>) item.getType();
                if (isInteger(itemType)) {
                    declaredRange(
                            f, item.getAnnotation(Min.class), item.getAnnotation(Max.class), why, child + "[*]", out);
                } else if (isSpecType(itemType)) {
                    declaredRanges(itemType, child + "[*]", out);
                }
            } else if (f.getAnnotation(SchemaFrom.class) != null
                    && isSpecType(f.getAnnotation(SchemaFrom.class).type())) {
                declaredRanges(f.getAnnotation(SchemaFrom.class).type(), child, out); // e.g. a security context
            } else if (isSpecType(f.getType())) {
                declaredRanges(f.getType(), child, out);
            }
        }
    }

    private static void declaredRange(Field f, Min min, Max max, LimitReason why, String path, Map<String, Range> out) {
        if (min == null || max == null || why == null) {
            throw new IllegalStateException(f.getDeclaringClass().getSimpleName() + "." + f.getName()
                    + ": every integer of the spec declares @Min, @Max and @LimitReason (docs/limits.md)");
        }
        out.put(path, new Range((long) min.value(), (long) max.value(), why.value()));
    }

    private static boolean isInteger(Class<?> type) {
        return type == Integer.class || type == Long.class;
    }

    /** A type of this package read from a JSON object: the spec's own, and PodFieldSchemas' schema classes. */
    private static boolean isSpecType(Class<?> type) {
        return type.getPackage() == SpecLimits.class.getPackage() && !type.isEnum();
    }

    /** The range of a spec path (below spec, camelCase), or null when it is not a bounded integer. */
    public static Range range(String path) {
        return RANGES.get(path);
    }
}
