package dev.moe.operator.gang;

import dev.moe.api.v1alpha1.FailureRule;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.RestartPolicySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * spec.restartPolicy with defaults applied, and the backoff arithmetic. Pure.
 *
 * <p>The n-th restart of its kind (n ≥ 1) waits {@code min(backoffSeconds × 2^(n-1), maxBackoffSeconds)} after
 * the failure that caused it. Three kinds are counted apart: restarts (status.restarts, up to maxRestarts),
 * infrastructure restarts (status.infrastructureRestarts, up to maxInfrastructureRestarts) and gang-scheduling
 * timeouts (not failures of the training, never a limit): their count is
 * {@code restartAttempt − restarts − infrastructureRestarts}.
 *
 * @param progressDeadlineSeconds stall detection's deadline, or null when it is off
 */
public record GangRestartPolicy(
        int maxRestarts,
        int backoffSeconds,
        int maxBackoffSeconds,
        List<Integer> nonRetryableExitCodes,
        int gangSchedulingTimeoutSeconds,
        int maxInfrastructureRestarts,
        List<FailureRule> rules,
        Integer progressDeadlineSeconds,
        int progressStartupGraceSeconds) {

    /** The defaults: the values a RestartPolicySpec starts with (those of the CRD's @Default). */
    private static final RestartPolicySpec DEFAULTS = new RestartPolicySpec();

    /** The policy without failure rules or stall detection. */
    public GangRestartPolicy(
            int maxRestarts,
            int backoffSeconds,
            int maxBackoffSeconds,
            List<Integer> nonRetryableExitCodes,
            int gangSchedulingTimeoutSeconds) {
        this(
                maxRestarts,
                backoffSeconds,
                maxBackoffSeconds,
                nonRetryableExitCodes,
                gangSchedulingTimeoutSeconds,
                DEFAULTS.maxInfrastructureRestarts,
                List.of(),
                null,
                DEFAULTS.progressStartupGraceSeconds);
    }

    public static GangRestartPolicy of(RestartPolicySpec spec) {
        RestartPolicySpec s = spec != null ? spec : DEFAULTS;
        return new GangRestartPolicy(
                s.maxRestarts != null ? s.maxRestarts : DEFAULTS.maxRestarts,
                s.backoffSeconds != null ? s.backoffSeconds : DEFAULTS.backoffSeconds,
                s.maxBackoffSeconds != null ? s.maxBackoffSeconds : DEFAULTS.maxBackoffSeconds,
                s.nonRetryableExitCodes != null ? List.copyOf(s.nonRetryableExitCodes) : List.of(),
                s.gangSchedulingTimeoutSeconds != null
                        ? s.gangSchedulingTimeoutSeconds
                        : DEFAULTS.gangSchedulingTimeoutSeconds,
                s.maxInfrastructureRestarts != null ? s.maxInfrastructureRestarts : DEFAULTS.maxInfrastructureRestarts,
                s.rules != null
                        ? List.copyOf(s.rules.stream()
                                .filter(java.util.Objects::nonNull)
                                .toList())
                        : List.of(),
                s.progressDeadlineSeconds,
                s.progressStartupGraceSeconds != null
                        ? s.progressStartupGraceSeconds
                        : DEFAULTS.progressStartupGraceSeconds);
    }

    /** What the failure does (see {@link FailureRules}). */
    public FailureRules.Verdict verdict(PodFailure failure) {
        return FailureRules.decide(failure, nonRetryableExitCodes, rules);
    }

    /** Whether the failure fails the job at once (the observer puts those first). */
    public boolean failsJob(PodFailure failure) {
        return verdict(failure).action() == FailureRule.Action.FailJob;
    }

    /** Delay before the n-th restart (n ≥ 1); zero for n ≤ 0. */
    public Duration backoff(int n) {
        if (n <= 0 || backoffSeconds <= 0) {
            return Duration.ZERO;
        }
        long max = Math.max(maxBackoffSeconds, backoffSeconds);
        long delay = backoffSeconds;
        for (int i = 1; i < n && delay < max; i++) {
            delay *= 2;
        }
        return Duration.ofSeconds(Math.min(delay, max));
    }

    /** Which restart of its kind the last failure started (1 = first). */
    public static int restartIndex(MoETrainingJobStatus status) {
        int restarts = status.restarts != null ? status.restarts : 0;
        int infrastructure = status.infrastructureRestarts != null ? status.infrastructureRestarts : 0;
        int attempt = status.restartAttempt != null ? status.restartAttempt : 0;
        if (status.lastFailure != null && FailureClassifier.GANG_SCHEDULING_TIMEOUT.equals(status.lastFailure.reason)) {
            return attempt - restarts - infrastructure;
        }
        if (status.lastFailure != null
                && FailureRule.Action.RestartGangUncounted.name().equals(status.lastFailure.action)) {
            return infrastructure;
        }
        return restarts;
    }

    /** When the next gang may be created: the last failure's time plus its backoff. */
    public Instant nextGangStart(MoETrainingJobStatus status, Instant now) {
        if (status.lastFailure == null || status.lastFailure.time == null) {
            return now;
        }
        Instant failedAt = FailureClassifier.parse(status.lastFailure.time, now);
        return failedAt.plus(backoff(restartIndex(status)));
    }
}
