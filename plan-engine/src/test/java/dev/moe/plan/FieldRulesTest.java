package dev.moe.plan;

import static dev.moe.plan.Specs.plan;
import static dev.moe.plan.Specs.set;
import static dev.moe.plan.Specs.tiny;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.TolerantJobReading;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Values that do not fit the Java types are reported in the rules' words; fields the plan needs are there. */
class FieldRulesTest {

    @Test
    void every_value_that_does_not_fit_is_reported_once_in_the_words_of_its_rule() {
        ObjectNode spec = set(tiny(2, 2, 2, 2), "resources.nodes", "2");
        set(spec, "training.dataset.dtype", "int8");
        set(spec, "restartPolicy.maxRestarts", 1L << 40);
        set(spec, "training.activationCheckpointing", 1);
        set(spec, "placement.topologyKeys", "rack");
        PlanResult r = plan(spec);
        assertThat(r.errors())
                .extracting(PlanError::message)
                .containsExactlyInAnyOrder(
                        "spec.resources.nodes=\"2\" is not an integer; write a whole number without quotes",
                        "spec.training.dataset.dtype=int8 is not a token type; use uint16 or uint32",
                        "spec.restartPolicy.maxRestarts=1099511627776 is more than 1000 (a gang that failed a thousand times"
                                + " will not succeed); use at most 1000",
                        "spec.training.activationCheckpointing=1 is not one of none or selective or full; use none or selective"
                                + " or full",
                        "spec.placement.topologyKeys=\"rack\" is not a list; write a list");
    }

    @Test
    void a_value_of_a_type_without_a_rule_is_unreadable_naming_the_field() {
        ObjectNode spec = set(
                tiny(2, 2, 2, 2),
                "trainer.env",
                List.of(Map.of(
                        "name",
                        "M",
                        "valueFrom",
                        Map.of("resourceFieldRef", Map.of("resource", "limits.memory", "divisor", List.of(1))))));
        PlanError e = r(spec);
        assertThat(e.rule()).isEqualTo("SpecUnreadable");
        assertThat(e.message())
                .startsWith("spec.trainer.env[0].valueFrom.resourceFieldRef.divisor=[1] cannot be read (");
    }

    @Test
    void a_spec_that_is_not_an_object_is_missing() {
        assertThat(r(com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.textNode("x"))
                        .message())
                .isEqualTo("spec=\"x\" is missing or not an object; write spec.model, spec.parallelism and"
                        + " spec.resources");
    }

    @Test
    void a_default_cleared_in_java_is_required_not_read() {
        MoETrainingJobSpec spec = TolerantJobReading.readSpec(tiny(2, 2, 2, 2));
        spec.training.seqLength = null;
        spec.restartPolicy = null;
        PlanResult r = PlanEngine.plan("default", "job", spec);
        assertThat(r.errors())
                .extracting(PlanError::message)
                .containsExactlyInAnyOrder(
                        "spec.training.seqLength is required; set spec.training.seqLength",
                        "spec.restartPolicy is required; set spec.restartPolicy");
    }

    @Test
    void every_number_is_finite() {
        MoETrainingJobSpec spec = TolerantJobReading.readSpec(tiny(2, 2, 2, 2));
        spec.training.weightDecay = Double.NaN;
        assertThat(PlanEngine.plan("default", "job", spec).errorMessages())
                .isEqualTo("spec.training.weightDecay=NaN is not a finite number; write a finite number, e.g. 3e-4");
    }

    private static PlanError r(com.fasterxml.jackson.databind.JsonNode spec) {
        PlanResult r = plan(spec);
        assertThat(r.errors()).as(r.errorMessages()).hasSize(1);
        return r.errors().get(0);
    }
}
