package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class FailureClassifierTest {
    private static final Instant NOW = Instant.parse("2026-11-26T12:10:00Z");

    @Test
    void pendingRunningAndSucceededAreNotFailures() {
        assertThat(FailureClassifier.classify(PodStates.base("j", 0, 0), 0, NOW))
                .isEmpty();
        assertThat(FailureClassifier.classify(PodStates.running(PodStates.base("j", 0, 0)), 0, NOW))
                .isEmpty();
        assertThat(FailureClassifier.classify(PodStates.exited(PodStates.base("j", 0, 0), 0), 0, NOW))
                .isEmpty();
    }

    @Test
    void nonZeroExitIsExitCodeWithTheCode() {
        PodFailure f = FailureClassifier.classify(PodStates.exited(PodStates.base("j", 1, 0), 75), 1, NOW)
                .orElseThrow();
        assertThat(f.reason()).isEqualTo("ExitCode");
        assertThat(f.exitCode()).isEqualTo(75);
        assertThat(f.pod()).isEqualTo("j-node-1");
        assertThat(f.nodeRank()).isEqualTo(1);
        assertThat(f.time()).isEqualTo(Instant.parse("2026-11-26T12:05:00Z"));
        assertThat(FailureClassifier.isNonRetriable(f, List.of())).isFalse();
    }

    @Test
    void configErrorAndConfiguredCodesAreNonRetriable() {
        PodFailure config = FailureClassifier.classify(PodStates.exited(PodStates.base("j", 0, 0), 78), 0, NOW)
                .orElseThrow();
        assertThat(FailureClassifier.isNonRetriable(config, List.of())).isTrue();
        PodFailure custom = FailureClassifier.classify(PodStates.exited(PodStates.base("j", 0, 0), 3), 0, NOW)
                .orElseThrow();
        assertThat(FailureClassifier.isNonRetriable(custom, List.of(3))).isTrue();
        assertThat(FailureClassifier.isNonRetriable(custom, List.of(4))).isFalse();
    }

    @Test
    void evictionPreemptionNodeLossAndDeletion() {
        assertThat(FailureClassifier.classify(PodStates.evicted(PodStates.base("j", 0, 0)), 0, NOW)
                        .orElseThrow()
                        .reason())
                .isEqualTo("Evicted");
        assertThat(FailureClassifier.classify(PodStates.preempted(PodStates.base("j", 0, 0)), 0, NOW)
                        .orElseThrow()
                        .reason())
                .isEqualTo("Preempted");
        assertThat(FailureClassifier.classify(PodStates.nodeLost(PodStates.base("j", 0, 0)), 0, NOW)
                        .orElseThrow()
                        .reason())
                .isEqualTo("NodeLost");
        assertThat(FailureClassifier.classify(PodStates.deleted(PodStates.base("j", 0, 0)), 0, NOW)
                        .orElseThrow()
                        .reason())
                .isEqualTo("PodDeleted");
    }

    @Test
    void evictionWithExitCode78IsStillRetriable() {
        var p = PodStates.evicted(PodStates.exited(PodStates.base("j", 0, 0), 78));
        PodFailure f = FailureClassifier.classify(p, 0, NOW).orElseThrow();
        assertThat(f.reason()).isEqualTo("Evicted");
        assertThat(FailureClassifier.isNonRetriable(f, List.of())).isFalse();
    }

    @Test
    void kueueStoppingTheGroupSaysWhy() {
        PodFailure preempted = FailureClassifier.classify(
                        PodStates.stoppedByKueue(PodStates.base("j", 2, 0), "WorkloadEvictedDueToPreempted", true),
                        2,
                        NOW)
                .orElseThrow();
        assertThat(preempted.reason()).isEqualTo("Preempted");
        assertThat(preempted.message())
                .startsWith("j-node-2 (node rank 2) was preempted by Kueue: Preempted to accommodate a workload");
        assertThat(FailureRules.decide(preempted, List.of(), List.of()).action())
                .isEqualTo(dev.moe.api.v1alpha1.FailureRule.Action.RestartGangUncounted);

        PodFailure timeout = FailureClassifier.classify(
                        PodStates.stoppedByKueue(
                                PodStates.base("j", 0, 0), "WorkloadEvictedDueToPodsReadyTimeout", true),
                        0,
                        NOW)
                .orElseThrow();
        assertThat(timeout.reason()).isEqualTo("GangSchedulingTimeout");
        assertThat(timeout.message()).contains("waitForPodsReady");

        PodFailure stopped = FailureClassifier.classify(
                        PodStates.stoppedByKueue(
                                PodStates.base("j", 0, 0), "WorkloadEvictedDueToClusterQueueStopped", true),
                        0,
                        NOW)
                .orElseThrow();
        assertThat(stopped.reason()).isEqualTo("Evicted");
        assertThat(stopped.message()).contains("stopped by Kueue (WorkloadEvictedDueToClusterQueueStopped)");
    }

    @Test
    void kueueConditionBeforeTheDeleteIsNoFailureYet() {
        // Kueue patches the condition, then deletes: until the delete, the pod is still the gang's.
        assertThat(FailureClassifier.classify(
                        PodStates.stoppedByKueue(PodStates.base("j", 0, 0), "WorkloadEvictedDueToPreempted", false),
                        0,
                        NOW))
                .isEmpty();
    }

    @Test
    void aPlainDeleteIsStillPodDeleted() {
        // Without Kueue's condition the same terminating pod is someone else's delete (counted).
        assertThat(FailureClassifier.classify(PodStates.deleted(PodStates.base("j", 0, 0)), 0, NOW)
                        .orElseThrow()
                        .reason())
                .isEqualTo("PodDeleted");
    }
}
