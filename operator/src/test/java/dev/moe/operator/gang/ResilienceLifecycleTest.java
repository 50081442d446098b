package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.FailureRule;
import dev.moe.api.v1alpha1.FailureRule.Action;
import dev.moe.api.v1alpha1.FailureRule.Reason;
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

/** Failure rules, the infrastructure budget, kept evidence and stall detection in the state machine. */
class ResilienceLifecycleTest {
    private static final Instant T0 = Instant.parse("2026-11-26T12:10:00Z");

    private final MoETrainingJob job = TestJobs.tiny("ml", "j", 2);
    private final Plan plan = TestJobs.plan(job);

    private GangDecision decide(List<Pod> pods, Instant now) {
        GangRestartPolicy policy = GangRestartPolicy.of(job.getSpec().restartPolicy);
        MoETrainingJobStatus s = job.getStatus();
        int attempt = s != null && s.restartAttempt != null ? s.restartAttempt : 0;
        GangState gang = GangObserver.observe(
                "j", null, pods, attempt, plan.nodes(), GangLifecycle.gangStarted(s), policy::failsJob, now);
        GangDecision d = GangLifecycle.decide(job, plan, gang, policy, now);
        job.setStatus(d.status);
        return d;
    }

    private static List<Pod> runningGang(int attempt) {
        return List.of(
                PodStates.running(PodStates.base("j", 0, attempt)), PodStates.running(PodStates.base("j", 1, attempt)));
    }

    /** Brings the gang of {@code attempt} to Running at {@code at} (after the previous restart's backoff). */
    private void runAttempt(int attempt, Instant at) {
        decide(List.of(), at);
        GangDecision d = decide(runningGang(attempt), at);
        assertThat(d.status.phase).isEqualTo(JobPhase.Running);
    }

    @Test
    void sixEvictionsWithMaxRestartsFiveKeepTheJobRunning() {
        job.getSpec().restartPolicy.maxRestarts = 5;
        Instant t = T0;
        runAttempt(0, t);
        for (int i = 0; i < 6; i++) {
            t = t.plusSeconds(60);
            GangDecision d = decide(
                    List.of(
                            PodStates.evictedByApi(PodStates.base("j", i % 2, i)),
                            PodStates.running(PodStates.base("j", 1 - i % 2, i))),
                    t);
            assertThat(d.status.phase).as("eviction %d", i + 1).isEqualTo(JobPhase.Restarting);
            assertThat(d.status.lastFailure.action).isEqualTo("RestartGangUncounted");
            String counted = "infrastructure restart " + (i + 1) + " of 50";
            assertThat(d.events)
                    .extracting(GangDecision.JobEvent::message)
                    .anySatisfy(m -> assertThat(m).contains(counted));
            // Backoff of its own kind: 1 s, 2 s, then maxBackoffSeconds.
            assertThat(d.requeue()).contains(Duration.ofSeconds(Math.min(1L << i, 2)));
            t = t.plusSeconds(60);
            runAttempt(i + 1, t);
        }
        MoETrainingJobStatus s = job.getStatus();
        assertThat(s.phase).isEqualTo(JobPhase.Running);
        assertThat(s.infrastructureRestarts).isEqualTo(6);
        assertThat(s.restarts).isZero();
        assertThat(s.restartAttempt).isEqualTo(6);
        assertThat(s.restartHistory).extracting(r -> r.reason).containsOnly("Evicted");
        // A training failure still spends maxRestarts, starting from the first restart's backoff.
        GangDecision d = decide(
                List.of(PodStates.exited(PodStates.base("j", 0, 6), 1), PodStates.running(PodStates.base("j", 1, 6))),
                t.plusSeconds(60));
        assertThat(d.status.restarts).isEqualTo(1);
        assertThat(d.status.infrastructureRestarts).isEqualTo(6);
        assertThat(d.requeue()).contains(Duration.ofSeconds(1));
    }

    @Test
    void theInfrastructureBudgetHasItsOwnCap() {
        job.getSpec().restartPolicy.maxInfrastructureRestarts = 1;
        runAttempt(0, T0);
        decide(
                List.of(PodStates.preempted(PodStates.base("j", 0, 0)), PodStates.running(PodStates.base("j", 1, 0))),
                T0.plusSeconds(10));
        runAttempt(1, T0.plusSeconds(20));
        GangDecision d = decide(
                List.of(PodStates.nodeLost(PodStates.base("j", 1, 1)), PodStates.running(PodStates.base("j", 0, 1))),
                T0.plusSeconds(30));
        assertThat(d.status.phase).isEqualTo(JobPhase.Failed);
        assertThat(Conditions.get(d.status, Conditions.FAILED).orElseThrow().reason)
                .isEqualTo("InfrastructureRestartLimitExceeded");
        assertThat(d.status.infrastructureRestarts).isEqualTo(1);
        assertThat(d.status.restarts).isZero();
        assertThat(d.status.lastFailure.action).isEqualTo("FailJob");
    }

