package dev.moe.plan.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.moe.api.v1alpha1.TolerantJobReading;
import dev.moe.plan.PlanEngine;
import dev.moe.plan.PlanError;
import dev.moe.plan.PlanResult;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code bin/moe-plan [--output text|json] [--full] FILE...}: the offline check of MoETrainingJob files for
 * GitOps pipelines. No cluster needed. For every MoETrainingJob document (multi-document YAML works; other kinds
 * are skipped) it prints the plan or the errors.
 *
 * <p>Exit status: 0 when every job is valid, 1 when any job is invalid, 2 on usage or read errors.
 */
public final class MoePlanCli {
    public static final int OK = 0;
    public static final int INVALID = 1;
    public static final int USAGE = 2;

    static final String API_VERSION = "training.moe.dev/v1alpha1";
    static final String KIND = "MoETrainingJob";

    /**
     * What the parsers accept: names (map keys) up to the API server's 3 MB request size instead of Jackson's
     * 50,000 characters, so that a job the API server would read is checked by the rules rather than refused as
     * unreadable. Nesting and string lengths keep Jackson's and SnakeYAML's limits (a read error beyond them).
     */
    private static final StreamReadConstraints READ_LIMITS =
            StreamReadConstraints.builder().maxNameLength(3_000_000).build();

    private static final ObjectMapper JSON_READER = new ObjectMapper(
            JsonFactory.builder().streamReadConstraints(READ_LIMITS).build());
    private static final ObjectMapper YAML_READER = new ObjectMapper(
            YAMLFactory.builder().streamReadConstraints(READ_LIMITS).build());

    private MoePlanCli() {}

    public static void main(String[] args) {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
        System.exit(run(args, out, err));
    }

    /** Runs the check; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        boolean json = false;
        boolean full = false;
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                usage(out);
                return OK;
            } else if (a.equals("--full")) {
                full = true;
            } else if (a.equals("-o") || a.equals("--output")) {
                if (i + 1 >= args.length) {
                    usage(err);
                    return USAGE;
                }
                String fmt = args[++i];
                if (!fmt.equals("json") && !fmt.equals("text")) {
                    err.println("moe-plan: --output must be text or json, not " + fmt);
                    return USAGE;
                }
                json = fmt.equals("json");
            } else if (a.startsWith("--output=")) {
                String fmt = a.substring("--output=".length());
                if (!fmt.equals("json") && !fmt.equals("text")) {
                    err.println("moe-plan: --output must be text or json, not " + fmt);
                    return USAGE;
                }
                json = fmt.equals("json");
            } else if (a.startsWith("-") && !a.equals("-")) {
                err.println("moe-plan: unknown option " + a);
                usage(err);
                return USAGE;
            } else {
                files.add(Path.of(a));
            }
        }
        if (files.isEmpty()) {
            usage(err);
            return USAGE;
        }

        ObjectMapper yaml = YAML_READER;
        ObjectMapper jsonMapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        List<JsonNode> plans = new ArrayList<>();
        int status = OK;
        for (Path file : files) {
            List<JsonNode> docs;
            try {
                docs = readDocuments(yaml, file);
            } catch (IOException e) {
                err.println(file + ": cannot read: " + oneLine(e));
                status = Math.max(status, USAGE);
                continue;
            }
            int jobs = 0;
            for (JsonNode doc : docs) {
                if (doc == null
                        || doc.isNull()
                        || doc.isMissingNode()
                        || !KIND.equals(doc.path("kind").asText())) {
                    continue;
                }
                jobs++;
                String name = doc.path("metadata").path("name").asText("");
                String namespace = doc.path("metadata").path("namespace").asText("default");
                String label = file + ": " + KIND + " " + namespace + "/" + (name.isEmpty() ? "<no name>" : name);
                PlanResult result;
                if (!API_VERSION.equals(doc.path("apiVersion").asText())) {
                    result = new PlanResult(
                            null,
                            List.of(new PlanError(
                                    "ApiVersion",
                                    "apiVersion",
                                    doc.path("apiVersion").asText(),
                                    "is not served",
                                    "use " + API_VERSION)),
                            List.of(),
                            List.of());
                } else if (name.isEmpty()) {
                    result = new PlanResult(
                            null,
                            List.of(new PlanError(
                                    "FieldRequired", "metadata.name", null, "is required", "name the job")),
                            List.of(),
                            List.of());
                } else {
                    // the same reading of the spec as the operator's (TolerantJobReading), then the same engine
                    JsonNode spec = doc.get("spec");
                    result = withSchemaErrors(
                            PlanEngine.plan(namespace, name, TolerantJobReading.readSpec(spec)),
                            SchemaCheck.check(spec));
                }
                if (!result.isValid()) {
                    status = Math.max(status, INVALID);
                    PrintStream where = json ? err : out;
                    where.println(label + ": INVALID");
                    for (PlanError e : result.errors()) {
                        where.println("  error: " + e.message());
                    }
                    for (String w : result.warnings()) {
                        where.println("  warning: " + w);
                    }
                } else if (json) {
                    plans.add(result.plan().toJson());
                } else {
                    out.println(label + ": valid");
                    PlanText.print(result.plan(), full, out);
                }
            }
            if (jobs == 0) {
                err.println(file + ": no " + KIND + " found");
                status = Math.max(status, INVALID);
            }
        }
        if (json && !plans.isEmpty()) {
            try {
                if (plans.size() == 1) {
                    out.println(jsonMapper.writeValueAsString(plans.get(0)));
                } else {
                    ArrayNode arr = jsonMapper.createArrayNode();
                    plans.forEach(arr::add);
                    out.println(jsonMapper.writeValueAsString(arr));
                }
            } catch (JsonProcessingException e) {
                err.println("moe-plan: " + e.getMessage());
                return USAGE;
            }
        }
        return status;
    }

    /**
     * The engine's result plus what the CRD's schema refuses in fields the engine did not already report (the
     * engine's message, with the reason for a limit, is the better one); invalid if either found a problem.
     */
    static PlanResult withSchemaErrors(PlanResult engine, List<PlanError> schemaErrors) {
        List<PlanError> errors = new ArrayList<>(engine.errors());
        for (PlanError s : schemaErrors) {
            boolean reported = engine.errors().stream()
                    .anyMatch(e -> e.field().equals(s.field())
                            || e.field().startsWith(s.field() + ".")
                            || e.field().startsWith(s.field() + "[")
                            || s.field().startsWith(e.field() + ".")
                            || s.field().startsWith(e.field() + "["));
            if (!reported) {
                errors.add(s);
            }
        }
        if (errors.isEmpty()) {
            return engine;
        }
        return new PlanResult(null, List.copyOf(errors), engine.warnings(), engine.suggestions());
    }

