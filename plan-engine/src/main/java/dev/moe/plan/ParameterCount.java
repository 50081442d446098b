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
public record ParameterCount(
        long total, long activePerToken, long expert, long attention, long embedding, long perLayerDenseMax) {

    /** Dense (non-expert) parameters. */
    public long dense() {
        return total - expert;
    }

    /**
     * Counts in closed form (the layers are of two kinds, MoE and dense, so no loop over layers) with exact 64-bit
     * arithmetic: a model whose count does not fit a long throws ArithmeticException, which the limits of
     * {@link SpecLimits} rule out (the largest model they admit has about 10^16 parameters).
     */
    public static ParameterCount of(ModelConfig m) {
        long h = m.hiddenSize();
        long q = mul(m.numAttentionHeads(), m.headDim());
        long kv = mul(m.numKeyValueHeads(), m.headDim());
        long attention = add(mul(2, mul(h, q)), mul(2, mul(h, kv))); // q, o and k, v projections
        if (m.attentionBias()) {
            attention = add(attention, add(add(q, mul(2, kv)), h));
        }
        long qkNorm = mul(2, m.headDim());
        long norms = mul(2, h);
        long router = mul(h, m.numExperts());
        long oneExpert = mul(3, mul(h, m.moeIntermediateSize()));
        long denseMlp = mul(3, mul(h, m.intermediateSize()));

        long moeLayers = m.numMoeLayers();
        long denseLayers = m.numHiddenLayers() - moeLayers;
        long shared = add(add(norms, attention), qkNorm); // every layer
        long moeLayerDense = add(shared, router);
        long denseLayerDense = add(shared, denseMlp);
        long experts = mul(m.numExperts(), oneExpert);
        long activeExperts = mul(m.numExpertsPerTok(), oneExpert);

        long expert = mul(moeLayers, experts);
        long layersTotal = add(mul(moeLayers, add(moeLayerDense, experts)), mul(denseLayers, denseLayerDense));
        long layersActive = add(mul(moeLayers, add(moeLayerDense, activeExperts)), mul(denseLayers, denseLayerDense));
        long perLayerDenseMax = Math.max(moeLayers > 0 ? moeLayerDense : 0, denseLayers > 0 ? denseLayerDense : 0);
        long embedding = mul(mul(m.vocabSize(), h), m.tieWordEmbeddings() ? 1 : 2);
        long total = add(layersTotal, add(embedding, h));
        long active = add(layersActive, add(embedding, h));
        return new ParameterCount(
                total, active, expert, mul(attention, m.numHiddenLayers()), embedding, perLayerDenseMax);
    }

    private static long mul(long a, long b) {
        return Math.multiplyExact(a, b);
    }

    private static long add(long a, long b) {
        return Math.addExact(a, b);
    }
}
