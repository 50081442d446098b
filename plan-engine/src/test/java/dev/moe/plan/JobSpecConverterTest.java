package dev.moe.plan;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class JobSpecConverterTest {

    @Test
    void defaults_fill_a_minimal_spec() {
        ObjectNode spec = Specs.yaml("model: {preset: tiny-moe}\nresources: {nodes: 2}\n");
        List<PlanError> errors = new ArrayList<>();
        PlanInput in = JobSpecConverter.toInput("ns", "job", spec, errors);
        assertThat(errors).isEmpty();
        assertThat(in.tensor()).isEqualTo(1);
        assertThat(in.expert()).isEqualTo(1);
        assertThat(in.context()).isEqualTo(1);
        assertThat(in.data()).isNull();
        assertThat(in.gpusPerNode()).isEqualTo(8);
        assertThat(in.gpuMemoryGiB()).isEqualTo(80);
        assertThat(in.seqLength()).isEqualTo(4096);
        assertThat(in.microBatchSize()).isEqualTo(1);
        assertThat(in.activationCheckpointing()).isTrue();
        assertThat(in.globalBatchSize()).isNull();
        assertThat(in.steps()).isEqualTo(1000);
        assertThat(in.learningRate()).isEqualTo(3e-4);
        assertThat(in.seed()).isEqualTo(1234L);
        assertThat(in.datasetType()).isEqualTo("synthetic");
        assertThat(in.datasetDtype()).isEqualTo("uint32");
        assertThat(in.checkpointDir()).isNull();
        assertThat(in.checkpointEverySteps()).isEqualTo(200);
        assertThat(in.topologyKeys()).isEmpty();
    }

    @Test
    void with_defaults_mirrors_the_api_server() {
        ObjectNode spec = Specs.yaml("model: {preset: tiny-moe}\nresources: {nodes: 2}\n");
        ObjectNode d = JobSpecConverter.withDefaults(spec);
        assertThat(d.at("/parallelism/tensor").intValue()).isEqualTo(1);
        assertThat(d.at("/restartPolicy/maxRestarts").intValue()).isEqualTo(5);
        assertThat(d.at("/restartPolicy/backoffSeconds").intValue()).isEqualTo(10);
        assertThat(d.at("/restartPolicy/maxBackoffSeconds").intValue()).isEqualTo(300);
        assertThat(d.at("/suspend").booleanValue()).isFalse();
        assertThat(d.at("/training/dataset/type").asText()).isEqualTo("synthetic");
        // no checkpoint object is invented: checkpoints are opt-in
        assertThat(d.at("/training").has("checkpoint")).isFalse();
        // given values are kept, the input is not modified
        assertThat(JobSpecConverter.withDefaults(Specs.set(spec, "parallelism.tensor", 2)).at("/parallelism/tensor")
                .intValue()).isEqualTo(2);
        assertThat(spec.has("restartPolicy")).isFalse();
    }

    @Test
    void activation_checkpointing_is_read_and_type_checked() {
        ObjectNode off = Specs.yaml("model: {preset: tiny-moe}\nresources: {nodes: 2}\n"
                + "training: {activationCheckpointing: false}\n");
        List<PlanError> errors = new ArrayList<>();
        assertThat(JobSpecConverter.toInput("ns", "job", off, errors).activationCheckpointing()).isFalse();
        assertThat(errors).isEmpty();
        ObjectNode bad = Specs.yaml("model: {preset: tiny-moe}\nresources: {nodes: 2}\n"
                + "training: {activationCheckpointing: \"no\"}\n");
        JobSpecConverter.toInput("ns", "job", bad, errors);
        assertThat(errors).extracting(PlanError::rule).containsExactly("FieldType");
    }

    @Test
    void checkpoint_claim_sets_the_directory() {
        ObjectNode spec = Specs.yaml("model: {preset: tiny-moe}\nresources: {nodes: 2}\n"
                + "training: {checkpoint: {claimName: ckpt}}\n");
        PlanInput in = JobSpecConverter.toInput("ns", "job", spec, new ArrayList<>());
        assertThat(in.checkpointDir()).isEqualTo("/checkpoints");
        assertThat(in.checkpointEverySteps()).isEqualTo(200);
        List<PlanError> errors = new ArrayList<>();
        JobSpecConverter.toInput("ns", "job", Specs.yaml("model: {preset: tiny-moe}\nresources: {nodes: 2}\n"
                + "training: {checkpoint: {everySteps: 5}}\n"), errors);
        assertThat(errors).extracting(PlanError::message)
                .containsExactly("spec.training.checkpoint.claimName is required; set spec.training.checkpoint.claimName");
    }
}
