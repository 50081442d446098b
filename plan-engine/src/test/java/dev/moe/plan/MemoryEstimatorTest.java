package dev.moe.plan;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.moe.api.v1alpha1.TrainingSpec.ActivationCheckpointing;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The memory estimate follows the trainer's precision, sharding and activation checkpointing. */
class MemoryEstimatorTest {
    static final ModelConfig QWEN30B =
            ModelCatalog.preset(ModelCatalog.QWEN3_30B_A3B).orElseThrow();
    static final ParameterCount P = ParameterCount.of(QWEN30B);
    static final long GIB = 1L << 30;

    static MemoryEstimate est(int tensor, int expert, int data, int microBatch) {
        return MemoryEstimator.estimate(
                QWEN30B, P, tensor, expert, 1, data, microBatch, 4096, ActivationCheckpointing.full, 1, 80);
    }

    static ModelConfig layers(int n) {
        List<PlanError> errors = new ArrayList<>();
        ModelConfig m =
                QWEN30B.withOverrides(JsonNodeFactory.instance.objectNode().put("numHiddenLayers", n), errors);
        assertThat(errors).isEmpty();
        return m;
    }

    static MemoryEstimate oneGpu(int layers, int seq, int microBatch, ActivationCheckpointing ac, int gpuGiB) {
        ModelConfig m = layers(layers);
        return MemoryEstimator.estimate(m, ParameterCount.of(m), 1, 1, 1, 1, microBatch, seq, ac, 1, gpuGiB);
    }

    static long allocated(MemoryEstimate m) {
        return m.perGpuBytes() - m.headroom();
    }

    @Test
    void one_gpu_keeps_bf16_weights_float32_masters_and_moments_and_bf16_gradients() {
        // 8 layers, micro-batch 1: the end of backward is the peak (every gradient allocated, no activation)
        ModelConfig m = layers(8);
        long n = ParameterCount.of(m).total();
        MemoryEstimate e = oneGpu(8, 4096, 1, ActivationCheckpointing.none, 140);
        assertThat(e.weights()).isEqualTo(6 * n); // bf16 working copy + float32 master
        assertThat(e.optimizer()).isEqualTo(8 * n); // two float32 moments
        assertThat(e.gradients()).isEqualTo(2 * n); // bf16, no accumulation
        assertThat(e.activations()).isZero();
    }

    @Test
    void context_parallelism_shards_tokens_and_dense_parameters_and_keeps_the_gathered_kv() {
        ModelConfig m = layers(8);
        ParameterCount p = ParameterCount.of(m);
        int seq = 65536;
        MemoryEstimate one = MemoryEstimator.estimate(m, p, 1, 1, 1, 1, 1, seq, ActivationCheckpointing.full, 1, 140);
        MemoryEstimate cp2 = MemoryEstimator.estimate(m, p, 1, 1, 2, 1, 1, seq, ActivationCheckpointing.full, 1, 140);
        MemoryEstimate dp2 = MemoryEstimator.estimate(m, p, 1, 1, 1, 2, 1, seq, ActivationCheckpointing.full, 1, 140);
        // dense parameters sharded over data × context as over data
        assertThat(cp2.optimizer()).isEqualTo(dp2.optimizer());
        assertThat(cp2.optimizer()).isLessThan(one.optimizer());
        // half the tokens per GPU, plus each layer's K/V of the whole sequence: 2 × 4 KV heads × 128 × bf16 per
        // token of the sequence, per layer
        long gatheredKv = 8L * seq * 2 * 4 * 128 * 2;
        MemoryEstimate dp2Half =
                MemoryEstimator.estimate(m, p, 1, 1, 1, 2, 1, seq / 2, ActivationCheckpointing.full, 1, 140);
        assertThat(cp2.activations()).isGreaterThanOrEqualTo(dp2Half.activations() + gatheredKv - seq * 4096L);
        assertThat(cp2.activations()).isLessThan(one.activations());
        assertThat(cp2.perGpuBytes()).isLessThan(one.perGpuBytes());
    }

