package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.SpecLimits;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A seeded generator of job specs a hostile or careless user could write: a plausible job, then a few mutations,
 * each setting a field (known, misspelt or unknown, at any depth) to a boundary or garbage value — 0, −1, 2^31−1,
 * 2^31, 2^63, −2^63, 2^64, 10^30, ±1e308, NaN, ∞, huge strings, control characters, wrong JSON types, nested
 * garbage, big lists and maps — or replacing a whole object. Deterministic for a seed, so a failure reproduces.
 */
public final class HostileSpecs {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    /**
     * Every field of the spec (list items as [i]), plus misspellings and fields that do not exist; the fields of
     * the API types are added by reflection, so a field added later is fuzzed without a change here.
     */
    static final List<String> PATHS = new ArrayList<>(List.of(
            "model",
            "model.preset",
            "model.config",
            "model.checkpoint",
            "model.checkpoint.claimName",
            "model.checkpoint.path",
            "parallelism",
            "parallelism.tensor",
            "parallelism.expert",
            "parallelism.context",
            "parallelism.data",
            "resources",
            "resources.nodes",
            "resources.gpusPerNode",
            "resources.gpuProduct",
            "resources.gpuMemoryGiB",
            "training",
            "training.seqLength",
            "training.microBatchSize",
            "training.activationCheckpointing",
            "training.globalBatchSize",
            "training.steps",
            "training.learningRate",
            "training.minLearningRate",
            "training.warmupSteps",
            "training.weightDecay",
            "training.gradClip",
            "training.seed",
            "training.checkpoint",
            "training.checkpoint.claimName",
            "training.checkpoint.everySteps",
            "training.dataset",
            "training.dataset.type",
            "training.dataset.claimName",
            "training.dataset.path",
            "training.dataset.dtype",
            "trainer",
            "trainer.image",
            "trainer.command",
            "trainer.args",
            "trainer.env",
            "trainer.env[0]",
            "trainer.env[0].name",
            "trainer.env[0].value",
            "trainer.env[0].valueFrom",
            "trainer.env[0].valueFrom.fieldRef",
            "trainer.env[0].valueFrom.fieldRef.fieldPath",
            "trainer.env[0].valueFrom.secretKeyRef",
            "trainer.env[0].valueFrom.resourceFieldRef",
            "trainer.env[0].valueFrom.resourceFieldRef.divisor",
            "placement",
            "placement.topologyKeys",
            "placement.topologyKeys[0]",
            "placement.queueName",
            "placement.nodeSelector",
            "placement.nodeSelector.pool",
            "placement.tolerations",
            "placement.tolerations[0]",
            "placement.tolerations[0].key",
            "placement.tolerations[0].operator",
            "placement.tolerations[0].value",
            "placement.tolerations[0].effect",
            "placement.tolerations[0].tolerationSeconds",
            "restartPolicy",
            "restartPolicy.maxRestarts",
            "restartPolicy.backoffSeconds",
            "restartPolicy.maxBackoffSeconds",
            "restartPolicy.nonRetryableExitCodes",
            "restartPolicy.nonRetryableExitCodes[0]",
            "restartPolicy.gangSchedulingTimeoutSeconds",
            "nccl",
            "nccl.socketIfname",
            "nccl.ibHca",
            "nccl.extraEnv",
            "nccl.extraEnv.NCCL_DEBUG",
            "suspend",
            "paralelism.tensor",
            "resources.node",
            "unknown",
            "unknown.deeper.still",
            "status"));

    static {
        for (String k : ModelConfig.KEYS.keySet()) {
            PATHS.add("model.config." + k);
            PATHS.add("model.config." + ModelConfig.toCamelCase(k));
            PATHS.add("model.config." + ModelConfig.toCamelCase(k));
        }
        PATHS.add("model.config.mlpOnlyLayers[0]");
        PATHS.add("model.config.notASetting");
        addFields(MoETrainingJobSpec.class, ""); // and every field of the API types, so a new one is tried too
    }

