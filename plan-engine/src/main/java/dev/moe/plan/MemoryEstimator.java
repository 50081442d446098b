package dev.moe.plan;

/**
 * Per-GPU memory estimate of a plan. Assumptions (they follow the trainer in trainer-image/):
 * <ul>
 *   <li>Mixed precision: bf16 weights and gradients (2 + 2 bytes per parameter), an fp32 master copy and fp32
 *       AdamW first and second moments (4 + 4 + 4 bytes) — 16 bytes per resident parameter.</li>
 *   <li>Routed experts are sharded by expert parallelism (each expert rank holds numExperts/expert experts) and
 *       replicated over expertData (expert-data parallelism: gradients all-reduced, not sharded).</li>
 *   <li>Attention projections are split by tensor parallelism; all dense (non-expert) parameters are then
 *       sharded FSDP-style over data × context. While a layer runs, FSDP holds its unsharded bf16 weights:
 *       two layers (prefetch) plus the embedding or lm_head matrix, counted under weights.</li>
 *   <li>Activations: per-layer activation checkpointing (the input of every decoder layer is kept, bf16), one
 *       layer's activations live at a time during recompute and backward (counted twice for backward
 *       temporaries); routed tokens get a 1.25 capacity factor for load imbalance; the logits are kept in bf16
 *       plus fp32 for the loss and its gradient (10 bytes per vocabulary entry per token). Tokens per GPU =
 *       microBatchSize × seqLength / context.</li>
 *   <li>Headroom: 2 GiB (CUDA context, NCCL communicators, cuBLAS workspace) plus 5% of everything else for
 *       allocator fragmentation.</li>
 * </ul>
 */
public final class MemoryEstimator {
    private MemoryEstimator() {
    }

    static final long BF16 = 2;
    static final long FP32 = 4;
    static final long OPTIMIZER_BYTES = 3 * FP32;
    static final long LOGIT_BYTES = BF16 + 2 * FP32;
    static final double CAPACITY_FACTOR = 1.25;
    static final long FIXED_HEADROOM = 2L << 30;
    static final double FRAGMENTATION = 0.05;

    public static MemoryEstimate estimate(ModelConfig m, ParameterCount p, int tensor, int expert, int context,
            int data, int microBatchSize, int seqLength, int gpuMemoryGiB) {
        long shardGroup = (long) data * context;
        long attentionPerGpu = p.attention() / tensor;
        long otherDense = p.dense() - p.attention();
        long densePerGpu = ceilDiv(attentionPerGpu + otherDense, shardGroup);
        long expertPerGpu = p.expert() / expert;
        long resident = densePerGpu + expertPerGpu;

        long unshardBuffers = 0;
        if (shardGroup > 1) {
            long layerDense = p.perLayerDenseMax() - (p.attention() / m.numHiddenLayers())
                    + (p.attention() / m.numHiddenLayers()) / tensor;
            long embeddingMatrix = (long) m.vocabSize() * m.hiddenSize();
            unshardBuffers = BF16 * (2 * layerDense + embeddingMatrix);
        }
        long weights = BF16 * resident + unshardBuffers;
        long gradients = BF16 * resident;
        long optimizer = OPTIMIZER_BYTES * resident;

        long tokens = (long) microBatchSize * seqLength / context;
        long h = m.hiddenSize();
        long q = (long) m.numAttentionHeads() * m.headDim() / tensor;
        long kv = (long) m.numKeyValueHeads() * m.headDim() / tensor;
        long checkpointedInputs = m.numHiddenLayers() * tokens * h * BF16;
        long attention = tokens * BF16 * (3 * h + 2 * q + 2 * kv);
        long moe = tokens * (BF16 * 2 * h + FP32 * m.numExperts())
                + (long) (CAPACITY_FACTOR * tokens * m.numExpertsPerTok()
                        * BF16 * (2 * h + 3L * m.moeIntermediateSize()));
        long denseMlp = tokens * BF16 * (2 * h + 3L * m.intermediateSize());
        boolean anyDense = m.numMoeLayers() < m.numHiddenLayers();
        long oneLayer = attention + (m.numMoeLayers() > 0 ? Math.max(moe, anyDense ? denseMlp : 0) : denseMlp);
        long logits = tokens * m.vocabSize() * LOGIT_BYTES;
        long activations = checkpointedInputs + 2 * oneLayer + logits;

        long subtotal = weights + gradients + optimizer + activations;
        long headroom = FIXED_HEADROOM + (long) (FRAGMENTATION * subtotal);
        return new MemoryEstimate(weights, gradients, optimizer, activations, headroom,
                (long) gpuMemoryGiB * MemoryEstimate.GIB);
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