    @Test
    void gradient_accumulation_of_unsharded_parameters_is_float32() {
        ModelConfig m = layers(8);
        ParameterCount p = ParameterCount.of(m);
        MemoryEstimate one = MemoryEstimator.estimate(m, p, 1, 1, 1, 1, 1, 4096, ActivationCheckpointing.none, 1, 140);
        MemoryEstimate four = MemoryEstimator.estimate(m, p, 1, 1, 1, 1, 1, 4096, ActivationCheckpointing.none, 4, 140);
        assertThat(one.gradients()).isEqualTo(2 * p.total());
        assertThat(four.gradients()).isGreaterThanOrEqualTo(4 * p.total());
    }

    @Test
    void fsdp_sharded_parameters_are_their_own_float32_masters() {
        // 64 GPUs, EP 8 -> expertData 8: both kinds sharded by FSDP2, so 4 bytes of weight per resident parameter
        // (plus the unsharded bf16 transients) and 16 bytes in all
        MemoryEstimate m = est(1, 8, 64, 1);
        long resident = (P.dense() + 63) / 64 + (P.expert() / 8 + 7) / 8;
        assertThat(m.optimizer()).isEqualTo(8 * resident);
        long unshardedTransients = 2 * (P.embedding() + 2 * P.perLayerDenseMax() + 2 * P.expert() / 8 / 48);
        assertThat(m.weights())
                .isGreaterThanOrEqualTo(4 * resident)
                .isLessThanOrEqualTo(4 * resident + unshardedTransients);
        assertThat(m.perGpuBytes())
                .isEqualTo(m.weights() + m.gradients() + m.optimizer() + m.activations() + m.headroom());
        assertThat(m.gpuBytes()).isEqualTo(80L << 30);
    }

    @Test
    void with_expert_data_sharding_expert_states_depend_on_the_world_not_on_expert_parallelism() {
        assertThat(est(1, 8, 64, 1).optimizer()).isEqualTo(est(1, 16, 64, 1).optimizer());
        long ep64 = est(1, 64, 64, 1).optimizer();
        long dense = 8 * ((P.dense() + 63) / 64);
        assertThat(ep64 - dense).isEqualTo(8 * (P.expert() / 64));
    }

    @Test
    void tensor_parallelism_shrinks_dense_states_and_activations() {
        MemoryEstimate t1 =
                MemoryEstimator.estimate(QWEN30B, P, 1, 8, 1, 32, 1, 4096, ActivationCheckpointing.none, 1, 80);
        MemoryEstimate t2 =
                MemoryEstimator.estimate(QWEN30B, P, 2, 8, 1, 32, 1, 4096, ActivationCheckpointing.none, 1, 80);
        assertThat(t2.optimizer()).isLessThan(t1.optimizer());
        assertThat(t2.activations()).isLessThan(t1.activations());
    }

    /**
     * What the compiled decoder layer keeps for backward, per token, read from the graphs Inductor's partitioner
     * produced for the trainer's layer at Qwen3-30B-A3B width (trainer-image/bench/saved_activations.py, torch
     * 2.11, 512 tokens, the layer's RoPE tables excluded: shared by all layers).
     */
    static final long SAVED_OFF = 114_437;

    static final long SAVED_SELECTIVE = 51_584;
    /** The layer input and 10 bytes of bookkeeping. */
    static final long SAVED_FULL = 4_106;

    @Test
    void activations_per_layer_are_what_the_compiled_layer_keeps() {
        assertThat(MemoryEstimator.layerActivations(QWEN30B, 0, 1, 1, ActivationCheckpointing.none))
                .isCloseTo(SAVED_OFF, org.assertj.core.data.Percentage.withPercentage(1));
        assertThat(MemoryEstimator.layerActivations(QWEN30B, 0, 1, 1, ActivationCheckpointing.selective))
                .isCloseTo(SAVED_SELECTIVE, org.assertj.core.data.Percentage.withPercentage(1));
        assertThat(MemoryEstimator.layerActivations(QWEN30B, 0, 1, 1, ActivationCheckpointing.full))
                .isCloseTo(SAVED_FULL, org.assertj.core.data.Percentage.withPercentage(1));
        // and the estimate uses them: one more layer at 16 × 4096 tokens adds its activations (off, 140 GiB)
        long tokens = 16L * 4096;
        long perLayer = oneGpu(17, 4096, 16, ActivationCheckpointing.none, 200).activations()
                - oneGpu(16, 4096, 16, ActivationCheckpointing.none, 200).activations();
        assertThat(perLayer)
                .isEqualTo(tokens * MemoryEstimator.layerActivations(QWEN30B, 0, 1, 1, ActivationCheckpointing.none));
    }