    /** The fields of {@code type} and of the spec types below it (a list's first item as [0]) not yet in PATHS. */
    private static void addFields(Class<?> type, String path) {
        for (Field f : type.getFields()) {
            if (Modifier.isStatic(f.getModifiers())) {
                continue;
            }
            String child = path + f.getName();
            if (!PATHS.contains(child)) {
                PATHS.add(child);
            }
            if (isSpecType(f.getType())) {
                addFields(f.getType(), child + ".");
            } else if (f.getGenericType() instanceof ParameterizedType p
                    && List.class.isAssignableFrom(f.getType())
                    && p.getActualTypeArguments()[0] instanceof Class<?> item) {
                if (!PATHS.contains(child + "[0]")) {
                    PATHS.add(child + "[0]");
                }
                if (isSpecType(item)) {
                    addFields(item, child + "[0].");
                }
            }
        }
    }

    private static boolean isSpecType(Class<?> type) {
        return type.getPackage() == MoETrainingJobSpec.class.getPackage() && !type.isEnum();
    }

    private final Random random;
    /** Nesting depth of generated garbage; a YAML file is limited to less by its parser (a read error). */
    private final int maxDepth;

    public HostileSpecs(long seed, int maxDepth) {
        this.random = new Random(seed);
        this.maxDepth = maxDepth;
    }

    /**
     * A job spec: a valid one with hostile mutations (none in a fifth of the cases, exactly one in a third, so
     * that a single bad value meets an otherwise valid job and reaches the deepest rules; up to six otherwise),
     * or, rarely, not an object at all.
     */
    public JsonNode spec() {
        if (random.nextInt(50) == 0) {
            return value(0);
        }
        ObjectNode spec = plausible();
        int roll = random.nextInt(15);
        int mutations = roll < 3 ? 0 : roll < 8 ? 1 : 2 + random.nextInt(5);
        for (int i = 0; i < mutations; i++) {
            set(spec, PATHS.get(random.nextInt(PATHS.size())), value(0));
        }
        return spec;
    }

    /** A job name: usually valid, sometimes not (too long, dots, capitals, empty, huge, odd characters). */
    public String name() {
        switch (random.nextInt(8)) {
            case 0:
                return "x".repeat(random.nextInt(300));
            case 1:
                return "My.Job";
            case 2:
                return "j" + "-a".repeat(random.nextInt(40));
            case 3:
                return string();
            default:
                return "job-" + random.nextInt(1000);
        }
    }

    /** Valid jobs (PlanEnginePropertiesTest checks that the unmutated ones plan). */
    private static final String[] VALID = {
        "{model: {preset: tiny-moe}, parallelism: {tensor: 2, expert: 2}, resources: {nodes: 2, gpusPerNode: 2},"
                + " training: {seqLength: 64, microBatchSize: 2, globalBatchSize: 8, steps: 20, warmupSteps: 2}}",
        "{model: {preset: tiny-moe}, parallelism: {tensor: 1, expert: 8}, resources: {nodes: 64, gpusPerNode: 16},"
                + " training: {seqLength: 128}}",
        "{model: {preset: qwen3-30b-a3b}, parallelism: {tensor: 1, expert: 8}, resources: {nodes: 8, gpusPerNode: 8},"
                + " training: {seqLength: 4096, microBatchSize: 1, globalBatchSize: 512}}",
        "{model: {preset: qwen3-30b-a3b}, parallelism: {tensor: 2, expert: 32}, resources: {nodes: 8,"
                + " gpusPerNode: 8}, placement: {topologyKeys: [topology.kubernetes.io/rack]}}",
        "{model: {preset: qwen3-235b-a22b}, parallelism: {tensor: 1, expert: 64}, resources: {nodes: 16,"
                + " gpusPerNode: 8, gpuMemoryGiB: 141}}",
    };

    /** A valid job, without mutations. */
    public JsonNode validSpec() {
        return plausible();
    }

