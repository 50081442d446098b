package dev.moe.plan;

/**
 * Estimated memory of one GPU, bytes. See {@link MemoryEstimator} for the assumptions.
 *
 * @param weights     fp32 parameters resident on this GPU plus the transient bf16 copies at the peak (FSDP2
 *                    unsharded buffers, or autocast copies saved for backward)
 * @param gradients   fp32 gradients allocated at the peak (FSDP2 reduce buffers and accumulated unsharded
 *                    gradients included)
 * @param optimizer   AdamW first and second moments (fp32) of the resident shards
 * @param activations activations (and logits) of one micro-batch at the peak
 * @param headroom    CUDA context, NCCL buffers, allocator fragmentation
 * @param gpuBytes    memory of one GPU
 */
public record MemoryEstimate(
        long weights, long gradients, long optimizer, long activations, long headroom, long gpuBytes) {

    public static final long GIB = 1L << 30;

    /** Sum of the parts. */
    public long perGpuBytes() {
        return weights + gradients + optimizer + activations + headroom;
    }

    public boolean fits() {
        return perGpuBytes() <= gpuBytes;
    }

    /** e.g. {@code 66.6 GiB of 80 GiB}. */
    public String summary() {
        return gib(perGpuBytes()) + " of " + gib(gpuBytes);
    }

    /** Bytes in GiB with one decimal (MiB below 1 GiB), e.g. {@code 68.0 GiB}, {@code 0.8 MiB}. */
    public static String gib(long bytes) {
        if (bytes < GIB) {
            return String.format(java.util.Locale.ROOT, "%.1f MiB", (double) bytes / (1 << 20));
        }
        double g = (double) bytes / GIB;
        if (g == Math.rint(g)) {
            return String.format(java.util.Locale.ROOT, "%d GiB", (long) g);
        }
        return String.format(java.util.Locale.ROOT, "%.1f GiB", g);
    }
}
