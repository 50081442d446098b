package dev.moe.plan;

import static dev.moe.plan.Specs.plan;
import static dev.moe.plan.Specs.qwen30b;
import static dev.moe.plan.Specs.set;
import static dev.moe.plan.Specs.tiny;
import static dev.moe.plan.Specs.yaml;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.api.v1alpha1.TrainingSpec.ActivationCheckpointing;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every rule of PlanEngine, with a passing and a failing case. */
class PlanRulesTest {

    private static List<String> rules(PlanResult r) {
        return r.errors().stream().map(PlanError::rule).toList();
    }

    private static PlanError only(PlanResult r) {
        assertThat(r.isValid()).as("plan should be invalid").isFalse();
        assertThat(r.errors()).as(r.errorMessages()).hasSize(1);
        return r.errors().get(0);
    }

    @Test
    void baseline_qwen3_30b_on_8_nodes_is_valid() {
        PlanResult r = plan(qwen30b(8, 1, 8));
        assertThat(r.errors()).isEmpty();
        Plan p = r.plan();
        assertThat(p.worldSize()).isEqualTo(64);
        assertThat(p.data()).isEqualTo(64);
        assertThat(p.expertData()).isEqualTo(8);
        assertThat(p.expertsPerRank()).isEqualTo(16);
        assertThat(p.mesh()).isEqualTo("dense(data=64, context=1, tensor=1) x expert(expertData=8, expert=8)");
        assertThat(p.memory().fits()).isTrue();
        assertThat(p.warnings()).isEmpty();
    }

    @Test
    void degrees_must_be_positive() {
        PlanError e = only(plan(qwen30b(8, 0, 8)));
        assertThat(e.rule()).isEqualTo("PositiveValue");
        assertThat(e.message()).isEqualTo("spec.parallelism.tensor=0 must be at least 1; use a positive value");
        assertThat(rules(plan(set(qwen30b(8, 1, 8), "resources.nodes", 0)))).containsExactly("PositiveValue");
        assertThat(rules(plan(set(qwen30b(8, 1, 8), "training.microBatchSize", -1))))
                .containsExactly("PositiveValue");
    }

    @Test
    void preset_must_exist() {
        PlanError e = only(plan(set(qwen30b(8, 1, 8), "model.preset", "llama")));
        assertThat(e.rule()).isEqualTo("UnknownPreset");
        assertThat(e.message())
                .isEqualTo("spec.model.preset=llama is not a known model preset; use one of: "
                        + "qwen3-30b-a3b, qwen3-235b-a22b, tiny-moe");
        ObjectNode noPreset = qwen30b(8, 1, 8);
        ((ObjectNode) noPreset.get("model")).remove("preset");
        assertThat(only(plan(noPreset)).message()).startsWith("spec.model.preset is required");
    }

    @Test
    void model_overrides_are_applied_and_checked() {
        ObjectNode spec = set(tiny(2, 2, 1, 2), "model.config.numHiddenLayers", 4);
        PlanResult ok = plan(spec);
        assertThat(ok.isValid()).as(ok.errorMessages()).isTrue();
        assertThat(ok.plan().model().numHiddenLayers()).isEqualTo(4);
        assertThat(ok.plan().toJson().get("model").get("num_hidden_layers").intValue())
                .isEqualTo(4);
        assertThat(plan(set(tiny(2, 2, 1, 2), "model.config.num_experts", 16))
                        .plan()
                        .model()
                        .numExperts())
                .isEqualTo(16);

        PlanError unknown = only(plan(set(tiny(2, 2, 1, 2), "model.config.numLayers", 4)));
        assertThat(unknown.rule()).isEqualTo("ModelConfigInvalid");
        assertThat(unknown.message())
                .startsWith("spec.model.config.numLayers=4 is not a supported model setting;"
                        + " supported keys: vocabSize, hiddenSize");
        assertThat(only(plan(set(tiny(2, 2, 1, 2), "model.config.hiddenSize", "big")))
                        .message())
                .isEqualTo("spec.model.config.hiddenSize=\"big\" has the wrong type; expected an integer");
        assertThat(only(plan(set(tiny(2, 2, 1, 2), "model.config.numExpertsPerTok", 9)))
                        .message())
                .isEqualTo("spec.model.config.numExpertsPerTok=9 exceeds numExperts=8; use at most 8");
    }

