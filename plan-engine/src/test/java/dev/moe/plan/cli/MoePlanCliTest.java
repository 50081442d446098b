package dev.moe.plan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The offline check on the repository's examples/, run in-process through its entry point. */
class MoePlanCliTest {

    static final Path ROOT =
            Path.of(System.getProperty("moe.repo.root", "..")).toAbsolutePath().normalize();
    static final Path EXAMPLES = ROOT.resolve("examples");

    record Run(int status, String out, String err) {}

    static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = MoePlanCli.run(
                args,
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void valid_examples_print_a_plan() {
        Run r = run(EXAMPLES.resolve("qwen3-30b-a3b.yaml").toString());
        assertThat(r.status()).as(r.out() + r.err()).isEqualTo(0);
        assertThat(r.out())
                .contains("MoETrainingJob default/qwen3-30b-a3b: valid")
                .contains("total 30532122624", "active per token 3353032704")
                .contains("64 GPUs = 8 nodes x 8 GPUs")
                .contains("dense(data=64, context=1, tensor=1) x expert(expertData=8, expert=8)")
                .contains("16 per expert rank")
                .contains("memory/GPU", "weights", "gradients", "optimizer", "activations", "headroom")
                .contains("[112, 128)")
                .contains("ranks 8..55 (nodes 1..6) follow the same pattern");
        assertThat(r.out()).doesNotContain("   20     2 ");

        Run tiny = run(EXAMPLES.resolve("tiny-cpu.yaml").toString());
        assertThat(tiny.status()).as(tiny.out() + tiny.err()).isEqualTo(0);
        assertThat(tiny.out()).contains("tiny-moe", "4 GPUs = 2 nodes x 2 GPUs", "total 157056");
    }

    @Test
    void full_flag_prints_every_rank() {
        Run r = run("--full", EXAMPLES.resolve("qwen3-30b-a3b.yaml").toString());
        assertThat(r.out()).doesNotContain("follow the same pattern");
        assertThat(r.out()
                        .lines()
                        .filter(l -> l.matches("\\s+\\d+\\s+\\d+\\s+\\d+.*\\[\\d+, \\d+\\)"))
                        .count())
                .isEqualTo(64);
    }

    @Test
    void every_invalid_example_exits_non_zero_with_its_message() throws IOException {
        List<Path> invalid;
        try (Stream<Path> s = Files.list(EXAMPLES.resolve("invalid"))) {
            invalid = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        assertThat(invalid).hasSizeGreaterThanOrEqualTo(3);
        for (Path p : invalid) {
            Run r = run(p.toString());
            assertThat(r.status()).as(p.toString()).isEqualTo(1);
            assertThat(r.out()).as(p.toString()).contains(": INVALID").containsPattern("  error: (spec|metadata)\\.");
        }
        assertThat(run(EXAMPLES.resolve("invalid/expert-not-dividing-experts.yaml")
                                .toString())
                        .out())
                .contains(
                        "error: spec.parallelism.expert=12 does not divide numExperts=128; valid values: 1, 2, 4, 8, 16");
        assertThat(run(EXAMPLES.resolve("invalid/memory-does-not-fit.yaml").toString())
                        .out())
                .contains("error: spec.parallelism={tensor: 1, expert: 16, context: 1, data: 16} needs an estimated")
                .contains("nearest plans that fit: resources.nodes=16");
        assertThat(run(EXAMPLES.resolve("invalid/nodes-beyond-limit.yaml").toString())
                        .out())
                .contains("error: spec.resources.nodes=3000000000 is more than 4096 (one pod per node");
        assertThat(run(EXAMPLES.resolve("invalid/huge-layer-count.yaml").toString())
                        .out())
                .contains("error: spec.model.config.numHiddenLayers=2147483647 is more than 1024");
        assertThat(run(EXAMPLES.resolve("invalid/reserved-env.yaml").toString()).out())
                .contains("error: spec.trainer.env[0].name=NODE_RANK is set by the operator on every pod");
        assertThat(run(EXAMPLES.resolve("invalid/tensor-not-dividing-heads.yaml")
                                .toString())
                        .out())
                .contains("error: spec.parallelism.tensor=3 does not divide numAttentionHeads=32; valid values: 1, 2");
    }

    @Test
    void one_invalid_file_among_valid_ones_fails_the_run() {
        Run r = run(
                EXAMPLES.resolve("tiny-cpu.yaml").toString(),
                EXAMPLES.resolve("invalid/tensor-not-dividing-heads.yaml").toString());
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.out()).contains("tiny-cpu: valid", "tensor-not-dividing-heads: INVALID");
    }

    @Test
    void json_output_is_the_plan_document() throws Exception {
        Run r = run("--output", "json", EXAMPLES.resolve("tiny-cpu.yaml").toString());
        assertThat(r.status()).as(r.err()).isEqualTo(0);
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertThat(doc.get("apiVersion").asText()).isEqualTo("training.moe.dev/plan-v1");
        assertThat(doc.get("job").get("name").asText()).isEqualTo("tiny-cpu");
        assertThat(doc.get("world").get("size").intValue()).isEqualTo(4);
        assertThat(doc.get("ranks").size()).isEqualTo(4);
        assertThat(doc.get("parameters").get("total").longValue()).isEqualTo(157056L);

        Run bad = run(
                "--output=json",
                EXAMPLES.resolve("invalid/memory-does-not-fit.yaml").toString());
        assertThat(bad.status()).isEqualTo(1);
        assertThat(bad.out()).isEmpty();
        assertThat(bad.err()).contains("memory-does-not-fit: INVALID", "needs an estimated");
    }

    @Test
    void multi_document_yaml_checks_every_job_and_skips_other_kinds(@TempDir Path dir) throws Exception {
        String tiny = Files.readString(EXAMPLES.resolve("tiny-cpu.yaml"));
        String second = tiny.replace("name: tiny-cpu", "name: tiny-two");
        Path f = dir.resolve("jobs.yaml");
        Files.writeString(
                f,
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n---\n" + tiny + "\n---\n" + second
                        + "\n---\n");
        Run r = run(f.toString());
        assertThat(r.status()).as(r.out() + r.err()).isEqualTo(0);
        assertThat(r.out())
                .contains("default/tiny-cpu: valid", "default/tiny-two: valid")
                .doesNotContain("ConfigMap");

        Run json = run("--output", "json", f.toString());
        JsonNode arr = new ObjectMapper().readTree(json.out());
        assertThat(arr.isArray()).isTrue();
        assertThat(arr.size()).isEqualTo(2);
        assertThat(arr.get(1).get("job").get("name").asText()).isEqualTo("tiny-two");
    }

    @Test
    void wrong_api_version_and_missing_files(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("old.yaml");
        Files.writeString(
                f,
                Files.readString(EXAMPLES.resolve("tiny-cpu.yaml"))
                        .replace("training.moe.dev/v1alpha1", "training.moe.dev/v1"));
        Run r = run(f.toString());
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.out())
                .contains("error: apiVersion=training.moe.dev/v1 is not served; use training.moe.dev/v1alpha1");

        Run missing = run(dir.resolve("nope.yaml").toString());
        assertThat(missing.status()).isEqualTo(2);
        assertThat(missing.err()).contains("cannot read");

        Path empty = dir.resolve("empty.yaml");
        Files.writeString(empty, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
        assertThat(run(empty.toString()).status()).isEqualTo(1);
        assertThat(run().status()).isEqualTo(2);
        assertThat(run("--output", "yaml", "x").status()).isEqualTo(2);
    }

    @Test
    void fields_the_api_server_would_reject_are_reported(@TempDir Path dir) throws Exception {
        String tiny = Files.readString(EXAMPLES.resolve("tiny-cpu.yaml"));
        Path typo = dir.resolve("typo.yaml");
        Files.writeString(typo, tiny.replace("  parallelism:", "  paralelism:"));
        Run r = run(typo.toString());
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.out())
                .contains("error: spec.paralelism is not a field of spec (the API server rejects or drops"
                        + " it); known fields: activeDeadlineSeconds, managedBy, model, nccl, parallelism,");
        assertThat(r.out()).contains("error: spec.parallelism is required");

        Path types = dir.resolve("types.yaml");
        Files.writeString(
                types,
                tiny.replace("nodes: 2", "nodes: \"2\"")
                        .replace("type: synthetic", "type: random")
                        .replace("maxRestarts: 3", "maxRestarts: -1"));
        Run t = run(types.toString());
        assertThat(t.status()).isEqualTo(1);
        // the engine's message where it reports the field (every value that does not fit a type, at once), the
        // schema's where only the schema does
        assertThat(t.out())
                .contains(
                        "error: spec.resources.nodes=\"2\" is not an integer; write a whole number" + " without quotes")
                .contains("error: spec.training.dataset.type=random is not a dataset type; use synthetic or tokens")
                .contains("error: spec.restartPolicy.maxRestarts=-1 is negative; use 0 or more");

        Path extra = dir.resolve("extra.yaml");
        Files.writeString(
                extra,
                tiny.replace("    type: synthetic", "    type: synthetic\n  nodeSelector: {a: b}")
                        + "  placement:\n    nodeSelector: {gpu: h100}\n    tolerations: [{key: gpu, operator: Exists}]\n"
                        + "  model2: x\n");
        Run x = run(extra.toString());
        assertThat(x.out())
                .contains("error: spec.model2 is not a field of spec")
                .doesNotContain("spec.placement.nodeSelector.gpu", "tolerations[0]");
    }
}
