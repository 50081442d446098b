package dev.moe.operator.gang;

import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.operator.status.Conditions;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Stall detection (spec.restartPolicy.progressDeadlineSeconds): a running gang whose global rank 0 reports no new
 * step for the deadline is stalled (a hung collective, a dead data loader …). Pure.
 *
 * <p>Measured on the operator's clock from the later of: when the gang of this attempt was all running (the
 * Running condition's transition), and when the operator first saw rank 0's current step
 * (status.progress.stepObservedTime). Until this attempt's first new step the startup grace applies instead of
 * the deadline (model load, compilation, checkpoint restore take longer than a step).
 */
public final class StallDetector {
    private StallDetector() {}

    /**
     * @param s status after this reconcile's progress and conditions (the gang is running)
     * @return the Stalled failure of rank 0 when the deadline has passed, else empty (and {@code d} wakes up when it
     *         would pass)
     */
    static Optional<PodFailure> check(
            MoETrainingJobStatus s, GangState gang, GangRestartPolicy policy, GangDecision d, Instant now) {
        if (policy.progressDeadlineSeconds() == null
                || !gang.allRunning()
                || gang.rank0().isEmpty()) {
            return Optional.empty();
        }
        Instant runningSince = Conditions.get(s, Conditions.RUNNING)
                .filter(c -> Conditions.TRUE.equals(c.status))
                .map(c -> FailureClassifier.parse(c.lastTransitionTime, now))
                .orElse(null);
        if (runningSince == null) {
            return Optional.empty();
        }
        Instant stepSeen = s.progress != null && s.progress.stepObservedTime != null
                ? FailureClassifier.parse(s.progress.stepObservedTime, null)
                : null;
        // condition times have whole seconds: a step seen in the second the gang turned Running is this attempt's
        boolean stepThisAttempt = stepSeen != null && !stepSeen.isBefore(runningSince);
        int allowed = stepThisAttempt ? policy.progressDeadlineSeconds() : policy.progressStartupGraceSeconds();
        Instant from = stepThisAttempt ? stepSeen : runningSince;
        Instant due = from.plusSeconds(allowed);
        if (now.isBefore(due)) {
            d.requeueAfter(Duration.between(now, due));
            return Optional.empty();
        }
        String what = stepThisAttempt
                ? "no new step from global rank 0 for " + allowed + "s (step " + s.progress.step + " first seen at "
                        + s.progress.stepObservedTime + "; restartPolicy.progressDeadlineSeconds="
                        + policy.progressDeadlineSeconds() + ")"
                : "no new step from global rank 0 within " + allowed + "s of the gang running (attempt "
                        + s.restartAttempt + "; restartPolicy.progressStartupGraceSeconds=" + allowed + ")";
        var pod = gang.rank0().get();
        String node = pod.getSpec() != null ? pod.getSpec().getNodeName() : null;
        return Optional.of(new PodFailure(
                FailureClassifier.STALLED,
                pod.getMetadata().getName(),
                0,
                null,
                pod.getMetadata().getName() + " (node rank 0) stalled: " + what,
                now,
                null,
                null,
                node));
    }
}
