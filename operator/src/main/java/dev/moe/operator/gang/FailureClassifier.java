package dev.moe.operator.gang;

import dev.moe.api.v1alpha1.SpecLimits;
import dev.moe.api.v1alpha1.TrainerContract;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Reads one pod and says whether, and why, it stopped the gang. Pure: no API calls, no clock except the
 * {@code now} passed in.
 *
 * <ul>
 *   <li>ExitCode: the trainer container terminated with a non-zero code (the pod runs with restartPolicy
 *       Never, so one failed process is a failed pod).</li>
 *   <li>OOMKilled: the same, killed for memory (termination reason OOMKilled).</li>
 *   <li>Evicted: kubelet or Eviction API (status reason Evicted, DisruptionTarget EvictionByEvictionAPI or
 *       TerminationByKubelet).</li>
 *   <li>Preempted: the scheduler preempted it (DisruptionTarget PreemptionByScheduler), or Kueue evicted its
 *       workload to admit a higher-priority one (TerminationTarget WorkloadEvictedDueToPreempted).</li>
 *   <li>GangSchedulingTimeout: Kueue's waitForPodsReady evicted the workload because the admitted gang was not
 *       all ready in time (TerminationTarget WorkloadEvictedDueToPodsReadyTimeout); with a queue the operator's
 *       own gangSchedulingTimeoutSeconds is off, Kueue's timeout is the one that applies.</li>
 *   <li>Evicted, too: Kueue stopped the pod group for any other reason (its ClusterQueue or LocalQueue stopped,
 *       an admission check, the workload deleted or deactivated).</li>
 *   <li>NodeLost: its node went away (phase Unknown, reason NodeLost, DisruptionTarget DeletionByTaintManager
 *       or DeletionByPodGC).</li>
 *   <li>PodDeleted: someone else deleted a pod of the running gang, or a rank vanished.</li>
 *   <li>PodFailed: phase Failed for any other reason.</li>
 *   <li>Stalled: not from a pod's state: rank 0 reported no new step in time ({@link StallDetector}).</li>
 * </ul>
 * What each failure does is {@link FailureRules}' decision.
 */
public final class FailureClassifier {
    private FailureClassifier() {}

    public static final String EXIT_CODE = "ExitCode";
    public static final String OOM_KILLED = "OOMKilled";
    public static final String STALLED = "Stalled";
    public static final String EVICTED = "Evicted";
    public static final String PREEMPTED = "Preempted";
    public static final String NODE_LOST = "NodeLost";
    public static final String POD_DELETED = "PodDeleted";
    public static final String POD_FAILED = "PodFailed";
    public static final String GANG_SCHEDULING_TIMEOUT = "GangSchedulingTimeout";
    /**
     * Not a reason any failure keeps: a rank that vanished a moment ago without a tombstone, waiting one short
     * requeue for the informer's delete handler to say why ({@link PodTombstones#vanished}).
     */
    public static final String VANISHING = "Vanishing";
    /** Every reason this operator reports (the restart metric's label values). */
    public static final List<String> REASONS = List.of(
            EXIT_CODE,
            OOM_KILLED,
            EVICTED,
            PREEMPTED,
            NODE_LOST,
            POD_DELETED,
            POD_FAILED,
            STALLED,
            GANG_SCHEDULING_TIMEOUT);
    /** The container termination reason of a process killed for memory. */
    static final String OOM_TERMINATION_REASON = "OOMKilled";

    /** The trainer's configuration-error exit code (EX_CONFIG): never retried. */
    public static final int CONFIG_ERROR_EXIT_CODE = dev.moe.api.v1alpha1.TrainerContract.EXIT_CONFIG_ERROR;

