package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.api.v1alpha1.TrainerContract;
import dev.moe.api.v1alpha1.TrainingSpec.CheckpointSpec;
import dev.moe.operator.TestJobs;
import dev.moe.operator.status.Conditions;
import dev.moe.operator.status.Reasons;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Checkpoint before stop through the state machine: ask, wait by requeues, stop on the answer or the timeout. */
class StopCheckpointTest {
    private static final Instant T0 = Instant.parse("2026-11-26T12:10:00Z");

    private final MoETrainingJob job = withCheckpoint(TestJobs.tiny("ml", "j", 2));
    private final Plan plan = TestJobs.plan(job);

    private static MoETrainingJob withCheckpoint(MoETrainingJob job) {
        job.getSpec().training.checkpoint = new CheckpointSpec();
        job.getSpec().training.checkpoint.claimName = "ckpt";
        job.getSpec().training.checkpoint.everySteps = 1000;
        return job;
    }

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

    /** Rank 0 running and reporting {@code step}, with the newest checkpoint at {@code checkpoint} (or none). */
    private static Pod rank0(long step, Long checkpoint, boolean asked) {
        Pod p = PodStates.running(PodStates.base("j", 0, 0));
        PodBuilder b = new PodBuilder(p)
                .editMetadata()
                .addToAnnotations(
                        TrainerContract.PROGRESS_ANNOTATION,
                        "{\"step\": " + step + ", \"loss\": 2.5, \"lastCheckpointStep\": " + checkpoint
                                + ", \"time\": \"2026-11-26T12:00:00Z\"}")
                .endMetadata();
        return asked ? askedOf(b.build()) : b.build();
    }

    private static Pod rank1(boolean asked) {
        Pod p = PodStates.running(PodStates.base("j", 1, 0));
        return asked ? askedOf(p) : p;
    }

    private static Pod askedOf(Pod p) {
        return new PodBuilder(p)
                .editMetadata()
                .addToAnnotations(TrainerContract.CHECKPOINT_REQUEST_ANNOTATION, "2026-11-26T12:10:05Z")
                .endMetadata()
                .build();
    }

    private void runningAtStep7() {
        decide(List.of(), T0);
        decide(List.of(rank0(7, null, false), rank1(false)), T0);
        assertThat(job.getStatus().phase).isEqualTo(JobPhase.Running);
    }

    private GangDecision suspendAsks() {
        job.getSpec().suspend = true;
        GangDecision d = decide(List.of(rank0(7, null, false), rank1(false)), T0.plusSeconds(5));
        assertThat(d.deletePods).as("nothing stops before the trainer answers").isEmpty();
        assertThat(d.annotatePods).extracting(p -> p.getMetadata().getName()).containsExactly("j-node-0", "j-node-1");
        assertThat(d.checkpointRequestValue).isEqualTo("2026-11-26T12:10:05Z");
        assertThat(d.status.stopCheckpoint.trigger).isEqualTo(StopCheckpoint.TRIGGER_SUSPEND);
        assertThat(d.status.stopCheckpoint.afterStep).isEqualTo(7L);
        assertThat(d.status.stopCheckpoint.requestTime).isEqualTo("2026-11-26T12:10:05Z");
        var c = Conditions.get(d.status, Conditions.STOP_CHECKPOINT).orElseThrow();
        assertThat(c.status).isEqualTo(Conditions.UNKNOWN);
        assertThat(c.reason).isEqualTo(Reasons.CHECKPOINT_REQUESTED);
        assertThat(d.events).extracting(GangDecision.JobEvent::reason).containsExactly(Reasons.CHECKPOINT_REQUESTED);
        assertThat(d.requeue()).hasValueSatisfying(r -> assertThat(r).isLessThanOrEqualTo(StopCheckpoint.POLL));
        return d;
    }

    @Test
    void suspendAsksForACheckpointWaitsForItThenStopsThePodsAndResumes() {
        runningAtStep7();
        suspendAsks();
        // asked pods are not asked again; a report without a newer checkpoint keeps the gang
        GangDecision d = decide(List.of(rank0(8, null, true), rank1(true)), T0.plusSeconds(7));
        assertThat(d.deletePods).isEmpty();
        assertThat(d.annotatePods).isEmpty();
        assertThat(d.status.phase).isEqualTo(JobPhase.Running);
        // the trainer saved step 9 and said so: the pods go, the job is Suspended
        d = decide(List.of(rank0(9, 9L, true), rank1(true)), T0.plusSeconds(8));
        assertThat(d.deletePods).hasSize(2);
        assertThat(d.status.phase).isEqualTo(JobPhase.Suspended);
        assertThat(d.status.stopCheckpoint).isNull();
        var c = Conditions.get(d.status, Conditions.STOP_CHECKPOINT).orElseThrow();
        assertThat(c.status).isEqualTo(Conditions.TRUE);
        assertThat(c.reason).isEqualTo(Reasons.CHECKPOINT_SAVED);
        assertThat(d.events)
                .filteredOn(e -> e.reason().equals(Reasons.CHECKPOINT_SAVED))
                .singleElement()
                .satisfies(e -> assertThat(e.message()).contains("checkpoint at step 9 saved"));
        assertThat(d.status.progress.lastCheckpointStep).isEqualTo(9L);
        job.getSpec().suspend = false;
        d = decide(List.of(), T0.plusSeconds(20));
        assertThat(d.createRanks).containsExactly(0, 1);
        assertThat(d.status.restarts).isZero();
    }

