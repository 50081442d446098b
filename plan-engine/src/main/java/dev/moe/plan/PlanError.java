package dev.moe.plan;

import dev.moe.api.v1alpha1.SpecLimits;

/**
 * One reason a job spec cannot run. It names the field, the value, the rule it breaks and how to fix it, e.g.
 * {@code spec.parallelism.expert=12 does not divide numExperts=128; valid values: 1, 2, 4, 8, 16, 32, 64}.
 *
 * @param rule    stable rule id (CamelCase, usable as a condition reason), e.g. {@code ExpertDividesExperts}
 * @param field   the spec field at fault, e.g. {@code spec.parallelism.expert}
 * @param value   its value as the user wrote it (or as defaulted)
 * @param problem what is wrong, e.g. {@code does not divide numExperts=128}
 * @param fix     what to do instead
 */
public record PlanError(String rule, String field, String value, String problem, String fix) {

    /**
     * Values (and fields, which can hold a user's map key) are shown cut to {@link SpecLimits#MAX_SHOWN_VALUE_LENGTH}
     * characters: a hostile value (a megabyte string) must not make the job's status condition or Event too large
     * for the API server.
     */
    public PlanError {
        field = shorten(field);
        value = shorten(value);
    }

    /** {@code s}, or its start and its length when it is longer than {@link SpecLimits#MAX_SHOWN_VALUE_LENGTH}. */
    public static String shorten(String s) {
        if (s == null || s.length() <= SpecLimits.MAX_SHOWN_VALUE_LENGTH) {
            return s;
        }
        int end = SpecLimits.MAX_SHOWN_VALUE_LENGTH;
        if (Character.isHighSurrogate(s.charAt(end - 1))) {
            end--; // never cut a character in two
        }
        return s.substring(0, end) + "... (" + s.length() + " characters)";
    }

    /** The one-line message users see. */
    public String message() {
        StringBuilder sb = new StringBuilder(field);
        if (value != null) {
            sb.append('=').append(value);
        }
        sb.append(' ').append(problem);
        if (fix != null && !fix.isEmpty()) {
            sb.append("; ").append(fix);
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return message();
    }
}
