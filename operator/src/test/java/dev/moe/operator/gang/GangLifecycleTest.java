package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.operator.TestJobs;
import dev.moe.operator.status.Conditions;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The state machine without a server: one decision per call. */
class GangLifecycleTest {
    private static final Instant T0 = Instant.parse("2026-11-26T12:10:00Z");

    private final MoETrainingJob job = TestJobs.tiny("ml", "j", 2);
    private final Plan plan = TestJobs.plan(job);

    private GangDecision decide(List<Pod> pods, Instant now) {
        GangRestartPolicy policy = GangRestartPolicy.of(job.getSpec().restartPolicy);
        MoETrainingJobStatus s = job.getStatus();
        int attempt = s != null && s.restartAttempt != null ? s.restartAttempt : 0;
        GangState gang = GangObserver.observe(
                "j",
                null,
                pods,
                attempt,
                plan.nodes(),
                GangLifecycle.gangStarted(s),
                policy.nonRetryableExitCodes(),
                now);
        GangDecision d = GangLifecycle.decide(job, plan, gang, policy, now);
        job.setStatus(d.status);
        return d;
    }

    private static List<Pod> runningGang(int attempt) {
        return List.of(
                PodStates.running(PodStates.base("j", 0, attempt)), PodStates.running(PodStates.base("j", 1, attempt)));
    }

    @Test
    void createsEveryRankOnceThenRunsThenSucceeds() {
        GangDecision d = decide(List.of(), T0);
        assertThat(d.createRanks).containsExactly(0, 1);
        assertThat(d.status.phase).isEqualTo(JobPhase.Pending);
        assertThat(d.events).extracting(GangDecision.JobEvent::reason).containsExactly("GangCreated");

        d = decide(runningGang(0), T0);
        assertThat(d.createRanks).isEmpty();
        assertThat(d.status.phase).isEqualTo(JobPhase.Running);
        assertThat(d.status.startTime).isEqualTo("2026-11-26T12:10:00Z");
        assertThat(Conditions.isTrue(d.status, Conditions.GANG_SCHEDULED)).isTrue();

        d = decide(
                List.of(PodStates.exited(PodStates.base("j", 0, 0), 0), PodStates.exited(PodStates.base("j", 1, 0), 0)),
                T0.plusSeconds(60));
        assertThat(d.status.phase).isEqualTo(JobPhase.Succeeded);
        assertThat(d.status.completionTime).isNotNull();
        assertThat(d.deletePods).isEmpty();
    }

