package dev.moe.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;
import io.fabric8.generator.annotation.Required;

/** The model: a preset plus overrides, optionally loaded from a checkpoint. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class ModelSpec {

    @Required
    @JsonPropertyDescription("Model preset: qwen3-30b-a3b, qwen3-235b-a22b, or tiny-moe (a small model for CPU"
            + " tests).")
    public String preset;

    @PreserveUnknownFields
    @JsonPropertyDescription("Overrides of the preset's Hugging Face config, camelCase (numHiddenLayers,"
            + " hiddenSize, intermediateSize, moeIntermediateSize, numExperts, numExpertsPerTok,"
            + " numAttentionHeads, numKeyValueHeads, headDim, vocabSize, tieWordEmbeddings, ...) or the HF"
            + " snake_case key.")
    public JsonNode config;

    @JsonPropertyDescription("Hugging Face safetensors checkpoint to start from; random initialisation when absent.")
    public ModelCheckpointSpec checkpoint;

    /** A safetensors directory on a PersistentVolumeClaim. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class ModelCheckpointSpec {
        @JsonPropertyDescription("PersistentVolumeClaim holding the weights, mounted read-only.")
        public String claimName;

        @Required
        @JsonPropertyDescription("Directory inside the pod with config.json and *.safetensors, e.g."
                + " /models/Qwen3-30B-A3B.")
        public String path;
    }
}
