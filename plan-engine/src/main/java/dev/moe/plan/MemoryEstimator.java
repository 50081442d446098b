package dev.moe.plan;

/**
 * Per-GPU peak memory estimate of a plan. It models what the trainer in trainer-image/ allocates (torch caching
 * allocator, {@code torch.cuda.max_memory_allocated}), tensor by tensor, and adds a headroom for what the
 * allocator does not count. Checked against real training steps on an H100 (bench/results.md, "Memory:
 * estimate vs measured"; trainer-image/scripts/gpu_memory_check.sh).
 *
 * <p>What the trainer does (and this class assumes):
 * <ul>
 *   <li><b>Precision.</b> Parameters are fp32 (the trainer keeps no separate master copy: the fp32 parameter is
 *       the master); forward/backward run under bf16 autocast; gradients are fp32 (plain {@code .grad}, or
 *       FSDP2's {@code reduce_dtype=float32} sharded gradients); fused AdamW keeps two fp32 moments. So 16 bytes
 *       per resident parameter: weights 4, gradients 4, optimizer 8.</li>
 *   <li><b>Sharding.</b> Attention projections are split by tensor parallelism (everything else is replicated
 *       over tensor). Dense (non-expert) parameters are sharded by FSDP2 over the dense mesh's {@code data}
 *       dimension only (not data × context) when data &gt; 1. Routed experts are split by expert parallelism
 *       (numExperts / expert per rank) and, when expertData = world / expert &gt; 1, further sharded by FSDP2
 *       over expertData.</li>
 *   <li><b>Transient weights.</b> With FSDP2 (bf16 {@code param_dtype}) a unit's unsharded bf16 parameters live
 *       while it runs: two decoder layers (the current one and the prefetched one) plus the root's embedding
 *       and lm_head, which the root keeps unsharded from forward to backward. Without FSDP the parameters stay
 *       fp32 and autocast makes bf16 copies that autograd saves for backward: every layer's linear weights and
 *       lm_head, and the experts' {@code w.to(bf16)} of every MoE layer (with activation checkpointing only
 *       lm_head's copy outlives forward; a layer's copies come back while it is recomputed).</li>
 *   <li><b>Activations</b> per token, as saved by autograd for this model code (bf16 unless noted): RMSNorm
 *       keeps an fp32 copy of its input and its normalised input; q/k RMSNorm the same per head; SDPA keeps
 *       q and the repeated (GQA) k and v and its output; o_proj its input; the router its input and fp32
 *       probabilities; each routed token copy keeps its hidden state, the gate/up output, silu(gate), the
 *       SwiGLU product and the expert output (2h + 8I bytes per copy, and 2h more per copy on the sender when
 *       experts run locally). Without FSDP the embedding output, and so the residual stream, is fp32 and
 *       autocast makes a bf16 copy of a norm's output for each projection reading it. With expert parallelism
 *       the received copies get a 1.25 allowance for routing imbalance. With per-layer activation
 *       checkpointing only each layer's input is kept, and one layer's activations come back during its
 *       backward.</li>
 *   <li><b>Logits.</b> lm_head output (bf16), the fp32 copy, and log-softmax: at the peak, the log-softmax
 *       backward holds its saved fp32 output, the incoming fp32 gradient and its fp32 result, 12 bytes per
 *       vocabulary entry per token.</li>
 *   <li><b>Gradient accumulation.</b> On non-final micro-batches the trainer turns FSDP2's gradient
 *       reduction off, so FSDP2 keeps every managed parameter's unsharded gradient, upcast to fp32, until the
 *       last micro-batch; plain gradients simply accumulate in place.</li>
 *   <li><b>Peak.</b> The larger of (a) the start of backward (logits, every saved activation; no gradient yet
 *       unless accumulating) and (b) backward of the first decoder layer (all later gradients allocated, that
 *       layer's working set live) or the end of backward (every gradient).</li>
 *   <li><b>Headroom</b> (not counted by the allocator's statistics): 2 GiB for the CUDA context, NCCL
 *       communicators and cuBLAS workspaces plus 5% of everything else for caching-allocator
 *       fragmentation.</li>
 * </ul>
 * Tokens per GPU = microBatchSize × seqLength / context.
 */
