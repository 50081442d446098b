package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the JSON shape of a MoETrainingJob {@code spec} (as the API server stores it, or as written in a YAML
 * file) into a {@link PlanInput}. The operator serialises its CRD spec object to a JsonNode and calls this too,
 * so the cluster and the offline check run one code path.
 *
 * <p>Defaults are {@link SpecDefaults}, the same constants the CRD declares with {@code @Default}; like the API
 * server, they are applied inside objects that exist. {@link #withDefaults} additionally creates the optional
 * objects whose fields all have defaults (parallelism, training, training.dataset, restartPolicy).
 */
public final class JobSpecConverter {
    private JobSpecConverter() {
    }

    /** Kinds of defaulted values. */
    private enum Type { INT, LONG, NUMBER, BOOL, STRING }

    /** Spec path (dot-separated, below spec) → default value and its type. Mirrors the CRD's @Default. */
    private static final Map<String, Object[]> DEFAULTS = new LinkedHashMap<>();

    static {
        DEFAULTS.put("parallelism.tensor", new Object[] {SpecDefaults.TENSOR, Type.INT});
        DEFAULTS.put("parallelism.expert", new Object[] {SpecDefaults.EXPERT, Type.INT});
        DEFAULTS.put("parallelism.context", new Object[] {SpecDefaults.CONTEXT, Type.INT});
        DEFAULTS.put("resources.gpusPerNode", new Object[] {SpecDefaults.GPUS_PER_NODE, Type.INT});
        DEFAULTS.put("resources.gpuMemoryGiB", new Object[] {SpecDefaults.GPU_MEMORY_GIB, Type.INT});
        DEFAULTS.put("training.seqLength", new Object[] {SpecDefaults.SEQ_LENGTH, Type.INT});
        DEFAULTS.put("training.microBatchSize", new Object[] {SpecDefaults.MICRO_BATCH_SIZE, Type.INT});
        DEFAULTS.put("training.activationCheckpointing",
                new Object[] {SpecDefaults.ACTIVATION_CHECKPOINTING, Type.BOOL});
        DEFAULTS.put("training.steps", new Object[] {SpecDefaults.STEPS, Type.INT});
        DEFAULTS.put("training.learningRate", new Object[] {SpecDefaults.LEARNING_RATE, Type.NUMBER});
        DEFAULTS.put("training.minLearningRate", new Object[] {SpecDefaults.MIN_LEARNING_RATE, Type.NUMBER});
        DEFAULTS.put("training.warmupSteps", new Object[] {SpecDefaults.WARMUP_STEPS, Type.INT});
        DEFAULTS.put("training.weightDecay", new Object[] {SpecDefaults.WEIGHT_DECAY, Type.NUMBER});
        DEFAULTS.put("training.gradClip", new Object[] {SpecDefaults.GRAD_CLIP, Type.NUMBER});
        DEFAULTS.put("training.seed", new Object[] {SpecDefaults.SEED, Type.LONG});
        DEFAULTS.put("training.checkpoint.everySteps", new Object[] {SpecDefaults.CHECKPOINT_EVERY_STEPS, Type.INT});
        DEFAULTS.put("training.dataset.type", new Object[] {SpecDefaults.DATASET_TYPE, Type.STRING});
        DEFAULTS.put("training.dataset.dtype", new Object[] {SpecDefaults.DATASET_DTYPE, Type.STRING});
        DEFAULTS.put("restartPolicy.maxRestarts", new Object[] {SpecDefaults.MAX_RESTARTS, Type.INT});
        DEFAULTS.put("restartPolicy.backoffSeconds", new Object[] {SpecDefaults.BACKOFF_SECONDS, Type.INT});
        DEFAULTS.put("restartPolicy.maxBackoffSeconds", new Object[] {SpecDefaults.MAX_BACKOFF_SECONDS, Type.INT});
        DEFAULTS.put("restartPolicy.gangSchedulingTimeoutSeconds",
                new Object[] {SpecDefaults.GANG_SCHEDULING_TIMEOUT_SECONDS, Type.INT});
        DEFAULTS.put("suspend", new Object[] {SpecDefaults.SUSPEND, Type.BOOL});
    }

    /** Optional objects that {@link #withDefaults} creates when absent (all their fields are optional). */
    private static final List<String> CREATED_OBJECTS =
            List.of("parallelism", "training", "training.dataset", "restartPolicy");

    /** Every default this converter applies, path below spec → JSON value (for the CRD comparison test). */
    public static Map<String, JsonNode> defaults() {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        DEFAULTS.forEach((path, d) -> out.put(path, toJson((String) d[0], (Type) d[1])));
        return Collections.unmodifiableMap(out);
    }

    /**
     * A copy of {@code spec} with every default applied: optional objects without required fields are created,
     * then each missing field with a default is set inside objects that exist (as the API server does).
     */
    public static ObjectNode withDefaults(JsonNode spec) {
        ObjectNode copy = spec != null && spec.isObject() ? ((ObjectNode) spec).deepCopy()
                : JsonNodeFactory.instance.objectNode();
        for (String path : CREATED_OBJECTS) {
            ObjectNode parent = objectAt(copy, parentPath(path));
            String leaf = leaf(path);
            if (parent != null && (!parent.has(leaf) || parent.get(leaf).isNull())) {
                parent.putObject(leaf);
            }
        }
        for (Map.Entry<String, Object[]> e : DEFAULTS.entrySet()) {
            ObjectNode parent = objectAt(copy, parentPath(e.getKey()));
            String leaf = leaf(e.getKey());
            if (parent != null && (!parent.has(leaf) || parent.get(leaf).isNull())) {
                parent.set(leaf, toJson((String) e.getValue()[0], (Type) e.getValue()[1]));
            }
        }
        return copy;
    }

    /**
     * Converts a job spec. Type problems, missing required fields and numbers outside {@link SpecLimits} are added
     * to {@code errors}; the result is null when the spec cannot be read at all. When {@code errors} gained
     * anything, the returned input holds placeholders for the fields at fault and must not be planned.
     */
    public static PlanInput toInput(String namespace, String name, JsonNode rawSpec, List<PlanError> errors) {
        if (rawSpec == null || !rawSpec.isObject()) {
            errors.add(new PlanError("SpecMissing", "spec", rawSpec == null ? null : rawSpec.toString(),
                    "is missing or not an object", "write spec.model, spec.parallelism and spec.resources"));
            return null;
        }
        ObjectNode spec = withDefaults(rawSpec);
        for (String object : List.of("model", "parallelism", "resources", "training", "training.checkpoint",
                "training.dataset", "trainer", "placement", "restartPolicy", "nccl")) {
            JsonNode n = at(spec, object);
            if (!n.isMissingNode() && !n.isNull() && !n.isObject()) {
                errors.add(new PlanError("FieldType", "spec." + object, n.toString(), "is not an object",
                        "write an object (a map of fields)"));
            }
        }
        RangeRules.checkSpec(spec, errors);
        Reader r = new Reader(spec, errors);
        String preset = r.string("model.preset", false); // PlanEngine reports a missing or unknown preset
        JsonNode overrides = spec.path("model").get("config");
        String modelCheckpointPath = spec.path("model").has("checkpoint")
                ? r.string("model.checkpoint.path", true) : null;
        int tensor = r.integer("parallelism.tensor");
        int expert = r.integer("parallelism.expert");
        int context = r.integer("parallelism.context");
        Integer data = r.optionalInteger("parallelism.data");
        int nodes = r.requiredInteger("resources.nodes");
        int gpusPerNode = r.integer("resources.gpusPerNode");
        int gpuMemoryGiB = r.integer("resources.gpuMemoryGiB");
        String gpuProduct = r.string("resources.gpuProduct", false);
        int seqLength = r.integer("training.seqLength");
        int microBatchSize = r.integer("training.microBatchSize");
        boolean activationCheckpointing = r.bool("training.activationCheckpointing");
        Integer globalBatchSize = r.optionalInteger("training.globalBatchSize");
        int steps = r.integer("training.steps");
        double lr = r.number("training.learningRate");
        double minLr = r.number("training.minLearningRate");
        int warmup = r.integer("training.warmupSteps");
        double wd = r.number("training.weightDecay");
        double clip = r.number("training.gradClip");
        long seed = r.longValue("training.seed");
        boolean hasCheckpoint = spec.path("training").has("checkpoint");
        String checkpointDir = null;
        int everySteps = Integer.parseInt(SpecDefaults.CHECKPOINT_EVERY_STEPS);
        if (hasCheckpoint) {
            r.string("training.checkpoint.claimName", true);
            checkpointDir = TrainerContract.CHECKPOINT_DIR;
            everySteps = r.integer("training.checkpoint.everySteps");
        }
        String datasetType = r.string("training.dataset.type", true);
        String datasetPath = r.string("training.dataset.path", false);
        String datasetDtype = r.string("training.dataset.dtype", true);
        List<String> topologyKeys = new ArrayList<>();
        JsonNode keys = spec.path("placement").path("topologyKeys");
        if (keys.isArray()) {
            // WorkloadRules reports a list that is too long or holds non-strings; only strings are kept here
            keys.forEach(k -> {
                if (k.isTextual() && topologyKeys.size() < SpecLimits.MAX_TOPOLOGY_KEYS) {
                    topologyKeys.add(k.textValue());
                }
            });
        }
        return new PlanInput(namespace, name, preset, overrides, modelCheckpointPath, tensor, expert, context, data,
                nodes, gpusPerNode, gpuMemoryGiB, gpuProduct, seqLength, microBatchSize, activationCheckpointing,
                globalBatchSize, steps, lr, minLr, warmup, wd, clip, seed, checkpointDir, everySteps, datasetType,
                datasetPath, datasetDtype, List.copyOf(topologyKeys));
    }

    private static JsonNode toJson(String value, Type type) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        switch (type) {
            case INT:
                return f.numberNode(Integer.parseInt(value));
            case LONG:
                return f.numberNode(Long.parseLong(value));
            case NUMBER:
                return f.numberNode(Double.parseDouble(value));
            case BOOL:
                return f.booleanNode(Boolean.parseBoolean(value));
            default:
                return f.textNode(value);
        }
    }

    private static String parentPath(String path) {
        int i = path.lastIndexOf('.');
        return i < 0 ? "" : path.substring(0, i);
    }

    private static String leaf(String path) {
        return path.substring(path.lastIndexOf('.') + 1);
    }

    private static ObjectNode objectAt(ObjectNode root, String path) {
        JsonNode n = root;
        if (!path.isEmpty()) {
            for (String part : path.split("\\.")) {
                n = n.get(part);
                if (n == null || !n.isObject()) {
                    return null;
                }
            }
        }
        return (ObjectNode) n;
    }

    private static JsonNode at(JsonNode root, String path) {
        JsonNode n = root;
        for (String part : path.split("\\.")) {
            n = n.path(part);
        }
        return n;
    }

    /**
     * Typed reads that record errors (and return a harmless placeholder) instead of throwing. Integers are
     * type- and range-checked by {@link RangeRules#checkSpec} (every integer field of a PlanInput has a range), so
     * the integer reads here only return the value, or 1 when it is not a valid int.
     */
    private static final class Reader {
        private final JsonNode spec;
        private final List<PlanError> errors;

        Reader(JsonNode spec, List<PlanError> errors) {
            this.spec = spec;
            this.errors = errors;
        }

        int integer(String path) {
            Integer v = optionalInteger(path);
            return v == null ? 1 : v;
        }

        int requiredInteger(String path) {
            JsonNode n = at(spec, path);
            if ((n.isMissingNode() && !underNonObject(path)) || n.isNull()) {
                errors.add(new PlanError("FieldRequired", "spec." + path, null, "is required",
                        "set spec." + path));
                return 1;
            }
            return integer(path);
        }

        Integer optionalInteger(String path) {
            JsonNode n = at(spec, path);
            if (n.isMissingNode() || n.isNull()) {
                return null;
            }
            BigDecimal v = RangeRules.integral(n);
            return v != null && v.compareTo(INT_MIN) >= 0 && v.compareTo(INT_MAX) <= 0 ? v.intValue() : 1;
        }

        /** Whether a missing {@code path} is because its parent is not an object (reported once, for the parent). */
        boolean underNonObject(String path) {
            String parent = parentPath(path);
            return !parent.isEmpty() && objectAt((ObjectNode) spec, parent) == null;
        }

        boolean bool(String path) {
            JsonNode n = at(spec, path);
            if (n.isBoolean()) {
                return n.booleanValue();
            }
            if (n.isMissingNode() && underNonObject(path)) {
                return true;
            }
            errors.add(new PlanError("FieldType", "spec." + path, n.toString(), "is not a boolean",
                    "write true or false without quotes"));
            return true;
        }

        long longValue(String path) {
            JsonNode n = at(spec, path);
            BigDecimal v = RangeRules.integral(n);
            return v != null && v.compareTo(LONG_MIN) >= 0 && v.compareTo(LONG_MAX) <= 0 ? v.longValue() : 0;
        }

        double number(String path) {
            JsonNode n = at(spec, path);
            if (n.isNumber() && Double.isFinite(n.doubleValue())) {
                return n.doubleValue();
            }
            if (n.isMissingNode() && underNonObject(path)) {
                return 0;
            }
            errors.add(new PlanError("FieldType", "spec." + path, n.isNumber() ? n.asText() : n.toString(),
                    n.isNumber() ? "is not a finite number" : "is not a number",
                    n.isNumber() ? "write a finite number, e.g. 3e-4" : "write a number without quotes, e.g. 3e-4"));
            return 0;
        }

        String string(String path, boolean required) {
            JsonNode n = at(spec, path);
            if (n.isMissingNode() || n.isNull()) {
                if (required && !(n.isMissingNode() && underNonObject(path))) {
                    errors.add(new PlanError("FieldRequired", "spec." + path, null, "is required",
                            "set spec." + path));
                }
                return null;
            }
            if (!n.isTextual()) {
                errors.add(new PlanError("FieldType", "spec." + path, n.toString(), "is not a string",
                        "write a string"));
                return null;
            }
            return n.textValue();
        }
    }

    private static final BigDecimal INT_MIN = BigDecimal.valueOf(Integer.MIN_VALUE);
    private static final BigDecimal INT_MAX = BigDecimal.valueOf(Integer.MAX_VALUE);
    private static final BigDecimal LONG_MIN = BigDecimal.valueOf(Long.MIN_VALUE);
    private static final BigDecimal LONG_MAX = BigDecimal.valueOf(Long.MAX_VALUE);
}