    @Test
    void context_parallelism_is_accepted_with_tensor_and_expert_and_lays_out_the_context_coordinate() {
        // 8 nodes × 8 GPUs, context 2 × tensor 2 inside a node, expert 8 over data × context × tensor
        ObjectNode spec = set(set(qwen30b(8, 2, 8), "parallelism.context", 2), "training.seqLength", 16384);
        PlanResult r = plan(spec);
        assertThat(r.errors()).as(r.errorMessages()).isEmpty();
        Plan p = r.plan();
        assertThat(p.data()).isEqualTo(16);
        assertThat(p.mesh()).isEqualTo("dense(data=16, context=2, tensor=2) x expert(expertData=8, expert=8)");
        assertThat(p.warnings()).isEmpty();
        RankAssignment r6 = p.ranks().get(6); // rank = (data × context + context) × tensor + tensor
        assertThat(List.of(r6.data(), r6.context(), r6.tensor(), r6.expert())).containsExactly(1, 1, 0, 6);
        assertThat(p.toJsonString()).contains("\"context\":2");
    }

    @Test
    void context_needs_seq_length_divisible_by_twice_context() {
        PlanError e = only(plan(set(set(qwen30b(8, 1, 8), "parallelism.context", 4), "training.seqLength", 4100)));
        assertThat(e.rule()).isEqualTo("SeqLengthDivisible");
        assertThat(e.message())
                .isEqualTo("spec.training.seqLength=4100 is not divisible by 2 × context = 8;"
                        + " nearest valid values: 4096, 4104");
    }

    @Test
    void context_times_tensor_must_divide_the_world() {
        PlanError e = only(plan(set(tiny(1, 6, 2, 2), "parallelism.context", 4)));
        assertThat(e.rule()).isEqualTo("WorldSize");
        assertThat(e.message())
                .startsWith("spec.parallelism=context=4, tensor=2 context × tensor = 8 does not divide"
                        + " the world size 6");
    }

    @Test
    void context_group_across_nodes_warns() {
        PlanResult inside = plan(set(tiny(2, 4, 2, 2), "parallelism.context", 2));
        assertThat(inside.isValid()).as(inside.errorMessages()).isTrue();
        assertThat(inside.warnings()).noneMatch(w -> w.contains("context-parallel"));
        PlanResult across = plan(set(tiny(2, 4, 2, 2), "parallelism.context", 4));
        assertThat(across.isValid()).as(across.errorMessages()).isTrue();
        assertThat(across.warnings())
                .anyMatch(w -> w.startsWith("context-parallel groups (context × tensor = 4 × 2"
                        + " = 8 consecutive ranks) do not fit inside one node of resources.gpusPerNode=4"));
    }

    @Test
    void tensor_stays_inside_a_node() {
        PlanError e = only(plan(tiny(2, 2, 4, 2)));
        assertThat(e.rule()).isEqualTo("TensorWithinNode");
        assertThat(e.message())
                .isEqualTo("spec.parallelism.tensor=4 does not divide resources.gpusPerNode=2 (tensor"
                        + " parallelism must stay inside one node); valid values: 1, 2");
        assertThat(plan(tiny(2, 2, 2, 2)).isValid()).isTrue();
    }

    @Test
    void world_size_must_equal_data_context_tensor() {
        ObjectNode spec = set(qwen30b(8, 1, 8), "parallelism.data", 8);
        PlanError e = only(plan(spec));
        assertThat(e.rule()).isEqualTo("WorldSize");
        assertThat(e.message())
                .isEqualTo("spec.parallelism.data=8 gives data × context × tensor = 8 × 1 × 1 = 8 but"
                        + " resources.nodes × resources.gpusPerNode = 8 × 8 = 64; set spec.parallelism.data=64 or leave it"
                        + " out to derive it");
        PlanResult ok = plan(set(qwen30b(8, 2, 8), "parallelism.data", 32));
        assertThat(ok.isValid()).as(ok.errorMessages()).isTrue();
        assertThat(ok.plan().data()).isEqualTo(32);
    }