    @Test
    void retriableFailureRestartsTheWholeGangAfterBackoffUpToMaxRestarts() {
        decide(List.of(), T0);
        decide(runningGang(0), T0);
        // rank 1 exits 75: the whole gang goes, attempt 1 after 1 s
        GangDecision d = decide(
                List.of(PodStates.running(PodStates.base("j", 0, 0)), PodStates.exited(PodStates.base("j", 1, 0), 75)),
                T0.plusSeconds(10));
        assertThat(d.status.phase).isEqualTo(JobPhase.Restarting);
        assertThat(d.status.restarts).isEqualTo(1);
        assertThat(d.status.restartAttempt).isEqualTo(1);
        assertThat(d.status.lastFailure.reason).isEqualTo("ExitCode");
        assertThat(d.status.lastFailure.exitCode).isEqualTo(75);
        assertThat(d.status.lastFailure.rank).isEqualTo(1);
        assertThat(d.status.lastFailure.pod).isEqualTo("j-node-1");
        assertThat(d.deletePods)
                .extracting(p -> p.getMetadata().getName())
                .containsExactlyInAnyOrder("j-node-0", "j-node-1");
        assertThat(d.requeue()).contains(Duration.ofSeconds(1));
        assertThat(d.restartReasons).containsExactly("ExitCode");

        // Before the backoff is over nothing is created even with no pods left.
        d = decide(List.of(), T0.plusSeconds(10));
        assertThat(d.createRanks).isEmpty();
        assertThat(d.status.phase).isEqualTo(JobPhase.Restarting);
        // Old pods still terminating after the backoff: wait for them.
        d = decide(List.of(PodStates.deleted(PodStates.base("j", 0, 0))), T0.plusSeconds(12));
        assertThat(d.createRanks).isEmpty();
        assertThat(d.deletePods).as("nothing left to delete: no second DELETE").isEmpty();
        // Backoff over, old pods gone: attempt 1 is created.
        d = decide(List.of(), T0.plusSeconds(12));
        assertThat(d.createRanks).containsExactly(0, 1);
        assertThat(d.status.phase).isEqualTo(JobPhase.Pending);

        // Second failure: restart 2, backoff doubled to 2 s.
        decide(runningGang(1), T0.plusSeconds(13));
        d = decide(
                List.of(PodStates.exited(PodStates.base("j", 0, 1), 1), PodStates.running(PodStates.base("j", 1, 1))),
                T0.plusSeconds(20));
        assertThat(d.status.restarts).isEqualTo(2);
        assertThat(d.requeue()).contains(Duration.ofSeconds(2));
        assertThat(d.status.lastFailure.reason).isEqualTo("ExitCode");
        decide(List.of(), T0.plusSeconds(22));
        decide(runningGang(2), T0.plusSeconds(23));

        // Third failure: maxRestarts=2 reached → Failed, running pods stopped, failed pod kept for its logs.
        d = decide(
                List.of(PodStates.running(PodStates.base("j", 0, 2)), PodStates.exited(PodStates.base("j", 1, 2), 1)),
                T0.plusSeconds(30));
        assertThat(d.status.phase).isEqualTo(JobPhase.Failed);
        assertThat(Conditions.get(d.status, Conditions.FAILED).orElseThrow().reason)
                .isEqualTo("RestartLimitExceeded");
        assertThat(d.deletePods).extracting(p -> p.getMetadata().getName()).containsExactly("j-node-0");
        assertThat(d.status.restarts).isEqualTo(2);
        // The two restarts, newest last; the final failure is lastFailure, not a restart.
        assertThat(d.status.restartHistory)
                .extracting(r -> r.reason, r -> r.pod, r -> r.rank, r -> r.exitCode, r -> r.time, r -> r.attempt)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("ExitCode", "j-node-1", 1, 75, "2026-11-26T12:10:10Z", 0),
                        org.assertj.core.groups.Tuple.tuple("ExitCode", "j-node-0", 0, 1, "2026-11-26T12:10:20Z", 1));
        assertThat(d.status.lastFailure.exitCode).isEqualTo(1);
    }

    @Test
    void configErrorFailsAtOnce() {
        decide(List.of(), T0);
        decide(runningGang(0), T0);
        GangDecision d = decide(
                List.of(PodStates.exited(PodStates.base("j", 0, 0), 78), PodStates.running(PodStates.base("j", 1, 0))),
                T0.plusSeconds(5));
        assertThat(d.status.phase).isEqualTo(JobPhase.Failed);
        assertThat(d.status.restarts).isZero();
        assertThat(Conditions.get(d.status, Conditions.FAILED).orElseThrow().reason)
                .isEqualTo("NonRetryableExitCode");
        assertThat(d.events).extracting(GangDecision.JobEvent::type).containsExactly("Warning");
    }

    @Test
    void partialGangTimesOutAndIsRecreatedWithoutUsingARestart() {
        job.getSpec().restartPolicy.gangSchedulingTimeoutSeconds = 30;
        decide(List.of(), T0);
        Pod scheduled = PodStates.running(PodStates.base("j", 0, 0));
        Pod pending = PodStates.base("j", 1, 0);
        GangDecision d = decide(List.of(scheduled, pending), Instant.parse("2026-11-26T12:00:10Z"));
        assertThat(d.status.phase).isEqualTo(JobPhase.Pending);
        assertThat(d.requeue()).contains(Duration.ofSeconds(20));
        d = decide(List.of(scheduled, pending), Instant.parse("2026-11-26T12:00:30Z"));
        assertThat(d.status.phase).isEqualTo(JobPhase.Restarting);
        assertThat(d.status.lastFailure.reason).isEqualTo("GangSchedulingTimeout");
        assertThat(d.status.lastFailure.rank).isEqualTo(1);
        assertThat(d.status.restarts).isZero();
        assertThat(d.status.restartAttempt).isEqualTo(1);
        assertThat(d.deletePods).hasSize(2);
    }

    @Test
    void aVanishedRankOfARunningGangIsAFailure() {
        decide(List.of(), T0);
        decide(runningGang(0), T0);
        GangDecision d = decide(List.of(PodStates.running(PodStates.base("j", 0, 0))), T0.plusSeconds(5));
        assertThat(d.createRanks).isEmpty();
        assertThat(d.status.phase).isEqualTo(JobPhase.Restarting);
        assertThat(d.status.lastFailure.reason).isEqualTo("PodDeleted");
        assertThat(d.status.lastFailure.rank).isEqualTo(1);
    }

    @Test
    void aMissingRankOfAGangBeingCreatedIsCreatedNotFailed() {
        Instant created = Instant.parse("2026-11-26T12:00:00Z"); // PodStates' creation time
        decide(List.of(), created);
        GangDecision d = decide(List.of(PodStates.base("j", 0, 0)), created.plusSeconds(1));
        assertThat(d.createRanks).containsExactly(1);
        assertThat(d.status.phase).isEqualTo(JobPhase.Pending);
    }

    @Test
    void suspendDeletesPodsAndKeepsStatusResumeRecreates() {
        decide(List.of(), T0);
        decide(runningGang(0), T0);
        job.getSpec().suspend = true;
        GangDecision d = decide(runningGang(0), T0.plusSeconds(5));
        assertThat(d.status.phase).isEqualTo(JobPhase.Suspended);
        assertThat(d.deletePods).hasSize(2);
        assertThat(d.status.startTime).isEqualTo("2026-11-26T12:10:00Z");
        job.getSpec().suspend = false;
        d = decide(List.of(), T0.plusSeconds(10));
        assertThat(d.createRanks).containsExactly(0, 1);
        assertThat(d.events).extracting(GangDecision.JobEvent::reason).contains("Resumed");
    }

    @Test
    void conditionTransitionTimeIsStableWhileNothingChanges() {
        decide(List.of(), T0);
        decide(runningGang(0), T0);
        String t = Conditions.get(job.getStatus(), Conditions.RUNNING).orElseThrow().lastTransitionTime;
        MoETrainingJobStatus before = dev.moe.operator.status.StatusUpdater.copyOf(job);
        GangDecision d = decide(runningGang(0), T0.plusSeconds(100));
        assertThat(Conditions.get(d.status, Conditions.RUNNING).orElseThrow().lastTransitionTime)
                .isEqualTo(t);
        assertThat(dev.moe.operator.status.StatusUpdater.changed(before, d.status))
                .isFalse();
    }

    @Test
    void aPodStuckTerminatingIsForceDeletedWellAfterItsGracePeriod() {
        decide(List.of(), T0);
        decide(runningGang(0), T0);
        decide(
                List.of(PodStates.running(PodStates.base("j", 0, 0)), PodStates.exited(PodStates.base("j", 1, 0), 75)),
                T0.plusSeconds(10));
        // rank 0 sits on a lost node: its deletion never completes (deletionTimestamp = end of its grace period)
        Pod stuck = new io.fabric8.kubernetes.api.model.PodBuilder(PodStates.base("j", 0, 0))
                .editMetadata()
                .withDeletionTimestamp("2026-11-26T12:10:40Z")
                .withDeletionGracePeriodSeconds(30L)
                .endMetadata()
                .build();
        GangDecision d = decide(List.of(stuck), Instant.parse("2026-11-26T12:11:00Z"));
        assertThat(d.forceDeletePods).isEmpty();
        assertThat(d.createRanks).isEmpty();
        assertThat(d.requeue()).isPresent();
        d = decide(List.of(stuck), Instant.parse("2026-11-26T12:12:40Z"));
        assertThat(d.forceDeletePods).extracting(p -> p.getMetadata().getName()).containsExactly("j-node-0");
        d = decide(List.of(), Instant.parse("2026-11-26T12:12:41Z"));
        assertThat(d.createRanks).containsExactly(0, 1);
    }

    @Test
    void restartHistoryKeepsTheLastTenRestartsNewestLast() {
        MoETrainingJobStatus s = new MoETrainingJobStatus();
        for (int attempt = 0; attempt < 13; attempt++) {
            MoETrainingJobStatus.FailureRecord f = new MoETrainingJobStatus.FailureRecord();
            f.reason = "ExitCode";
            f.pod = "j-node-" + (attempt % 2);
            f.rank = attempt % 2;
            f.exitCode = 75;
            f.time = T0.plusSeconds(attempt).toString();
            GangLifecycle.recordRestart(s, f, attempt);
        }
        assertThat(s.restartHistory).hasSize(MoETrainingJobStatus.RESTART_HISTORY_LIMIT);
        assertThat(s.restartHistory).extracting(r -> r.attempt).containsExactly(3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
        assertThat(s.restartHistory.get(9).time).isEqualTo("2026-11-26T12:10:12Z");
    }

    @Test
    void aGangSchedulingTimeoutIsInTheHistoryToo() {
        job.getSpec().restartPolicy.gangSchedulingTimeoutSeconds = 30;
        decide(List.of(), T0);
        GangDecision d = decide(
                List.of(PodStates.running(PodStates.base("j", 0, 0)), PodStates.base("j", 1, 0)), T0.plusSeconds(3600));
        assertThat(d.status.restartHistory).singleElement().satisfies(r -> {
            assertThat(r.reason).isEqualTo("GangSchedulingTimeout");
            assertThat(r.attempt).isZero();
        });
    }
}