public final class MemoryEstimator {
    private MemoryEstimator() {
    }

    static final long BF16 = 2;
    static final long FP32 = 4;
    /** fp32 parameter + fp32 gradient + two fp32 AdamW moments. */
    static final long BYTES_PER_PARAMETER = 16;
    /** log-softmax backward: saved fp32 output, fp32 incoming gradient, fp32 result. */
    static final long LOGIT_BYTES = 3 * FP32;
    /** Allowance for routing imbalance of the token copies an expert rank receives (expert &gt; 1). */
    static final double CAPACITY_FACTOR = 1.25;
    static final long FIXED_HEADROOM = 2L << 30;
    static final double FRAGMENTATION = 0.05;

    /** Without gradient accumulation. */
    public static MemoryEstimate estimate(ModelConfig m, ParameterCount p, int tensor, int expert, int context,
            int data, int microBatchSize, int seqLength, boolean activationCheckpointing, int gpuMemoryGiB) {
        return estimate(m, p, tensor, expert, context, data, microBatchSize, seqLength, activationCheckpointing, 1,
                gpuMemoryGiB);
    }

    public static MemoryEstimate estimate(ModelConfig m, ParameterCount p, int tensor, int expert, int context,
            int data, int microBatchSize, int seqLength, boolean activationCheckpointing,
            int gradientAccumulation, int gpuMemoryGiB) {
        int layers = m.numHiddenLayers();
        long world = (long) data * context * tensor;
        long expertData = Math.max(1, world / expert);
        boolean fsdpDense = data > 1;
        boolean fsdpExperts = expertData > 1 && m.numMoeLayers() > 0;
        boolean accumulating = gradientAccumulation > 1;
        boolean ac = activationCheckpointing;

        long h = m.hiddenSize();
        long q = (long) m.numAttentionHeads() * m.headDim() / tensor;
        long kv = (long) m.numKeyValueHeads() * m.headDim() / tensor;
        long inter = m.moeIntermediateSize();
        long denseInter = m.intermediateSize();
        long k = m.numExpertsPerTok();
        long vocab = m.vocabSize();

        // ---- parameters of this GPU
        long attentionLayer = p.attention() / layers;
        long attentionLocal = attentionLayer / tensor;
        long denseLocal = p.dense() - p.attention() + p.attention() / tensor;
        long expertLocal = p.expert() / expert;
        long expertLayerLocal = m.numMoeLayers() > 0 ? expertLocal / m.numMoeLayers() : 0;
        long layerDenseLocal = p.perLayerDenseMax() - attentionLayer + attentionLocal;
        long residentDense = fsdpDense ? ceilDiv(denseLocal, data) : denseLocal;
        long residentExpert = fsdpExperts ? ceilDiv(expertLocal, expertData) : expertLocal;
        long resident = residentDense + residentExpert;
        long embeddingMatrices = p.embedding();
        long lmHead = vocab * h;

        long layerLinearsAll = 0; // linear weights autocast copies (no FSDP): attention, router / dense MLP
        for (int l = 0; l < layers; l++) {
            layerLinearsAll += attentionLocal + (m.isMoeLayer(l) ? h * m.numExperts() : 3 * h * denseInter);
        }

        // ---- activations, bytes per token
        long tokens = (long) microBatchSize * seqLength / context;
        long residual = fsdpDense ? BF16 : FP32; // embedding output dtype = parameter dtype
        long norms = fsdpDense ? 16 * h : 22 * h; // input_layernorm (+ q/k/v casts) and post_attention_layernorm
        long attention = 16 * q + 6 * kv;
        long moe = FP32 * m.numExperts() + (fsdpDense ? 0 : 4 * h) // router fp32 probs; router/dispatch casts
                + (expert == 1 ? k * (4 * h + 8 * inter)
                        : k * 2 * h + (long) Math.ceil(CAPACITY_FACTOR * k * (2 * h + 8 * inter)));
        long denseMlp = (fsdpDense ? 0 : 4 * h) + 8 * denseInter;
        long savedLayersNoAc = 0;
        long maxLayerSaved = 0;
        for (int l = 0; l < layers; l++) {
            long perToken = norms + attention + (m.isMoeLayer(l) ? moe : denseMlp);
            savedLayersNoAc += perToken;
            maxLayerSaved = Math.max(maxLayerSaved, perToken);
        }
        long savedLayers = tokens * (ac ? layers * h * residual : savedLayersNoAc);
        long finalNorm = tokens * (fsdpDense ? 8 * h : 10 * h);
        long logits = tokens * vocab * LOGIT_BYTES;

        // ---- (a) start of backward: logits and every saved activation
        long weightsA = FP32 * resident;
        if (fsdpDense) {
            weightsA += BF16 * (embeddingMatrices + 2 * layerDenseLocal);
        } else {
            weightsA += BF16 * (lmHead + (ac ? 0 : layerLinearsAll));
        }
        if (fsdpExperts) {
            weightsA += BF16 * 2 * expertLayerLocal;
        } else if (!ac) {
            weightsA += BF16 * expertLocal;
        }
        long accumulatedGrads = accumulating
                ? FP32 * ((fsdpDense ? denseLocal : residentDense) + (fsdpExperts ? expertLocal : residentExpert))
                : 0;
        long gradsA = accumulatedGrads;
        long activationsA = savedLayers + finalNorm + logits;

        // ---- (b) backward of the first decoder layer: gradients of everything after it allocated
        long layerWorkingSet = tokens * maxLayerSaved; // its saved (or recomputed) activations
        long weightsB = FP32 * resident;
        if (fsdpDense) {
            weightsB += BF16 * (embeddingMatrices + 2 * layerDenseLocal);
        }
        weightsB += BF16 * (fsdpExperts ? 2 * expertLayerLocal : expertLayerLocal);
        long layerResident = (fsdpDense ? ceilDiv(layerDenseLocal, data) : layerDenseLocal)
                + (fsdpExperts ? ceilDiv(expertLayerLocal, expertData) : expertLayerLocal);
        long embeddingResident = fsdpDense ? ceilDiv(embeddingMatrices / 2, data) : embeddingMatrices / 2;
        // FSDP2 reduce-scatter of one unit: unsharded bf16 gradient + its fp32 copy (reduce_dtype)
        long reduceBuffers = (FP32 + BF16) * ((fsdpDense ? layerDenseLocal : 0) + (fsdpExperts ? expertLayerLocal : 0));
        long gradsB = Math.max(FP32 * (resident - layerResident - embeddingResident), accumulatedGrads)
                + reduceBuffers;
        long activationsB = layerWorkingSet + (ac ? tokens * h * residual : 0);
        // (c) end of backward: every gradient, no activation
        long weightsC = FP32 * resident;
        long gradsC = Math.max(FP32 * resident, accumulatedGrads);

        long optimizer = 8 * resident;
        long a = weightsA + gradsA + activationsA;
        long b = weightsB + gradsB + activationsB;
        long c = weightsC + gradsC;
        long weights;
        long gradients;
        long activations;
        if (a >= b && a >= c) {
            weights = weightsA;
            gradients = gradsA;
            activations = activationsA;
        } else if (b >= c) {
            weights = weightsB;
            gradients = gradsB;
            activations = activationsB;
        } else {
            weights = weightsC;
            gradients = gradsC;
            activations = 0;
        }
        long subtotal = weights + gradients + optimizer + activations;
        long headroom = FIXED_HEADROOM + (long) (FRAGMENTATION * subtotal);
        return new MemoryEstimate(weights, gradients, optimizer, activations, headroom,
                (long) gpuMemoryGiB * MemoryEstimate.GIB);
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
