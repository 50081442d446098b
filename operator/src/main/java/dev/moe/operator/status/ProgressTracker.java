package dev.moe.operator.status;

import dev.moe.api.v1alpha1.MoETrainingJobStatus.Progress;
import java.time.Duration;
import java.time.Instant;

/**
 * Folds rank 0's latest report into status.progress. Pure. The operator stamps, on its own clock, when it first
 * saw each step (stepObservedTime: the trainer's clock is not the operator's, and a trainer that re-reports the same
 * step is not making progress), and derives percentDone and an ETA from the step rate between the last two steps it
 * saw.
 */
public final class ProgressTracker {
    private ProgressTracker() {}

    /**
     * @param previous   status.progress so far, or null
     * @param reported   what rank 0's pod says now, or null (no report: the previous progress stays)
     * @param totalSteps spec.training.steps, or null
     */
    public static Progress merge(Progress previous, Progress reported, Integer totalSteps, Instant now) {
        if (reported == null) {
            return previous;
        }
        Progress p = reported;
        boolean newStep = previous == null || previous.step == null || !previous.step.equals(p.step);
        if (newStep) {
            p.stepObservedTime = Conditions.time(now);
            p.estimatedCompletionTime = eta(previous, p, totalSteps, now);
        } else {
            p.stepObservedTime = previous.stepObservedTime != null ? previous.stepObservedTime : Conditions.time(now);
            p.estimatedCompletionTime = previous.estimatedCompletionTime;
        }
        if (totalSteps != null && totalSteps > 0 && p.step != null) {
            double pct = Math.min(100.0, Math.max(0.0, p.step * 100.0 / totalSteps));
            p.percentDone = Math.round(pct * 10.0) / 10.0;
        }
        return p;
    }

    /** now + remaining steps at the rate from the previous step to this one; null without a forward step. */
    private static String eta(Progress previous, Progress p, Integer totalSteps, Instant now) {
        if (previous == null
                || previous.step == null
                || previous.stepObservedTime == null
                || p.step == null
                || totalSteps == null
                || p.step <= previous.step) {
            return null;
        }
        Instant since;
        try {
            since = Instant.parse(previous.stepObservedTime);
        } catch (RuntimeException e) {
            return null;
        }
        long millis = Duration.between(since, now).toMillis();
        if (millis <= 0) {
            return null;
        }
        long remaining = Math.max(0, totalSteps - p.step);
        double perStepMillis = (double) millis / (p.step - previous.step);
        double etaMillis = remaining * perStepMillis;
        if (!Double.isFinite(etaMillis) || etaMillis > Duration.ofDays(3650).toMillis()) {
            return null;
        }
        return Conditions.time(now.plusMillis((long) etaMillis));
    }
}
