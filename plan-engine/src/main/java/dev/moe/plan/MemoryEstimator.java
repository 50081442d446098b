package dev.moe.plan;

import dev.moe.api.v1alpha1.TrainingSpec.ActivationCheckpointing;

/**
 * Per-GPU peak memory estimate of a plan. It models what the trainer in trainer-image/ allocates on GPU (torch
 * caching allocator, {@code torch.cuda.max_memory_allocated}), tensor by tensor, and adds a headroom for what the
 * allocator does not count. Checked against real training steps on one H200, with and without an 80 GiB cap
 * (bench/results.md, "Memory: estimate vs measured"; {@code trainer-image/bench/bench_one_gpu.py memory}).
 *
 * <p>What the trainer does (and this class assumes):
 * <ul>
 *   <li><b>Precision</b> (trainer-image/moe_trainer/optim.py). Compute in bf16. A parameter that FSDP2 shards
 *       (dense parameters when data &gt; 1, experts when expertData &gt; 1) is float32 in the model and is its
 *       own master: 4 bytes, plus a float32 sharded gradient (4) and two float32 AdamW moments (8). Every other
 *       parameter is bf16 in the model (2) with a float32 master in the optimizer (4), the moments (8) and a bf16
 *       gradient (2), or a float32 accumulation buffer (4) with gradient accumulation. So 16 bytes per resident
 *       parameter either way (18 for unsharded ones while accumulating).</li>
 *   <li><b>Sharding.</b> Attention projections are split by tensor parallelism (everything else is replicated
 *       over tensor). Dense parameters are sharded by FSDP2 over {@code data} when data &gt; 1 (over data × context with
 *       context parallelism). Routed experts
 *       are split by expert parallelism (numExperts / expert per rank) and, when expertData = world / expert
 *       &gt; 1, further sharded by FSDP2 over expertData.</li>
 *   <li><b>Transient weights</b> with FSDP2: a unit's unsharded bf16 parameters live while it runs (the current
 *       and the prefetched decoder layer), and the root keeps embedding and lm_head unsharded from forward to
 *       backward; a unit's reduce-scatter holds its unsharded bf16 gradient and a float32 copy.</li>
 *   <li><b>Activations</b> per token and decoder layer, as the compiled layer keeps them (bf16 unless noted),
 *       read from the graphs Inductor's partitioner produces ({@code trainer-image/bench/saved_activations.py},
 *       at Qwen3-30B-A3B width: off 114,437, selective 51,584, full 4,106 bytes per token and layer, which
 *       these terms reproduce). {@code selective} keeps the layer input and the outputs of the GEMMs and of attention: q, k,
 *       v (GQA: k and v are not repeated), the attention output and its float32 log-sum-exp, o_proj's output,
 *       the router logits and each routed copy's gate/up output (4·moeIntermediate bytes per copy).
 *       {@code off} adds what the partitioner did not choose to recompute: the normed inputs, q and k after
 *       norm and RoPE, float32 norm statistics, top-k indices and weights, the routing permutation, the
 *       gathered routed copies (2·hidden bytes each) and their SwiGLU output. {@code full} keeps the layer
 *       input. With expert parallelism every mode also keeps the dispatch all-to-all outputs (received copies
 *       with a 1.25 allowance for routing imbalance, and their router weights), so no recompute sends them
 *       again; the all-to-all returning the expert outputs is not kept. With {@code full}, a sparse layer also
 *       keeps its gathered routed copies (the experts' input, hidden bf16 per copy, allocated by the gather of
 *       model._GatherRows) until its backward: the memory-peak attribution of real steps shows them (below),
 *       saved_activations.py, which reads the compiled layer's saved set, does not; why the checkpoint does
 *       not drop them is not known yet (docs/decisions.md).</li>
 *   <li><b>Backward working set</b> of one layer, as the allocator's history of real steps attributes the live
 *       blocks at the peak ({@code bench_one_gpu.py row ours --memory-peak}, 8 layers at 64k and 128k tokens,
 *       bench/results.md): each routed copy's output gradient (hidden, bf16), its SwiGLU output and gradient
 *       (3·moeIntermediate) and its gate/up gradient (moeIntermediate; 3·moeIntermediate when full checkpointing
 *       recomputes gate/up too), plus the attention tensors backward recomputes: q and k after norm and RoPE with
 *       {@code selective}; with {@code full} also the normed inputs, the projections, the attention output and
 *       its log-sum-exp, o_proj's output and the router's logits.</li>
 *   <li><b>Loss</b> (kernels.linear_cross_entropy): lm_head and cross-entropy by chunks of 4,096 tokens; a
 *       chunk's logits and their gradient in bf16, the lm_head weight gradient accumulated in float32 and the
 *       input gradient in bf16; never the full [tokens × vocab] logits.</li>
 *   <li><b>Gradient accumulation.</b> FSDP2 keeps every managed parameter's unsharded gradient in float32
 *       until the last micro-batch; other parameters accumulate into their float32 buffers.</li>
 *   <li><b>Peak.</b> The largest of (a) the last loss chunk of forward (every saved activation, no gradient yet
 *       unless accumulating), (d) backward of the last decoder layer (every saved activation still live, that
 *       layer's working set, the lm_head gradient: the peak of long sequences), (b) backward of the first
 *       decoder layer (all later gradients allocated, that layer's working set live) and (c) the end of
 *       backward (every gradient).</li>
 *   <li><b>Headroom</b> (not counted by the allocator's statistics): 2 GiB for the CUDA context, NCCL
 *       communicators and cuBLAS workspaces plus 5% of everything else for caching-allocator
 *       fragmentation (the trainer runs the allocator with expandable segments).</li>
 * </ul>
 * <b>Context parallelism</b> (trainer-image/moe_trainer/parallel/context.py). Tokens per GPU = microBatchSize ×
 * seqLength / context. Dense parameters are sharded by FSDP2 over data × context. Every attention layer keeps
 * its all-gathered K and V of the whole sequence (context × the local K/V, in every checkpointing mode: a
 * recompute never gathers again), and its forward and backward expand the gathered K/V to the query heads
 * for the block kernels: 4 × (the whole sequence's keys × query heads / tensor × headDim) bf16, transient,
 * in the backward working set.
 */