    @Test
    void expert_must_divide_the_experts() {
        ObjectNode spec = qwen30b(6, 1, 12);
        PlanResult r = plan(spec);
        assertThat(rules(r)).contains("ExpertDividesExperts");
        PlanError e = r.errors().stream()
                .filter(x -> x.rule().equals("ExpertDividesExperts"))
                .findFirst()
                .get();
        assertThat(e.message())
                .isEqualTo("spec.parallelism.expert=12 does not divide numExperts=128; valid values: 1, 2, 4, 8, 16");
        // tiny-moe has 8 experts: 16-way EP over 16 GPUs cannot work, 8-way can
        assertThat(rules(plan(tiny(4, 4, 1, 16)))).containsExactly("ExpertDividesExperts");
        assertThat(plan(tiny(4, 4, 1, 8)).isValid()).isTrue();
    }

    @Test
    void expert_must_divide_the_world() {
        PlanError e = only(plan(tiny(3, 2, 1, 4)));
        assertThat(e.rule()).isEqualTo("ExpertDividesWorld");
        assertThat(e.message())
                .isEqualTo("spec.parallelism.expert=4 does not divide the world size 6"
                        + " (resources.nodes × resources.gpusPerNode); valid values: 1, 2");
        assertThat(plan(tiny(3, 2, 1, 2)).isValid()).isTrue();
    }

    @Test
    void expert_groups_align_with_nodes() {
        ObjectNode spec = yaml("model: {preset: qwen3-30b-a3b}\nparallelism: {expert: 4}\n"
                + "resources: {nodes: 4, gpusPerNode: 6}\n");
        PlanError e = only(plan(spec));
        assertThat(e.rule()).isEqualTo("ExpertGroupAlignment");
        assertThat(e.message())
                .contains("spec.parallelism.expert=4 would make expert-parallel groups straddle node"
                        + " boundaries (resources.gpusPerNode=6)");
        // a multiple of gpusPerNode is fine: whole nodes per group
        PlanResult ok = plan(qwen30b(8, 1, 16));
        assertThat(ok.isValid()).as(ok.errorMessages()).isTrue();
    }

    @Test
    void tensor_must_divide_attention_and_kv_heads() {
        ObjectNode spec = yaml("model: {preset: qwen3-30b-a3b}\nparallelism: {tensor: 3, expert: 2}\n"
                + "resources: {nodes: 4, gpusPerNode: 6}\n");
        PlanResult r = plan(spec);
        assertThat(rules(r)).containsExactly("TensorDividesHeads", "TensorDividesKvHeads");
        assertThat(r.errors().get(0).message())
                .isEqualTo("spec.parallelism.tensor=3 does not divide numAttentionHeads=32; valid values: 1, 2");
        // tiny-moe: 4 heads but 2 KV heads
        PlanError kv = only(plan(tiny(1, 4, 4, 1)));
        assertThat(kv.rule()).isEqualTo("TensorDividesKvHeads");
        assertThat(kv.message()).startsWith("spec.parallelism.tensor=4 does not divide numKeyValueHeads=2");
        assertThat(plan(tiny(1, 4, 2, 1)).isValid()).isTrue();
    }

    @Test
    void seq_length_divisible_by_twice_context() {
        PlanError e = only(plan(set(qwen30b(8, 1, 8), "training.seqLength", 4095)));
        assertThat(e.rule()).isEqualTo("SeqLengthDivisible");
        assertThat(e.message())
                .isEqualTo("spec.training.seqLength=4095 is not divisible by 2 × context = 2;"
                        + " nearest valid values: 4094, 4096");
    }

    @Test
    void seq_length_beyond_positions_warns() {
        PlanResult r = plan(set(tiny(2, 2, 1, 2), "training.seqLength", 1024));
        assertThat(r.isValid()).isTrue();
        assertThat(r.warnings()).anyMatch(w -> w.contains("exceeds the model's maxPositionEmbeddings=512"));
    }