    /** The failure of {@code pod}, or empty while it is pending, running or succeeded. */
    public static Optional<PodFailure> classify(Pod pod, int nodeRank, Instant now) {
        String name = pod.getMetadata().getName();
        String phase = pod.getStatus() != null ? pod.getStatus().getPhase() : null;
        String statusReason = pod.getStatus() != null ? pod.getStatus().getReason() : null;
        ContainerStateTerminated terminated = trainerTermination(pod);
        Integer exitCode = terminated != null ? terminated.getExitCode() : null;
        Instant when =
                terminated != null && terminated.getFinishedAt() != null ? parse(terminated.getFinishedAt(), now) : now;
        String disruption = disruptionReason(pod);
        boolean terminating = pod.getMetadata().getDeletionTimestamp() != null;
        boolean failedPhase = "Failed".equals(phase);
        boolean failedContainer = exitCode != null && exitCode != 0;

        if ("Succeeded".equals(phase)) {
            return Optional.empty();
        }
        String reason = null;
        String kueueStop = kueueStopReason(pod);
        if (kueueStop != null) {
            // Kueue marks each pod of the group it stops, then deletes it: the pod's own state says nothing more.
            reason = switch (kueueStop) {
                case Placement.KUEUE_EVICTED_BY_PREEMPTION -> PREEMPTED;
                case Placement.KUEUE_EVICTED_BY_PODS_READY_TIMEOUT -> GANG_SCHEDULING_TIMEOUT;
                default -> EVICTED;
            };
        } else if ("Evicted".equals(statusReason)
                || "EvictionByEvictionAPI".equals(disruption)
                || "TerminationByKubelet".equals(disruption)) {
            reason = EVICTED;
        } else if ("PreemptionByScheduler".equals(disruption)
                || "PreemptionByKubeScheduler".equals(disruption)
                || "Preempting".equals(statusReason)) {
            reason = PREEMPTED;
        } else if ("Unknown".equals(phase)
                || "NodeLost".equals(statusReason)
                || "DeletionByTaintManager".equals(disruption)
                || "DeletionByPodGC".equals(disruption)) {
            reason = NODE_LOST;
        }
        if (reason == null
                && failedContainer
                && exitCode == TrainerContract.EXIT_STOPPED
                && StopCheckpoint.asked(pod)) {
            // The operator asked this pod to checkpoint and stop (StopCheckpoint), and it did: not a failure.
            return Optional.empty();
        }
        if (reason == null) {
            if (failedContainer) {
                reason = OOM_TERMINATION_REASON.equals(terminated.getReason()) ? OOM_KILLED : EXIT_CODE;
            } else if (failedPhase) {
                reason = POD_FAILED;
            } else if (terminating) {
                reason = POD_DELETED;
            } else {
                return Optional.empty();
            }
        } else if (!failedPhase
                && !terminating
                && !failedContainer
                && !"Unknown".equals(phase)
                && !"NodeLost".equals(statusReason)) {
            // A DisruptionTarget condition alone announces a deletion that has not happened yet: wait for it.
            return Optional.empty();
        }
        StringBuilder msg =
                new StringBuilder(name).append(" (node rank ").append(nodeRank).append(')');
        switch (reason) {
            case EXIT_CODE, OOM_KILLED -> msg.append(" exited with code ").append(exitCode);
            case EVICTED ->
                msg.append(kueueStop != null ? " was stopped by Kueue (" + kueueStop + ")" : " was evicted");
            case PREEMPTED -> msg.append(kueueStop != null ? " was preempted by Kueue" : " was preempted");
            case GANG_SCHEDULING_TIMEOUT ->
                msg.append(
                        " was stopped by Kueue: the admitted gang was not ready" + " within waitForPodsReady.timeout");
            case NODE_LOST -> msg.append(" lost its node");
            case POD_DELETED -> msg.append(" was deleted");
            default -> msg.append(" failed");
        }
        if (terminated != null && terminated.getReason() != null && !"Error".equals(terminated.getReason())) {
            msg.append(" (").append(terminated.getReason()).append(')'); // e.g. OOMKilled
        }
        String detail = kueueStop != null ? kueueStopMessage(pod) : null;
        if (detail == null) {
            detail = pod.getStatus() != null ? pod.getStatus().getMessage() : null;
        }
        if (detail != null && !detail.isBlank()) {
            msg.append(": ").append(detail);
        }
        String terminationMessage = terminated != null ? tail(terminated.getMessage()) : null;
        if (terminationMessage != null) {
            msg.append("; last output: ").append(terminationMessage);
        }
        String node = pod.getSpec() != null ? pod.getSpec().getNodeName() : null;
        return Optional.of(new PodFailure(
                reason,
                name,
                nodeRank,
                exitCode,
                msg.toString(),
                when,
                terminated != null ? terminated.getReason() : null,
                terminationMessage,
                node != null && !node.isEmpty() ? node : null));
    }

