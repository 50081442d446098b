package dev.moe.plan;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Optional;

/**
 * Model presets. Numbers are the Hugging Face {@code config.json} of each model; {@code tiny-moe} is ours,
 * small enough to train on a CPU in tests while keeping every Qwen3-MoE feature (GQA, q/k norm, top-k routing).
 */
public final class ModelCatalog {
    private ModelCatalog() {}

    public static final String QWEN3_30B_A3B = "qwen3-30b-a3b";
    public static final String QWEN3_235B_A22B = "qwen3-235b-a22b";
    public static final String TINY_MOE = "tiny-moe";

    /** Preset names, in the order users see them. */
    public static List<String> presets() {
        return List.of(QWEN3_30B_A3B, QWEN3_235B_A22B, TINY_MOE);
    }

    /** The preset's configuration, or empty for an unknown name. */
    public static Optional<ModelConfig> preset(String name) {
        if (name == null) {
            return Optional.empty();
        }
        switch (name) {
            case QWEN3_30B_A3B:
                // Qwen/Qwen3-30B-A3B config.json
                return Optional.of(
                        qwen3Moe(name, 151936, 2048, 6144, 768, 48, 32, 4, 128, 128, 8, 40960, 1_000_000.0, false));
            case QWEN3_235B_A22B:
                // Qwen/Qwen3-235B-A22B config.json
                return Optional.of(
                        qwen3Moe(name, 151936, 4096, 12288, 1536, 94, 64, 4, 128, 128, 8, 40960, 1_000_000.0, false));
            case TINY_MOE:
                return Optional.of(qwen3Moe(name, 256, 64, 128, 32, 2, 4, 2, 16, 8, 2, 512, 10_000.0, false));
            default:
                return Optional.empty();
        }
    }

    private static ModelConfig qwen3Moe(
            String preset,
            int vocab,
            int hidden,
            int intermediate,
            int moeIntermediate,
            int layers,
            int heads,
            int kvHeads,
            int headDim,
            int experts,
            int topK,
            int maxPositions,
            double ropeTheta,
            boolean tied) {
        ObjectNode m = JsonNodeFactory.instance.objectNode();
        m.put("model_type", "qwen3_moe");
        m.put("vocab_size", vocab);
        m.put("hidden_size", hidden);
        m.put("intermediate_size", intermediate);
        m.put("moe_intermediate_size", moeIntermediate);
        m.put("num_hidden_layers", layers);
        m.put("num_attention_heads", heads);
        m.put("num_key_value_heads", kvHeads);
        m.put("head_dim", headDim);
        m.put("num_experts", experts);
        m.put("num_experts_per_tok", topK);
        m.put("norm_topk_prob", true);
        m.put("decoder_sparse_step", 1);
        m.putArray("mlp_only_layers");
        m.put("rms_norm_eps", 1e-6);
        m.put("rope_theta", ropeTheta);
        m.put("max_position_embeddings", maxPositions);
        m.put("tie_word_embeddings", tied);
        m.put("router_aux_loss_coef", 0.001);
        m.put("hidden_act", "silu");
        m.put("attention_bias", false);
        return new ModelConfig(preset, m);
    }
}
