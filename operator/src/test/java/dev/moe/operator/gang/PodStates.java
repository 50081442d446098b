package dev.moe.operator.gang;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;

/** Pod status shapes as the kubelet, scheduler and controllers write them. */
public final class PodStates {
    private PodStates() {}

    public static Pod base(String job, int rank, int attempt) {
        return new PodBuilder()
                .withNewMetadata()
                .withName(GangNames.podName(job, rank))
                .withCreationTimestamp("2026-11-26T12:00:00Z")
                .addToLabels(GangNames.JOB_LABEL, job)
                .addToLabels(GangNames.NODE_RANK_LABEL, String.valueOf(rank))
                .addToLabels(GangNames.ATTEMPT_LABEL, String.valueOf(attempt))
                .addNewOwnerReference()
                .withApiVersion("training.moe.dev/v1alpha1")
                .withKind("MoETrainingJob")
                .withName(job)
                .withUid("uid-" + job)
                .withController(true)
                .endOwnerReference()
                .endMetadata()
                .withNewSpec()
                .endSpec()
                .withNewStatus()
                .withPhase("Pending")
                .endStatus()
                .build();
    }

    /** The scheduler found no node: PodScheduled=False, reason Unschedulable. */
    public static Pod unschedulable(Pod p, String message) {
        return new PodBuilder(p)
                .editStatus()
                .withConditions(new PodConditionBuilder()
                        .withType("PodScheduled")
                        .withStatus("False")
                        .withReason("Unschedulable")
                        .withMessage(message)
                        .build())
                .endStatus()
                .build();
    }

    /** Bound, but the kubelet cannot pull the image. */
    public static Pod imagePullBackOff(Pod p) {
        return new PodBuilder(p)
                .editSpec()
                .withNodeName("node-" + p.getMetadata().getName())
                .endSpec()
                .editStatus()
                .withConditions(new PodConditionBuilder()
                        .withType("PodScheduled")
                        .withStatus("True")
                        .build())
                .addNewContainerStatus()
                .withName(GangNames.TRAINER_CONTAINER)
                .withNewState()
                .withNewWaiting()
                .withReason("ImagePullBackOff")
                .withMessage("Back-off pulling image \"registry.invalid/t:1\"")
                .endWaiting()
                .endState()
                .endContainerStatus()
                .endStatus()
                .build();
    }

    public static Pod running(Pod p) {
        return new PodBuilder(p)
                .editSpec()
                .withNodeName("node-" + p.getMetadata().getName())
                .endSpec()
                .editStatus()
                .withPhase("Running")
                .withConditions(new PodConditionBuilder()
                        .withType("PodScheduled")
                        .withStatus("True")
                        .build())
                .endStatus()
                .build();
    }

    public static Pod exited(Pod p, int code) {
        return new PodBuilder(running(p))
                .editStatus()
                .withPhase(code == 0 ? "Succeeded" : "Failed")
                .addNewContainerStatus()
                .withName(GangNames.TRAINER_CONTAINER)
                .withNewState()
                .withNewTerminated()
                .withExitCode(code)
                .withReason(code == 0 ? "Completed" : "Error")
                .withFinishedAt("2026-11-26T12:05:00Z")
                .endTerminated()
                .endState()
                .endContainerStatus()
                .endStatus()
                .build();
    }

    /** Killed for memory: exit 137, termination reason OOMKilled. */
    public static Pod oomKilled(Pod p) {
        return new PodBuilder(running(p))
                .editStatus()
                .withPhase("Failed")
                .addNewContainerStatus()
                .withName(GangNames.TRAINER_CONTAINER)
                .withNewState()
                .withNewTerminated()
                .withExitCode(137)
                .withReason("OOMKilled")
                .withFinishedAt("2026-11-26T12:05:00Z")
                .endTerminated()
                .endState()
                .endContainerStatus()
                .endStatus()
                .build();
    }

    /** Exited with {@code code}, its termination message {@code message} (FallbackToLogsOnError: the last log lines). */
    public static Pod exitedWithMessage(Pod p, int code, String message) {
        return new PodBuilder(running(p))
                .editStatus()
                .withPhase("Failed")
                .addNewContainerStatus()
                .withName(GangNames.TRAINER_CONTAINER)
                .withNewState()
                .withNewTerminated()
                .withExitCode(code)
                .withReason("Error")
                .withMessage(message)
                .withFinishedAt("2026-11-26T12:05:00Z")
                .endTerminated()
                .endState()
                .endContainerStatus()
                .endStatus()
                .build();
    }

    /** Running, rank 0's progress report at {@code step}. */
    public static Pod reporting(Pod p, long step) {
        return new PodBuilder(running(p))
                .editMetadata()
                .addToAnnotations(
                        "training.moe.dev/progress",
                        "{\"step\": " + step + ", \"loss\": 2.5, \"time\": \"2026-11-26T12:00:00Z\"}")
                .endMetadata()
                .build();
    }

    /** Evicted through the Eviction API: DisruptionTarget EvictionByEvictionAPI and terminating. */
    public static Pod evictedByApi(Pod p) {
        return new PodBuilder(running(p))
                .editMetadata()
                .withDeletionTimestamp("2026-11-26T12:06:00Z")
                .endMetadata()
                .editStatus()
                .addToConditions(new PodConditionBuilder()
                        .withType("DisruptionTarget")
                        .withStatus("True")
                        .withReason("EvictionByEvictionAPI")
                        .build())
                .endStatus()
                .build();
    }

    public static Pod evicted(Pod p) {
        return new PodBuilder(running(p))
                .editStatus()
                .withPhase("Failed")
                .withReason("Evicted")
                .withMessage("The node was low on resource: memory.")
                .endStatus()
                .build();
    }

    public static Pod preempted(Pod p) {
        return new PodBuilder(running(p))
                .editMetadata()
                .withDeletionTimestamp("2026-11-26T12:06:00Z")
                .endMetadata()
                .editStatus()
                .addToConditions(new PodConditionBuilder()
                        .withType("DisruptionTarget")
                        .withStatus("True")
                        .withReason("PreemptionByScheduler")
                        .build())
                .endStatus()
                .build();
    }

    public static Pod nodeLost(Pod p) {
        return new PodBuilder(running(p))
                .editStatus()
                .withPhase("Unknown")
                .endStatus()
                .build();
    }

    public static Pod deleted(Pod p) {
        return new PodBuilder(running(p))
                .editMetadata()
                .withDeletionTimestamp("2026-11-26T12:06:00Z")
                .endMetadata()
                .build();
    }

    /**
     * What Kueue does to each pod of a pod group it stops (pod_controller.go Stop): a TerminationTarget condition
     * with the stop reason and the eviction message, then a delete.
     */
    public static Pod stoppedByKueue(Pod p, String reason, boolean deleted) {
        PodBuilder b = new PodBuilder(running(p));
        if (deleted) {
            b.editMetadata().withDeletionTimestamp("2026-11-26T12:06:00Z").endMetadata();
        }
        return b.editStatus()
                .addToConditions(new PodConditionBuilder()
                        .withType("TerminationTarget")
                        .withStatus("True")
                        .withReason(reason)
                        .withMessage("Preempted to accommodate a workload (UID: 1234) due to prioritization in the"
                                + " ClusterQueue")
                        .build())
                .endStatus()
                .build();
    }
}
