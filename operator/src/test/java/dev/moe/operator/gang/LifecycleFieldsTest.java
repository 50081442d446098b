package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.operator.TestJobs;
import dev.moe.operator.status.Conditions;
import dev.moe.operator.status.Reasons;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** spec.activeDeadlineSeconds and spec.ttlSecondsAfterFinished in the state machine (no server). */
class LifecycleFieldsTest {
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
        GangDecision d = GangLifecycle.isTerminal(s)
                ? GangLifecycle.decideTerminal(job, gang, now)
                : GangLifecycle.decide(job, plan, gang, policy, now);
        job.setStatus(d.status);
        return d;
    }

    private static List<Pod> runningGang(int attempt) {
        return List.of(
                PodStates.running(PodStates.base("j", 0, attempt)), PodStates.running(PodStates.base("j", 1, attempt)));
    }

    @Test
    void theDeadlineFailsARunningJobAndStopsItsPods() {
        job.getSpec().activeDeadlineSeconds = 100L;
        GangDecision d = decide(List.of(), T0);
        assertThat(d.status.activeSince).isEqualTo("2026-11-26T12:10:00Z");
        assertThat(d.requeue()).isPresent();
        assertThat(d.requeue().get()).isLessThanOrEqualTo(Duration.ofSeconds(100));
        d = decide(runningGang(0), T0.plusSeconds(60));
        assertThat(d.status.phase).isEqualTo(JobPhase.Running);
        // woken up at the deadline
        assertThat(d.requeue()).contains(Duration.ofSeconds(40));

        d = decide(runningGang(0), T0.plusSeconds(100));
        assertThat(d.status.phase).isEqualTo(JobPhase.Failed);
        assertThat(Conditions.get(d.status, Conditions.FAILED).orElseThrow().reason)
                .isEqualTo(Reasons.DEADLINE_EXCEEDED);
        assertThat(Conditions.get(d.status, Conditions.FAILED).orElseThrow().message)
                .contains("active for 100s, spec.activeDeadlineSeconds=100");
        assertThat(d.events).extracting(GangDecision.JobEvent::reason).containsExactly(Reasons.DEADLINE_EXCEEDED);
        assertThat(d.deletePods).hasSize(2);
        assertThat(d.createRanks).isEmpty();
        assertThat(d.status.completionTime).isEqualTo("2026-11-26T12:11:40Z");
        assertThat(d.status.activeSince).isNull();
        assertThat(d.status.activeSeconds).isEqualTo(100L);
    }

    @Test
    void theDeadlineCountsAcrossRestartsOnTheJobNotPerPod() {
        job.getSpec().activeDeadlineSeconds = 100L;
        job.getSpec().restartPolicy.backoffSeconds = 0;
        decide(List.of(), T0);
        decide(runningGang(0), T0.plusSeconds(10));
        // a failure at 70 s restarts the gang; the new gang's pods are young, the job is not
        GangDecision d = decide(
                List.of(PodStates.running(PodStates.base("j", 0, 0)), PodStates.exited(PodStates.base("j", 1, 0), 1)),
                T0.plusSeconds(70));
        assertThat(d.status.phase).isEqualTo(JobPhase.Restarting);
        d = decide(List.of(), T0.plusSeconds(71));
        assertThat(d.createRanks).containsExactly(0, 1);
        d = decide(runningGang(1), T0.plusSeconds(80));
        assertThat(d.status.phase).isEqualTo(JobPhase.Running);
        d = decide(runningGang(1), T0.plusSeconds(100));
        assertThat(d.status.phase).isEqualTo(JobPhase.Failed);
        assertThat(d.status.restarts).isEqualTo(1);
    }

    @Test
    void suspendedTimeDoesNotCount() {
        job.getSpec().activeDeadlineSeconds = 100L;
        decide(List.of(), T0);
        decide(runningGang(0), T0.plusSeconds(10));
        job.getSpec().suspend = true;
        GangDecision d = decide(runningGang(0), T0.plusSeconds(60));
        assertThat(d.status.phase).isEqualTo(JobPhase.Suspended);
        assertThat(d.status.activeSeconds).isEqualTo(60L);
        assertThat(d.status.activeSince).isNull();
        // a week suspended
        job.getSpec().suspend = false;
        Instant resumed = T0.plus(Duration.ofDays(7));
        d = decide(List.of(), resumed);
        assertThat(d.createRanks).containsExactly(0, 1);
        assertThat(d.requeue()).contains(Duration.ofSeconds(40));
        d = decide(runningGang(0), resumed.plusSeconds(39));
        assertThat(d.status.phase).isEqualTo(JobPhase.Running);
        d = decide(runningGang(0), resumed.plusSeconds(40));
        assertThat(d.status.phase).isEqualTo(JobPhase.Failed);
        assertThat(d.status.activeSeconds).isEqualTo(100L);
    }

    @Test
    void successAtTheDeadlineIsSuccess() {
        job.getSpec().activeDeadlineSeconds = 100L;
        decide(List.of(), T0);
        decide(runningGang(0), T0.plusSeconds(10));
        GangDecision d = decide(
                List.of(PodStates.exited(PodStates.base("j", 0, 0), 0), PodStates.exited(PodStates.base("j", 1, 0), 0)),
                T0.plusSeconds(200));
        assertThat(d.status.phase).isEqualTo(JobPhase.Succeeded);
    }

    @Test
    void withoutADeadlineNothingFails() {
        decide(List.of(), T0);
        GangDecision d = decide(runningGang(0), T0.plus(Duration.ofDays(300)));
        assertThat(d.status.phase).isEqualTo(JobPhase.Running);
    }

    @Test
    void aFinishedJobIsDeletedTtlSecondsAfterCompletion() {
        job.getSpec().ttlSecondsAfterFinished = 30;
        decide(List.of(), T0);
        decide(runningGang(0), T0);
        GangDecision d = decide(
                List.of(PodStates.exited(PodStates.base("j", 0, 0), 0), PodStates.exited(PodStates.base("j", 1, 0), 0)),
                T0.plusSeconds(60));
        assertThat(d.status.phase).isEqualTo(JobPhase.Succeeded);
        assertThat(d.deleteJob).isFalse();
        assertThat(d.requeue()).contains(Duration.ofSeconds(30));

        List<Pod> finished =
                List.of(PodStates.exited(PodStates.base("j", 0, 0), 0), PodStates.exited(PodStates.base("j", 1, 0), 0));
        d = decide(finished, T0.plusSeconds(70));
        assertThat(d.deleteJob).isFalse();
        assertThat(d.requeue()).contains(Duration.ofSeconds(20));
        d = decide(finished, T0.plusSeconds(90));
        assertThat(d.deleteJob).isTrue();
    }

    @Test
    void aFailedJobIsDeletedToo_andWithoutTtlNeverIs() {
        job.getSpec().ttlSecondsAfterFinished = 0;
        job.getSpec().restartPolicy.maxRestarts = 0;
        decide(List.of(), T0);
        decide(runningGang(0), T0);
        GangDecision d = decide(
                List.of(PodStates.running(PodStates.base("j", 0, 0)), PodStates.exited(PodStates.base("j", 1, 0), 1)),
                T0.plusSeconds(5));
        assertThat(d.status.phase).isEqualTo(JobPhase.Failed);
        d = decide(List.of(), T0.plusSeconds(5));
        assertThat(d.deleteJob).isTrue();

        job.getSpec().ttlSecondsAfterFinished = null;
        d = decide(List.of(), T0.plus(Duration.ofDays(365)));
        assertThat(d.deleteJob).isFalse();
        assertThat(d.requeue()).isEmpty();
    }
}
