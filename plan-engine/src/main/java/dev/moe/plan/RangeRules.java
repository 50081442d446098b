package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

/**
 * Checks integers against {@link SpecLimits#RANGES}: the type (a whole number, of any size: 2^63 and beyond are
 * read exactly) and the range. Rule ids: FieldType, PositiveValue (under the minimum), ValueTooLarge.
 */
final class RangeRules {
    private RangeRules() {
    }

    /** Prefix of the model.config ranges; {@link ModelConfig} checks those (it knows both spellings of a key). */
    static final String MODEL_CONFIG = "model.config.";

    /** Checks every ranged path of {@code spec} (defaults applied) except model.config; absent fields are fine. */
    static void checkSpec(JsonNode spec, List<PlanError> errors) {
        for (Map.Entry<String, SpecLimits.Range> e : SpecLimits.RANGES.entrySet()) {
            if (!e.getKey().startsWith(MODEL_CONFIG)) {
                checkPath(spec, e.getKey().split("\\."), 0, "spec", e.getValue(), errors);
            }
        }
    }

    /** Walks {@code parts} from {@code node}; a part ending in [*] visits every item of a list. */
    private static void checkPath(JsonNode node, String[] parts, int i, String field, SpecLimits.Range range,
            List<PlanError> errors) {
        if (node == null || !node.isObject()) {
            return; // a wrong container type is reported where the container is read
        }
        String part = parts[i];
        boolean each = part.endsWith("[*]");
        String name = each ? part.substring(0, part.length() - 3) : part;
        JsonNode child = node.get(name);
        if (child == null || child.isNull()) {
            return;
        }
        String childField = field + "." + name;
        if (each) {
            if (!child.isArray()) {
                return;
            }
            for (int k = 0; k < child.size(); k++) {
                visit(child.get(k), parts, i, childField + "[" + k + "]", range, errors);
            }
        } else {
            visit(child, parts, i, childField, range, errors);
        }
    }

    private static void visit(JsonNode n, String[] parts, int i, String field, SpecLimits.Range range,
            List<PlanError> errors) {
        if (i == parts.length - 1) {
            PlanError e = check(field, n, range);
            if (e != null) {
                errors.add(e);
            }
        } else {
            checkPath(n, parts, i + 1, field, range, errors);
        }
    }

    /**
     * The exact integer value of {@code n}, or null when it is not a whole number. Integral floating values (2.0)
     * count, as they do for the API server.
     */
    static BigDecimal integral(JsonNode n) {
        if (n == null || !n.isNumber()) {
            return null;
        }
        if (n.isIntegralNumber()) {
            return new BigDecimal(n.bigIntegerValue());
        }
        if (n.isDouble() || n.isFloat()) {
            double d = n.doubleValue();
            if (!Double.isFinite(d) || d != Math.rint(d)) {
                return null;
            }
        }
        BigDecimal d = n.decimalValue();
        return d.signum() == 0 || d.stripTrailingZeros().scale() <= 0 ? d : null;
    }

    /** The problem of the value {@code n} of {@code field}, or null when it is a whole number inside {@code range}. */
    static PlanError check(String field, JsonNode n, SpecLimits.Range range) {
        BigDecimal v = integral(n);
        if (v == null) {
            return new PlanError("FieldType", field, n.toString(), "is not an integer",
                    "write a whole number without quotes");
        }
        if (v.compareTo(BigDecimal.valueOf(range.min())) < 0) {
            return belowMinimum(field, v.toPlainString(), range);
        }
        if (v.compareTo(BigDecimal.valueOf(range.max())) > 0) {
            return aboveMaximum(field, v.toPlainString(), range);
        }
        return null;
    }

    /** The problem of {@code value} of {@code field}, or null when it lies inside {@code range}. */
    static PlanError check(String field, long value, SpecLimits.Range range) {
        if (value < range.min()) {
            return belowMinimum(field, String.valueOf(value), range);
        }
        if (value > range.max()) {
            return aboveMaximum(field, String.valueOf(value), range);
        }
        return null;
    }

    private static PlanError belowMinimum(String field, String value, SpecLimits.Range range) {
        if (range.min() == 1) {
            return new PlanError("PositiveValue", field, value, "must be at least 1", "use a positive value");
        }
        if (range.min() == 0) {
            return new PlanError("PositiveValue", field, value, "is negative", "use 0 or more");
        }
        return new PlanError("PositiveValue", field, value, "must be at least " + range.min(),
                "use " + range.min() + " or more");
    }

    private static PlanError aboveMaximum(String field, String value, SpecLimits.Range range) {
        return new PlanError("ValueTooLarge", field, value, "is more than " + range.max() + " (" + range.why() + ")",
                "use at most " + range.max());
    }
}