    /** The boundary and wrong-type values every field is tried with, one at a time. */
    public static List<JsonNode> boundaryValues() {
        return List.of(
                F.numberNode(0),
                F.numberNode(-1),
                F.numberNode(Integer.MAX_VALUE),
                F.numberNode(1L << 31),
                F.numberNode(Long.MAX_VALUE),
                F.numberNode(BigInteger.TWO.pow(63)),
                F.numberNode(Long.MIN_VALUE),
                F.numberNode(BigInteger.TWO.pow(64)),
                F.numberNode(new BigInteger("1" + "0".repeat(30))),
                F.numberNode(1.5),
                F.numberNode(Double.NaN),
                F.numberNode(Double.POSITIVE_INFINITY),
                F.numberNode(1e308),
                F.textNode("12"),
                F.textNode(""),
                F.textNode("x".repeat(1 << 20)),
                F.textNode("a b\u0000"),
                F.booleanNode(true),
                F.nullNode(),
                F.arrayNode(),
                F.objectNode(),
                F.arrayNode().add(F.objectNode().put("a", 1)));
    }

    /** Valid job number {@code i} (modulo the number of templates) with {@code path} set to {@code value}. */
    public static ObjectNode validWith(int i, String path, JsonNode value) {
        ObjectNode spec = parse(VALID[Math.floorMod(i, VALID.length)]);
        set(spec, path, value.deepCopy());
        return spec;
    }

