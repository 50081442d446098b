package dev.moe.operator.gang;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.api.v1alpha1.TrainerContract;
import dev.moe.api.v1alpha1.TrainingSpec.CheckpointSpec;
import dev.moe.operator.gang.GangDecision.JobEvent;
import dev.moe.operator.status.Conditions;
import dev.moe.operator.status.Reasons;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Checkpoint before stop (docs/contract.md §5), pure. Before the operator stops a running gang for a suspend or a
 * disruption, it asks the trainer for a checkpoint at the next step boundary: every running pod of the gang gets
 * the annotation {@value TrainerContract#CHECKPOINT_REQUEST_ANNOTATION}, which the kubelet writes into the pod's
 * downwardAPI annotations file the trainer polls; the ranks agree with their per-step collective, save the same
 * step, report it (status.progress.lastCheckpointStep) and exit {@value TrainerContract#EXIT_STOPPED}. The
 * operator waits, by requeues, until a checkpoint past the step rank 0 had reported when it asked exists, or every
 * pod has stopped, or {@code spec.training.checkpoint.stopTimeoutSeconds} passed; then it stops the pods as it
 * would have at once. The request lives in {@code status.stopCheckpoint}, so an operator restart keeps waiting
 * for the same deadline; the StopCheckpoint condition and an Event say how it ended.
 */
public final class StopCheckpoint {
    private StopCheckpoint() {}

    /** status.stopCheckpoint.trigger of a suspend. */
    public static final String TRIGGER_SUSPEND = "Suspend";
    /** status.stopCheckpoint.trigger of a pod's DisruptionTarget condition (preemption, eviction, drain). */
    public static final String TRIGGER_DISRUPTION = "DisruptionTarget";

    /**
     * How often a pending request is looked at without an event (pod updates, the progress annotation and pod
     * exits wake the reconciler anyway; this covers a trainer that reports nothing).
     */
    static final Duration POLL = Duration.ofSeconds(5);

    /** What became of a request. */
    public enum Outcome {
        /** Neither answered nor timed out: keep the gang. */
        WAITING,
        /** A checkpoint past the request's step exists (or every pod stopped after saving one). */
        SAVED,
        /** Every pod stopped without a checkpoint past the request's step. */
        STOPPED_WITHOUT_CHECKPOINT,
        /** stopTimeoutSeconds passed. */
        TIMED_OUT
    }

    /** The seconds to wait for a checkpoint before a stop; 0 (no wait) when the job has no checkpoint volume. */
    public static int timeoutSeconds(MoETrainingJob job) {
        CheckpointSpec c =
                job.getSpec() != null && job.getSpec().training != null ? job.getSpec().training.checkpoint : null;
        if (c == null || c.claimName == null) {
            return 0;
        }
        return c.stopTimeoutSeconds != null
                ? c.stopTimeoutSeconds
                : Integer.parseInt(CheckpointSpec.DEFAULT_STOP_TIMEOUT_SECONDS);
    }

    /** The request pending for the gang's current attempt, if any. */
    public static Optional<MoETrainingJobStatus.StopCheckpoint> pending(MoETrainingJobStatus s) {
        MoETrainingJobStatus.StopCheckpoint r = s.stopCheckpoint;
        return r != null && r.attempt != null && r.attempt.equals(s.restartAttempt) ? Optional.of(r) : Optional.empty();
    }

    /**
     * Asks for a checkpoint before the gang stops: the one entry point of every trigger (suspend, a pod's
     * DisruptionTarget, an admission layer evicting the workload, e.g. Kueue). Records the request in {@code s}
     * (status.stopCheckpoint, the StopCheckpoint condition Unknown, an Event) unless one is pending for this
     * attempt already. Returns whether a request is pending, i.e. whether the caller must wait ({@link #check})
     * instead of stopping the pods now: false when the job does not wait (no checkpoint volume,
     * stopTimeoutSeconds 0) or the gang is not running (a gang that never ran all its ranks has nothing to save).
     */
    public static boolean request(
            MoETrainingJob job, MoETrainingJobStatus s, GangDecision d, String trigger, String detail, Instant now) {
        if (pending(s).isPresent()) {
            return true;
        }
        int timeout = timeoutSeconds(job);
        if (timeout == 0 || s.phase != JobPhase.Running) {
            return false;
        }
        MoETrainingJobStatus.StopCheckpoint r = new MoETrainingJobStatus.StopCheckpoint();
        r.trigger = trigger;
        r.detail = detail;
        r.requestTime = Conditions.time(now);
        r.afterStep = s.progress != null && s.progress.step != null ? s.progress.step : 0L;
        r.attempt = s.restartAttempt;
        s.stopCheckpoint = r;
        String message = "asked the trainer for a checkpoint after step " + r.afterStep + " before stopping the gang ("
                + trigger + (detail != null ? ": " + detail : "") + "); waiting up to " + timeout + "s";
        Conditions.set(
                s,
                Conditions.STOP_CHECKPOINT,
                Conditions.UNKNOWN,
                Reasons.CHECKPOINT_REQUESTED,
                message,
                job.getMetadata().getGeneration(),
                now);
        d.events.add(JobEvent.normal(Reasons.CHECKPOINT_REQUESTED, message));
        return true;
    }

    /**
     * Where the pending request stands. While {@link Outcome#WAITING}, every running pod of the gang that lacks
     * the annotation gets it ({@link GangDecision#annotatePods}), and the decision requeues by the deadline. Any
     * other outcome is final: {@link #finish} records it.
     */
    public static Outcome check(
            MoETrainingJob job, MoETrainingJobStatus s, GangState gang, GangDecision d, Instant now) {
        MoETrainingJobStatus.StopCheckpoint r = pending(s).orElseThrow();
        Long saved = s.progress != null ? s.progress.lastCheckpointStep : null;
        long after = r.afterStep != null ? r.afterStep : 0L;
        if (saved != null && saved > after) {
            return Outcome.SAVED;
        }
        boolean allStopped = gang.current().values().stream()
                .allMatch(p -> GangObserver.isFinished(p) || GangObserver.isTerminating(p));
        if (allStopped) {
            return saved != null && saved >= after && after > 0 ? Outcome.SAVED : Outcome.STOPPED_WITHOUT_CHECKPOINT;
        }
        Instant deadline = FailureClassifier.parse(r.requestTime, now).plusSeconds(timeoutSeconds(job));
        if (!now.isBefore(deadline)) {
            return Outcome.TIMED_OUT;
        }
        for (Pod p : gang.current().values()) {
            if (!GangObserver.isFinished(p) && !GangObserver.isTerminating(p) && !asked(p)) {
                d.annotatePods.add(p);
            }
        }
        d.checkpointRequestValue = r.requestTime;
        Duration left = Duration.between(now, deadline);
        d.requeueAfter(left.compareTo(POLL) < 0 ? left : POLL);
        return Outcome.WAITING;
    }

    /** Records how the request ended (condition, Event) and clears it; the caller then stops the pods. */
    public static void finish(
            MoETrainingJob job, MoETrainingJobStatus s, GangDecision d, Outcome outcome, Instant now) {
        MoETrainingJobStatus.StopCheckpoint r = pending(s).orElseThrow();
        Long saved = s.progress != null ? s.progress.lastCheckpointStep : null;
        String why = r.trigger + (r.detail != null ? ": " + r.detail : "");
        String status;
        String reason;
        String message;
        switch (outcome) {
            case SAVED -> {
                status = Conditions.TRUE;
                reason = Reasons.CHECKPOINT_SAVED;
                message = "checkpoint at step " + saved + " saved before the stop (" + why + "); the job resumes from"
                        + " it";
            }
            case STOPPED_WITHOUT_CHECKPOINT -> {
                status = Conditions.FALSE;
                reason = Reasons.CHECKPOINT_MISSING;
                message = "the trainer stopped without a checkpoint after step " + r.afterStep + " (" + why
                        + "); newest checkpoint at step " + saved;
            }
            case TIMED_OUT -> {
                status = Conditions.FALSE;
                reason = Reasons.CHECKPOINT_TIMEOUT;
                message = "no checkpoint after step " + r.afterStep + " within " + timeoutSeconds(job) + "s ("
                        + why + "); stopping the pods (the trainer may still save on SIGTERM); newest checkpoint"
                        + " at step " + saved;
            }
            default -> throw new IllegalArgumentException("not final: " + outcome);
        }
        Conditions.set(
                s,
                Conditions.STOP_CHECKPOINT,
                status,
                reason,
                message,
                job.getMetadata().getGeneration(),
                now);
        d.events.add(outcome == Outcome.SAVED ? JobEvent.normal(reason, message) : JobEvent.warning(reason, message));
        s.stopCheckpoint = null;
    }

    /** Whether the operator asked this pod for a checkpoint already. */
    public static boolean asked(Pod p) {
        var a = p.getMetadata().getAnnotations();
        return a != null && a.get(TrainerContract.CHECKPOINT_REQUEST_ANNOTATION) != null;
    }

    /** The first pod of the gang that is marked for disruption (DisruptionTarget=True) and has not stopped. */
    public static Optional<Pod> disrupted(GangState gang) {
        return gang.current().values().stream()
                .filter(p -> FailureClassifier.disruptionReason(p) != null && !GangObserver.isFinished(p))
                .findFirst();
    }
}