    @Test
    void global_batch_is_micro_batch_times_data_times_accumulation() {
        PlanResult ok = plan(set(qwen30b(8, 1, 8), "training.globalBatchSize", 512));
        assertThat(ok.plan().globalBatchSize()).isEqualTo(512);
        assertThat(ok.plan().gradientAccumulation()).isEqualTo(8);
        PlanResult derived = plan(qwen30b(8, 1, 8));
        assertThat(derived.plan().globalBatchSize()).isEqualTo(64);
        assertThat(derived.plan().gradientAccumulation()).isEqualTo(1);

        PlanError e = only(plan(set(qwen30b(8, 1, 8), "training.globalBatchSize", 500)));
        assertThat(e.rule()).isEqualTo("GlobalBatchDivisible");
        assertThat(e.message())
                .isEqualTo("spec.training.globalBatchSize=500 is not a multiple of microBatchSize ×"
                        + " data = 1 × 64 = 64; nearest valid values: 448, 512");
    }

    @Test
    void dataset_rules() {
        PlanError e = only(plan(set(tiny(2, 2, 1, 2), "training.dataset.type", "tokens")));
        assertThat(e.rule()).isEqualTo("DatasetInvalid");
        assertThat(e.message())
                .startsWith("spec.training.dataset.path is required when spec.training.dataset.type=tokens");
        ObjectNode ok = set(tiny(2, 2, 1, 2), "training.dataset.type", "tokens");
        set(ok, "training.dataset.path", "/data/tokens.bin");
        assertThat(plan(ok).isValid()).isTrue();
        assertThat(only(plan(set(tiny(2, 2, 1, 2), "training.dataset.dtype", "int8")))
                        .message())
                .isEqualTo("spec.training.dataset.dtype=int8 is not a token type; use uint16 or uint32");
    }

    @Test
    void memory_must_fit_and_nearest_fitting_plans_are_suggested() {
        ObjectNode spec = yaml("model: {preset: qwen3-235b-a22b}\nparallelism: {expert: 16}\n"
                + "resources: {nodes: 2, gpusPerNode: 8, gpuMemoryGiB: 80}\n");
        PlanResult r = plan(spec);
        PlanError e = only(r);
        assertThat(e.rule()).isEqualTo("MemoryExceeded");
        assertThat(e.message())
                .startsWith("spec.parallelism={tensor: 1, expert: 16, context: 1, data: 16} needs an" + " estimated ")
                .contains("but resources.gpuMemoryGiB=80; nearest plans that fit: ");
        assertThat(e.message()).contains("weights ", "gradients ", "optimizer ", "activations ", "headroom ");
        assertThat(r.suggestions()).isNotEmpty().hasSizeLessThanOrEqualTo(3);
        // expertData = 1 leaves each rank's 8 experts × 94 layers unsharded, and with (full) checkpointing every
        // layer keeps the tokens its experts received (no recompute sends them again) and, with full
        // checkpointing, their gathered copies: within 8× the nodes only experts FSDP2-sharded over all 128 GPUs fit
        assertThat(r.suggestions().get(0)).startsWith("resources.nodes=16, parallelism.expert=1 (");
        // the suggestion really fits
        PlanResult suggested = plan(yaml("model: {preset: qwen3-235b-a22b}\nparallelism: {expert: 1}\n"
                + "resources: {nodes: 16, gpusPerNode: 8, gpuMemoryGiB: 80}\n"));
        assertThat(suggested.isValid()).as(suggested.errorMessages()).isTrue();

        // 30B on 4 GPUs (EP 4, expertData 1): 32 experts × 48 layers per GPU do not fit 80 GiB; 8 GPUs do
        String q4 = "model: {preset: qwen3-30b-a3b}\nparallelism: {expert: 4}\n"
                + "resources: {nodes: 1, gpusPerNode: 4, gpuMemoryGiB: 80}\n";
        PlanResult ep4 = plan(yaml(q4));
        assertThat(rules(ep4)).containsExactly("MemoryExceeded");
        assertThat(ep4.suggestions().get(0))
                .isEqualTo("resources.nodes=2 ("
                        + plan(yaml(q4.replace("nodes: 1", "nodes: 2")))
                                .plan()
                                .memory()
                                .summary() + ")");
        // more GPU memory makes it fit
        assertThat(plan(yaml(q4.replace("gpuMemoryGiB: 80", "gpuMemoryGiB: 141")))
                        .isValid())
                .isTrue();
    }

