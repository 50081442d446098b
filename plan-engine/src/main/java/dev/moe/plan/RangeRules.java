package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moe.api.v1alpha1.SpecLimits;
import java.math.BigDecimal;

/**
 * Checks an integer against its range of {@link SpecLimits#RANGES}: the type (a whole number, of any size: 2^63
 * and beyond are read exactly) and the range. Rule ids: FieldType, PositiveValue (under the minimum),
 * ValueTooLarge. {@link FieldRules} applies it to the typed spec (and to values that do not fit a Java type),
 * ModelConfig to the model overrides.
 */
final class RangeRules {
    private RangeRules() {}

    /** Prefix of the model.config ranges; {@link ModelConfig} checks those (it knows both spellings of a key). */
    static final String MODEL_CONFIG = "model.config.";

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
            return new PlanError(
                    "FieldType", field, n.toString(), "is not an integer", "write a whole number without quotes");
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
        return new PlanError(
                "PositiveValue", field, value, "must be at least " + range.min(), "use " + range.min() + " or more");
    }

    private static PlanError aboveMaximum(String field, String value, SpecLimits.Range range) {
        return new PlanError(
                "ValueTooLarge",
                field,
                value,
                "is more than " + range.max() + " (" + range.why() + ")",
                "use at most " + range.max());
    }
}
