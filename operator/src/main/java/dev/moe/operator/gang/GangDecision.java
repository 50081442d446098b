package dev.moe.operator.gang;

import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What one reconcile decided: the new status and the writes that bring the cluster there. Built by
 * {@link GangLifecycle}, carried out by the reconciler.
 */
public final class GangDecision {
    /** A Kubernetes Event on the job. */
    public record JobEvent(String type, String reason, String message) {
        public static JobEvent normal(String reason, String message) {
            return new JobEvent("Normal", reason, message);
        }

        public static JobEvent warning(String reason, String message) {
            return new JobEvent("Warning", reason, message);
        }
    }

    public final MoETrainingJobStatus status;
    public final List<Integer> createRanks = new ArrayList<>();
    public final List<Pod> deletePods = new ArrayList<>();
    /**
     * Whether {@link #deletePods} are stale pods of earlier attempts: the reconciler may delete them with one
     * deletecollection by the job label and {@code attempt != current} (it checks that every listed pod matches).
     */
    public boolean deleteOtherAttempts;
    /** Pods stuck terminating (their node is gone): deleted with grace period 0 so their rank can be reused. */
    public final List<Pod> forceDeletePods = new ArrayList<>();

    public final List<JobEvent> events = new ArrayList<>();
    /** Reasons of gang restarts started by this decision (metric). */
    public final List<String> restartReasons = new ArrayList<>();
    /** Plan rules newly rejected by this decision (metric). */
    public final List<String> rejectedRules = new ArrayList<>();
    /** Whether the job itself goes (spec.ttlSecondsAfterFinished ran out): its children follow by owner reference. */
    public boolean deleteJob;

    /**
     * Pods to annotate with the checkpoint request ({@code TrainerContract.CHECKPOINT_REQUEST_ANNOTATION} =
     * {@link #checkpointRequestValue}): see {@link StopCheckpoint}.
     */
    public final List<Pod> annotatePods = new ArrayList<>();

    public String checkpointRequestValue;
    /** The failure that stopped the gang in this decision, if any. */
    public PodFailure stoppedBy;

    private Duration requeue;

    GangDecision(MoETrainingJobStatus status) {
        this.status = status;
    }

    void requeueAfter(Duration d) {
        Duration min = d.isNegative() ? Duration.ZERO : d;
        if (requeue == null || min.compareTo(requeue) < 0) {
            requeue = min;
        }
    }

    void delete(Pod p) {
        if (!GangObserver.isTerminating(p)
                && deletePods.stream()
                        .noneMatch(q ->
                                q.getMetadata().getName().equals(p.getMetadata().getName()))) {
            deletePods.add(p);
        }
    }

    /** Deletes the pods that belong to no current rank (earlier attempts, another incarnation of the job). */
    void deleteStale(GangState gang) {
        int before = deletePods.size();
        gang.stale().forEach(this::delete);
        deleteOtherAttempts = deletePods.size() > before;
    }

    /** Deletes every pod of the job that is not terminating yet (all attempts, stale ones too). */
    void deleteAll(GangState gang) {
        gang.allPods().forEach(this::delete);
    }

    public Optional<Duration> requeue() {
        return Optional.ofNullable(requeue);
    }
}
