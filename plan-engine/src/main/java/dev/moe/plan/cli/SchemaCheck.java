package dev.moe.plan.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.moe.plan.PlanError;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Structural check of a job spec against the OpenAPI schema of the committed CRD (bundled in the jar): what the
 * API server rejects before any CEL rule or the plan engine runs — unknown fields, wrong types, missing required
 * fields, numbers outside minimum/maximum, strings longer than maxLength or not matching their pattern, lists
 * longer than maxItems, maps with more than maxProperties, values outside an enum. The cluster does this itself;
 * the offline check needs it so that a file passing bin/moe-plan is also accepted by {@code kubectl apply}. (The
 * CRD's CEL rules are not evaluated here; the plan engine checks everything they say.)
 */
final class SchemaCheck {
    static final String CRD_RESOURCE = "/crds/moetrainingjobs.training.moe.dev-v1.yml";

    private static JsonNode specSchema;

    private SchemaCheck() {}

    /** The schema of MoETrainingJob.spec (v1alpha1), or null if the jar was built without the CRD. */
    static synchronized JsonNode specSchema() {
        if (specSchema == null) {
            try (InputStream in = SchemaCheck.class.getResourceAsStream(CRD_RESOURCE)) {
                if (in == null) {
                    return null;
                }
                JsonNode crd = new ObjectMapper(new YAMLFactory()).readTree(in);
                for (JsonNode v : crd.at("/spec/versions")) {
                    if ("v1alpha1".equals(v.path("name").asText())) {
                        specSchema = v.at("/schema/openAPIV3Schema/properties/spec");
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return specSchema;
    }

    /** Problems of {@code spec}, each naming the field. Empty when the schema accepts it. */
    static List<PlanError> check(JsonNode spec) {
        List<PlanError> errors = new ArrayList<>();
        JsonNode schema = specSchema();
        if (schema != null && spec != null && !spec.isNull()) {
            check(schema, spec, "spec", errors);
        }
        return errors;
    }

    private static void check(JsonNode schema, JsonNode value, String path, List<PlanError> errors) {
        if (value == null || value.isNull()) {
            return;
        }
        if (schema.path("x-kubernetes-int-or-string").asBoolean(false)) {
            if (!value.isIntegralNumber() && !value.isTextual()) {
                errors.add(error(path, value, "must be an integer or a string"));
            }
            return;
        }
        String type = schema.path("type").asText("");
        switch (type) {
            case "object":
                if (!value.isObject()) {
                    errors.add(error(path, value, "must be an object"));
                    return;
                }
                checkObject(schema, value, path, errors);
                return;
            case "array":
                if (!value.isArray()) {
                    errors.add(error(path, value, "must be a list"));
                    return;
                }
                if (schema.has("maxItems")
                        && value.size() > schema.get("maxItems").asLong()) {
                    errors.add(new PlanError(
                            "Schema",
                            path,
                            null,
                            "has " + value.size() + " items, more than "
                                    + schema.get("maxItems").asText(),
                            "use at most " + schema.get("maxItems").asText()));
                    return;
                }
                if (schema.has("items")) {
                    for (int i = 0; i < value.size(); i++) {
                        check(schema.get("items"), value.get(i), path + "[" + i + "]", errors);
                    }
                }
                return;
            case "integer":
                if (!value.isIntegralNumber()) {
                    errors.add(error(path, value, "must be an integer"));
                    return;
                }
                checkBounds(schema, value, path, errors);
                return;
            case "number":
                if (!value.isNumber()) {
                    errors.add(error(path, value, "must be a number"));
                    return;
                }
                checkBounds(schema, value, path, errors);
                return;
            case "boolean":
                if (!value.isBoolean()) {
                    errors.add(error(path, value, "must be true or false"));
                }
                return;
            case "string":
                if (!value.isTextual()) {
                    errors.add(error(path, value, "must be a string"));
                    return;
                }
                int length =
                        value.textValue().codePointCount(0, value.textValue().length());
                if (schema.has("maxLength") && length > schema.get("maxLength").asLong()) {
                    errors.add(new PlanError(
                            "Schema",
                            path,
                            value.asText(),
                            "has " + length + " characters, more than "
                                    + schema.get("maxLength").asText(),
                            "shorten it"));
                    return;
                }
                if (schema.has("minLength") && length < schema.get("minLength").asLong()) {
                    errors.add(new PlanError(
                            "Schema",
                            path,
                            value.asText(),
                            "has fewer than " + schema.get("minLength").asText() + " characters",
                            "write a longer value"));
                    return;
                }
                if (schema.has("pattern")
                        && !pattern(schema.get("pattern").asText())
                                .matcher(value.asText())
                                .find()) {
                    errors.add(new PlanError(
                            "Schema",
                            path,
                            value.asText(),
                            "does not match the pattern "
                                    + schema.get("pattern").asText(),
                            describeField(schema)));
                    return;
                }
                if (schema.has("enum")) {
                    List<String> allowed = new ArrayList<>();
                    schema.get("enum").forEach(e -> allowed.add(e.asText()));
                    if (!allowed.contains(value.asText())) {
                        errors.add(new PlanError(
                                "Schema",
                                path,
                                value.asText(),
                                "is not an allowed value",
                                "use one of: " + String.join(", ", allowed)));
                    }
                }
                return;
            default:
            // untyped (x-kubernetes-preserve-unknown-fields): anything goes
        }
    }

    private static void checkObject(JsonNode schema, JsonNode value, String path, List<PlanError> errors) {
        if (schema.has("maxProperties")
                && value.size() > schema.get("maxProperties").asLong()) {
            errors.add(new PlanError(
                    "Schema",
                    path,
                    null,
                    "has " + value.size() + " entries, more than "
                            + schema.get("maxProperties").asText(),
                    "use at most " + schema.get("maxProperties").asText()));
            return;
        }
        for (JsonNode req : schema.path("required")) {
            JsonNode v = value.get(req.asText());
            if (v == null || v.isNull()) {
                errors.add(new PlanError(
                        "Schema", path + "." + req.asText(), null, "is required", "set " + path + "." + req.asText()));
            }
        }
        JsonNode props = schema.get("properties");
        JsonNode additional = schema.get("additionalProperties");
        boolean preserve = schema.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
        Iterator<Map.Entry<String, JsonNode>> it = value.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String child = path + "." + e.getKey();
            if (props != null && props.has(e.getKey())) {
                check(props.get(e.getKey()), e.getValue(), child, errors);
            } else if (additional != null && additional.isObject()) {
                check(additional, e.getValue(), child, errors);
            } else if (!preserve) {
                List<String> known = new ArrayList<>();
                if (props != null) {
                    props.fieldNames().forEachRemaining(known::add);
                }
                errors.add(new PlanError(
                        "Schema",
                        child,
                        null,
                        "is not a field of " + path + " (the API server rejects or drops it)",
                        known.isEmpty() ? "remove it" : "known fields: " + String.join(", ", known)));
            }
        }
    }

    private static void checkBounds(JsonNode schema, JsonNode value, String path, List<PlanError> errors) {
        if ((value.isDouble() || value.isFloat()) && !Double.isFinite(value.doubleValue())) {
            errors.add(new PlanError(
                    "Schema",
                    path,
                    value.asText(),
                    "is not a finite number (JSON has no " + value.asText() + ")",
                    "write a finite number"));
            return;
        }
        BigDecimal v = value.decimalValue();
        if (schema.has("minimum")) {
            BigDecimal min = schema.get("minimum").decimalValue();
            boolean exclusive = schema.path("exclusiveMinimum").asBoolean(false);
            int cmp = v.compareTo(min);
            if (cmp < 0 || (exclusive && cmp == 0)) {
                errors.add(new PlanError(
                        "Schema",
                        path,
                        value.asText(),
                        "must be " + (exclusive ? "more than " : "at least ") + plain(min),
                        "use a value of " + plain(min) + (exclusive ? " or more, not " + plain(min) : " or more")));
                return;
            }
        }
        if (schema.has("maximum")) {
            BigDecimal max = schema.get("maximum").decimalValue();
            boolean exclusive = schema.path("exclusiveMaximum").asBoolean(false);
            int cmp = v.compareTo(max);
            if (cmp > 0 || (exclusive && cmp == 0)) {
                errors.add(new PlanError(
                        "Schema",
                        path,
                        value.asText(),
                        "must be " + (exclusive ? "less than " : "at most ") + plain(max),
                        "use a value of " + plain(max) + " or less"));
            }
        }
    }

    private static String plain(BigDecimal d) {
        return d.stripTrailingZeros().toPlainString();
    }

    /** The field's description as the fix of a pattern mismatch (it says what the value is), or a default. */
    private static String describeField(JsonNode schema) {
        String d = schema.path("description").asText("");
        return d.isEmpty() ? "see kubectl explain moejob.spec" : "expected: " + d;
    }

    private static final Map<String, Pattern> PATTERNS = new ConcurrentHashMap<>();

    /** The schema's pattern compiled once (ECMA/RE2 patterns of the CRD use only syntax Java reads the same way). */
    private static Pattern pattern(String regex) {
        return PATTERNS.computeIfAbsent(regex, Pattern::compile);
    }

    private static PlanError error(String path, JsonNode value, String problem) {
        return new PlanError("Schema", path, value.toString(), problem, null);
    }
}