    @Test
    void checkpointing_trades_kept_activations_for_recompute_in_backward() {
        long off = MemoryEstimator.layerActivations(QWEN30B, 0, 1, 1, ActivationCheckpointing.none);
        long sel = MemoryEstimator.layerActivations(QWEN30B, 0, 1, 1, ActivationCheckpointing.selective);
        long full = MemoryEstimator.layerActivations(QWEN30B, 0, 1, 1, ActivationCheckpointing.full);
        assertThat(off).isGreaterThan(sel);
        assertThat(sel).isGreaterThan(full);
        // what is not kept is recomputed during the layer's backward, a piece at a time: the working set grows as
        // less is kept, but never by all that was dropped (the peaks measured at 64k and 128k tokens)
        long wsOff = MemoryEstimator.layerBackwardWorkingSet(QWEN30B, 0, 1, 1, ActivationCheckpointing.none);
        long wsSel = MemoryEstimator.layerBackwardWorkingSet(QWEN30B, 0, 1, 1, ActivationCheckpointing.selective);
        long wsFull = MemoryEstimator.layerBackwardWorkingSet(QWEN30B, 0, 1, 1, ActivationCheckpointing.full);
        assertThat(wsOff).isLessThan(wsSel);
        assertThat(wsSel).isLessThan(wsFull);
        assertThat(sel + wsSel).isLessThan(off + wsOff);
        // one layer's backward under full checkpointing holds more than under selective; eight layers' peak does not
        assertThat(oneGpu(8, 65536, 1, ActivationCheckpointing.full, 140).activations())
                .isLessThan(oneGpu(8, 65536, 1, ActivationCheckpointing.selective, 140)
                        .activations());
        // 8 layers, 16 × 4096 tokens on an H200: selective (or full) checkpointing fits where off does not
        assertThat(oneGpu(8, 4096, 16, ActivationCheckpointing.none, 140).fits())
                .isFalse();
        assertThat(oneGpu(8, 4096, 16, ActivationCheckpointing.selective, 140).fits())
                .isTrue();
    }

    @Test
    void expert_parallel_checkpointing_keeps_the_dispatched_tokens_so_no_recompute_sends_them_again() {
        // every mode keeps each received copy (1.25 × k of them per token) and its router weight
        long received = 10 * (2 * 2048 + 4);
        assertThat(MemoryEstimator.layerActivations(QWEN30B, 0, 1, 8, ActivationCheckpointing.full))
                .isEqualTo(2 * 2048 + received);
        assertThat(MemoryEstimator.layerActivations(QWEN30B, 0, 1, 8, ActivationCheckpointing.selective)
                        - MemoryEstimator.layerActivations(QWEN30B, 0, 1, 1, ActivationCheckpointing.selective))
                .isGreaterThanOrEqualTo(received);
    }

    @Test
    void loss_never_holds_the_full_logits() {
        long tokens = 16L * 4096;
        long fp32Logits = tokens * 151936L * 4;
        assertThat(MemoryEstimator.lossBytes(QWEN30B, tokens)).isLessThan(fp32Logits / 8);
        // beyond one chunk, more tokens only add their input gradient
        assertThat(MemoryEstimator.lossBytes(QWEN30B, tokens) - MemoryEstimator.lossBytes(QWEN30B, 4096))
                .isEqualTo((tokens - 4096) * 2048 * 2);
    }

    /**
     * Measured on one H200 (torch 2.11, 2026-12-01, bench/results.md "Memory"): max_memory_allocated of real
     * training steps of the compiled trainer, Qwen3-30B-A3B shapes. {layers, seq, microBatch, mode (0 off,
     * 1 selective, 2 full), measured MiB}. The last three ran under a 79.2 GiB allocator cap (an H100 80GB).
     */
    static final long[][] MEASURED_H200 = {
        {8, 4096, 1, 0, 85678}, {8, 4096, 4, 0, 92989}, {8, 4096, 4, 1, 86313}, {8, 4096, 4, 2, 86784},
        {8, 4096, 8, 0, 107489}, {8, 4096, 16, 1, 106721}, {2, 4096, 1, 0, 29491}, {4, 4096, 8, 0, 59904},
        {4, 16384, 8, 0, 104468}, {4, 4096, 16, 0, 74547}, {4, 16384, 4, 0, 74598},
    };