    @Test
    void podsThatStoppedOnTheRequestAreNoFailureAndTheirCheckpointIsTheAnswer() {
        runningAtStep7();
        suspendAsks();
        // the trainer saved step 8 and exited EXIT_STOPPED on every rank (its final report came first)
        Pod r0 = PodStates.exited(rank0(8, 8L, true), TrainerContract.EXIT_STOPPED);
        Pod r1 = PodStates.exited(rank1(true), TrainerContract.EXIT_STOPPED);
        assertThat(FailureClassifier.classify(r1, 1, T0)).isEmpty();
        GangDecision d = decide(List.of(r0, r1), T0.plusSeconds(9));
        assertThat(d.status.phase).isEqualTo(JobPhase.Suspended);
        assertThat(d.status.lastFailure).isNull();
        assertThat(d.status.restarts).isZero();
        assertThat(Conditions.get(d.status, Conditions.STOP_CHECKPOINT).orElseThrow().reason)
                .isEqualTo(Reasons.CHECKPOINT_SAVED);
        // the same exit code without the operator's request is the failure it always was
        assertThat(FailureClassifier.classify(
                                PodStates.exited(PodStates.base("j", 1, 0), TrainerContract.EXIT_STOPPED), 1, T0)
                        .orElseThrow()
                        .reason())
                .isEqualTo(FailureClassifier.EXIT_CODE);
    }

    @Test
    void aTrainerThatNeverAnswersIsStoppedAfterTheTimeout() {
        job.getSpec().training.checkpoint.stopTimeoutSeconds = 60;
        runningAtStep7();
        suspendAsks();
        GangDecision d = decide(List.of(rank0(30, null, true), rank1(true)), T0.plusSeconds(64));
        assertThat(d.deletePods).isEmpty();
        assertThat(d.requeue()).hasValue(Duration.ofSeconds(1)); // the deadline, not a later poll
        d = decide(List.of(rank0(31, null, true), rank1(true)), T0.plusSeconds(65));
        assertThat(d.deletePods).hasSize(2);
        assertThat(d.status.phase).isEqualTo(JobPhase.Suspended);
        var c = Conditions.get(d.status, Conditions.STOP_CHECKPOINT).orElseThrow();
        assertThat(c.status).isEqualTo(Conditions.FALSE);
        assertThat(c.reason).isEqualTo(Reasons.CHECKPOINT_TIMEOUT);
        assertThat(d.events)
                .filteredOn(e -> e.reason().equals(Reasons.CHECKPOINT_TIMEOUT))
                .singleElement()
                .satisfies(e -> assertThat(e.type()).isEqualTo("Warning"));
    }

    @Test
    void noWaitWithATimeoutOfZeroOrWithoutACheckpointVolume() {
        job.getSpec().training.checkpoint.stopTimeoutSeconds = 0;
        runningAtStep7();
        job.getSpec().suspend = true;
        GangDecision d = decide(List.of(rank0(7, null, false), rank1(false)), T0.plusSeconds(5));
        assertThat(d.deletePods).hasSize(2);
        assertThat(d.annotatePods).isEmpty();
        assertThat(Conditions.get(d.status, Conditions.STOP_CHECKPOINT)).isEmpty();

        MoETrainingJob plain = TestJobs.tiny("ml", "p", 2);
        assertThat(StopCheckpoint.timeoutSeconds(plain)).isZero();
        assertThat(StopCheckpoint.timeoutSeconds(withCheckpoint(TestJobs.tiny("ml", "q", 2))))
                .isEqualTo(300);
    }

    @Test
    void aLiftedSuspendStillEndsTheRequestedStopThenResumes() {
        runningAtStep7();
        suspendAsks();
        job.getSpec().suspend = false; // the trainer has the request already and will stop on it
        GangDecision d = decide(List.of(rank0(8, null, true), rank1(true)), T0.plusSeconds(6));
        assertThat(d.deletePods).isEmpty();
        assertThat(d.createRanks).isEmpty();
        d = decide(
                List.of(
                        PodStates.exited(rank0(8, 8L, true), TrainerContract.EXIT_STOPPED),
                        PodStates.exited(rank1(true), TrainerContract.EXIT_STOPPED)),
                T0.plusSeconds(8));
        assertThat(d.status.phase).isEqualTo(JobPhase.Suspended);
        assertThat(d.deletePods).hasSize(2);
        d = decide(List.of(), T0.plusSeconds(10));
        assertThat(d.createRanks).containsExactly(0, 1);
        assertThat(d.status.restarts).isZero();
    }

