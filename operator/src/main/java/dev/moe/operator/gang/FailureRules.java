package dev.moe.operator.gang;

import dev.moe.api.v1alpha1.FailureRule;
import dev.moe.api.v1alpha1.FailureRule.Action;
import java.util.List;
import java.util.Set;

/**
 * What a failure does (spec.restartPolicy): the one place of that rule. Pure.
 *
 * <ol>
 *   <li>Exit code 78 (the trainer's configuration error) and spec.restartPolicy.nonRetryableExitCodes: FailJob.</li>
 *   <li>The first entry of spec.restartPolicy.rules that matches, in order.</li>
 *   <li>The defaults: Evicted, Preempted and NodeLost are the infrastructure's failures, not the training's:
 *       RestartGangUncounted; everything else RestartGang.</li>
 * </ol>
 * A rule matches when every criterion it gives matches: reasons (any of), exitCodes (any of, against the trainer
 * container's exit code), terminationReasons (any of, exactly) and messageContains (a plain substring of the
 * termination message). Matching is linear in the message's length (bounded by
 * {@code SpecLimits.MAX_FAILURE_MESSAGE_LENGTH}) times the rules' count and sizes (bounded by the CRD): no pattern a
 * user writes can make it slow.
 */
public final class FailureRules {
    private FailureRules() {}

    /** Failure reasons that restart uncounted when no rule matches. */
    public static final Set<String> INFRASTRUCTURE_REASONS =
            Set.of(FailureClassifier.EVICTED, FailureClassifier.PREEMPTED, FailureClassifier.NODE_LOST);

    /**
     * The decision and what made it.
     *
     * @param action what the failure does
     * @param source why, in the spec's words: "exit code 78", "restartPolicy.nonRetryableExitCodes",
     *               "restartPolicy.rules[2]" or "default"
     */
    public record Verdict(Action action, String source) {}

    public static Verdict decide(PodFailure failure, List<Integer> nonRetryableExitCodes, List<FailureRule> rules) {
        if (FailureClassifier.isNonRetriable(failure, nonRetryableExitCodes)) {
            return new Verdict(
                    Action.FailJob,
                    failure.exitCode() == FailureClassifier.CONFIG_ERROR_EXIT_CODE
                            ? "exit code " + FailureClassifier.CONFIG_ERROR_EXIT_CODE + " (trainer configuration error)"
                            : "restartPolicy.nonRetryableExitCodes");
        }
        if (rules != null) {
            for (int i = 0; i < rules.size(); i++) {
                FailureRule r = rules.get(i);
                if (r != null && r.action != null && matches(r, failure)) {
                    return new Verdict(r.action, "restartPolicy.rules[" + i + "]");
                }
            }
        }
        return new Verdict(
                INFRASTRUCTURE_REASONS.contains(failure.reason()) ? Action.RestartGangUncounted : Action.RestartGang,
                "default");
    }

    /** Whether every criterion the rule gives matches the failure. */
    public static boolean matches(FailureRule rule, PodFailure failure) {
        if (rule.reasons != null
                && !rule.reasons.isEmpty()
                && rule.reasons.stream().noneMatch(r -> r != null && r.name().equals(failure.reason()))) {
            return false;
        }
        if (rule.exitCodes != null
                && !rule.exitCodes.isEmpty()
                && (failure.exitCode() == null || !rule.exitCodes.contains(failure.exitCode()))) {
            return false;
        }
        if (rule.terminationReasons != null
                && !rule.terminationReasons.isEmpty()
                && (failure.terminationReason() == null
                        || !rule.terminationReasons.contains(failure.terminationReason()))) {
            return false;
        }
        if (rule.messageContains != null
                && !rule.messageContains.isEmpty()
                && (failure.terminationMessage() == null
                        || !failure.terminationMessage().contains(rule.messageContains))) {
            return false;
        }
        return true;
    }
}
