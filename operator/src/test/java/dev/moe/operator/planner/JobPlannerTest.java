package dev.moe.operator.planner;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.PlanSummary;
import dev.moe.operator.CrdDriftIT;
import dev.moe.operator.status.PlanSummaries;
import dev.moe.plan.PlanResult;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The operator path: CRD object → typed spec → plan engine, the same result as the offline check. */
class JobPlannerTest {
    static final Path EXAMPLES = CrdDriftIT.ROOT.resolve("examples");

    static MoETrainingJob load(String file) throws Exception {
        try (InputStream in = Files.newInputStream(EXAMPLES.resolve(file))) {
            return Serialization.unmarshal(in, MoETrainingJob.class);
        }
    }

    @Test
    void example_round_trips_through_the_java_types_without_losing_fields() throws Exception {
        for (String file : new String[] {"qwen3-30b-a3b.yaml", "tiny-cpu.yaml"}) {
            JsonNode raw = new ObjectMapper(new YAMLFactory())
                    .readTree(EXAMPLES.resolve(file).toFile())
                    .get("spec");
            // the types add their defaults; every field of the file is there with its value
            JsonNode viaTypes = new ObjectMapper().valueToTree(load(file).getSpec());
            assertHolds(viaTypes, raw, "spec", file);
        }
    }

    private static void assertHolds(JsonNode actual, JsonNode expected, String path, String file) {
        if (expected.isObject()) {
            expected.fieldNames()
                    .forEachRemaining(k -> assertHolds(actual.path(k), expected.get(k), path + "." + k, file));
        } else if (expected.isNumber()) {
            assertThat(actual.isNumber() && actual.decimalValue().compareTo(expected.decimalValue()) == 0)
                    .as(file + ": " + path + " = " + expected + ", read " + actual)
                    .isTrue();
        } else {
            assertThat(actual).as(file + ": " + path).isEqualTo(expected);
        }
    }

    @Test
    void plans_the_qwen3_example_and_summarises_it() throws Exception {
        MoETrainingJob job = load("qwen3-30b-a3b.yaml");
        PlanResult r = JobPlanner.plan(job);
        assertThat(r.isValid()).as(r.errorMessages()).isTrue();
        PlanSummary s = PlanSummaries.of(r.plan());
        assertThat(s.worldSize).isEqualTo(64);
        assertThat(s.tensor).isEqualTo(1);
        assertThat(s.expert).isEqualTo(8);
        assertThat(s.data).isEqualTo(64);
        assertThat(s.expertData).isEqualTo(8);
        assertThat(s.expertsPerRank).isEqualTo(16);
        assertThat(s.gradientAccumulation).isEqualTo(8);
        assertThat(s.parametersTotal).isEqualTo(30_532_122_624L);
        assertThat(s.parametersActive).isEqualTo(3_353_032_704L);
        assertThat(s.memory.perGpuBytes)
                .isEqualTo(s.memory.weights
                        + s.memory.gradients
                        + s.memory.optimizer
                        + s.memory.activations
                        + s.memory.headroom);
        assertThat(s.memory.perGpuBytes).isLessThanOrEqualTo(s.memory.gpuBytes);
        assertThat(r.plan().toJson().get("job").get("name").asText()).isEqualTo("qwen3-30b-a3b");
    }

    @Test
    void invalid_spec_gives_errors_not_a_plan() throws Exception {
        MoETrainingJob job = load("tiny-cpu.yaml");
        job.getSpec().parallelism.expert = 3;
        PlanResult r = JobPlanner.plan(job);
        assertThat(r.plan()).isNull();
        assertThat(r.errorMessages()).contains("spec.parallelism.expert=3 does not divide numExperts=8");
    }
}
