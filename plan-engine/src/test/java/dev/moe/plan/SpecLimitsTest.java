package dev.moe.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.api.v1alpha1.ObjectNameRules;
import dev.moe.api.v1alpha1.SpecLimits;
import dev.moe.api.v1alpha1.TrainingSpec.ActivationCheckpointing;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Jobs at the limits: the largest world still plans and its plan document fits the ConfigMap; the largest model
 * gets an estimate (no overflow) and a bounded nearest-plan search; and docs/limits.md is this table.
 * assertTimeoutPreemptively is a hang detector (1 s for work that takes milliseconds), not a speed target.
 */
class SpecLimitsTest {

    @BeforeAll
    static void warmUp() {
        Specs.warmUp();
    }

    static final Duration HANG = Hang.LIMIT;

    /** The longest names and keys the rules admit, so the document is as large as it can get. */
    static final String LONGEST_JOB_NAME = "j" + "x".repeat(ObjectNameRules.MAX_JOB_NAME_LENGTH - 1);

    static final String LONGEST_NAMESPACE = "n".repeat(63);

    /**
     * 512 nodes × 16 GPUs = 8192 ranks, 1024 experts split 1024 ways (every expert id 4 digits), tensor 16:
     * the largest plan document the limits allow.
     */
    static ObjectNode largestWorld() {
        String key = "k".repeat(253) + "/" + "t".repeat(63);
        return Specs.yaml("model:\n"
                + "  preset: tiny-moe\n"
                + "  config: {numExperts: 1024, numExpertsPerTok: 2, numAttentionHeads: 16, numKeyValueHeads: 16}\n"
                + "parallelism: {tensor: 16, expert: 1024}\n"
                + "resources: {nodes: 512, gpusPerNode: 16, gpuMemoryGiB: 1024}\n"
                + "training: {seqLength: 64, microBatchSize: 1, steps: 100000000, warmupSteps: 100000000,"
                + " seed: 9007199254740991}\n"
                + "placement: {topologyKeys: [" + key + ", " + key + "]}\n");
    }

    @Test
    void the_largest_world_plans_and_its_document_fits_a_config_map() {
        PlanResult r =
                assertTimeoutPreemptively(HANG, () -> Specs.plan(LONGEST_NAMESPACE, LONGEST_JOB_NAME, largestWorld()));
        assertThat(r.isValid()).as(r.errorMessages()).isTrue();
        assertThat(r.plan().worldSize()).isEqualTo(SpecLimits.MAX_WORLD);
        assertThat(r.plan().ranks()).hasSize(SpecLimits.MAX_WORLD);
        assertThat(r.plan().ranks().get(SpecLimits.MAX_WORLD - 1).firstExpert()).isEqualTo(1023);
        int bytes = r.plan().toJsonString().getBytes(StandardCharsets.UTF_8).length;
        assertThat(bytes)
                .as("plan document of the largest world")
                .isLessThanOrEqualTo(SpecLimits.MAX_PLAN_DOCUMENT_BYTES)
                .isGreaterThan(SpecLimits.MAX_WORLD * 100);
    }

    @Test
    void twice_the_largest_world_is_refused_before_any_rank_is_laid_out() {
        ObjectNode spec = Specs.set(largestWorld(), "resources.nodes", 1024);
        PlanResult r = assertTimeoutPreemptively(HANG, () -> Specs.plan("default", "job", spec));
        assertThat(r.errors()).extracting(PlanError::rule).containsExactly("WorldTooLarge");
        assertThat(r.errorMessages())
                .isEqualTo("spec.resources={nodes: 1024, gpusPerNode: 16} gives nodes ×"
                        + " gpusPerNode = 16384 GPUs, more than the 8192 a job may have (the plan document lists every rank and"
                        + " must fit a 1 MiB ConfigMap); use at most 8192 GPUs, e.g. resources.nodes=512");
    }

    /** Every model setting at its maximum (heads and experts arranged so the structural rules hold). */
    static ObjectNode largestModel() {
        return Specs.yaml("model:\n"
                + "  preset: qwen3-235b-a22b\n"
                + "  config: {vocabSize: " + SpecLimits.MAX_VOCAB_SIZE + ", hiddenSize: " + SpecLimits.MAX_HIDDEN_SIZE
                + ", intermediateSize: " + SpecLimits.MAX_INTERMEDIATE_SIZE + ", moeIntermediateSize: "
                + SpecLimits.MAX_MOE_INTERMEDIATE_SIZE + ", numHiddenLayers: " + SpecLimits.MAX_LAYERS
                + ", numAttentionHeads: " + SpecLimits.MAX_ATTENTION_HEADS + ", numKeyValueHeads: "
                + SpecLimits.MAX_ATTENTION_HEADS + ", headDim: " + SpecLimits.MAX_HEAD_DIM + ", numExperts: "
                + SpecLimits.MAX_EXPERTS + ", numExpertsPerTok: " + SpecLimits.MAX_EXPERTS_PER_TOKEN
                + ", maxPositionEmbeddings: " + SpecLimits.MAX_POSITION_EMBEDDINGS + ", mlpOnlyLayers: [0, 1023]}\n"
                + "parallelism: {tensor: 1, expert: 1}\n"
                + "resources: {nodes: 1, gpusPerNode: 1, gpuMemoryGiB: 1}\n"
                + "training: {seqLength: " + SpecLimits.MAX_SEQ_LENGTH + ", microBatchSize: 4,"
                + " activationCheckpointing: none, globalBatchSize: 4}\n");
    }

