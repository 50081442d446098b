package dev.moe.plan;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The memory estimate follows its documented sharding assumptions. */
class MemoryEstimatorTest {
    static final ModelConfig QWEN30B = ModelCatalog.preset(ModelCatalog.QWEN3_30B_A3B).orElseThrow();
    static final ParameterCount P = ParameterCount.of(QWEN30B);

    static MemoryEstimate est(int tensor, int expert, int data, int microBatch) {
        return MemoryEstimator.estimate(QWEN30B, P, tensor, expert, 1, data, microBatch, 4096, 80);
    }

    @Test
    void optimizer_and_gradients_follow_the_sharding() {
        MemoryEstimate m = est(1, 8, 64, 1);
        long resident = P.expert() / 8 + (P.dense() + 63) / 64;
        assertThat(m.optimizer()).isEqualTo(12 * resident);
        assertThat(m.gradients()).isEqualTo(2 * resident);
        // weights add the unsharded FSDP buffers: two layers' dense parameters and one embedding matrix
        long layerDense = P.perLayerDenseMax();
        assertThat(m.weights()).isEqualTo(2 * resident + 2 * (2 * layerDense + 151936L * 2048));
        assertThat(m.perGpuBytes()).isEqualTo(m.weights() + m.gradients() + m.optimizer() + m.activations()
                + m.headroom());
        assertThat(m.gpuBytes()).isEqualTo(80L << 30);
    }

    @Test
    void doubling_expert_parallelism_halves_the_expert_states() {
        long ep8 = est(1, 8, 64, 1).optimizer();
        long ep16 = est(1, 16, 64, 1).optimizer();
        long dense = 12 * ((P.dense() + 63) / 64);
        assertThat(ep8 - dense).isEqualTo(2 * (ep16 - dense));
    }

    @Test
    void tensor_parallelism_shrinks_dense_states_and_activations() {
        // same data degree, attention split 2 ways
        MemoryEstimate t1 = est(1, 8, 32, 1);
        MemoryEstimate t2 = est(2, 8, 32, 1);
        assertThat(t2.optimizer()).isLessThan(t1.optimizer());
        assertThat(t2.activations()).isLessThan(t1.activations());
    }

    @Test
    void activations_scale_with_the_micro_batch_and_headroom_covers_fragmentation() {
        MemoryEstimate mb1 = est(1, 8, 64, 1);
        MemoryEstimate mb2 = est(1, 8, 64, 2);
        assertThat(mb2.activations()).isEqualTo(2 * mb1.activations());
        long rest = mb1.weights() + mb1.gradients() + mb1.optimizer() + mb1.activations();
        assertThat(mb1.headroom()).isEqualTo((2L << 30) + (long) (0.05 * rest));
    }

    @Test
    void the_examples_fit_and_four_way_ep_does_not() {
        assertThat(est(1, 8, 64, 1).fits()).isTrue();
        assertThat(est(1, 4, 64, 1).fits()).isFalse();
        assertThat(est(1, 8, 64, 1).summary()).matches("\\d+\\.\\d GiB of 80 GiB");
    }
}
