package dev.moe.plan;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The plan document has exactly the shape of docs/contract.md. */
class PlanDocumentTest {

    private static List<String> keys(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    private static ObjectNode example30b() {
        ObjectNode spec =
                Specs.yaml("model: {preset: qwen3-30b-a3b, checkpoint: {claimName: w, path: /models/Qwen3-30B-A3B}}\n"
                        + "parallelism: {tensor: 1, expert: 8, context: 1}\n"
                        + "resources: {nodes: 8, gpusPerNode: 8, gpuMemoryGiB: 80}\n"
                        + "training: {seqLength: 4096, microBatchSize: 1, globalBatchSize: 512, steps: 1000,\n"
                        + "  checkpoint: {claimName: ckpt, everySteps: 200}, dataset: {type: synthetic}}\n");
        PlanResult r = Specs.plan("default", "qwen3-30b", spec);
        assertThat(r.isValid()).as(r.errorMessages()).isTrue();
        return r.plan().toJson();
    }

    @Test
    void top_level_and_nested_keys_follow_the_contract() throws Exception {
        ObjectNode doc = example30b();
        assertThat(keys(doc))
                .containsExactly(
                        "apiVersion",
                        "job",
                        "model",
                        "checkpoint",
                        "parallelism",
                        "world",
                        "training",
                        "parameters",
                        "memory",
                        "ranks",
                        "warnings");
        assertThat(doc.get("apiVersion").asText()).isEqualTo("training.moe.dev/plan-v1");
        assertThat(doc.get("job").toString()).isEqualTo("{\"namespace\":\"default\",\"name\":\"qwen3-30b\"}");
        assertThat(keys(doc.get("model")))
                .containsExactly(
                        "model_type",
                        "vocab_size",
                        "hidden_size",
                        "intermediate_size",
                        "moe_intermediate_size",
                        "num_hidden_layers",
                        "num_attention_heads",
                        "num_key_value_heads",
                        "head_dim",
                        "num_experts",
                        "num_experts_per_tok",
                        "norm_topk_prob",
                        "decoder_sparse_step",
                        "mlp_only_layers",
                        "rms_norm_eps",
                        "rope_theta",
                        "max_position_embeddings",
                        "tie_word_embeddings",
                        "router_aux_loss_coef",
                        "hidden_act",
                        "attention_bias");
        assertThat(doc.get("model").toString())
                .isEqualTo(new ObjectMapper()
                        .readTree("{\"model_type\": \"qwen3_moe\","
                                + "\"vocab_size\": 151936, \"hidden_size\": 2048, \"intermediate_size\": 6144,"
                                + "\"moe_intermediate_size\": 768, \"num_hidden_layers\": 48,"
                                + "\"num_attention_heads\": 32, \"num_key_value_heads\": 4, \"head_dim\": 128,"
                                + "\"num_experts\": 128, \"num_experts_per_tok\": 8, \"norm_topk_prob\": true,"
                                + "\"decoder_sparse_step\": 1, \"mlp_only_layers\": [],"
                                + "\"rms_norm_eps\": 1e-6, \"rope_theta\": 1000000.0, \"max_position_embeddings\": 40960,"
                                + "\"tie_word_embeddings\": false, \"router_aux_loss_coef\": 0.001, \"hidden_act\": \"silu\","
                                + "\"attention_bias\": false}")
                        .toString());
        assertThat(doc.get("checkpoint").toString()).isEqualTo("{\"path\":\"/models/Qwen3-30B-A3B\"}");
        assertThat(doc.get("parallelism").toString())
                .isEqualTo("{\"tensor\":1,\"expert\":8,\"context\":1,\"data\":64,\"expertData\":8}");
        assertThat(doc.get("world").toString()).isEqualTo("{\"size\":64,\"nodes\":8,\"gpusPerNode\":8}");
        JsonNode t = doc.get("training");
        assertThat(keys(t))
                .containsExactly(
                        "seqLength",
                        "microBatchSize",
                        "activationCheckpointing",
                        "globalBatchSize",
                        "gradientAccumulation",
                        "steps",
                        "learningRate",
                        "minLearningRate",
                        "warmupSteps",
                        "weightDecay",
                        "gradClip",
                        "seed",
                        "logEvery",
                        "dataset",
                        "checkpoint");
        assertThat(t.get("logEvery").intValue()).as("the default").isEqualTo(1);
        assertThat(t.get("gradientAccumulation").intValue()).isEqualTo(8);
        assertThat(t.get("learningRate").doubleValue()).isEqualTo(3e-4);
        assertThat(t.get("dataset").toString()).isEqualTo("{\"type\":\"synthetic\"}");
        assertThat(t.get("checkpoint").toString()).isEqualTo("{\"dir\":\"/checkpoints\",\"everySteps\":200}");
        assertThat(doc.get("parameters").toString()).isEqualTo("{\"total\":30532122624,\"activePerToken\":3353032704}");
        JsonNode mem = doc.get("memory");
        assertThat(keys(mem)).containsExactly("perGpuBytes", "gpuBytes", "breakdown");
        assertThat(keys(mem.get("breakdown")))
                .containsExactly("weights", "gradients", "optimizer", "activations", "headroom");
        long sum = 0;
        for (JsonNode v : mem.get("breakdown")) {
            sum += v.longValue();
        }
        assertThat(mem.get("perGpuBytes").longValue()).isEqualTo(sum);
        assertThat(mem.get("gpuBytes").longValue()).isEqualTo(80L << 30);
        assertThat(keys(doc.get("ranks").get(0)))
                .containsExactly(
                        "rank", "node", "localRank", "data", "context", "tensor", "expertData", "expert", "experts");
        assertThat(doc.get("ranks").get(9).toString())
                .isEqualTo("{\"rank\":9,\"node\":1,\"localRank\":1,\"data\":9,"
                        + "\"context\":0,\"tensor\":0,\"expertData\":1,\"expert\":1,\"experts\":[16,32]}");
    }

    @Test
    void contract_invariants_hold() {
        ObjectNode doc = example30b();
        JsonNode p = doc.get("parallelism");
        JsonNode w = doc.get("world");
        int size = w.get("size").intValue();
        assertThat(size)
                .isEqualTo(w.get("nodes").intValue() * w.get("gpusPerNode").intValue());
        assertThat(size)
                .isEqualTo(p.get("data").intValue()
                        * p.get("context").intValue()
                        * p.get("tensor").intValue());
        assertThat(size)
                .isEqualTo(p.get("expertData").intValue() * p.get("expert").intValue());
        JsonNode t = doc.get("training");
        assertThat(t.get("globalBatchSize").intValue())
                .isEqualTo(t.get("microBatchSize").intValue()
                        * p.get("data").intValue()
                        * t.get("gradientAccumulation").intValue());
    }

    @Test
    void optional_parts_are_null_or_detailed() {
        PlanResult r = Specs.plan(Specs.set(
                Specs.set(Specs.tiny(2, 2, 1, 2), "training.dataset.type", "tokens"),
                "training.dataset.path",
                "/data/tokens.bin"));
        ObjectNode doc = r.plan().toJson();
        assertThat(doc.get("checkpoint").isNull()).isTrue();
        assertThat(doc.get("training").get("checkpoint").get("dir").isNull()).isTrue();
        assertThat(doc.get("training").get("dataset").toString())
                .isEqualTo("{\"type\":\"tokens\",\"path\":\"/data/tokens.bin\",\"dtype\":\"uint32\"}");
    }

    @Test
    void log_every_reaches_the_trainer_and_is_bounded() {
        PlanResult r = Specs.plan(Specs.set(Specs.tiny(2, 2, 2, 2), "training.logEvery", 10));
        assertThat(r.isValid()).as(r.errorMessages()).isTrue();
        assertThat(r.plan().toJson().at("/training/logEvery").intValue()).isEqualTo(10);
        assertThat(Specs.plan(Specs.set(Specs.tiny(2, 2, 2, 2), "training.logEvery", 0))
                        .errorMessages())
                .isEqualTo("spec.training.logEvery=0 must be at least 1; use a positive value");
        assertThat(Specs.plan(Specs.set(Specs.tiny(2, 2, 2, 2), "training.logEvery", "10"))
                        .errorMessages())
                .isEqualTo("spec.training.logEvery=\"10\" is not an integer; write a whole number without quotes");
    }

    @Test
    void json_string_round_trips() throws Exception {
        PlanResult r = Specs.plan(Specs.tiny(2, 2, 2, 2));
        JsonNode parsed = new ObjectMapper().readTree(r.plan().toJsonString());
        assertThat(parsed.toString()).isEqualTo(r.plan().toJson().toString());
    }

    @Test
    void a_valid_result_carries_the_document_its_size_was_checked_on() {
        PlanResult r = Specs.plan(Specs.tiny(2, 2, 2, 2));
        assertThat(r.document()).isEqualTo(r.plan().toJsonString());
        assertThat(Specs.plan(Specs.set(Specs.tiny(2, 2, 2, 2), "training.logEvery", 0))
                        .document())
                .isNull();
    }
}
