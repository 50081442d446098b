package dev.moe.plan;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.api.v1alpha1.TrainingSpec.ActivationCheckpointing;
import org.junit.jupiter.api.Test;

/**
 * A spec read from a file gets the CRD's defaults from the API types (api's CrdDefaultsTest proves the two
 * agree), and the plan runs on them.
 */
class PlanDefaultsTest {

    private static Plan planOf(ObjectNode spec) {
        PlanResult r = Specs.plan(spec);
        assertThat(r.isValid()).as(r.errorMessages()).isTrue();
        return r.plan();
    }

    @Test
    void defaults_fill_a_minimal_spec() {
        Plan p = planOf(Specs.yaml("model: {preset: tiny-moe}\nresources: {nodes: 2}\n"));
        assertThat(p.tensor()).isEqualTo(1);
        assertThat(p.expert()).isEqualTo(1);
        assertThat(p.context()).isEqualTo(1);
        assertThat(p.shape().data()).isNull();
        assertThat(p.gpusPerNode()).isEqualTo(8);
        assertThat(p.memory().gpuBytes()).isEqualTo(80L << 30);
        JsonNode t = p.toJson().get("training");
        assertThat(t.get("seqLength").intValue()).isEqualTo(4096);
        assertThat(t.get("microBatchSize").intValue()).isEqualTo(1);
        assertThat(t.get("activationCheckpointing").textValue())
                .as("unset: the fastest that fits")
                .isEqualTo("none");
        assertThat(t.get("globalBatchSize").intValue())
                .as("derived: microBatchSize × data")
                .isEqualTo(16);
        assertThat(t.get("steps").intValue()).isEqualTo(1000);
        assertThat(t.get("learningRate").doubleValue()).isEqualTo(3e-4);
        assertThat(t.get("seed").longValue()).isEqualTo(1234L);
        assertThat(t.at("/dataset/type").asText()).isEqualTo("synthetic");
        assertThat(t.at("/checkpoint/dir").isNull()).isTrue();
        assertThat(t.at("/checkpoint/everySteps").intValue()).isEqualTo(200);
        assertThat(p.spec().placement).isNull();
    }

    @Test
    void the_restart_policy_and_suspend_have_their_defaults_too() {
        var spec = dev.moe.api.v1alpha1.TolerantJobReading.readSpec(
                Specs.yaml("model: {preset: tiny-moe}\nresources: {nodes: 2}\n"));
        assertThat(spec.restartPolicy.maxRestarts).isEqualTo(5);
        assertThat(spec.restartPolicy.backoffSeconds).isEqualTo(10);
        assertThat(spec.restartPolicy.maxBackoffSeconds).isEqualTo(300);
        assertThat(spec.suspend).isFalse();
        assertThat(spec.training.dataset.type.name()).isEqualTo("synthetic");
        // no checkpoint object is invented: checkpoints are opt-in
        assertThat(spec.training.checkpoint).isNull();
        // given values are kept
        assertThat(planOf(Specs.set(
                                Specs.yaml("model: {preset: tiny-moe}\nresources: {nodes: 2, gpusPerNode: 2}\n"),
                                "parallelism.tensor",
                                2))
                        .tensor())
                .isEqualTo(2);
    }

    @Test
    void activation_checkpointing_is_read_and_type_checked() {
        Plan off = planOf(Specs.yaml(
                "model: {preset: tiny-moe}\nresources: {nodes: 2}\n" + "training: {activationCheckpointing: full}\n"));
        assertThat(off.shape().activationCheckpointing()).isEqualTo(ActivationCheckpointing.full);
        Plan old = planOf(Specs.yaml(
                "model: {preset: tiny-moe}\nresources: {nodes: 2}\n" + "training: {activationCheckpointing: false}\n"));
        assertThat(old.shape().activationCheckpointing())
                .as("the boolean of earlier versions")
                .isEqualTo(ActivationCheckpointing.none);
        PlanResult bad = Specs.plan(Specs.yaml("model: {preset: tiny-moe}\nresources: {nodes: 2}\n"
                + "training: {activationCheckpointing: \"no\"}\n"));
        assertThat(bad.errors()).extracting(PlanError::rule).containsExactly("FieldType");
        assertThat(bad.errorMessages())
                .isEqualTo("spec.training.activationCheckpointing=no is not one of none or"
                        + " selective or full; use none or selective or full");
    }

    @Test
    void checkpoint_claim_sets_the_directory() {
        Plan p = planOf(Specs.yaml(
                "model: {preset: tiny-moe}\nresources: {nodes: 2}\n" + "training: {checkpoint: {claimName: ckpt}}\n"));
        assertThat(p.toJson().at("/training/checkpoint/dir").asText()).isEqualTo("/checkpoints");
        assertThat(p.toJson().at("/training/checkpoint/everySteps").intValue()).isEqualTo(200);
        PlanResult r = Specs.plan(Specs.yaml(
                "model: {preset: tiny-moe}\nresources: {nodes: 2}\n" + "training: {checkpoint: {everySteps: 5}}\n"));
        assertThat(r.errors())
                .extracting(PlanError::message)
                .containsExactly(
                        "spec.training.checkpoint.claimName is required; set spec.training.checkpoint.claimName");
    }
}
