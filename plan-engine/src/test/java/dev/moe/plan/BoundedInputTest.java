package dev.moe.plan;

import static dev.moe.plan.Specs.plan;
import static dev.moe.plan.Specs.qwen30b;
import static dev.moe.plan.Specs.set;
import static dev.moe.plan.Specs.tiny;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.api.v1alpha1.SpecLimits;
import java.math.BigInteger;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The hostile numbers of issue 8, each reproduced on a real cluster before the limits existed (informer stopped,
 * OutOfMemoryError, overflow reported as valid, division by zero, a parameter count that never returned), and the
 * rules on derived numbers. Every case must come back as errors naming the field, quickly (1 s hang detector).
 */
class BoundedInputTest {

    @BeforeAll
    static void warmUp() {
        Specs.warmUp();
    }

    private static PlanResult quickly(ObjectNode spec) {
        return assertTimeoutPreemptively(Hang.LIMIT, () -> plan(spec));
    }

    private static PlanError only(PlanResult r) {
        assertThat(r.isValid()).isFalse();
        assertThat(r.errors()).as(r.errorMessages()).hasSize(1);
        return r.errors().get(0);
    }

    @Test
    void nodes_beyond_an_int_or_beyond_the_limit_are_too_large() {
        PlanError e = only(quickly(set(qwen30b(8, 1, 8), "resources.nodes", 3_000_000_000L)));
        assertThat(e.message())
                .isEqualTo("spec.resources.nodes=3000000000 is more than 4096 (one pod per node, each"
                        + " named, created and watched by the operator); use at most 4096");
        assertThat(only(quickly(set(qwen30b(8, 1, 8), "resources.nodes", 1_000_000_000)))
                        .rule())
                .isEqualTo("ValueTooLarge");
        ObjectNode huge = qwen30b(8, 1, 8);
        ((ObjectNode) huge.get("resources")).put("nodes", BigInteger.TWO.pow(63));
        assertThat(only(quickly(huge)).message())
                .startsWith("spec.resources.nodes=9223372036854775808 is more than" + " 4096");
        ((ObjectNode) huge.get("resources"))
                .put("nodes", BigInteger.TWO.pow(200).negate());
        assertThat(only(quickly(huge)).message())
                .startsWith("spec.resources.nodes=-1606938044258990275541962092341"
                        + "162602522202993782792835301376 must be at least 1");
    }

    @Test
    void products_that_overflowed_32_bits_are_refused_not_wrapped() {
        // 536870913 × 8 wrapped to 8 (reported valid); 536870912 × 8 wrapped to 0 (division by zero)
        assertThat(only(quickly(set(qwen30b(8, 1, 8), "resources.nodes", 536_870_913)))
                        .rule())
                .isEqualTo("ValueTooLarge");
        assertThat(only(quickly(set(qwen30b(8, 1, 8), "resources.nodes", 536_870_912)))
                        .rule())
                .isEqualTo("ValueTooLarge");
        assertThat(only(quickly(set(qwen30b(8, 1, 8), "training.microBatchSize", 1_073_741_824)))
                        .message())
                .startsWith("spec.training.microBatchSize=1073741824 is more than 4096");
    }

    @Test
    void a_huge_layer_count_is_refused_before_counting_parameters() {
        PlanError e =
                only(quickly(set(qwen30b(8, 1, 8), "model.config", Map.of("numHiddenLayers", Integer.MAX_VALUE))));
        assertThat(e.rule()).isEqualTo("ModelConfigInvalid");
        assertThat(e.message())
                .isEqualTo("spec.model.config.numHiddenLayers=2147483647 is more than 1024 (the"
                        + " largest models have about 130 layers); use at most 1024");
        assertThat(only(quickly(set(qwen30b(8, 1, 8), "model.config", Map.of("num_hidden_layers", 1L << 40))))
                        .field())
                .isEqualTo("spec.model.config.num_hidden_layers");
        // every model setting is bounded, and the dense-layer list too
        assertThat(only(quickly(set(qwen30b(8, 1, 8), "model.config", Map.of("vocabSize", 1 << 21))))
                        .problem())
                .startsWith("is more than 1048576");
        assertThat(only(quickly(set(qwen30b(8, 1, 8), "model.config", Map.of("mlpOnlyLayers", List.of(47, 48)))))
                        .message())
                .startsWith("spec.model.config.mlpOnlyLayers[1]=48 is not a layer");
        assertThat(only(quickly(set(qwen30b(8, 1, 8), "model.config", Map.of("mlpOnlyLayers", List.of(-1)))))
                        .message())
                .startsWith("spec.model.config.mlpOnlyLayers[0]=-1 is negative");
    }

