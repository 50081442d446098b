package dev.moe.plan;

/**
 * Exact parameter counts of a Qwen3-MoE model (Qwen3MoeForCausalLM), and the groups the memory estimate shards
 * differently.
 *
 * <p>Per decoder layer: two RMSNorms (hidden each); attention q/k/v/o projections (bias only when
 * attention_bias) plus q_norm and k_norm (head_dim each); then either a sparse block (router hidden × experts,
 * and experts × 3 × hidden × moe_intermediate for gate/up/down) or a dense SwiGLU MLP (3 × hidden ×
 * intermediate). Plus token embeddings, the final norm and lm_head (absent when tied).
 *
 * @param total            every parameter
 * @param activePerToken   parameters one token passes through: all dense ones (embeddings and lm_head included)
 *                         plus num_experts_per_tok experts per MoE layer
 * @param expert           routed-expert parameters (sharded by expert parallelism)
 * @param attention        q/k/v/o projection parameters of all layers (sharded by tensor parallelism)
 * @param embedding        input embedding plus lm_head (if untied)
 * @param perLayerDenseMax the largest number of non-expert parameters in one layer (FSDP unshard buffer)
 */
public record ParameterCount(long total, long activePerToken, long expert, long attention, long embedding,
        long perLayerDenseMax) {

    /** Dense (non-expert) parameters. */
    public long dense() {
        return total - expert;
    }

    public static ParameterCount of(ModelConfig m) {
        long h = m.hiddenSize();
        long q = (long) m.numAttentionHeads() * m.headDim();
        long kv = (long) m.numKeyValueHeads() * m.headDim();
        long attention = h * q + 2 * h * kv + q * h;
        if (m.attentionBias()) {
            attention += q + 2 * kv + h;
        }
        long qkNorm = 2L * m.headDim();
        long norms = 2 * h;
        long router = h * m.numExperts();
        long oneExpert = 3 * h * m.moeIntermediateSize();
        long denseMlp = 3 * h * m.intermediateSize();

        long total = 0;
        long active = 0;
        long expert = 0;
        long perLayerDenseMax = 0;
        for (int l = 0; l < m.numHiddenLayers(); l++) {
            long layerDense = norms + attention + qkNorm;
            long layerTotal;
            long layerActive;
            if (m.isMoeLayer(l)) {
                long experts = m.numExperts() * oneExpert;
                layerDense += router;
                layerTotal = layerDense + experts;
                layerActive = layerDense + m.numExpertsPerTok() * oneExpert;
                expert += experts;
            } else {
                layerDense += denseMlp;
                layerTotal = layerDense;
                layerActive = layerDense;
            }
            perLayerDenseMax = Math.max(perLayerDenseMax, layerDense);
            total += layerTotal;
            active += layerActive;
        }
        long embedding = (long) m.vocabSize() * h * (m.tieWordEmbeddings() ? 1 : 2);
        total += embedding + h;
        active += embedding + h;
        return new ParameterCount(total, active, expert, attention * m.numHiddenLayers(), embedding,
                perLayerDenseMax);
    }
}
