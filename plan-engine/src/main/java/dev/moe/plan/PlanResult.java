package dev.moe.plan;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The outcome of planning one job: a plan, or the errors that prevent one (never both).
 *
 * @param plan        the plan, or null when there are errors
 * @param errors      why the spec cannot run (empty when valid)
 * @param warnings    things that work but may be slow or surprising (also in {@link Plan#warnings()})
 * @param suggestions when memory does not fit: the nearest plans that do, e.g.
 *                    {@code parallelism.expert=8 (66.6 GiB of 80 GiB)}
 * @param document    the plan document ({@link Plan#toJsonString()}), rendered once by the engine's size check
 *                    (PlanTooLarge) and reused by whoever writes it (the operator's ConfigMap); null without a
 *                    plan, and for the rank-less plans the engine weighs as suggestions
 */
public record PlanResult(
        Plan plan, List<PlanError> errors, List<String> warnings, List<String> suggestions, String document) {

    /** A result without a rendered plan document. */
    public PlanResult(Plan plan, List<PlanError> errors, List<String> warnings, List<String> suggestions) {
        this(plan, errors, warnings, suggestions, null);
    }

    public boolean isValid() {
        return plan != null && errors.isEmpty();
    }

    /** All error messages, one per line. */
    public String errorMessages() {
        return errors.stream().map(PlanError::message).collect(Collectors.joining("\n"));
    }
}