    @Test
    void the_next_checkpointing_mode_that_fits_is_suggested_first() {
        // one H200, 8 layers, micro-batch 16: none does not fit, selective does (MemoryEstimatorTest)
        String one = "model: {preset: qwen3-30b-a3b, config: {numHiddenLayers: 8}}\n"
                + "resources: {nodes: 1, gpusPerNode: 1, gpuMemoryGiB: 141}\n"
                + "training: {seqLength: 4096, microBatchSize: 16, activationCheckpointing: none}\n";
        PlanResult r = plan(yaml(one));
        assertThat(rules(r)).containsExactly("MemoryExceeded");
        assertThat(r.suggestions().get(0))
                .isEqualTo("training.activationCheckpointing=selective ("
                        + plan(yaml(one.replace("activationCheckpointing: none", "activationCheckpointing: selective")))
                                .plan()
                                .memory()
                                .summary()
                        + ")");
        assertThat(r.suggestions().get(1)).startsWith("training.microBatchSize=8 (");
    }

    @Test
    void unset_checkpointing_takes_the_fastest_mode_that_fits() {
        String base = "model: {preset: qwen3-30b-a3b, config: {numHiddenLayers: 8}}\n"
                + "resources: {nodes: 1, gpusPerNode: 1, gpuMemoryGiB: 141}\n";
        // micro-batch 1: every mode fits, none keeps the most and recomputes nothing
        assertThat(plan(yaml(base + "training: {seqLength: 4096, microBatchSize: 1}\n"))
                        .plan()
                        .shape()
                        .activationCheckpointing())
                .isEqualTo(ActivationCheckpointing.none);
        // micro-batch 16: none does not fit, selective does
        Plan sixteen = plan(yaml(base + "training: {seqLength: 4096, microBatchSize: 16}\n"))
                .plan();
        assertThat(sixteen.shape().activationCheckpointing()).isEqualTo(ActivationCheckpointing.selective);
        assertThat(sixteen.toJson().at("/training/activationCheckpointing").textValue())
                .isEqualTo("selective");
        assertThat(sixteen.memory())
                .isEqualTo(plan(yaml(
                                base
                                        + "training: {seqLength: 4096, microBatchSize: 16, activationCheckpointing: selective}\n"))
                        .plan()
                        .memory());
        // nothing fits: the error is full's estimate, and no suggestion names a mode (each candidate picks its own)
        PlanResult none = plan(yaml(base + "training: {seqLength: 4096, microBatchSize: 64}\n"));
        assertThat(rules(none)).containsExactly("MemoryExceeded");
        assertThat(none.errorMessages())
                .contains(plan(yaml(base
                                + "training: {seqLength: 4096, microBatchSize: 64, activationCheckpointing: full}\n"))
                        .errors()
                        .get(0)
                        .value());
        assertThat(none.suggestions()).isNotEmpty().noneMatch(s -> s.contains("activationCheckpointing"));
    }

    @Test
    void expert_groups_crossing_nodes_warn() {
        PlanResult noKeys = plan(qwen30b(8, 1, 16));
        assertThat(noKeys.plan().warnings())
                .singleElement()
                .asString()
                .startsWith("expert-parallel groups span 2 nodes")
                .contains("spec.placement.topologyKeys is empty");
        ObjectNode spec = qwen30b(8, 1, 16);
        spec.putObject("placement").putArray("topologyKeys").add("nvidia.com/gpu.clique");
        assertThat(plan(spec).plan().warnings())
                .singleElement()
                .asString()
                .contains("each group is kept inside one nvidia.com/gpu.clique domain");
        assertThat(plan(qwen30b(8, 1, 8)).warnings()).isEmpty();
    }

    @Test
    void missing_or_mistyped_fields_name_the_field() {
        ObjectNode spec = qwen30b(8, 1, 8);
        ((ObjectNode) spec.get("resources")).remove("nodes");
        assertThat(only(plan(spec)).message()).isEqualTo("spec.resources.nodes is required; set spec.resources.nodes");
        assertThat(only(plan(set(qwen30b(8, 1, 8), "parallelism.expert", "8"))).message())
                .isEqualTo("spec.parallelism.expert=\"8\" is not an integer; write a whole number without quotes");
        assertThat(only(plan(null)).rule()).isEqualTo("SpecMissing");
    }
}