    @Test
    void anOomKilledRuleFailsTheJobAtOnce() {
        FailureRule r = new FailureRule();
        r.reasons = List.of(Reason.OOMKilled);
        r.action = Action.FailJob;
        job.getSpec().restartPolicy.rules = List.of(r);
        runAttempt(0, T0);
        GangDecision d = decide(
                List.of(PodStates.running(PodStates.base("j", 0, 0)), PodStates.oomKilled(PodStates.base("j", 1, 0))),
                T0.plusSeconds(10));
        assertThat(d.status.phase).isEqualTo(JobPhase.Failed);
        assertThat(d.status.restarts).isZero();
        assertThat(d.status.lastFailure.reason).isEqualTo("OOMKilled");
        assertThat(d.status.lastFailure.exitCode).isEqualTo(137);
        var failed = Conditions.get(d.status, Conditions.FAILED).orElseThrow();
        assertThat(failed.reason).isEqualTo("FailureRuleMatched");
        assertThat(failed.message).contains("restartPolicy.rules[0] says FailJob");
        assertThat(d.deletePods).extracting(p -> p.getMetadata().getName()).containsExactly("j-node-0");
    }

    @Test
    void withoutARuleAnOomKillRestartsCounted() {
        runAttempt(0, T0);
        GangDecision d = decide(
                List.of(PodStates.running(PodStates.base("j", 0, 0)), PodStates.oomKilled(PodStates.base("j", 1, 0))),
                T0.plusSeconds(10));
        assertThat(d.status.phase).isEqualTo(JobPhase.Restarting);
        assertThat(d.status.restarts).isEqualTo(1);
        assertThat(d.restartReasons).containsExactly("OOMKilled");
    }

    @Test
    void theFailedContainersLastLinesAreKeptInStatusHistoryAndEvent() {
        runAttempt(0, T0);
        String log = "step 11 loss 3.02\nTraceback (most recent call last):\nRuntimeError: NCCL watchdog timeout";
        GangDecision d = decide(
                List.of(
                        PodStates.running(PodStates.base("j", 0, 0)),
                        PodStates.exitedWithMessage(PodStates.base("j", 1, 0), 1, log)),
                T0.plusSeconds(10));
        assertThat(d.status.lastFailure.message)
                .contains("j-node-1 (node rank 1) exited with code 1")
                .endsWith(log);
        assertThat(d.status.restartHistory).singleElement().satisfies(r -> {
            assertThat(r.message).endsWith(log);
            assertThat(r.action).isEqualTo("RestartGang");
        });
        assertThat(d.events)
                .filteredOn(e -> e.reason().equals("GangRestart"))
                .singleElement()
                .satisfies(e -> assertThat(e.message()).contains("RuntimeError: NCCL watchdog timeout"));
    }

    @Test
    void aHugeTerminationMessageIsCutToItsTail() {
        runAttempt(0, T0);
        String log = "x".repeat(100_000) + "\nthe last line";
        GangDecision d = decide(
                List.of(
                        PodStates.running(PodStates.base("j", 0, 0)),
                        PodStates.exitedWithMessage(PodStates.base("j", 1, 0), 1, log)),
                T0.plusSeconds(10));
        assertThat(d.status.lastFailure.message).endsWith("the last line").startsWith("j-node-1");
        assertThat(d.status.lastFailure.message.length())
                .isLessThanOrEqualTo(MoETrainingJobStatus.MAX_FAILURE_RECORD_MESSAGE);
    }

    @Test
    void aMessageRuleSeesTheTerminationMessage() {
        FailureRule r = new FailureRule();
        r.messageContains = "CUDA error: an illegal memory access";
        r.action = Action.RestartGangUncounted;
        job.getSpec().restartPolicy.rules = List.of(r);
        runAttempt(0, T0);
        GangDecision d = decide(
                List.of(
                        PodStates.running(PodStates.base("j", 0, 0)),
                        PodStates.exitedWithMessage(
                                PodStates.base("j", 1, 0),
                                1,
                                "RuntimeError: CUDA error: an illegal memory access was encountered")),
                T0.plusSeconds(10));
        assertThat(d.status.infrastructureRestarts).isEqualTo(1);
        assertThat(d.status.restarts).isZero();
    }