    @Test
    void aPreemptedPodAsksForACheckpointAndTheGangRestartsUncountedOnceItIsSaved() {
        runningAtStep7();
        Pod preempted = askedOf(PodStates.preempted(rank1(false)));
        GangDecision d = decide(List.of(rank0(7, null, false), PodStates.preempted(rank1(false))), T0.plusSeconds(5));
        assertThat(d.deletePods).isEmpty();
        assertThat(d.annotatePods)
                .as("the terminating pod got SIGTERM already; the others are asked")
                .extracting(p -> p.getMetadata().getName())
                .containsExactly("j-node-0");
        assertThat(d.status.stopCheckpoint.trigger).isEqualTo(StopCheckpoint.TRIGGER_DISRUPTION);
        assertThat(d.status.stopCheckpoint.detail).isEqualTo("j-node-1 PreemptionByScheduler");
        assertThat(d.status.restartAttempt).isZero();
        // the ranks agreed and saved step 8: the gang restarts for the preemption, which spends no maxRestarts
        d = decide(List.of(rank0(8, 8L, true), preempted), T0.plusSeconds(8));
        assertThat(d.status.phase).isEqualTo(JobPhase.Restarting);
        assertThat(d.status.lastFailure.reason).isEqualTo(FailureClassifier.PREEMPTED);
        assertThat(d.status.restarts).isZero();
        assertThat(d.status.infrastructureRestarts).isEqualTo(1);
        assertThat(d.status.stopCheckpoint).isNull();
        assertThat(Conditions.get(d.status, Conditions.STOP_CHECKPOINT).orElseThrow().reason)
                .isEqualTo(Reasons.CHECKPOINT_SAVED);
    }

    @Test
    void aMarkedPodThatIsNotDeletedYetIsStoppedForItsDisruptionAfterTheCheckpoint() {
        runningAtStep7();
        Pod marked = new PodBuilder(rank1(false))
                .editStatus()
                .addNewCondition()
                .withType("DisruptionTarget")
                .withStatus("True")
                .withReason("EvictionByEvictionAPI")
                .endCondition()
                .endStatus()
                .build();
        GangDecision d = decide(List.of(rank0(7, null, false), marked), T0.plusSeconds(5));
        assertThat(d.annotatePods).hasSize(2);
        d = decide(List.of(rank0(9, 9L, true), askedOf(marked)), T0.plusSeconds(8));
        assertThat(d.status.phase).isEqualTo(JobPhase.Restarting);
        assertThat(d.status.lastFailure.reason).isEqualTo(FailureClassifier.EVICTED);
        assertThat(d.status.lastFailure.pod).isEqualTo("j-node-1");
        assertThat(d.status.infrastructureRestarts).isEqualTo(1);
        assertThat(d.deletePods).hasSize(2);
    }

    @Test
    void aDisruptionMarkWithdrawnDuringTheWaitStillRestartsTheAskedGang() {
        job.getSpec().training.checkpoint.stopTimeoutSeconds = 30;
        runningAtStep7();
        Pod marked = new PodBuilder(rank1(false))
                .editStatus()
                .addNewCondition()
                .withType("DisruptionTarget")
                .withStatus("True")
                .withReason("PreemptionByScheduler")
                .endCondition()
                .endStatus()
                .build();
        decide(List.of(rank0(7, null, false), marked), T0.plusSeconds(5));
        // the mark is gone (pod GC), the trainer never answered: at the deadline the gang restarts all the same
        GangDecision d = decide(List.of(rank0(12, null, true), rank1(true)), T0.plusSeconds(35));
        assertThat(d.status.phase).isEqualTo(JobPhase.Restarting);
        assertThat(d.status.lastFailure.pod).isEqualTo("j-node-1");
        assertThat(d.status.lastFailure.message).contains("since withdrawn");
        assertThat(Conditions.get(d.status, Conditions.STOP_CHECKPOINT).orElseThrow().reason)
                .isEqualTo(Reasons.CHECKPOINT_TIMEOUT);
    }

    @Test
    void aRankStoppedByItsPeersIsNotTheCauseOfTheRestart() {
        runningAtStep7();
        job.getSpec().training.checkpoint.stopTimeoutSeconds = 0; // no wait: SIGTERM only
        // rank 1 preempted and gone from the cache (its tombstone says so); rank 0 stopped with it, exit 143 unasked
        GangState gang = GangObserver.observe(
                "j",
                null,
                List.of(PodStates.exited(rank0(8, 8L, false), TrainerContract.EXIT_STOPPED)),
                0,
                2,
                true,
                f -> false,
                pod -> pod.equals("j-node-1")
                        ? FailureClassifier.classify(PodStates.preempted(rank1(false)), 1, T0.plusSeconds(30))
                        : java.util.Optional.empty(),
                T0.plusSeconds(30));
        assertThat(gang.failures().get(0).reason()).isEqualTo(FailureClassifier.PREEMPTED);
    }
}
