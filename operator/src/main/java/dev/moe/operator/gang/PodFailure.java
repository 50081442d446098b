package dev.moe.operator.gang;

import java.time.Instant;

/**
 * Why one pod of the gang stopped the gang.
 *
 * @param reason   one of {@link FailureClassifier#REASONS}: ExitCode, Evicted, Preempted, NodeLost, PodDeleted,
 *                 PodFailed, GangSchedulingTimeout
 * @param pod      pod name
 * @param nodeRank node rank of the pod
 * @param exitCode exit code of the trainer container, when it exited
 * @param message  human-readable detail
 * @param time     when it happened (container finish time when known)
 */
public record PodFailure(String reason, String pod, int nodeRank, Integer exitCode, String message, Instant time) {
}
