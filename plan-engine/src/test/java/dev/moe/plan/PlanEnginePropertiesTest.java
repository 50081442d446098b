package dev.moe.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moe.api.v1alpha1.SpecLimits;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Property-based test of the plan engine (issue 8, 6a): for every spec {@link HostileSpecs} generates — boundary
 * numbers, huge strings, wrong JSON types, nested garbage, unknown fields, big lists — planning returns a plan or
 * errors, never an exception, a hang or an OutOfMemoryError (surefire runs these tests in a 256 MiB heap, so an
 * allocation driven by a hostile number fails them). The 1 s bound per case is a hang detector, not a speed target:
 * a case takes milliseconds.
 *
 * <p>Seeded: {@code -Dmoe.fuzz.seed=N -Dmoe.fuzz.cases=M} reproduces or widens a run; a failure names its seed
 * and case.
 */
class PlanEnginePropertiesTest {

    @BeforeAll
    static void warmUp() {
        Specs.warmUp();
    }

    static final long SEED = Long.getLong("moe.fuzz.seed", 20261201L);
    static final int CASES = Integer.getInteger("moe.fuzz.cases", 3000);
    static final Duration HANG = Hang.LIMIT;

    @Test
    void the_unmutated_jobs_are_valid() {
        HostileSpecs gen = new HostileSpecs(SEED, 200);
        for (int i = 0; i < 50; i++) {
            JsonNode spec = gen.validSpec();
            PlanResult r = Specs.plan("default", "job", spec);
            assertThat(r.isValid()).as(spec + ": " + r.errorMessages()).isTrue();
        }
    }

    @Test
    void every_spec_gives_a_plan_or_bounded_errors() {
        HostileSpecs gen = new HostileSpecs(SEED, 200);
        int valid = 0;
        for (int i = 0; i < CASES; i++) {
            JsonNode spec = gen.spec();
            String name = gen.name();
            int index = i;
            Supplier<String> where =
                    () -> "seed " + SEED + ", case " + index + ": " + PlanError.shorten(String.valueOf(spec));
            PlanResult r;
            try {
                r = assertTimeoutPreemptively(HANG, () -> Specs.plan("default", name, spec), where);
            } catch (RuntimeException | Error e) {
                if (e instanceof AssertionError) {
                    throw e;
                }
                fail(where.get() + " threw " + e, e);
                return;
            }
            check(r, where);
            if (r.isValid()) {
                valid++;
            }
            PlanResult again = Specs.plan("default", name, spec);
            assertThat(again.errorMessages())
                    .as(() -> "deterministic: " + where.get())
                    .isEqualTo(r.errorMessages());
        }
        // the generator keeps some jobs valid, so the valid path (rank layout, document) is exercised too
        assertThat(valid).as("valid plans among " + CASES).isGreaterThan(CASES / 50);
    }

    @Test
    void every_field_at_every_boundary_value() {
        int cases = 0;
        for (int p = 0; p < HostileSpecs.PATHS.size(); p++) {
            String path = HostileSpecs.PATHS.get(p);
            List<JsonNode> values = HostileSpecs.boundaryValues();
            for (int v = 0; v < values.size(); v++) {
                JsonNode spec = HostileSpecs.validWith(p + v, path, values.get(v));
                String value = PlanError.shorten(values.get(v).toString());
                Supplier<String> where =
                        () -> "spec." + path + "=" + value + " in " + PlanError.shorten(spec.toString());
                PlanResult r;
                try {
                    r = assertTimeoutPreemptively(HANG, () -> Specs.plan("default", "job", spec), where);
                } catch (RuntimeException | Error e) {
                    if (e instanceof AssertionError) {
                        throw e;
                    }
                    fail(where.get() + " threw " + e, e);
                    return;
                }
                check(r, where);
                cases++;
            }
        }
        assertThat(cases).isGreaterThan(3000);
    }

    /**
     * A plan xor errors; errors bounded in number and size and naming a field; a plan inside the limits (every
     * number of its input and model within {@link SpecLimits#RANGES}, so a limit that stopped being checked is
     * noticed even when the value it lets through does no visible harm).
     */
    static void check(PlanResult r, Supplier<String> where) {
        assertThat(r).as(where).isNotNull();
        if (r.plan() != null) {
            assertThat(r.errors()).as(where).isEmpty();
            Plan p = r.plan();
            assertThat(p.worldSize()).as(where).isBetween(1, SpecLimits.MAX_WORLD);
            assertThat(p.ranks()).as(where).hasSize(p.worldSize());
            assertThat(p.toJsonString().getBytes(StandardCharsets.UTF_8).length)
                    .as(where)
                    .isLessThanOrEqualTo(SpecLimits.MAX_PLAN_DOCUMENT_BYTES);
            assertThat(p.memory().perGpuBytes())
                    .as(where)
                    .isPositive()
                    .isLessThanOrEqualTo(p.memory().gpuBytes());
            PlanShape in = p.shape();
            var t = p.spec().training;
            long everySteps = p.toJson().at("/training/checkpoint/everySteps").longValue();
            long[][] numbers = {
                {in.tensor()},
                {in.expert()},
                {in.context()},
                {p.data()},
                {in.nodes()},
                {in.gpusPerNode()},
                {p.spec().resources.gpuMemoryGiB},
                {t.seqLength},
                {in.microBatchSize()},
                {p.globalBatchSize()},
                {t.steps},
                {t.warmupSteps},
                {t.seed},
                {everySteps}
            };
            String[] paths = {
                "parallelism.tensor",
                "parallelism.expert",
                "parallelism.context",
                "parallelism.data",
                "resources.nodes",
                "resources.gpusPerNode",
                "resources.gpuMemoryGiB",
                "training.seqLength",
                "training.microBatchSize",
                "training.globalBatchSize",
                "training.steps",
                "training.warmupSteps",
                "training.seed",
                "training.checkpoint.everySteps"
            };
            for (int i = 0; i < paths.length; i++) {
                String path = paths[i];
                SpecLimits.Range range = SpecLimits.range(path);
                assertThat(numbers[i][0]).as(() -> path + " in " + where.get()).isBetween(range.min(), range.max());
            }
            JsonNode model = p.model().toHfJson();
            SpecLimits.RANGES.forEach((path, range) -> {
                if (path.startsWith("model.config.") && !path.endsWith("[*]")) {
                    JsonNode v = model.get(ModelConfig.toSnakeCase(path.substring("model.config.".length())));
                    assertThat(v.longValue())
                            .as(() -> path + " in " + where.get())
                            .isBetween(range.min(), range.max());
                }
            });
        } else {
            assertThat(r.errors()).as(where).isNotEmpty().hasSizeLessThanOrEqualTo(SpecLimits.MAX_REPORTED_ERRORS);
            for (PlanError e : r.errors()) {
                assertThat(e.rule()).as(where).isNotBlank();
                assertThat(e.field()).as(where).matches("(?s)(spec|metadata\\.name)([.\\[].*)?");
                assertThat(e.message().length())
                        .as(() -> where.get() + ": " + PlanError.shorten(e.message()))
                        .isLessThan(2500);
            }
            assertThat(r.errors()).extracting(PlanError::rule).as(where).doesNotContain("EstimateOverflow");
        }
    }
}
