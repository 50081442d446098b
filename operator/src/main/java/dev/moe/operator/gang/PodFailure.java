package dev.moe.operator.gang;

import java.time.Instant;

/**
 * Why one pod of the gang stopped the gang.
 *
 * @param reason             one of {@link FailureClassifier#REASONS}: ExitCode, OOMKilled, Evicted, Preempted,
 *                           NodeLost, PodDeleted, PodFailed, Stalled, GangSchedulingTimeout
 * @param pod                pod name
 * @param nodeRank           node rank of the pod
 * @param exitCode           exit code of the trainer container, when it exited
 * @param message            human-readable detail (with the termination message, when there is one)
 * @param time               when it happened (container finish time when known)
 * @param terminationReason  the trainer container's termination reason as the kubelet wrote it (OOMKilled, Error
 *                           …), or null
 * @param terminationMessage the trainer container's termination message (its last log lines with
 *                           FallbackToLogsOnError), cut to its last {@code SpecLimits.MAX_FAILURE_MESSAGE_LENGTH}
 *                           characters, or null
 * @param node               the node the pod ran on, or null
 */
public record PodFailure(
        String reason,
        String pod,
        int nodeRank,
        Integer exitCode,
        String message,
        Instant time,
        String terminationReason,
        String terminationMessage,
        String node) {

    /** A failure learnt without a container termination (a vanished rank, a timeout, a stall). */
    public PodFailure(String reason, String pod, int nodeRank, Integer exitCode, String message, Instant time) {
        this(reason, pod, nodeRank, exitCode, message, time, null, null, null);
    }
}