public final class MemoryEstimator {
    private MemoryEstimator() {}

    static final long BF16 = 2;
    static final long FP32 = 4;
    /** Two float32 AdamW moments. */
    static final long MOMENTS = 2 * FP32;
    /** Tokens per lm_head/cross-entropy chunk (trainer-image/moe_trainer/kernels.py CE_CHUNK_TOKENS). */
    static final long LOSS_CHUNK_TOKENS = 4096;
    /** Allowance for routing imbalance of the token copies an expert rank receives (expert &gt; 1). */
    static final double CAPACITY_FACTOR = 1.25;

    static final long FIXED_HEADROOM = 2L << 30;
    static final double FRAGMENTATION = 0.05;

    /** Per-GPU memory of one plan; {@code ac} is the plan's training.activationCheckpointing. */
    public static MemoryEstimate estimate(
            ModelConfig m,
            ParameterCount p,
            int tensor,
            int expert,
            int context,
            int data,
            int microBatchSize,
            int seqLength,
            ActivationCheckpointing ac,
            int gradientAccumulation,
            int gpuMemoryGiB) {
        int layers = m.numHiddenLayers();
        long world = (long) data * context * tensor;
        long expertData = Math.max(1, world / expert);
        long denseShards = (long) data * context;
        boolean fsdpDense = denseShards > 1;
        boolean fsdpExperts = expertData > 1 && m.numMoeLayers() > 0;
        boolean accumulating = gradientAccumulation > 1;

        long h = m.hiddenSize();

        // ---- parameters of this GPU
        long attentionLayer = p.attention() / layers;
        long attentionLocal = attentionLayer / tensor;
        long denseLocal = p.dense() - p.attention() + p.attention() / tensor;
        long expertLocal = p.expert() / expert;
        long expertLayerLocal = m.numMoeLayers() > 0 ? expertLocal / m.numMoeLayers() : 0;
        long layerDenseLocal = p.perLayerDenseMax() - attentionLayer + attentionLocal;
        long residentDense = fsdpDense ? ceilDiv(denseLocal, denseShards) : denseLocal;
        long residentExpert = fsdpExperts ? ceilDiv(expertLocal, expertData) : expertLocal;
        long resident = residentDense + residentExpert;
        long embeddingMatrices = p.embedding();

        // float32 master in the model (FSDP2) or bf16 working copy + float32 master in the optimizer
        long weightsStatic =
                (fsdpDense ? FP32 : BF16 + FP32) * residentDense + (fsdpExperts ? FP32 : BF16 + FP32) * residentExpert;
        long optimizer = MOMENTS * resident;
        long unshardedGradBytes = accumulating ? FP32 : BF16;
        long gradsFinal = (fsdpDense ? FP32 : unshardedGradBytes) * residentDense
                + (fsdpExperts ? FP32 : unshardedGradBytes) * residentExpert;
        // while accumulating: float32 buffers of unsharded parameters, FSDP2's unsharded float32 gradients
        long accumulatedGrads = accumulating
                ? FP32 * ((fsdpDense ? denseLocal : residentDense) + (fsdpExperts ? expertLocal : residentExpert))
                : 0;
        // FSDP2 transients: two decoder layers unsharded in bf16, the root's embedding and lm_head
        long fsdpTransient = (fsdpDense ? BF16 * (embeddingMatrices + 2 * layerDenseLocal) : 0)
                + (fsdpExperts ? BF16 * 2 * expertLayerLocal : 0);

        // ---- activations, bytes per token (see the class comment)
        long tokens = (long) microBatchSize * seqLength / context;
        // layers come in two kinds (sparse MoE block or dense MLP) and every layer of a kind keeps the same bytes:
        // one of each is enough (the nearest-plan search estimates hundreds of plans of up to 1024 layers)
        int moeLayers = m.numMoeLayers();
        long savedAll = 0;
        long maxLayer = 0;
        for (int kind = 0; kind < 2; kind++) {
            boolean moe = kind == 0;
            int count = moe ? moeLayers : layers - moeLayers;
            if (count > 0) {
                int l = firstLayer(m, moe);
                savedAll += count * (layerActivations(m, l, tensor, expert, ac) + checkpointBoundary(m, l, expert, ac));
                maxLayer = Math.max(maxLayer, layerBackwardWorkingSet(m, l, tensor, expert, ac));
            }
        }
        if (context > 1) { // per local token: the gathered K/V is context × the local K/V
            long kvLocal = (long) m.numKeyValueHeads() / tensor * m.headDim();
            long qLocal = (long) m.numAttentionHeads() / tensor * m.headDim();
            savedAll += layers * context * 2 * kvLocal * BF16;
            maxLayer += context * 4 * qLocal * BF16;
        }
        long layer0Saved = layerActivations(m, 0, tensor, expert, ac)
                + (context > 1 ? context * 2L * m.numKeyValueHeads() / tensor * m.headDim() * BF16 : 0);
        long lossForward = lossBytes(m, tokens);
        long finalNorm = tokens * h * BF16;

        // ---- (a) last loss chunk of forward
        long weightsA = weightsStatic + fsdpTransient;
        long gradsA = accumulatedGrads;
        long activationsA = tokens * savedAll + finalNorm + lossForward;

        // ---- (d) backward of the last decoder layer: every activation still saved, the lm_head's gradient
        long lmHeadResident = fsdpDense ? ceilDiv(embeddingMatrices / 2, denseShards) : embeddingMatrices / 2;
        long gradsD = Math.max(gradsFinal * lmHeadResident / Math.max(1, resident), accumulatedGrads);
        long activationsD = tokens * (savedAll + maxLayer + h * BF16) + finalNorm;

        // ---- (b) backward of the first decoder layer: everything after it has its gradient
        long layerResident = (fsdpDense ? ceilDiv(layerDenseLocal, denseShards) : layerDenseLocal)
                + (fsdpExperts ? ceilDiv(expertLayerLocal, expertData) : expertLayerLocal);
        long laterGrads = resident - layerResident - lmHeadResident;
        long reduceBuffers = (FP32 + BF16) * ((fsdpDense ? layerDenseLocal : 0) + (fsdpExperts ? expertLayerLocal : 0));
        long gradsB = Math.max(gradsFinal * laterGrads / Math.max(1, resident), accumulatedGrads) + reduceBuffers;
        long activationsB = tokens * (layer0Saved + maxLayer) + finalNorm;

        // ---- (c) end of backward
        long gradsC = Math.max(gradsFinal, accumulatedGrads);

        long a = weightsA + gradsA + activationsA;
        long b = weightsA + gradsB + activationsB;
        long c = weightsStatic + gradsC;
        long d = weightsA + gradsD + activationsD;
        long weights;
        long gradients;
        long activations;
        if (a >= b && a >= c && a >= d) {
            weights = weightsA;
            gradients = gradsA;
            activations = activationsA;
        } else if (d >= b && d >= c) {
            weights = weightsA;
            gradients = gradsD;
            activations = activationsD;
        } else if (b >= c) {
            weights = weightsA;
            gradients = gradsB;
            activations = activationsB;
        } else {
            weights = weightsStatic;
            gradients = gradsC;
            activations = 0;
        }
        long subtotal = weights + gradients + optimizer + activations;
        long headroom = FIXED_HEADROOM + (long) (FRAGMENTATION * subtotal);
        return new MemoryEstimate(
                weights, gradients, optimizer, activations, headroom, (long) gpuMemoryGiB * MemoryEstimate.GIB);
    }