    @Test
    void the_largest_model_is_estimated_without_overflow_and_the_search_stays_bounded() {
        PlanResult r = assertTimeoutPreemptively(HANG, () -> Specs.plan("default", "job", largestModel()));
        assertThat(r.errors()).extracting(PlanError::rule).containsExactly("MemoryExceeded");
        ModelConfig m = ModelCatalog.preset(ModelCatalog.QWEN3_235B_A22B)
                .orElseThrow()
                .withOverrides(largestModel().at("/model/config"), new java.util.ArrayList<>());
        ParameterCount p = ParameterCount.of(m);
        assertThat(p.total()).isGreaterThan(1_000_000_000_000_000L); // about 1.4e16
        MemoryEstimate e = MemoryEstimator.estimate(
                m, p, 1, 1, 1, 1, 4, SpecLimits.MAX_SEQ_LENGTH, ActivationCheckpointing.none, 1, 1);
        assertThat(e.perGpuBytes()).isGreaterThan(16 * p.total()); // no part wrapped around
        assertThat(java.util.List.of(e.weights(), e.gradients(), e.optimizer(), e.activations(), e.headroom()))
                .allMatch(x -> x >= 0); // gradients are 0 at the start of backward
    }

    @Test
    void the_nearest_plan_search_at_the_largest_world_and_micro_batch_is_bounded() {
        // the largest model on 512 × 16 GPUs with 4096-sequence micro-batches: every tensor degree, every expert
        // degree and every halving of the micro-batch is tried (about 700 candidates), none fits 1 GiB
        ObjectNode spec = largestModel();
        Specs.set(spec, "resources", Map.of("nodes", 512, "gpusPerNode", 16, "gpuMemoryGiB", 1));
        Specs.set(spec, "training", Map.of("seqLength", 1024, "microBatchSize", SpecLimits.MAX_MICRO_BATCH_SIZE));
        PlanResult r = assertTimeoutPreemptively(HANG, () -> Specs.plan("default", "job", spec));
        assertThat(r.errors()).extracting(PlanError::rule).containsExactly("MemoryExceeded");
        assertThat(r.errorMessages())
                .endsWith("no plan with up to 8x the nodes fits; use GPUs with more memory or a" + " smaller model");
    }

    @Test
    void every_limit_has_a_reason_and_a_sensible_range() {
        SpecLimits.RANGES.forEach((path, range) -> {
            assertThat(range.why()).as(path).isNotBlank();
            assertThat(range.min()).as(path).isLessThanOrEqualTo(range.max()).isGreaterThanOrEqualTo(0);
        });
        // the Java types of the CRD hold every admitted value: Integer except the seed (Long)
        SpecLimits.RANGES.forEach((path, range) -> {
            if (!path.equals("training.seed")) {
                assertThat(range.max()).as(path).isLessThanOrEqualTo(Integer.MAX_VALUE);
            }
        });
        assertThat((double) SpecLimits.MAX_SEED).as("exact as a double").isEqualTo(0x1p53 - 1);
    }

    @Test
    void the_engine_applies_every_range_of_the_table() {
        SpecLimits.RANGES.forEach((path, range) -> {
            if (path.startsWith("model.config.")) {
                return; // ModelConfig's, tested in BoundedInputTest
            }
            String field = "spec." + path.replace("[*]", "[0]");
            for (long value : new long[] {range.max() + 1, range.min() - 1}) {
                ObjectNode spec = Specs.tiny(2, 2, 2, 2);
                if (path.startsWith("placement.tolerations")) {
                    HostileSpecs.set(spec, "placement.tolerations[0]", Specs.yaml("{key: k, effect: NoExecute}"));
                }
                HostileSpecs.set(spec, path.replace("[*]", "[0]"), JsonNodeFactory.instance.numberNode(value));
                PlanResult r = Specs.plan(spec);
                assertThat(r.errors()).as(field + "=" + value).anySatisfy(e -> {
                    assertThat(e.field()).isEqualTo(field);
                    assertThat(e.rule()).isEqualTo(value > range.max() ? "ValueTooLarge" : "PositiveValue");
                });
            }
        });
    }

    @Test
    void docs_limits_md_is_this_table() throws IOException {
        Path doc = Path.of(System.getProperty("moe.repo.root", "..")).resolve("docs/limits.md");
        Map<String, long[]> documented = new LinkedHashMap<>();
        // rows: | `spec.resources.nodes` | 1 | 4,096 | reason |
        Matcher m = Pattern.compile("^\\| `spec\\.([^`]+)` \\| (-?[\\d,]+) \\| ([\\d,]+) \\|", Pattern.MULTILINE)
                .matcher(Files.readString(doc));
        while (m.find()) {
            documented.put(m.group(1), new long[] {
                Long.parseLong(m.group(2).replace(",", "")),
                Long.parseLong(m.group(3).replace(",", ""))
            });
        }
        assertThat(documented.keySet())
                .as("fields in docs/limits.md")
                .containsExactlyInAnyOrderElementsOf(SpecLimits.RANGES.keySet());
        SpecLimits.RANGES.forEach((path, range) -> assertThat(documented.get(path))
                .as("docs/limits.md row of spec." + path)
                .containsExactly(range.min(), range.max()));
    }
}
