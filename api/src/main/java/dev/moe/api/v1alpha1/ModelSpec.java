package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;
import io.fabric8.crdv2.generator.v1.SchemaCustomizer;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;

/**
 * The model: a preset plus overrides, optionally loaded from a checkpoint.
 *
 * <p>{@code config} is a free map (camelCase or HF snake_case keys, checked by the plan engine);
 * {@link BoundedConfig} makes its schema an object of at most {@link SpecLimits#MAX_MODEL_CONFIG_KEYS} keys (the
 * generator cannot bound an untyped field, and CEL cannot be declared on one).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@SchemaCustomizer(ModelSpec.BoundedConfig.class)
@JsonIgnoreProperties(ignoreUnknown = true)
public class ModelSpec {

    @Required
    @Size(max = SpecLimits.MAX_PRESET_LENGTH)
    @JsonPropertyDescription(
            "Model preset: qwen3-30b-a3b, qwen3-235b-a22b, or tiny-moe (a small model for CPU" + " tests).")
    public String preset;

    @PreserveUnknownFields
    @JsonPropertyDescription("Overrides of the preset's Hugging Face config, camelCase (numHiddenLayers,"
            + " hiddenSize, intermediateSize, moeIntermediateSize, numExperts, numExpertsPerTok, numAttentionHeads,"
            + " numKeyValueHeads, headDim, vocabSize, tieWordEmbeddings, ...) or the HF snake_case key; at most "
            + SpecLimits.MAX_MODEL_CONFIG_KEYS + " keys. Each setting is bounded (docs/limits.md); the operator"
            + " reports a value out of bounds.")
    public JsonNode config;

    /** Makes config's schema an object of at most {@link SpecLimits#MAX_MODEL_CONFIG_KEYS} keys. */
    public static final class BoundedConfig implements SchemaCustomizer.Customizer {
        @Override
        public JSONSchemaProps apply(JSONSchemaProps props, String input, KubernetesSerialization serialization) {
            JSONSchemaProps config = props.getProperties().get("config");
            config.setType("object");
            config.setMaxProperties((long) SpecLimits.MAX_MODEL_CONFIG_KEYS);
            return props;
        }
    }

    @JsonPropertyDescription("Hugging Face safetensors checkpoint to start from; random initialisation when absent.")
    public ModelCheckpointSpec checkpoint;

    /** Where the model claim is mounted, as CEL ({@link WorkloadSyntax#modelMountPath} in Java). */
    private static final String MOUNT = WorkloadSyntax.MODEL_MOUNT_CEL;

    /** A safetensors directory on a PersistentVolumeClaim. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    @ValidationRule(
            value = "!has(self.claimName) || !(" + MOUNT + " in " + WorkloadSyntax.IMAGE_DIRECTORIES_CEL
                    + " || " + WorkloadSyntax.OPERATOR_MOUNTS_CEL + ".exists(r, " + MOUNT + " == r || "
                    + MOUNT + ".startsWith(r + '/') || r.startsWith(" + MOUNT + " + '/')))",
            message = "model.checkpoint.path: the model claim is mounted at the path's parent directory, which must"
                    + " not be, contain or lie inside the operator's mounts /etc/moe, /dev/shm, /checkpoints, /data,"
                    + " nor hide an image directory (/, /bin, /etc, /opt, /tmp, /usr, ...); use e.g."
                    + " /models/<name>",
            reason = "FieldValueInvalid")
    public static class ModelCheckpointSpec {
        @Size(max = ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH)
        @Pattern(ObjectNameRules.DNS1123_SUBDOMAIN)
        @JsonPropertyDescription(
                "PersistentVolumeClaim holding the weights, mounted read-only at the parent" + " directory of path.")
        public String claimName;

        @Required
        @Size(max = SpecLimits.MAX_PATH_LENGTH)
        @Pattern(WorkloadSyntax.ABSOLUTE_PATH)
        @JsonPropertyDescription("Directory inside the pod with config.json and *.safetensors, e.g."
                + " /models/Qwen3-30B-A3B (absolute, normalised).")
        public String path;
    }
}