    /** A read error on one line: the parser's message without its source excerpt, and where it happened. */
    static String oneLine(IOException e) {
        String message = e instanceof JsonProcessingException j && j.getOriginalMessage() != null
                ? j.getOriginalMessage()
                : String.valueOf(e.getMessage());
        message = message.replaceAll("\\s+", " ").strip();
        if (message.length() > 300) {
            message = message.substring(0, 300) + "...";
        }
        if (e instanceof JsonProcessingException j
                && j.getLocation() != null
                && j.getLocation().getLineNr() > 0) {
            message += " (line " + j.getLocation().getLineNr() + ", column "
                    + j.getLocation().getColumnNr() + ")";
        }
        return message;
    }

    /**
     * The documents of a file: JSON for a .json file, YAML (multi-document) otherwise; YAML text that starts like
     * JSON is tried as JSON first. JSON is read as JSON because a JSON file may hold characters YAML does not allow.
     */
    static List<JsonNode> readDocuments(ObjectMapper yaml, Path file) throws IOException {
        String text = file.toString().equals("-")
                ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8)
                : Files.readString(file, StandardCharsets.UTF_8);
        if (file.toString().endsWith(".json")) {
            return read(JSON_READER, text);
        }
        String start = text.stripLeading();
        if (start.startsWith("{") || start.startsWith("[")) {
            try {
                return read(JSON_READER, text);
            } catch (IOException notJson) {
                // flow-style YAML such as {kind: MoETrainingJob, ...}: read it as YAML below
            }
        }
        return read(yaml, text);
    }

    private static List<JsonNode> read(ObjectMapper mapper, String text) throws IOException {
        List<JsonNode> docs = new ArrayList<>();
        try (MappingIterator<JsonNode> it = mapper.readerFor(JsonNode.class).readValues(text)) {
            while (it.hasNextValue()) {
                docs.add(it.nextValue());
            }
        }
        return docs;
    }

    private static void usage(PrintStream s) {
        s.println("usage: moe-plan [--output text|json] [--full] FILE...");
        s.println("  Checks MoETrainingJob files offline and prints each job's plan or its errors.");
        s.println("  --output json  print the plan document (docs/contract.md); an array for several jobs");
        s.println("  --full         print every rank of the layout (text output abbreviates big worlds)");
        s.println("  exit status: 0 all valid, 1 some job invalid, 2 usage or read error");
    }
}