    /** The loss at its peak, the last chunk of forward: the chunk's logits and their gradient (bf16), the lm_head
     * weight gradient accumulated in float32 and the input gradient of every token (bf16). */
    static long lossBytes(ModelConfig m, long tokens) {
        long chunk = Math.min(tokens, LOSS_CHUNK_TOKENS);
        return 2 * chunk * m.vocabSize() * BF16
                + (long) m.vocabSize() * m.hiddenSize() * FP32
                + tokens * m.hiddenSize() * BF16;
    }

    /** The first decoder layer with (moe) or without a sparse MoE block; there is one (its count is positive). */
    private static int firstLayer(ModelConfig m, boolean moe) {
        int l = 0;
        while (m.isMoeLayer(l) != moe) {
            l++;
        }
        return l;
    }

    /** Bytes per token decoder layer {@code l} keeps from forward to backward (compiled layer). */
    static long layerActivations(ModelConfig m, int l, int tensor, int expert, ActivationCheckpointing ac) {
        long h = m.hiddenSize();
        long moe = m.isMoeLayer(l) ? 1 : 0;
        long allToAll = moe * dispatchedCopies(m, expert, expert == 1 ? 0 : BF16 * h + FP32);
        return switch (ac) {
            case none -> selectiveKept(m, l, tensor, expert) + offExtra(m, l, tensor, expert) + allToAll;
            case selective -> selectiveKept(m, l, tensor, expert) + allToAll;
            case full -> BF16 * h + allToAll;
        };
    }