    private static ObjectNode parse(String yaml) {
        try {
            return (ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper(
                            new com.fasterxml.jackson.dataformat.yaml.YAMLFactory())
                    .readTree(yaml);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private ObjectNode plausible() {
        ObjectNode spec = parse(VALID[random.nextInt(VALID.length)]);
        if (random.nextBoolean()) {
            (spec.has("training") ? (ObjectNode) spec.get("training") : spec.putObject("training"))
                    .putObject("checkpoint")
                    .put("claimName", "ckpt")
                    .put("everySteps", 100);
        }
        if (random.nextBoolean()) {
            ObjectNode trainer = spec.putObject("trainer");
            trainer.put("image", "registry.example/trainer:1");
            trainer.putArray("env").addObject().put("name", "NCCL_DEBUG").put("value", "INFO");
            trainer.putArray("args").add("--log-every").add("10");
        }
        if (random.nextBoolean()) {
            ((ObjectNode) spec.get("model"))
                    .putObject("checkpoint")
                    .put("claimName", "weights")
                    .put("path", "/models/m");
        }
        if (random.nextBoolean()) {
            ObjectNode placement =
                    spec.has("placement") ? (ObjectNode) spec.get("placement") : spec.putObject("placement");
            placement.putObject("nodeSelector").put("pool", "gpu");
            placement
                    .putArray("tolerations")
                    .addObject()
                    .put("key", "nvidia.com/gpu")
                    .put("operator", "Exists");
        }
        return spec;
    }

    /** Sets the dotted {@code path} (list items as name[i]) in {@code root}, creating or replacing containers. */
    static void set(ObjectNode root, String path, JsonNode value) {
        String[] parts = path.split("\\.");
        JsonNode node = root;
        for (int i = 0; i < parts.length; i++) {
            boolean last = i == parts.length - 1;
            String part = parts[i];
            int bracket = part.indexOf('[');
            String name = bracket < 0 ? part : part.substring(0, bracket);
            ObjectNode parent = (ObjectNode) node;
            if (bracket < 0) {
                if (last) {
                    parent.set(name, value);
                    return;
                }
                JsonNode child = parent.get(name);
                node = child != null && child.isObject() ? child : parent.putObject(name);
            } else {
                int index = Integer.parseInt(part.substring(bracket + 1, part.length() - 1));
                JsonNode child = parent.get(name);
                ArrayNode list = child != null && child.isArray() ? (ArrayNode) child : parent.putArray(name);
                while (list.size() <= index) {
                    list.addObject();
                }
                if (last) {
                    list.set(index, value);
                    return;
                }
                JsonNode item = list.get(index);
                if (!item.isObject()) {
                    item = F.objectNode();
                    list.set(index, item);
                }
                node = item;
            }
        }
    }

    /** A hostile value of any JSON type. */
    JsonNode value(int depth) {
        switch (random.nextInt(depth >= maxDepth ? 6 : 10)) {
            case 0:
            case 1:
                return integer();
            case 2:
                return number();
            case 3:
                return F.textNode(string());
            case 4:
                return random.nextBoolean() ? F.booleanNode(random.nextBoolean()) : F.nullNode();
            case 5:
                return F.textNode(String.valueOf(integer().asText()));
            case 6: {
                ArrayNode a = F.arrayNode();
                int n = random.nextInt(20) == 0 ? 10_000 : random.nextInt(4);
                for (int i = 0; i < n; i++) {
                    a.add(n > 100 ? integer() : value(depth + 1));
                }
                return a;
            }
            case 7: {
                ObjectNode o = F.objectNode();
                int n = random.nextInt(20) == 0 ? 10_000 : random.nextInt(4);
                for (int i = 0; i < n; i++) {
                    o.set(n > 100 ? "k" + i : string(), n > 100 ? integer() : value(depth + 1));
                }
                return o;
            }
            case 8:
                return deep(maxDepth - depth);
            default:
                return random.nextBoolean() ? F.arrayNode() : F.objectNode();
        }
    }

    /** Garbage nested {@code depth} levels deep. */
    private JsonNode deep(int depth) {
        JsonNode n = integer();
        for (int i = 0; i < depth; i++) {
            n = random.nextBoolean() ? F.arrayNode().add(n) : F.objectNode().set("a", n);
        }
        return n;
    }

    JsonNode integer() {
        long[] boundaries = {
            0,
            -1,
            1,
            2,
            3,
            7,
            8,
            12,
            16,
            128,
            4095,
            4096,
            4097,
            8192,
            8193,
            65_536,
            1_048_576,
            4_194_305,
            16_777_217,
            Integer.MAX_VALUE,
            Integer.MIN_VALUE,
            1L << 31,
            (1L << 32) + 8,
            536_870_913,
            536_870_912,
            1_073_741_824,
            Long.MAX_VALUE,
            Long.MIN_VALUE,
            SpecLimits.MAX_SEED,
            SpecLimits.MAX_SEED + 1
        };
        switch (random.nextInt(5)) {
            case 0:
                return F.numberNode(BigInteger.TWO
                        .pow(63 + random.nextInt(3))
                        .multiply(BigInteger.valueOf(random.nextBoolean() ? 1 : -1)));
            case 1:
                return F.numberNode(new BigInteger("1" + "0".repeat(30)));
            case 2:
                return F.numberNode(random.nextInt(300) - 100);
            default:
                return F.numberNode(boundaries[random.nextInt(boundaries.length)]);
        }
    }

    private JsonNode number() {
        double[] values = {
            0.5,
            -0.0,
            2.0,
            1e308,
            -1e308,
            Double.NaN,
            Double.POSITIVE_INFINITY,
            Double.NEGATIVE_INFINITY,
            4.9e-324,
            3e-4,
            -3e-4,
            1.0000000000000002
        };
        return random.nextInt(8) == 0
                ? F.numberNode(new BigDecimal("1e400"))
                : F.numberNode(values[random.nextInt(values.length)]);
    }

    String string() {
        String[] values = {
            "",
            " ",
            "a",
            "A",
            "12",
            "true",
            "null",
            "/../etc",
            "/data",
            "/etc/moe/x",
            "a b",
            "\u0000",
            "\n",
            "\t",
            "é",
            "\uD83D\uDE80",
            "NODE_RANK",
            "MASTER_ADDR",
            "kubernetes.io/hostname",
            "Exists",
            "Equal",
            "NoExecute",
            "tokens",
            "uint16",
            "${HOME}",
            "'); DROP",
            "a/b/c",
            "-",
            "."
        };
        switch (random.nextInt(10)) {
            case 0:
                return "x".repeat(1 << (10 + random.nextInt(11))); // 1 KiB .. 1 MiB
            case 1: {
                StringBuilder sb = new StringBuilder();
                int n = random.nextInt(40);
                for (int i = 0; i < n; i++) {
                    sb.append((char) random.nextInt(0x3000));
                }
                return sb.toString();
            }
            default:
                return values[random.nextInt(values.length)];
        }
    }
}
