package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** Training hyper-parameters, dataset and checkpointing. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.minLearningRate) || !has(self.learningRate)"
        + " || self.minLearningRate <= self.learningRate || self.minLearningRate == " + SpecDefaults.MIN_LEARNING_RATE,
        message = "training.minLearningRate must be at most training.learningRate (the schedule decays from"
                + " learningRate down to minLearningRate; only the default " + SpecDefaults.MIN_LEARNING_RATE
                + " passes, with a warning)",
        reason = "FieldValueInvalid")
@ValidationRule(value = "!has(self.warmupSteps) || !has(self.steps) || self.warmupSteps <= self.steps"
        + " || self.warmupSteps == " + SpecDefaults.WARMUP_STEPS,
        message = "training.warmupSteps must be at most training.steps (the learning rate would never reach its peak;"
                + " only the default " + SpecDefaults.WARMUP_STEPS + " passes, with a warning)",
        reason = "FieldValueInvalid")
@ValidationRule(value = "!has(self.microBatchSize) || !has(self.seqLength)"
        + " || self.microBatchSize * self.seqLength <= " + SpecLimits.MAX_TOKENS_PER_MICRO_BATCH,
        message = "training.microBatchSize × training.seqLength must be at most " + SpecLimits.MAX_TOKENS_PER_MICRO_BATCH
                + " tokens per GPU per pass; reach a bigger batch with gradient accumulation (training.globalBatchSize)",
        reason = "FieldValueInvalid")
@JsonIgnoreProperties(ignoreUnknown = true)
public class TrainingSpec {

    @Min(1)
    @Max(SpecLimits.MAX_SEQ_LENGTH)
    @Default(SpecDefaults.SEQ_LENGTH)
    @JsonPropertyDescription("Tokens per sequence. Must be divisible by 2 × parallelism.context.")
    public Integer seqLength = Integer.valueOf(SpecDefaults.SEQ_LENGTH);

    @Min(1)
    @Max(SpecLimits.MAX_MICRO_BATCH_SIZE)
    @Default(SpecDefaults.MICRO_BATCH_SIZE)
    @JsonPropertyDescription("Sequences per data-parallel rank per forward/backward pass.")
    public Integer microBatchSize = Integer.valueOf(SpecDefaults.MICRO_BATCH_SIZE);

    @Default(SpecDefaults.ACTIVATION_CHECKPOINTING)
    @JsonPropertyDescription("Per-decoder-layer activation checkpointing: keep only each layer's input and"
            + " recompute the layer in backward (about 1/3 more compute, far less activation memory). The"
            + " operator's memory estimate follows this setting.")
    public Boolean activationCheckpointing = Boolean.valueOf(SpecDefaults.ACTIVATION_CHECKPOINTING);

    @Min(1)
    @Max(SpecLimits.MAX_GLOBAL_BATCH_SIZE)
    @JsonPropertyDescription("Sequences per optimizer step = microBatchSize × data × gradient accumulation."
            + " Defaults to microBatchSize × data (no accumulation).")
    public Integer globalBatchSize;

    @Min(1)
    @Max(SpecLimits.MAX_STEPS)
    @Default(SpecDefaults.STEPS)
    @JsonPropertyDescription("Optimizer steps to train.")
    public Integer steps = Integer.valueOf(SpecDefaults.STEPS);

    @Min(value = 0, inclusive = false)
    @Max(SpecLimits.MAX_LEARNING_RATE)
    @Default(SpecDefaults.LEARNING_RATE)
    @JsonPropertyDescription("Peak learning rate (AdamW, cosine decay after warmup).")
    public Double learningRate = Double.valueOf(SpecDefaults.LEARNING_RATE);

    @Min(0)
    @Max(SpecLimits.MAX_LEARNING_RATE)
    @Default(SpecDefaults.MIN_LEARNING_RATE)
    @JsonPropertyDescription("Learning rate at the end of the cosine decay.")
    public Double minLearningRate = Double.valueOf(SpecDefaults.MIN_LEARNING_RATE);

    @Min(0)
    @Max(SpecLimits.MAX_STEPS)
    @Default(SpecDefaults.WARMUP_STEPS)
    @JsonPropertyDescription("Linear warmup steps.")
    public Integer warmupSteps = Integer.valueOf(SpecDefaults.WARMUP_STEPS);

    @Min(0)
    @Max(SpecLimits.MAX_WEIGHT_DECAY)
    @Default(SpecDefaults.WEIGHT_DECAY)
    @JsonPropertyDescription("AdamW weight decay.")
    public Double weightDecay = Double.valueOf(SpecDefaults.WEIGHT_DECAY);

    @Min(0)
    @Default(SpecDefaults.GRAD_CLIP)
    @JsonPropertyDescription("Gradient norm clipping threshold (0 = off).")
    public Double gradClip = Double.valueOf(SpecDefaults.GRAD_CLIP);

    @Min(0)
    @Max(SpecLimits.MAX_SEED)
    @Default(SpecDefaults.SEED)
    @JsonPropertyDescription("Random seed (initialisation and synthetic data).")
    public Long seed = Long.valueOf(SpecDefaults.SEED);

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

        @Min(1)
        @Max(SpecLimits.MAX_STEPS)
        @Default(SpecDefaults.CHECKPOINT_EVERY_STEPS)
        @JsonPropertyDescription("Checkpoint every this many optimizer steps.")
        public Integer everySteps = Integer.valueOf(SpecDefaults.CHECKPOINT_EVERY_STEPS);
    }

    /** Training data. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @ValidationRule(value = "self.type != 'tokens' || has(self.path)",
            message = "training.dataset.path is required when training.dataset.type is tokens",
            reason = "FieldValueRequired")
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class DatasetSpec {
        @Default(SpecDefaults.DATASET_TYPE)
        @JsonPropertyDescription("synthetic (random tokens, no volume) or tokens (a flat binary file of token ids).")
        public DatasetType type = DatasetType.valueOf(SpecDefaults.DATASET_TYPE);

        @Size(max = ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH)
        @Pattern(ObjectNameRules.DNS1123_SUBDOMAIN)
        @JsonPropertyDescription("PersistentVolumeClaim holding the dataset, mounted read-only at /data.")
        public String claimName;

        @Size(max = SpecLimits.MAX_PATH_LENGTH)
        @Pattern(WorkloadSyntax.ABSOLUTE_PATH)
        @JsonPropertyDescription("Path of the token file inside the pod, e.g. /data/tokens.bin (type tokens;"
                + " absolute, normalised).")
        public String path;

        @Default(SpecDefaults.DATASET_DTYPE)
        @JsonPropertyDescription("Integer type of the token file: uint16 or uint32.")
        public TokenDtype dtype = TokenDtype.valueOf(SpecDefaults.DATASET_DTYPE);
    }

    /** Dataset kinds the trainer reads. */
    public enum DatasetType {
        synthetic, tokens
    }

    /** Element types of a token file. */
    public enum TokenDtype {
        uint16, uint32
    }
}
