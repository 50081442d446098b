package dev.moe.plan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.api.v1alpha1.TrainerContract;
import dev.moe.api.v1alpha1.TrainingSpec;
import dev.moe.plan.Plan;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The executable operator ↔ trainer contract (contract/README.md): the committed files under {@code contract/} are
 * what this build produces, the way {@code CrdDriftIT} guards {@code crds/}. The trainer's tests
 * ({@code trainer-image/tests/test_contract.py}) read the same files, so a key, a default, a dtype or a count that
 * changes on one side fails the other side's tests.
 *
 * <ul>
 *   <li>{@code contract/plans/<job>.json}: the plan-v1 document ({@code bin/moe-plan --output json}, the plan
 *       ConfigMap's content indented) of each job in {@code contract/jobs/} and of {@code examples/tiny-cpu.yaml};</li>
 *   <li>{@code contract/trainer-contract.json}: every constant of {@link TrainerContract} (env names, paths, exit
 *       codes, the progress annotation), the plan's apiVersion and the dataset kinds and token dtypes.</li>
 * </ul>
 * The files are generated into {@code plan-engine/target/contract/}; to accept a change, copy them:
 * {@code cp -r plan-engine/target/contract/. contract/} (after
 * {@code mvn -B -ntp -o -pl plan-engine -am test -Dtest=ContractDriftTest -Dsurefire.failIfNoSpecifiedTests=false}).
 */
class ContractDriftTest {

    static final Path ROOT = MoePlanCliTest.ROOT;
    static final Path COMMITTED = ROOT.resolve("contract");
    static final Path GENERATED = Path.of("target", "contract").toAbsolutePath();
    static final String REGENERATE = "mvn -B -ntp -o -pl plan-engine -am test -Dtest=ContractDriftTest"
            + " -Dsurefire.failIfNoSpecifiedTests=false && cp -r plan-engine/target/contract/. contract/";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** The example jobs: every file of contract/jobs/, plus the e2e tests' job. */
    static List<Path> jobs() throws IOException {
        List<Path> jobs = new ArrayList<>();
        try (Stream<Path> s = Files.list(COMMITTED.resolve("jobs"))) {
            s.filter(p -> p.toString().endsWith(".yaml")).forEach(jobs::add);
        }
        jobs.add(ROOT.resolve("examples/tiny-cpu.yaml"));
        jobs.sort(Comparator.comparing(p -> p.getFileName().toString()));
        return jobs;
    }

    static String planName(Path job) {
        String f = job.getFileName().toString();
        return f.substring(0, f.length() - ".yaml".length()) + ".json";
    }

    /** The text bin/moe-plan --output json prints for one job. */
    static String planDocument(Path job) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = MoePlanCli.run(
                new String[] {"--output", "json", job.toString()},
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(status)
                .as(job + " must be a valid job: " + err.toString(StandardCharsets.UTF_8))
                .isZero();
        return out.toString(StandardCharsets.UTF_8);
    }

    /** contract/trainer-contract.json: the shared names and numbers, sorted by name. */
    static String constantsDocument() throws IOException {
        ObjectNode doc = JSON.createObjectNode();
        doc.put("planApiVersion", Plan.API_VERSION);
        ArrayNode types = doc.putArray("datasetTypes");
        Arrays.stream(TrainingSpec.DatasetType.values()).forEach(v -> types.add(v.name()));
        ArrayNode dtypes = doc.putArray("tokenDtypes");
        Arrays.stream(TrainingSpec.TokenDtype.values()).forEach(v -> dtypes.add(v.name()));
        Map<String, Object> constants = new TreeMap<>();
        for (Field f : TrainerContract.class.getFields()) {
            int m = f.getModifiers();
            if (Modifier.isStatic(m) && Modifier.isFinal(m)) {
                try {
                    constants.put(f.getName(), f.get(null));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        doc.set("trainerContract", JSON.valueToTree(constants));
        return JSON.writeValueAsString(doc) + System.lineSeparator();
    }

    static void write(Path file, String text) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
    }

    @Test
    void committed_contract_files_match_what_the_code_produces() throws IOException {
        List<String> expected = new ArrayList<>();
        List<String> stale = new ArrayList<>();
        for (Path job : jobs()) {
            String name = "plans/" + planName(job);
            String text = planDocument(job);
            write(GENERATED.resolve(name), text);
            expected.add(name);
            Path committed = COMMITTED.resolve(name);
            if (!Files.exists(committed) || !Files.readString(committed).equals(text)) {
                stale.add("contract/" + name);
            }
        }
        String constants = constantsDocument();
        write(GENERATED.resolve("trainer-contract.json"), constants);
        Path committedConstants = COMMITTED.resolve("trainer-contract.json");
        if (!Files.exists(committedConstants)
                || !Files.readString(committedConstants).equals(constants)) {
            stale.add("contract/trainer-contract.json");
        }
        assertThat(stale)
                .as("these committed contract files differ from what the plan engine and TrainerContract"
                        + " produce now (the trainer's tests read them); if the change is intended, regenerate and commit: "
                        + REGENERATE)
                .isEmpty();
        try (Stream<Path> s = Files.list(COMMITTED.resolve("plans"))) {
            assertThat(s.map(p -> "plans/" + p.getFileName()))
                    .as("contract/plans/ holds no plan of a job that no longer exists (remove it)")
                    .allMatch(expected::contains);
        }
    }
}