    /** With full checkpointing a sparse layer keeps its gathered routed copies (the class comment); bytes per
     * token. */
    static long checkpointBoundary(ModelConfig m, int l, int expert, ActivationCheckpointing ac) {
        return ac == ActivationCheckpointing.full && m.isMoeLayer(l)
                ? dispatchedCopies(m, expert, BF16 * m.hiddenSize())
                : 0;
    }

    /** The layer's transient bytes per token during its backward (the class comment): the routed copies' output
     * gradients, SwiGLU output and gradient and gate/up gradients, and the attention tensors backward recomputes. */
    static long layerBackwardWorkingSet(ModelConfig m, int l, int tensor, int expert, ActivationCheckpointing ac) {
        long h = m.hiddenSize();
        long q = (long) m.numAttentionHeads() * m.headDim() / tensor;
        long kv = (long) m.numKeyValueHeads() * m.headDim() / tensor;
        boolean full = ac == ActivationCheckpointing.full;
        long attention = switch (ac) {
            case none -> 0;
            case selective -> BF16 * (q + kv);
            case full -> BF16 * (2 * h + 3 * q + 3 * kv) + FP32 * (m.numAttentionHeads() / tensor);
        };
        if (!m.isMoeLayer(l)) {
            return attention + BF16 * h + 3 * BF16 * m.intermediateSize();
        }
        long router = full ? BF16 * h + (BF16 + FP32) * m.numExperts() : 0;
        // per routed copy: the output gradient; the SwiGLU output (recomputed unless nothing is checkpointed)
        // and gradients (3 · moeIntermediate kept by none); gate/up gradients, and their recompute with full
        long i = m.moeIntermediateSize();
        long perCopy = BF16 * h
                + switch (ac) {
                    case none -> 2 * BF16 * i;
                    case selective -> 4 * BF16 * i;
                    case full -> 6 * BF16 * i;
                };
        return attention + router + dispatchedCopies(m, expert, perCopy);
    }

    /** perCopy bytes for each routed copy this rank holds per token (a 1.25 allowance under expert parallelism). */
    private static long dispatchedCopies(ModelConfig m, int expert, long perCopy) {
        long k = m.numExpertsPerTok();
        return (expert == 1 ? k : (long) Math.ceil(CAPACITY_FACTOR * k)) * perCopy;
    }

    /** Kept in every mode but full: the layer input, GEMM and attention outputs, gate/up per routed copy. */
    private static long selectiveKept(ModelConfig m, int l, int tensor, int expert) {
        long h = m.hiddenSize();
        long q = (long) m.numAttentionHeads() * m.headDim() / tensor;
        long kv = (long) m.numKeyValueHeads() * m.headDim() / tensor;
        long attention = BF16 * (2 * h + 2 * q + 2 * kv) + FP32 * (m.numAttentionHeads() / tensor);
        if (!m.isMoeLayer(l)) {
            return attention + 2 * BF16 * m.intermediateSize();
        }
        return attention + BF16 * m.numExperts() + dispatchedCopies(m, expert, 2 * BF16 * m.moeIntermediateSize());
    }

    /** Kept only with checkpointing off: what the partitioner chose not to recompute. */
    private static long offExtra(ModelConfig m, int l, int tensor, int expert) {
        long h = m.hiddenSize();
        long q = (long) m.numAttentionHeads() * m.headDim() / tensor;
        long kv = (long) m.numKeyValueHeads() * m.headDim() / tensor;
        long k = m.numExpertsPerTok();
        long attention = BF16 * (h + q + kv) + FP32 * (1 + (m.numAttentionHeads() + m.numKeyValueHeads()) / tensor);
        if (!m.isMoeLayer(l)) {
            return attention + BF16 * (h + m.intermediateSize()) + FP32;
        }
        return attention
                + BF16 * h
                + FP32 * 4
                + k * (8 + FP32)
                + 2 * k * 8
                + dispatchedCopies(m, expert, BF16 * (h + m.moeIntermediateSize()));
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
