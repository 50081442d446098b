package dev.moe.plan.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.moe.plan.Hang;
import dev.moe.plan.HostileSpecs;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Property-based test of {@code bin/moe-plan} (issue 8, 6a): the real entry point ({@link MoePlanCli#run}, in
 * process) on generated YAML and JSON files of hostile jobs ({@link HostileSpecs}, with hostile metadata too):
 * exit status 0 or 1 for files that parse (2 only for a file that is not YAML, with a one-line message), and never
 * a stack trace. 1 s per file is a hang detector.
 */
class MoePlanCliPropertiesTest {

    /** Loads the CLI's classes before the hang detector times a file (see Specs.warmUp). */
    @BeforeAll
    static void warmUp() {
        MoePlanCli.run(
                new String[] {MoePlanCliTest.EXAMPLES.resolve("tiny-cpu.yaml").toString()},
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    }

    static final long SEED = Long.getLong("moe.fuzz.seed", 20261201L);
    static final int CASES = Integer.getInteger("moe.fuzz.cli.cases", 400);
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    static final ObjectMapper JSON = new ObjectMapper();

    record Run(int status, String out, String err) {}

    static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = assertTimeoutPreemptively(
                Hang.LIMIT,
                () -> MoePlanCli.run(
                        args,
                        new PrintStream(out, true, StandardCharsets.UTF_8),
                        new PrintStream(err, true, StandardCharsets.UTF_8)));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static void assertNoStackTrace(Run r, String where) {
        for (String s : List.of(r.out(), r.err())) {
            assertThat(s)
                    .as(where)
                    .doesNotContain("\tat ", "Exception in thread", "Caused by:")
                    .doesNotContainPattern("(?m)^\\s*at [\\w.$]+\\(");
        }
    }

    /** A MoETrainingJob document around a generated spec, sometimes with hostile metadata or apiVersion. */
    static ObjectNode job(HostileSpecs gen, Random random) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode doc = f.objectNode();
        doc.put("apiVersion", random.nextInt(20) == 0 ? "training.moe.dev/v2" : "training.moe.dev/v1alpha1");
        doc.put("kind", "MoETrainingJob");
        switch (random.nextInt(12)) {
            case 0:
                doc.put("metadata", "not an object");
                break;
            case 1:
                doc.putObject("metadata").put("name", 42).putArray("namespace").add(1);
                break;
            case 2:
                doc.putObject("metadata");
                break;
            default:
                doc.putObject("metadata").put("name", gen.name());
        }
        doc.set("spec", gen.spec());
        return doc;
    }

    @Test
    void every_generated_file_exits_0_or_1_without_a_stack_trace(@TempDir Path dir) throws Exception {
        // SnakeYAML refuses nesting beyond 50 levels (a read error, exit 2): the YAML files stay below that
        HostileSpecs gen = new HostileSpecs(SEED, 30);
        Random random = new Random(SEED);
        int invalid = 0;
        for (int i = 0; i < CASES; i++) {
            boolean json = random.nextBoolean();
            List<String> args = new ArrayList<>();
            if (random.nextInt(3) == 0) {
                args.add("--output");
                args.add("json");
            }
            int files = 1 + (random.nextInt(5) == 0 ? 2 : 0);
            for (int k = 0; k < files; k++) {
                Path f = dir.resolve("job-" + i + "-" + k + (json ? ".json" : ".yaml"));
                JsonNode doc = job(gen, random);
                Files.writeString(f, json ? JSON.writeValueAsString(doc) : YAML.writeValueAsString(doc));
                args.add(f.toString());
            }
            String where = "seed " + SEED + ", case " + i + ": " + args;
            Run r = run(args.toArray(String[]::new));
            assertThat(r.status())
                    .as(where + "\n" + shorten(r.out() + r.err()))
                    .isIn(MoePlanCli.OK, MoePlanCli.INVALID);
            assertNoStackTrace(r, where);
            if (r.status() == MoePlanCli.INVALID) {
                invalid++;
                assertThat(r.out() + r.err()).as(where).contains(": INVALID");
            }
            for (int k = 0; k < files; k++) {
                Files.delete(Path.of(args.get(args.size() - files + k)));
            }
        }
        assertThat(invalid).as("invalid among " + CASES).isBetween(CASES / 4, CASES - CASES / 50);
    }

    @Test
    void files_that_are_not_yaml_exit_2_with_one_line(@TempDir Path dir) throws Exception {
        String deep = "a: ".repeat(0) + "[".repeat(500) + "]".repeat(500);
        String aliases = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                + "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                + "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        List<String> texts = List.of(
                deep,
                aliases,
                "kind: MoETrainingJob\nspec: {model: [}\n",
                "\t- :\n  -: :",
                "kind: MoETrainingJob\nspec: !!binary AAAA\n",
                "\u0000\u0001\u0002",
                "{\"kind\": \"MoETrainingJob\",",
                "{kind: MoETrainingJob, apiVersion: training.moe.dev/v1alpha1, metadata: {name: flow}, spec: 7}");
        for (int i = 0; i < texts.size(); i++) {
            Path f = dir.resolve("bad-" + i + ".yaml");
            Files.writeString(f, texts.get(i));
            Run r = run(f.toString());
            String where = "text " + i + ": " + shorten(texts.get(i));
            assertThat(r.status()).as(where + "\n" + r.out() + r.err()).isIn(MoePlanCli.INVALID, MoePlanCli.USAGE);
            assertNoStackTrace(r, where);
            if (r.status() == MoePlanCli.USAGE) {
                assertThat(r.err().strip().lines().count())
                        .as(where + ": " + r.err())
                        .isEqualTo(1);
                assertThat(r.err()).as(where).startsWith(f + ": cannot read: ");
            }
        }
    }

    private static String shorten(String s) {
        return s.length() <= 2000 ? s : s.substring(0, 2000) + "...";
    }
}
