package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** Training hyper-parameters, dataset and checkpointing; each default sits on its field (CrdDefaultsTest). */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
        value = "!has(self.minLearningRate) || !has(self.learningRate)"
                + " || self.minLearningRate <= self.learningRate"
                + " || self.minLearningRate == " + TrainingSpec.DEFAULT_MIN_LEARNING_RATE,
        message = "training.minLearningRate must be at most training.learningRate (the schedule decays from"
                + " learningRate down to minLearningRate; only the default "
                + TrainingSpec.DEFAULT_MIN_LEARNING_RATE + " passes, with a warning)",
        reason = "FieldValueInvalid")
@ValidationRule(
        value = "!has(self.warmupSteps) || !has(self.steps) || self.warmupSteps <= self.steps"
                + " || self.warmupSteps == " + TrainingSpec.DEFAULT_WARMUP_STEPS,
        message = "training.warmupSteps must be at most training.steps (the learning rate would never reach its peak;"
                + " only the default " + TrainingSpec.DEFAULT_WARMUP_STEPS + " passes, with a warning)",
        reason = "FieldValueInvalid")
@ValidationRule(
        value = "!has(self.microBatchSize) || !has(self.seqLength)" + " || self.microBatchSize * self.seqLength <= "
                + SpecLimits.MAX_TOKENS_PER_MICRO_BATCH,
        message =
                "training.microBatchSize × training.seqLength must be at most " + SpecLimits.MAX_TOKENS_PER_MICRO_BATCH
                        + " tokens per GPU per pass; reach a bigger batch with gradient accumulation (training.globalBatchSize)",
        reason = "FieldValueInvalid")
@JsonIgnoreProperties(ignoreUnknown = true)
public class TrainingSpec {
    /**
     * The defaults the rules above let conflict with a value the user set (a short job, a small learning rate):
     * they only warn, in the CRD's CEL and in the plan engine (decision 12).
     */
    public static final String DEFAULT_MIN_LEARNING_RATE = "0.00003";

    public static final String DEFAULT_WARMUP_STEPS = "100";

    @LimitReason("the longest trained contexts are about 1M tokens")
    @Min(1)
    @Max(SpecLimits.MAX_SEQ_LENGTH)
    @Default("4096")
    @JsonPropertyDescription("Tokens per sequence. Must be divisible by 2 × parallelism.context.")
    public Integer seqLength = 4096;

    @LimitReason("sequences per GPU per pass; use gradient accumulation (globalBatchSize) for larger" + " batches")
    @Min(1)
    @Max(SpecLimits.MAX_MICRO_BATCH_SIZE)
    @Default("1")
    @JsonPropertyDescription("Sequences per data-parallel rank per forward/backward pass.")
    public Integer microBatchSize = 1;

    @JsonPropertyDescription("What each decoder layer keeps for backward: none (keeps every activation:"
            + " fastest, most memory), selective (recomputes the cheap elementwise and normalisation ops, keeps"
            + " the matrix products and the expert dispatch), full (keeps only the layer's input and recomputes the"
            + " layer: about 1/3 more compute, least memory). Unset: the plan engine picks the fastest mode whose"
            + " memory estimate fits the GPU (none, then selective, then full); the plan shows the mode it chose."
            + " Jobs stored with the boolean of earlier versions are read as true = full, false = none.")
    public ActivationCheckpointing activationCheckpointing;

    @LimitReason("large runs use a few thousand sequences per step")
    @Min(1)
    @Max(SpecLimits.MAX_GLOBAL_BATCH_SIZE)
    @JsonPropertyDescription("Sequences per optimizer step = microBatchSize × data × gradient accumulation."
            + " Defaults to microBatchSize × data (no accumulation).")
    public Integer globalBatchSize;

    @LimitReason("the longest runs take a few million steps")
    @Min(1)
    @Max(SpecLimits.MAX_STEPS)
    @Default("1000")
    @JsonPropertyDescription("Optimizer steps to train.")
    public Integer steps = 1000;

    @Min(value = 0, inclusive = false)
    @Max(SpecLimits.MAX_LEARNING_RATE)
    @Default("0.0003")
    @JsonPropertyDescription("Peak learning rate (AdamW, cosine decay after warmup).")
    public Double learningRate = 0.0003;

    @Min(0)
    @Max(SpecLimits.MAX_LEARNING_RATE)
    @Default(DEFAULT_MIN_LEARNING_RATE)
    @JsonPropertyDescription("Learning rate at the end of the cosine decay.")
    public Double minLearningRate = Double.valueOf(DEFAULT_MIN_LEARNING_RATE);

    @LimitReason("at most training.steps")
    @Min(0)
    @Max(SpecLimits.MAX_STEPS)
    @Default(DEFAULT_WARMUP_STEPS)
    @JsonPropertyDescription("Linear warmup steps.")
    public Integer warmupSteps = Integer.valueOf(DEFAULT_WARMUP_STEPS);

    @Min(0)
    @Max(SpecLimits.MAX_WEIGHT_DECAY)
    @Default("0.1")
    @JsonPropertyDescription("AdamW weight decay.")
    public Double weightDecay = 0.1;

