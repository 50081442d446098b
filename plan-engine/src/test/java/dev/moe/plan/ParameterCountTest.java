package dev.moe.plan;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ParameterCountTest {

    private static ModelConfig preset(String name) {
        return ModelCatalog.preset(name).orElseThrow();
    }

    @Test
    void qwen3_30b_a3b_matches_the_published_counts() {
        ParameterCount p = ParameterCount.of(preset(ModelCatalog.QWEN3_30B_A3B));
        assertThat(p.total()).isEqualTo(30_532_122_624L);
        assertThat(p.activePerToken()).isEqualTo(3_353_032_704L);
        // 48 layers × 128 experts × 3 × 2048 × 768
        assertThat(p.expert()).isEqualTo(48L * 128 * 3 * 2048 * 768);
    }

    @Test
    void qwen3_235b_a22b_matches_the_published_total() {
        ModelConfig m = preset(ModelCatalog.QWEN3_235B_A22B);
        assertThat(m.numHiddenLayers()).isEqualTo(94);
        assertThat(m.hiddenSize()).isEqualTo(4096);
        assertThat(m.numExperts()).isEqualTo(128);
        assertThat(m.numExpertsPerTok()).isEqualTo(8);
        assertThat(m.moeIntermediateSize()).isEqualTo(1536);
        assertThat(m.numAttentionHeads()).isEqualTo(64);
        assertThat(m.numKeyValueHeads()).isEqualTo(4);
        assertThat(m.headDim()).isEqualTo(128);
        assertThat(m.vocabSize()).isEqualTo(151936);
        assertThat(m.tieWordEmbeddings()).isFalse();
        ParameterCount p = ParameterCount.of(m);
        assertThat(p.total()).isEqualTo(235_093_634_560L);
        // about 22B active: dense part plus 8 of 128 experts per layer
        assertThat(p.activePerToken()).isEqualTo(p.dense() + p.expert() / 16);
        assertThat(p.activePerToken()).isBetween(22_000_000_000L, 23_000_000_000L);
    }

    @Test
    void tiny_moe_counts_by_hand() {
        ModelConfig m = preset(ModelCatalog.TINY_MOE);
        assertThat(List.of(
                        m.numHiddenLayers(),
                        m.hiddenSize(),
                        m.numExperts(),
                        m.numExpertsPerTok(),
                        m.numAttentionHeads(),
                        m.numKeyValueHeads(),
                        m.headDim(),
                        m.vocabSize()))
                .containsExactly(2, 64, 8, 2, 4, 2, 16, 256);
        // per layer: norms 2·64, q 64·64, k,v 2·64·32, o 64·64, q/k norm 2·16, router 64·8, experts 8·3·64·32
        long layer = 128 + 4096 + 4096 + 4096 + 32 + 512 + 49152;
        long embeddings = 2L * 256 * 64;
        assertThat(ParameterCount.of(m).total())
                .isEqualTo(2 * layer + embeddings + 64)
                .isEqualTo(157_056L);
        long activeLayer = layer - 49152 + 2 * 3 * 64 * 32;
        assertThat(ParameterCount.of(m).activePerToken()).isEqualTo(2 * activeLayer + embeddings + 64);
    }

    @Test
    void tied_embeddings_drop_the_lm_head() {
        List<PlanError> errors = new ArrayList<>();
        ObjectNode o = JsonNodeFactory.instance.objectNode().put("tieWordEmbeddings", true);
        ModelConfig tied = preset(ModelCatalog.QWEN3_30B_A3B).withOverrides(o, errors);
        assertThat(errors).isEmpty();
        assertThat(ParameterCount.of(tied).total()).isEqualTo(30_532_122_624L - 151936L * 2048);
    }

    @Test
    void sparse_step_and_mlp_only_layers_make_dense_layers() {
        List<PlanError> errors = new ArrayList<>();
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.putArray("mlpOnlyLayers").add(0);
        ModelConfig m = preset(ModelCatalog.TINY_MOE).withOverrides(o, errors);
        assertThat(errors).isEmpty();
        assertThat(m.numMoeLayers()).isEqualTo(1);
        long moeLayer = 128 + 4096 + 4096 + 4096 + 32 + 512 + 49152;
        long denseLayer = 128 + 4096 + 4096 + 4096 + 32 + 3 * 64 * 128;
        assertThat(ParameterCount.of(m).total()).isEqualTo(moeLayer + denseLayer + 2L * 256 * 64 + 64);

        ObjectNode step = JsonNodeFactory.instance.objectNode().put("decoder_sparse_step", 2);
        ModelConfig every2 = preset(ModelCatalog.TINY_MOE).withOverrides(step, errors);
        assertThat(every2.isMoeLayer(0)).isFalse();
        assertThat(every2.isMoeLayer(1)).isTrue();
    }
}