    /**
     * The last {@link SpecLimits#MAX_FAILURE_MESSAGE_LENGTH} characters of a termination message (the end of a log
     * is where the error is), trimmed; null when there is none.
     */
    static String tail(String message) {
        if (message == null || message.isBlank()) {
            return null;
        }
        String m = message.strip();
        int max = SpecLimits.MAX_FAILURE_MESSAGE_LENGTH;
        return m.length() <= max ? m : "…" + m.substring(m.length() - (max - 1));
    }

    /**
     * Whether the failure fails the job at once whatever the rules say: the trainer container exited with 78 (its
     * configuration error, docs/contract.md) or one of spec.restartPolicy.nonRetryableExitCodes. A pod evicted,
     * preempted or killed for memory is not a configuration error even if its process exited with such a code.
     */
    public static boolean isNonRetriable(PodFailure failure, List<Integer> nonRetryableExitCodes) {
        if (!EXIT_CODE.equals(failure.reason()) || failure.exitCode() == null) {
            return false;
        }
        int code = failure.exitCode();
        return code == CONFIG_ERROR_EXIT_CODE
                || (nonRetryableExitCodes != null && nonRetryableExitCodes.contains(code));
    }

    /** The trainer container's termination (or the first terminated container's, for foreign trainers). */
    static ContainerStateTerminated trainerTermination(Pod pod) {
        if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
            return null;
        }
        ContainerStateTerminated any = null;
        for (ContainerStatus cs : pod.getStatus().getContainerStatuses()) {
            ContainerStateTerminated t = cs.getState() != null ? cs.getState().getTerminated() : null;
            if (t == null && cs.getLastState() != null) {
                t = cs.getLastState().getTerminated();
            }
            if (t == null) {
                continue;
            }
            if (GangNames.TRAINER_CONTAINER.equals(cs.getName())) {
                return t;
            }
            if (any == null
                    || (t.getExitCode() != null
                            && t.getExitCode() != 0
                            && (any.getExitCode() == null || any.getExitCode() == 0))) {
                any = t;
            }
        }
        return any;
    }

    /**
     * The failure a pod marked for disruption (DisruptionTarget=True) stands for once the gang is stopped for it,
     * before the disruption itself happened (see {@link StopCheckpoint}): Evicted, Preempted or NodeLost by the
     * condition's reason (Evicted for reasons this operator does not know).
     */
    public static PodFailure disruption(Pod pod, int nodeRank, Instant now) {
        String disruption = disruptionReason(pod);
        String reason = switch (disruption != null ? disruption : "") {
            case "PreemptionByScheduler", "PreemptionByKubeScheduler" -> PREEMPTED;
            case "DeletionByTaintManager", "DeletionByPodGC" -> NODE_LOST;
            default -> EVICTED;
        };
        String node = pod.getSpec() != null ? pod.getSpec().getNodeName() : null;
        return new PodFailure(
                reason,
                pod.getMetadata().getName(),
                nodeRank,
                null,
                pod.getMetadata().getName() + " (node rank " + nodeRank + ") is marked for disruption ("
                        + (disruption != null ? disruption : "since withdrawn") + "); stopped after the checkpoint"
                        + " before stop",
                now,
                null,
                null,
                node != null && !node.isEmpty() ? node : null);
    }

    /** The reason of Kueue's TerminationTarget condition (True) on the pod, or null. */
    static String kueueStopReason(Pod pod) {
        PodCondition c = kueueStop(pod);
        return c != null ? (c.getReason() != null ? c.getReason() : "") : null;
    }

    private static String kueueStopMessage(Pod pod) {
        PodCondition c = kueueStop(pod);
        return c != null ? tail(c.getMessage()) : null;
    }

    private static PodCondition kueueStop(Pod pod) {
        if (pod.getStatus() == null || pod.getStatus().getConditions() == null) {
            return null;
        }
        for (PodCondition c : pod.getStatus().getConditions()) {
            if (Placement.KUEUE_TERMINATION_TARGET.equals(c.getType()) && "True".equals(c.getStatus())) {
                return c;
            }
        }
        return null;
    }

    static String disruptionReason(Pod pod) {
        if (pod.getStatus() == null || pod.getStatus().getConditions() == null) {
            return null;
        }
        for (PodCondition c : pod.getStatus().getConditions()) {
            if ("DisruptionTarget".equals(c.getType()) && "True".equals(c.getStatus())) {
                return c.getReason();
            }
        }
        return null;
    }

    static Instant parse(String time, Instant fallback) {
        try {
            return Instant.parse(time);
        } catch (RuntimeException e) {
            return fallback;
        }
    }
}