    @Min(0)
    @Default("1.0")
    @JsonPropertyDescription("Gradient norm clipping threshold (0 = off).")
    public Double gradClip = 1.0;

    @LimitReason("2^53 - 1 is the largest integer every JSON reader keeps exact")
    @Min(0)
    @Max(SpecLimits.MAX_SEED)
    @Default("1234")
    @JsonPropertyDescription("Random seed (initialisation and synthetic data).")
    public Long seed = 1234L;

    @LimitReason("the longest runs take a few million steps")
    @Min(1)
    @Max(SpecLimits.MAX_STEPS)
    @Default("1")
    @JsonPropertyDescription("Report every this many optimizer steps (and at the last step): the trainer's log line"
            + " and metrics, and rank 0's progress annotation that status.progress shows. Each report all-reduces"
            + " the loss over the gang and patches a pod; large or fast jobs report every 10 or 100 steps.")
    public Integer logEvery = 1;

    @JsonPropertyDescription("Periodic distributed checkpoints; none when absent.")
    public CheckpointSpec checkpoint;

    @JsonPropertyDescription("Training data: synthetic tokens, or a flat file of token ids on a volume.")
    public DatasetSpec dataset = new DatasetSpec();

    /** Where and how often the trainer checkpoints; the gang resumes from the newest one after a restart. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class CheckpointSpec {
        @Required
        @Size(max = ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH)
        @Pattern(ObjectNameRules.DNS1123_SUBDOMAIN)
        @JsonPropertyDescription("PersistentVolumeClaim (ReadWriteMany) mounted at /checkpoints in every pod.")
        public String claimName;

        @LimitReason("the longest runs take a few million steps")
        @Min(1)
        @Max(SpecLimits.MAX_STEPS)
        @Default("200")
        @JsonPropertyDescription("Checkpoint every this many optimizer steps.")
        public Integer everySteps = 200;

        @LimitReason("a suspended or preempted gang holds its GPUs while it waits; an hour covers any one step")
        @Min(0)
        @Max(SpecLimits.MAX_STOP_CHECKPOINT_TIMEOUT_SECONDS)
        @Default(DEFAULT_STOP_TIMEOUT_SECONDS)
        @JsonPropertyDescription("Checkpoint before stop: on spec.suspend or a pod's DisruptionTarget condition"
                + " (preemption, eviction, drain) the operator asks the running trainer for a checkpoint at the next"
                + " step boundary (pod annotation " + TrainerContract.CHECKPOINT_REQUEST_ANNOTATION + ") and waits"
                + " this many seconds for status.progress.lastCheckpointStep to pass the step reported when it"
                + " asked, or for the trainer to stop on its own, before it stops the pods; the job resumes from"
                + " that checkpoint. 0 stops at once (the trainer still saves on SIGTERM if the grace period"
                + " allows).")
        public Integer stopTimeoutSeconds = Integer.valueOf(DEFAULT_STOP_TIMEOUT_SECONDS);

        public static final String DEFAULT_STOP_TIMEOUT_SECONDS = "300";
    }

    /** Training data. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @ValidationRule(
            value = "self.type != 'tokens' || has(self.path)",
            message = "training.dataset.path is required when training.dataset.type is tokens",
            reason = "FieldValueRequired")
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class DatasetSpec {
        @Default("synthetic")
        @JsonPropertyDescription("synthetic (random tokens, no volume) or tokens (a flat binary file of token ids).")
        public DatasetType type = DatasetType.synthetic;

        @Size(max = ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH)
        @Pattern(ObjectNameRules.DNS1123_SUBDOMAIN)
        @JsonPropertyDescription("PersistentVolumeClaim holding the dataset, mounted read-only at /data.")
        public String claimName;

        @Size(max = SpecLimits.MAX_PATH_LENGTH)
        @Pattern(WorkloadSyntax.ABSOLUTE_PATH)
        @JsonPropertyDescription("Path of the token file inside the pod, e.g. /data/tokens.bin (type tokens;"
                + " absolute, normalised).")
        public String path;

        @Default("uint32")
        @JsonPropertyDescription("Integer type of the token file: uint16 or uint32.")
        public TokenDtype dtype = TokenDtype.uint32;
    }

    /** Dataset kinds the trainer reads. */
    public enum DatasetType {
        synthetic,
        tokens
    }

    /**
     * What a decoder layer keeps for backward, from most memory and fastest to least memory and slowest. Not
     * {@code off}: YAML 1.1 readers (kubectl's among them) turn an unquoted off into the boolean false.
     */
    public enum ActivationCheckpointing {
        none,
        selective,
        full;

        /**
         * Reads a mode name, or the boolean of jobs written before the three modes (true = full, false = none):
         * such jobs may be stored in the cluster and must keep their meaning.
         */
        @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
        public static ActivationCheckpointing fromJson(JsonNode value) {
            if (value.isBoolean()) {
                return value.booleanValue() ? full : none;
            }
            if (value.isTextual()) {
                for (ActivationCheckpointing mode : values()) {
                    if (mode.name().equals(value.textValue())) {
                        return mode;
                    }
                }
            }
            throw new IllegalArgumentException("not one of none, selective, full");
        }
    }

    /** Element types of a token file. */
    public enum TokenDtype {
        uint16,
        uint32
    }
}