    /**
     * Long sequences, one per step, on one H200 (torch 2.11, 2026-12-02, bench/results.md "Long sequences on one
     * GPU"): {layers, seq, mode, measured MiB}. Their peak is the backward of the last decoder layer.
     */
    static final long[][] MEASURED_H200_LONG = {
        {8, 16384, 0, 93000}, {8, 32768, 0, 107500}, {8, 32768, 1, 91791}, {8, 65536, 0, 136509},
        {8, 65536, 1, 106752}, {8, 65536, 2, 103455}, {8, 98304, 1, 122368}, {8, 131072, 1, 137984},
        {8, 131072, 2, 131389},
    };

    @Test
    void matches_the_measured_long_sequence_peaks_and_the_lengths_that_ran_out_of_memory_are_refused() {
        for (long[] row : MEASURED_H200_LONG) {
            ActivationCheckpointing ac = ActivationCheckpointing.values()[(int) row[2]];
            MemoryEstimate m = oneGpu((int) row[0], (int) row[1], 1, ac, 140);
            double measured = row[3] * (double) (1 << 20);
            assertThat(allocated(m) / measured)
                    .as(
                            "L%d s%d %s: estimate %.1f GiB vs measured %.1f GiB",
                            row[0], row[1], ac, allocated(m) / (double) GIB, measured / GIB)
                    .isBetween(0.97, 1.03);
        }
        // full checkpointing at 160k and 192k tokens ran out of memory on the H200 (at 138.2 and 136.3 GiB)
        assertThat(oneGpu(8, 163840, 1, ActivationCheckpointing.full, 140).fits())
                .isFalse();
        assertThat(oneGpu(8, 196608, 1, ActivationCheckpointing.full, 140).fits())
                .isFalse();
        // and 128k, which ran at 128.3 GiB, is accepted
        assertThat(oneGpu(8, 131072, 1, ActivationCheckpointing.full, 140).fits())
                .isTrue();
    }

    @Test
    void matches_the_measured_h200_peaks_and_a_rejected_plan_runs_out_of_memory() {
        for (long[] row : MEASURED_H200) {
            MemoryEstimate m = oneGpu(
                    (int) row[0], (int) row[1], (int) row[2], ActivationCheckpointing.values()[(int) row[3]], 140);
            double measured = row[4] * (double) (1 << 20);
            assertThat(allocated(m) / measured)
                    .as(
                            "L%d s%d mbs%d %s: estimate %.1f GiB vs measured %.1f GiB",
                            row[0],
                            row[1],
                            row[2],
                            ActivationCheckpointing.values()[(int) row[3]],
                            allocated(m) / (double) GIB,
                            measured / GIB)
                    .isBetween(0.95, 1.05);
        }
        // 8 layers, micro-batch 1, full checkpointing under the 79.2 GiB cap ran out of memory (at 78.6 GiB)
        assertThat(oneGpu(8, 4096, 1, ActivationCheckpointing.full, 80).fits()).isFalse();
    }

    @Test
    void headroom_covers_context_and_fragmentation() {
        MemoryEstimate mb1 = est(1, 8, 64, 1);
        long rest = mb1.weights() + mb1.gradients() + mb1.optimizer() + mb1.activations();
        assertThat(mb1.headroom()).isEqualTo((2L << 30) + (long) (0.05 * rest));
    }

    @Test
    void the_example_fits_and_eight_layers_do_not_fit_one_80_gib_gpu() {
        assertThat(est(1, 8, 64, 1).fits()).isTrue();
        assertThat(est(1, 8, 64, 1).summary()).matches("\\d+\\.\\d GiB of 80 GiB");
        // 5.59 B parameters × 16 bytes = 83 GiB before any activation: no one-GPU plan at 8 layers fits 80 GiB
        assertThat(oneGpu(8, 4096, 1, ActivationCheckpointing.full, 80).fits()).isFalse();
        assertThat(oneGpu(8, 4096, 1, ActivationCheckpointing.full, 140).fits()).isTrue();
        assertThat(oneGpu(4, 16384, 2, ActivationCheckpointing.selective, 80).fits())
                .isTrue();
    }
}