    @Test
    void frozenProgressIsStalledAfterTheDeadline() {
        job.getSpec().restartPolicy.progressDeadlineSeconds = 30;
        job.getSpec().restartPolicy.progressStartupGraceSeconds = 120;
        decide(List.of(), T0);
        GangDecision d = decide(runningGang(0), T0);
        assertThat(d.requeue()).as("wakes up when the startup grace ends").contains(Duration.ofSeconds(120));
        // First step at +50 s: within the grace. The deadline now runs from there.
        List<Pod> step5 = List.of(
                PodStates.reporting(PodStates.base("j", 0, 0), 5), PodStates.running(PodStates.base("j", 1, 0)));
        d = decide(step5, T0.plusSeconds(50));
        assertThat(d.status.phase).isEqualTo(JobPhase.Running);
        assertThat(d.status.progress.stepObservedTime).isEqualTo("2026-11-26T12:10:50Z");
        assertThat(d.requeue()).contains(Duration.ofSeconds(30));
        // The same step re-reported is no progress.
        d = decide(step5, T0.plusSeconds(79));
        assertThat(d.status.phase).isEqualTo(JobPhase.Running);
        d = decide(step5, T0.plusSeconds(80));
        assertThat(d.status.phase).isEqualTo(JobPhase.Restarting);
        assertThat(d.status.lastFailure.reason).isEqualTo("Stalled");
        assertThat(d.status.lastFailure.pod).isEqualTo("j-node-0");
        assertThat(d.status.lastFailure.message).contains("no new step from global rank 0 for 30s");
        assertThat(d.status.restarts).isEqualTo(1);
        assertThat(d.restartReasons).containsExactly("Stalled");
        assertThat(d.events).extracting(GangDecision.JobEvent::reason).contains("GangRestart");
        assertThat(d.deletePods).hasSize(2);
        assertThat(d.requeue()).contains(Duration.ofSeconds(1));

        // The next attempt gets the startup grace again, although its rank 0 has not reported yet and
        // status.progress still holds the old step.
        decide(List.of(), T0.plusSeconds(90));
        d = decide(runningGang(1), T0.plusSeconds(90));
        assertThat(d.status.phase).isEqualTo(JobPhase.Running);
        d = decide(runningGang(1), T0.plusSeconds(209));
        assertThat(d.status.phase).isEqualTo(JobPhase.Running);
        d = decide(runningGang(1), T0.plusSeconds(210));
        assertThat(d.status.phase).isEqualTo(JobPhase.Restarting);
        assertThat(d.status.lastFailure.message).contains("within 120s of the gang running");
    }

    @Test
    void aJobThatKeepsReportingIsNeverTouched() {
        job.getSpec().restartPolicy.progressDeadlineSeconds = 30;
        job.getSpec().restartPolicy.progressStartupGraceSeconds = 30;
        job.getSpec().training.steps = 1000;
        decide(List.of(), T0);
        decide(runningGang(0), T0);
        for (int step = 1; step <= 200; step++) {
            Instant at = T0.plusSeconds(step * 29L);
            GangDecision d = decide(
                    List.of(
                            PodStates.reporting(PodStates.base("j", 0, 0), step),
                            PodStates.running(PodStates.base("j", 1, 0))),
                    at);
            assertThat(d.status.phase).as("step %d", step).isEqualTo(JobPhase.Running);
            assertThat(d.deletePods).isEmpty();
        }
        MoETrainingJobStatus s = job.getStatus();
        assertThat(s.restarts).isZero();
        assertThat(s.progress.percentDone).isEqualTo(20.0);
        // 800 steps left at 29 s a step.
        assertThat(s.progress.estimatedCompletionTime)
                .isEqualTo(Conditions.time(T0.plusSeconds(200 * 29L + 800 * 29L)));
    }

    @Test
    void withoutADeadlineNothingIsEverStalled() {
        decide(List.of(), T0);
        decide(runningGang(0), T0);
        GangDecision d = decide(runningGang(0), T0.plus(Duration.ofDays(30)));
        assertThat(d.status.phase).isEqualTo(JobPhase.Running);
        assertThat(d.requeue()).isEmpty();
    }

    @Test
    void aStallRuleCanMakeItUncounted() {
        job.getSpec().restartPolicy.progressDeadlineSeconds = 20;
        job.getSpec().restartPolicy.progressStartupGraceSeconds = 20;
        FailureRule r = new FailureRule();
        r.reasons = List.of(Reason.Stalled);
        r.action = Action.RestartGangUncounted;
        job.getSpec().restartPolicy.rules = List.of(r);
        decide(List.of(), T0);
        decide(runningGang(0), T0);
        GangDecision d = decide(runningGang(0), T0.plusSeconds(20));
        assertThat(d.status.lastFailure.reason).isEqualTo("Stalled");
        assertThat(d.status.infrastructureRestarts).isEqualTo(1);
        assertThat(d.status.restarts).isZero();
    }