    @Test
    void the_world_is_at_most_8192_gpus() {
        assertThat(quickly(tiny(1024, 8, 1, 8)).isValid()).isTrue();
        PlanError e = only(quickly(tiny(2048, 8, 1, 8)));
        assertThat(e.rule()).isEqualTo("WorldTooLarge");
        assertThat(e.field()).isEqualTo("spec.resources");
    }

    @Test
    void tokens_per_micro_batch_are_bounded() {
        ObjectNode spec = set(tiny(2, 2, 2, 2), "training.seqLength", 1_048_576);
        set(spec, "training.microBatchSize", 8);
        PlanError e = only(quickly(spec));
        assertThat(e.rule()).isEqualTo("TokensPerMicroBatch");
        assertThat(e.message())
                .isEqualTo(
                        "spec.training.microBatchSize=8 × seqLength 1048576 = 8388608 tokens per"
                                + " GPU per pass, more than 4194304 (no GPU holds the activations of that many tokens); use"
                                + " microBatchSize at most 4 and reach the batch with gradient accumulation (training.globalBatchSize)");
    }

    @Test
    void hyper_parameters_make_sense() {
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "training.learningRate", -0.001)))
                        .message())
                .isEqualTo("spec.training.learningRate=-0.001 must be more than 0 and at most 1.0; use e.g. 3e-4");
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "training.learningRate", 0))).rule())
                .isEqualTo("HyperParameterInvalid");
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "training.minLearningRate", 0.01)))
                        .message())
                .isEqualTo("spec.training.minLearningRate=0.01 is more than learningRate=3.0E-4 (the schedule decays"
                        + " from learningRate down to minLearningRate); use at most 3.0E-4");
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "training.minLearningRate", -1)))
                        .rule())
                .isEqualTo("HyperParameterInvalid");
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "training.warmupSteps", 2000)))
                        .message())
                .isEqualTo("spec.training.warmupSteps=2000 is more than training.steps=1000 (the learning rate would"
                        + " never reach its peak); use at most 1000");
        // the defaults (warmupSteps 100, minLearningRate 3e-5) only warn: a 20-step job or a 1e-5 learning rate
        // must not have to restate them
        PlanResult shortJob = plan(set(tiny(2, 2, 2, 2), "training.steps", 20));
        assertThat(shortJob.isValid()).isTrue();
        assertThat(shortJob.warnings())
                .containsExactly("spec.training.warmupSteps=100 (the default) is more than"
                        + " training.steps=20, so the learning rate never reaches its peak; set warmupSteps");
        PlanResult smallLr = plan(set(tiny(2, 2, 2, 2), "training.learningRate", 1e-5));
        assertThat(smallLr.isValid()).isTrue();
        assertThat(smallLr.warnings())
                .singleElement()
                .asString()
                .startsWith("spec.training.minLearningRate=3.0E-5" + " (the default) is more than learningRate=1.0E-5");
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "training.weightDecay", -0.1)))
                        .rule())
                .isEqualTo("HyperParameterInvalid");
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "training.weightDecay", 2))).rule())
                .isEqualTo("HyperParameterInvalid");
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "training.gradClip", -1))).field())
                .isEqualTo("spec.training.gradClip");
        assertThat(plan(set(tiny(2, 2, 2, 2), "training.gradClip", 0)).isValid())
                .as("0 turns clipping off")
                .isTrue();
        ObjectNode inf = tiny(2, 2, 2, 2);
        ((ObjectNode) inf.get("training")).put("learningRate", Double.POSITIVE_INFINITY);
        assertThat(only(plan(inf)).message()).startsWith("spec.training.learningRate=Infinity is not a finite number");
    }

    @Test
    void the_seed_is_a_non_negative_long_that_json_keeps_exact() {
        assertThat(plan(set(tiny(2, 2, 2, 2), "training.seed", SpecLimits.MAX_SEED))
                        .isValid())
                .isTrue();
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "training.seed", Long.MAX_VALUE)))
                        .rule())
                .isEqualTo("ValueTooLarge");
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "training.seed", -1))).rule())
                .isEqualTo("PositiveValue");
    }

    @Test
    void restart_policy_numbers_are_bounded_too() {
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "restartPolicy.backoffSeconds", 1L << 40)))
                        .field())
                .isEqualTo("spec.restartPolicy.backoffSeconds");
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "restartPolicy.nonRetryableExitCodes", List.of(75, 0))))
                        .message())
                .isEqualTo("spec.restartPolicy.nonRetryableExitCodes[1]=0 must be at least 1; use a positive value");
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "restartPolicy.maxRestarts", "5")))
                        .message())
                .isEqualTo("spec.restartPolicy.maxRestarts=\"5\" is not an integer; write a whole number without"
                        + " quotes");
    }

    @Test
    void integral_floating_numbers_count_as_integers_like_the_api_server_reads_them() {
        ObjectNode spec = tiny(2, 2, 2, 2);
        ((ObjectNode) spec.get("resources")).put("nodes", 2.0);
        assertThat(plan(spec).isValid()).isTrue();
        ((ObjectNode) spec.get("resources")).put("nodes", 2.5);
        assertThat(only(plan(spec)).rule()).isEqualTo("FieldType");
    }

    @Test
    void hostname_cannot_hold_an_expert_group_that_spans_nodes() {
        ObjectNode spec = qwen30b(8, 1, 32); // groups of 4 nodes
        set(spec, "placement.topologyKeys", List.of("kubernetes.io/hostname"));
        PlanError e = only(plan(spec));
        assertThat(e.rule()).isEqualTo("TopologyKeyHostname");
        assertThat(e.message())
                .startsWith("spec.placement.topologyKeys[0]=kubernetes.io/hostname cannot hold an"
                        + " expert-parallel group: groups span 4 nodes");
        set(spec, "placement.topologyKeys", List.of("topology.kubernetes.io/rack", "kubernetes.io/hostname"));
        assertThat(plan(spec).isValid())
                .as("hostname as a preferred key is harmless")
                .isTrue();
    }

    @Test
    void a_megabyte_value_is_shown_cut_short() {
        ObjectNode spec = tiny(2, 2, 2, 2);
        ((ObjectNode) spec.get("model")).put("preset", "p".repeat(1 << 20));
        PlanResult r = plan(spec);
        assertThat(r.errorMessages().length()).isLessThan(2_000);
        assertThat(r.errorMessages()).contains("... (1048576 characters)");
        ObjectNode config = JsonNodeFactory.instance.objectNode();
        config.put("k".repeat(100_000), 1);
        assertThat(plan(set(tiny(2, 2, 2, 2), "model.config", config))
                        .errorMessages()
                        .length())
                .isLessThan(2_000);
    }

    @Test
    void a_spec_with_a_wrong_object_type_is_reported_not_thrown() {
        assertThat(only(plan(set(tiny(2, 2, 2, 2), "training", "fast"))).message())
                .isEqualTo("spec.training=\"fast\" is not an object; write an object (a map of fields)");
        assertThat(plan(set(tiny(2, 2, 2, 2), "resources", List.of(1))).errors())
                .extracting(PlanError::rule)
                .containsExactly("FieldType");
    }
}
