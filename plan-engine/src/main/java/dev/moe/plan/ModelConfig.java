package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.api.v1alpha1.SpecLimits;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Qwen3-MoE model configuration in Hugging Face {@code config.json} keys (snake_case), exactly the
 * {@code model} object of the plan document. Immutable; {@link #withOverrides} makes a modified copy.
 */
public final class ModelConfig {

    /** Value kinds of the keys we understand. */
    enum Kind {
        INT,
        NUMBER,
        BOOL,
        STRING,
        INT_LIST
    }

    /** The keys of the plan document's model object, in document order, and their kinds. */
    static final Map<String, Kind> KEYS = new LinkedHashMap<>();

    static {
        KEYS.put("model_type", Kind.STRING);
        KEYS.put("vocab_size", Kind.INT);
        KEYS.put("hidden_size", Kind.INT);
        KEYS.put("intermediate_size", Kind.INT);
        KEYS.put("moe_intermediate_size", Kind.INT);
        KEYS.put("num_hidden_layers", Kind.INT);
        KEYS.put("num_attention_heads", Kind.INT);
        KEYS.put("num_key_value_heads", Kind.INT);
        KEYS.put("head_dim", Kind.INT);
        KEYS.put("num_experts", Kind.INT);
        KEYS.put("num_experts_per_tok", Kind.INT);
        KEYS.put("norm_topk_prob", Kind.BOOL);
        KEYS.put("decoder_sparse_step", Kind.INT);
        KEYS.put("mlp_only_layers", Kind.INT_LIST);
        KEYS.put("rms_norm_eps", Kind.NUMBER);
        KEYS.put("rope_theta", Kind.NUMBER);
        KEYS.put("max_position_embeddings", Kind.INT);
        KEYS.put("tie_word_embeddings", Kind.BOOL);
        KEYS.put("router_aux_loss_coef", Kind.NUMBER);
        KEYS.put("hidden_act", Kind.STRING);
        KEYS.put("attention_bias", Kind.BOOL);
    }

    private final String preset;
    private final ObjectNode hf;
    /** Layer indices of mlp_only_layers (those inside [0, MAX_LAYERS); validate() reports the others). */
    private final BitSet mlpOnly = new BitSet();

    ModelConfig(String preset, ObjectNode hf) {
        this.preset = preset;
        this.hf = hf;
        JsonNode layers = hf.get("mlp_only_layers");
        if (layers != null && layers.isArray()) {
            for (JsonNode l : layers) {
                if (l.isInt() && l.intValue() >= 0 && l.intValue() < SpecLimits.MAX_LAYERS) {
                    mlpOnly.set(l.intValue());
                }
            }
        }
    }

    /** The preset this configuration started from. */
    public String preset() {
        return preset;
    }

    /** A copy of the Hugging Face config object (the plan document's {@code model}). */
    public ObjectNode toHfJson() {
        return hf.deepCopy();
    }

    public int vocabSize() {
        return hf.get("vocab_size").intValue();
    }

    public int hiddenSize() {
        return hf.get("hidden_size").intValue();
    }

    public int intermediateSize() {
        return hf.get("intermediate_size").intValue();
    }

    public int moeIntermediateSize() {
        return hf.get("moe_intermediate_size").intValue();
    }

    public int numHiddenLayers() {
        return hf.get("num_hidden_layers").intValue();
    }

    public int numAttentionHeads() {
        return hf.get("num_attention_heads").intValue();
    }

    public int numKeyValueHeads() {
        return hf.get("num_key_value_heads").intValue();
    }

    public int headDim() {
        return hf.get("head_dim").intValue();
    }

    public int numExperts() {
        return hf.get("num_experts").intValue();
    }

    public int numExpertsPerTok() {
        return hf.get("num_experts_per_tok").intValue();
    }

    public int decoderSparseStep() {
        return hf.get("decoder_sparse_step").intValue();
    }

    public List<Integer> mlpOnlyLayers() {
        List<Integer> out = new ArrayList<>();
        hf.get("mlp_only_layers").forEach(n -> out.add(n.intValue()));
        return out;
    }

    public int maxPositionEmbeddings() {
        return hf.get("max_position_embeddings").intValue();
    }

    public boolean tieWordEmbeddings() {
        return hf.get("tie_word_embeddings").booleanValue();
    }

    public boolean attentionBias() {
        return hf.get("attention_bias").booleanValue();
    }

    /** Whether decoder layer {@code layer} (0-based) has a sparse MoE block (HF Qwen3MoeDecoderLayer's rule). */
    public boolean isMoeLayer(int layer) {
        return !(layer >= 0 && mlpOnly.get(layer)) && numExperts() > 0 && (layer + 1) % decoderSparseStep() == 0;
    }

    /**
     * Number of decoder layers with a sparse MoE block, closed-form: every decoderSparseStep-th layer, less the
     * mlp_only_layers among them.
     */
    public int numMoeLayers() {
        if (numExperts() <= 0 || decoderSparseStep() <= 0) {
            return 0;
        }
        int layers = numHiddenLayers();
        int n = layers / decoderSparseStep();
        for (int l = mlpOnly.nextSetBit(0); l >= 0 && l < layers; l = mlpOnly.nextSetBit(l + 1)) {
            if ((l + 1) % decoderSparseStep() == 0) {
                n--;
            }
        }
        return n;
    }

    /**
     * Applies {@code spec.model.config} overrides: camelCase keys (numHiddenLayers) or the HF snake_case key
     * (num_hidden_layers). Problems are added to {@code errors}; the returned config has the valid overrides.
     */
    public ModelConfig withOverrides(JsonNode overrides, List<PlanError> errors) {
        if (overrides == null || overrides.isNull() || overrides.isMissingNode()) {
            return this;
        }
        if (!overrides.isObject()) {
            errors.add(new PlanError(
                    "ModelConfigInvalid",
                    "spec.model.config",
                    overrides.toString(),
                    "is not an object",
                    "write overrides as a map, e.g. {numHiddenLayers: 4}"));
            return this;
        }
        if (overrides.size() > SpecLimits.MAX_MODEL_CONFIG_KEYS) {
            errors.add(new PlanError(
                    "ModelConfigInvalid",
                    "spec.model.config",
                    null,
                    "has " + overrides.size() + " keys, more than " + SpecLimits.MAX_MODEL_CONFIG_KEYS,
                    "override only the model settings you" + " change; supported keys: "
                            + String.join(", ", overridableCamelKeys())));
            return this;
        }
        ObjectNode copy = hf.deepCopy();
        Iterator<Map.Entry<String, JsonNode>> it = overrides.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            String hfKey = toSnakeCase(key);
            String field = "spec.model.config." + PlanError.shorten(key);
            Kind kind = KEYS.get(hfKey);
            if (kind == null || hfKey.equals("model_type")) {
                errors.add(new PlanError(
                        "ModelConfigInvalid",
                        field,
                        e.getValue().toString(),
                        "is not a supported model setting",
                        "supported keys: " + String.join(", ", overridableCamelKeys())));
                continue;
            }
            JsonNode v = e.getValue();
            JsonNode converted = convert(kind, v);
            if (converted == null) {
                errors.add(new PlanError(
                        "ModelConfigInvalid", field, v.toString(), "has the wrong type", "expected " + describe(kind)));
                continue;
            }
            PlanError outOfRange = checkRange(hfKey, field, v);
            if (outOfRange != null) {
                errors.add(outOfRange);
                continue;
            }
            copy.set(hfKey, converted);
        }
        return new ModelConfig(preset, copy);
    }

    /**
     * The {@link SpecLimits} range problem of an integer override (or of an item of mlp_only_layers), as
     * ModelConfigInvalid naming the key as the user wrote it; null when the value is inside its range.
     */
    private static PlanError checkRange(String hfKey, String field, JsonNode v) {
        Kind kind = KEYS.get(hfKey);
        SpecLimits.Range range =
                SpecLimits.range(RangeRules.MODEL_CONFIG + toCamelCase(hfKey) + (kind == Kind.INT_LIST ? "[*]" : ""));
        if (range == null) {
            return null;
        }
        if (kind == Kind.INT_LIST) {
            if (v.size() > SpecLimits.MAX_MLP_ONLY_LAYERS) {
                return new PlanError(
                        "ModelConfigInvalid",
                        field,
                        null,
                        "has " + v.size() + " items, more than " + SpecLimits.MAX_MLP_ONLY_LAYERS,
                        "list each dense layer once");
            }
            for (int i = 0; i < v.size(); i++) {
                PlanError e = RangeRules.check(field + "[" + i + "]", v.get(i), range);
                if (e != null) {
                    return asModelError(e);
                }
            }
            return null;
        }
        PlanError e = RangeRules.check(field, v, range);
        return e == null ? null : asModelError(e);
    }

    private static PlanError asModelError(PlanError e) {
        return new PlanError("ModelConfigInvalid", e.field(), e.value(), e.problem(), e.fix());
    }

    /** Structural checks of the model itself (independent of the parallel plan). */
    public void validate(List<PlanError> errors) {
        String[] positive = {
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "moe_intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "num_experts",
            "num_experts_per_tok",
            "decoder_sparse_step",
            "max_position_embeddings"
        };
        boolean ok = true;
        for (String k : positive) {
            if (hf.get(k).longValue() < 1) {
                errors.add(new PlanError(
                        "ModelConfigInvalid",
                        "spec.model.config." + toCamelCase(k),
                        hf.get(k).asText(),
                        "must be at least 1",
                        "use a positive value"));
                ok = false;
            }
        }
        if (!ok) {
            return;
        }
        if (numExpertsPerTok() > numExperts()) {
            errors.add(new PlanError(
                    "ModelConfigInvalid",
                    "spec.model.config.numExpertsPerTok",
                    String.valueOf(numExpertsPerTok()),
                    "exceeds numExperts=" + numExperts(),
                    "use at most " + numExperts()));
        }
        if (numAttentionHeads() % numKeyValueHeads() != 0) {
            errors.add(new PlanError(
                    "ModelConfigInvalid",
                    "spec.model.config.numKeyValueHeads",
                    String.valueOf(numKeyValueHeads()),
                    "does not divide numAttentionHeads=" + numAttentionHeads()
                            + " (grouped-query attention shares each KV head among a whole number of heads)",
                    "valid values: " + Divisors.join(Divisors.of(numAttentionHeads()))));
        }
        if (headDim() % 2 != 0) {
            errors.add(new PlanError(
                    "ModelConfigInvalid",
                    "spec.model.config.headDim",
                    String.valueOf(headDim()),
                    "is odd (rotary position embeddings rotate pairs of dimensions)",
                    "use an even head dimension"));
        }
        List<Integer> dense = mlpOnlyLayers();
        for (int i = 0; i < dense.size(); i++) {
            if (dense.get(i) >= numHiddenLayers()) {
                errors.add(new PlanError(
                        "ModelConfigInvalid",
                        "spec.model.config.mlpOnlyLayers[" + i + "]",
                        String.valueOf(dense.get(i)),
                        "is not a layer: the model has numHiddenLayers=" + numHiddenLayers() + " (indices 0.."
                                + (numHiddenLayers() - 1) + ")",
                        "list layer indices below " + numHiddenLayers()));
                break;
            }
        }
        double eps = hf.get("rms_norm_eps").doubleValue();
        if (!(eps > 0 && eps < 1)) {
            errors.add(new PlanError(
                    "ModelConfigInvalid",
                    "spec.model.config.rmsNormEps",
                    String.valueOf(eps),
                    "must be between 0 and 1 (exclusive)",
                    "use e.g. 1e-6"));
        }
        if (!(hf.get("rope_theta").doubleValue() > 0)) {
            errors.add(new PlanError(
                    "ModelConfigInvalid",
                    "spec.model.config.ropeTheta",
                    hf.get("rope_theta").asText(),
                    "must be more than 0",
                    "use e.g. 1000000.0"));
        }
        if (!(hf.get("router_aux_loss_coef").doubleValue() >= 0)) {
            errors.add(new PlanError(
                    "ModelConfigInvalid",
                    "spec.model.config.routerAuxLossCoef",
                    hf.get("router_aux_loss_coef").asText(),
                    "is negative",
                    "use 0 or more, e.g. 0.001"));
        }
        String act = hf.get("hidden_act").asText();
        if (!"silu".equals(act)) {
            errors.add(new PlanError(
                    "ModelConfigInvalid",
                    "spec.model.config.hiddenAct",
                    act,
                    "is not supported: Qwen3-MoE experts are SwiGLU (silu), which the parameter count and memory"
                            + " estimate assume",
                    "use silu or leave it out"));
        }
    }

    /** camelCase keys users may override, in document order. */
    static List<String> overridableCamelKeys() {
        List<String> out = new ArrayList<>();
        for (String k : KEYS.keySet()) {
            if (!k.equals("model_type")) {
                out.add(toCamelCase(k));
            }
        }
        return out;
    }

    static String toSnakeCase(String key) {
        StringBuilder sb = new StringBuilder();
        for (char c : key.toCharArray()) {
            if (Character.isUpperCase(c)) {
                sb.append('_').append(Character.toLowerCase(c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    static String toCamelCase(String snake) {
        StringBuilder sb = new StringBuilder();
        boolean up = false;
        for (char c : snake.toCharArray()) {
            if (c == '_') {
                up = true;
            } else {
                sb.append(up ? Character.toUpperCase(c) : c);
                up = false;
            }
        }
        return sb.toString();
    }

    private static JsonNode convert(Kind kind, JsonNode v) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        switch (kind) {
            case INT: {
                // any whole number is the right type; checkRange reports one outside the int range
                java.math.BigDecimal d = RangeRules.integral(v);
                return d == null
                        ? null
                        : f.numberNode(
                                d.compareTo(INT_MAX) > 0
                                        ? Integer.MAX_VALUE
                                        : d.compareTo(INT_MIN) < 0 ? Integer.MIN_VALUE : d.intValue());
            }
            case NUMBER:
                return v.isNumber() && Double.isFinite(v.doubleValue()) ? f.numberNode(v.doubleValue()) : null;
            case BOOL:
                return v.isBoolean() ? f.booleanNode(v.booleanValue()) : null;
            case STRING:
                return v.isTextual() ? f.textNode(v.textValue()) : null;
            case INT_LIST:
                if (!v.isArray()) {
                    return null;
                }
                ArrayNode arr = f.arrayNode();
                for (JsonNode x : v) {
                    java.math.BigDecimal d = RangeRules.integral(x);
                    if (d == null) {
                        return null;
                    }
                    arr.add(
                            d.compareTo(INT_MAX) > 0
                                    ? Integer.MAX_VALUE
                                    : d.compareTo(INT_MIN) < 0 ? Integer.MIN_VALUE : d.intValue());
                }
                return arr;
            default:
                return null;
        }
    }

    private static final java.math.BigDecimal INT_MIN = java.math.BigDecimal.valueOf(Integer.MIN_VALUE);
    private static final java.math.BigDecimal INT_MAX = java.math.BigDecimal.valueOf(Integer.MAX_VALUE);

    private static String describe(Kind kind) {
        switch (kind) {
            case INT:
                return "an integer";
            case NUMBER:
                return "a finite number";
            case BOOL:
                return "true or false";
            case STRING:
                return "a string";
            default:
                return "a list of integers";
        }
    }
}