    private GangDecision decideWithSpare(List<Pod> pods, Instant now, int spare) {
        GangRestartPolicy policy = GangRestartPolicy.of(job.getSpec().restartPolicy);
        MoETrainingJobStatus s = job.getStatus();
        GangState gang = GangObserver.observe(
                        "j",
                        null,
                        pods,
                        s.restartAttempt,
                        plan.nodes(),
                        GangLifecycle.gangStarted(s),
                        policy::failsJob,
                        now)
                .withSpareNodes(spare);
        GangDecision d = GangLifecycle.decide(job, plan, gang, policy, now);
        job.setStatus(d.status);
        return d;
    }

    @Test
    void aNodeWhereARankFailedTwiceIsExcludedFromTheNextAttempts() {
        job.getSpec().restartPolicy.maxRestarts = 10;
        runAttempt(0, T0);
        // PodStates.running binds j-node-1 to node "node-j-node-1" every attempt: the same node twice.
        GangDecision d = decideWithSpare(
                List.of(PodStates.running(PodStates.base("j", 0, 0)), PodStates.exited(PodStates.base("j", 1, 0), 1)),
                T0.plusSeconds(10),
                4);
        assertThat(d.status.lastFailure.node).isEqualTo("node-j-node-1");
        assertThat(d.status.excludedNodes).isNull();
        assertThat(d.status.nodeFailures)
                .singleElement()
                .satisfies(n -> assertThat(n.failures).isEqualTo(1));
        runAttempt(1, T0.plusSeconds(20));
        d = decideWithSpare(
                List.of(PodStates.running(PodStates.base("j", 0, 1)), PodStates.exited(PodStates.base("j", 1, 1), 1)),
                T0.plusSeconds(30),
                4);
        assertThat(d.status.excludedNodes).containsExactly("node-j-node-1");
        assertThat(d.events).extracting(GangDecision.JobEvent::reason).contains("NodeExcluded");
        // The next attempt's pods are required off that node.
        var affinity = new Placement(job, plan)
                .affinity(1)
                .getNodeAffinity()
                .getRequiredDuringSchedulingIgnoredDuringExecution()
                .getNodeSelectorTerms();
        assertThat(affinity)
                .singleElement()
                .satisfies(t -> assertThat(t.getMatchFields()).singleElement().satisfies(r -> {
                    assertThat(r.getKey()).isEqualTo("metadata.name");
                    assertThat(r.getOperator()).isEqualTo("NotIn");
                    assertThat(r.getValues()).containsExactly("node-j-node-1");
                }));
        // Evictions are not the node's fault.
        runAttempt(2, T0.plusSeconds(40));
        d = decideWithSpare(
                List.of(PodStates.evicted(PodStates.base("j", 0, 2)), PodStates.running(PodStates.base("j", 1, 2))),
                T0.plusSeconds(50),
                4);
        assertThat(d.status.nodeFailures).extracting(n -> n.node).containsExactly("node-j-node-1");
    }

    @Test
    void aSmallClusterCannotExcludeItselfOutOfExistence() {
        job.getSpec().restartPolicy.maxRestarts = 10;
        runAttempt(0, T0);
        // A lost node is excluded at once, but a cluster with no node to spare excludes none.
        GangDecision d = decideWithSpare(
                List.of(PodStates.nodeLost(PodStates.base("j", 0, 0)), PodStates.running(PodStates.base("j", 1, 0))),
                T0.plusSeconds(10),
                0);
        assertThat(d.status.excludedNodes).isNull();
        assertThat(new Placement(job, plan).affinity(0).getNodeAffinity()).isNull();
        // One spare node: only the newest exclusion is kept.
        runAttempt(1, T0.plusSeconds(20));
        d = decideWithSpare(
                List.of(PodStates.nodeLost(PodStates.base("j", 1, 1)), PodStates.running(PodStates.base("j", 0, 1))),
                T0.plusSeconds(30),
                1);
        assertThat(d.status.excludedNodes).containsExactly("node-j-node-1");
        runAttempt(2, T0.plusSeconds(40));
        d = decideWithSpare(
                List.of(PodStates.nodeLost(PodStates.base("j", 0, 2)), PodStates.running(PodStates.base("j", 1, 2))),
                T0.plusSeconds(50),
                1);
        assertThat(d.status.excludedNodes).containsExactly("node-j-node-0");
    }
}
