package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.operator.TestJobs;
import dev.moe.operator.status.Conditions;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Why a gang cannot start reaches status; pods the operator did not create are never part of a gang. */
class GangProblemsTest {
    private static final Instant T0 = Instant.parse("2026-11-26T12:10:00Z");
    private static final String NO_ROOM = "0/16 nodes are available: 16 Insufficient nvidia.com/gpu.";

    private final MoETrainingJob job = TestJobs.tiny("ml", "j", 2);
    private final Plan plan = TestJobs.plan(job);

    private GangState observe(List<Pod> pods, Instant now) {
        return GangObserver.observe("j", "uid-j", pods, 0, plan.nodes(), false, List.of(), now);
    }

    private GangDecision decide(GangState gang, Instant now) {
        GangDecision d = GangLifecycle.decide(job, plan, gang, GangRestartPolicy.of(job.getSpec().restartPolicy), now);
        job.setStatus(d.status);
        return d;
    }

    /** A pod as Kueue's pod webhook leaves it: gated until its pod group is admitted. */
    private static Pod gatedByKueue(Pod p) {
        return new PodBuilder(p)
                .editMetadata()
                .addToLabels("kueue.x-k8s.io/queue-name", "q")
                .endMetadata()
                .editSpec()
                .addNewSchedulingGate("kueue.x-k8s.io/admission")
                .addNewSchedulingGate("kueue.x-k8s.io/topology")
                .endSpec()
                .editStatus()
                .addNewCondition()
                .withType("PodScheduled")
                .withStatus("False")
                .withReason("SchedulingGated")
                .withMessage("Scheduling is blocked due to non-empty scheduling gates")
                .endCondition()
                .endStatus()
                .build();
    }

    @Test
    void aGangWaitingInAKueueQueueSaysSoWithANormalEvent() {
        decide(observe(List.of(), T0), T0);
        List<Pod> pods = List.of(gatedByKueue(PodStates.base("j", 0, 0)), gatedByKueue(PodStates.base("j", 1, 0)));
        GangDecision d = decide(observe(pods, T0), T0);
        var c = Conditions.get(d.status, Conditions.GANG_SCHEDULED).orElseThrow();
        assertThat(c.status).isEqualTo("False");
        assertThat(c.reason).isEqualTo(PodProblem.AWAITING_ADMISSION);
        assertThat(c.message)
                .isEqualTo("0 of 2 pods bound; j-node-0: held by Kueue's scheduling gate kueue.x-k8s.io/admission"
                        + " until LocalQueue q admits the pod group (and 1 more pods)");
        assertThat(d.events).singleElement().satisfies(e -> {
            assertThat(e.type()).isEqualTo("Normal");
            assertThat(e.reason()).isEqualTo(PodProblem.AWAITING_ADMISSION);
        });
    }

    @Test
    void aQueuedGangIsNeverTimedOutByTheOperatorAndIsLookedAtAgain() {
        // With a queue Kueue's waitForPodsReady times the gang out; the operator's timeout is off, however long
        // the gang waits, and it re-reads the gang now and then to keep the status true.
        MoETrainingJob queued = TestJobs.tiny("ml", "j", 2);
        queued.getSpec().placement = new dev.moe.api.v1alpha1.PlacementSpec();
        queued.getSpec().placement.queueName = "q";
        queued.getSpec().restartPolicy = new dev.moe.api.v1alpha1.RestartPolicySpec();
        queued.getSpec().restartPolicy.gangSchedulingTimeoutSeconds = 5;
        Plan p = TestJobs.plan(queued);
        var policy = GangRestartPolicy.of(queued.getSpec().restartPolicy);
        queued.setStatus(GangLifecycle.decide(queued, p, observe(List.of(), T0), policy, T0).status);
        List<Pod> pods = List.of(gatedByKueue(PodStates.base("j", 0, 0)), PodStates.running(PodStates.base("j", 1, 0)));
        Instant late = T0.plus(Duration.ofHours(1));
        GangDecision d = GangLifecycle.decide(
                queued, p, GangObserver.observe("j", "uid-j", pods, 0, 2, false, List.of(), late), policy, late);
        assertThat(d.status.phase).isEqualTo(JobPhase.Pending);
        assertThat(d.status.restartHistory).isNullOrEmpty();
        assertThat(d.deletePods).isEmpty();
        assertThat(d.requeue()).contains(GangLifecycle.QUEUED_GANG_RECHECK);
    }

    @Test
    void theSchedulersReasonIsOnGangScheduledWithAWarningEventOnce() {
        decide(observe(List.of(), T0), T0);
        List<Pod> pods = List.of(
                PodStates.unschedulable(PodStates.base("j", 0, 0), NO_ROOM),
                PodStates.unschedulable(PodStates.base("j", 1, 0), NO_ROOM));
        GangDecision d = decide(observe(pods, T0), T0);
        var c = Conditions.get(d.status, Conditions.GANG_SCHEDULED).orElseThrow();
        assertThat(c.status).isEqualTo("False");
        assertThat(c.reason).isEqualTo(PodProblem.UNSCHEDULABLE);
        assertThat(c.message).isEqualTo("0 of 2 pods bound; j-node-0: " + NO_ROOM + " (and 1 more pods)");
        assertThat(d.events).singleElement().satisfies(e -> {
            assertThat(e.type()).isEqualTo("Warning");
            assertThat(e.reason()).isEqualTo(PodProblem.UNSCHEDULABLE);
        });
        // Same reason again: no second Event.
        assertThat(decide(observe(pods, T0.plusSeconds(5)), T0.plusSeconds(5)).events)
                .isEmpty();
    }

    @Test
    void aGangOfWhichNoPodIsBoundIsNotRestartedAtTheTimeoutItWaitsAndSaysWhy() {
        job.getSpec().restartPolicy.gangSchedulingTimeoutSeconds = 30;
        decide(observe(List.of(), T0), T0);
        List<Pod> pods = List.of(
                PodStates.unschedulable(PodStates.base("j", 0, 0), NO_ROOM),
                PodStates.unschedulable(PodStates.base("j", 1, 0), NO_ROOM));
        GangDecision d = decide(observe(pods, T0.plusSeconds(3600)), T0.plusSeconds(3600));
        assertThat(d.status.phase).isEqualTo(JobPhase.Pending);
        assertThat(d.deletePods).isEmpty();
        assertThat(d.status.restartAttempt).isZero();
        assertThat(d.requeue()).contains(GangLifecycle.UNBOUND_GANG_RECHECK);
    }

    @Test
    void aPartialGangPastTheTimeoutIsStillGivenBackAndTheReasonNamesTheProblem() {
        job.getSpec().restartPolicy.gangSchedulingTimeoutSeconds = 30;
        decide(observe(List.of(), T0), T0);
        List<Pod> pods = List.of(
                PodStates.running(PodStates.base("j", 0, 0)),
                PodStates.unschedulable(PodStates.base("j", 1, 0), NO_ROOM));
        GangDecision d = decide(observe(pods, T0.plusSeconds(60)), T0.plusSeconds(60));
        assertThat(d.status.phase).isEqualTo(JobPhase.Restarting);
        assertThat(d.status.lastFailure.reason).isEqualTo(FailureClassifier.GANG_SCHEDULING_TIMEOUT);
        assertThat(d.stoppedBy.message()).contains("j-node-1: " + NO_ROOM);
    }

    @Test
    void anImageThatCannotBePulledIsOnTheRunningCondition() {
        Instant soon = Instant.parse("2026-11-26T12:01:00Z"); // a minute after the pods were created
        decide(observe(List.of(), soon), soon);
        GangDecision d = decide(
                observe(
                        List.of(
                                PodStates.imagePullBackOff(PodStates.base("j", 0, 0)),
                                PodStates.running(PodStates.base("j", 1, 0))),
                        soon),
                soon);
        assertThat(Conditions.isTrue(d.status, Conditions.GANG_SCHEDULED)).isTrue();
        var c = Conditions.get(d.status, Conditions.RUNNING).orElseThrow();
        assertThat(c.reason).isEqualTo(PodProblem.IMAGE_PULL_FAILED);
        assertThat(c.message).contains("j-node-0: ImagePullBackOff: Back-off pulling image");
        assertThat(d.events).extracting(GangDecision.JobEvent::reason).contains(PodProblem.IMAGE_PULL_FAILED);
    }

    @Test
    void noNodeFitsWhenNoNodeOffersTheGpusOrMatchesTheSelector() {
        Map<String, String> h100 = Map.of("nvidia.com/gpu.product", "H100");
        List<Node> eights = List.of(node("a", h100, "8"), node("b", h100, "8"), node("c", Map.of(), "16"));
        assertThat(FleetFit.check(eights, h100, 8, "j-node-0")).isEmpty();
        assertThat(FleetFit.check(eights, h100, 16, "j-node-0")).hasValueSatisfying(p -> {
            assertThat(p.reason()).isEqualTo(PodProblem.NO_NODE_FITS);
            assertThat(p.message())
                    .contains("offers 16 nvidia.com/gpu")
                    .contains("2 such nodes")
                    .contains("the most any offers is 8")
                    .contains("spec.resources.gpusPerNode");
        });
        assertThat(FleetFit.check(eights, Map.of("nvidia.com/gpu.product", "B200"), 8, "j-node-0"))
                .hasValueSatisfying(p -> assertThat(p.message()).startsWith("no node with labels"));
        assertThat(FleetFit.check(List.of(), null, 1, "j-node-0")).isPresent();
    }

    @Test
    void noNodeFitsComesFirstAndIsTheReason() {
        decide(observe(List.of(), T0), T0);
        GangState gang = observe(
                        List.of(
                                PodStates.unschedulable(PodStates.base("j", 0, 0), NO_ROOM),
                                PodStates.unschedulable(PodStates.base("j", 1, 0), NO_ROOM)),
                        T0)
                .withFirstProblem(new PodProblem(PodProblem.NO_NODE_FITS, "j-node-0", "no node offers 16"));
        var c = Conditions.get(decide(gang, T0).status, Conditions.GANG_SCHEDULED)
                .orElseThrow();
        assertThat(c.reason).isEqualTo(PodProblem.NO_NODE_FITS);
    }

    @Test
    void podsTheOperatorDidNotCreateAreNeitherPartOfTheGangNorDeleted() {
        Pod users = new PodBuilder(PodStates.running(PodStates.base("j", 0, 0)))
                .editMetadata()
                .withOwnerReferences()
                .endMetadata()
                .build(); // our labels, no controller
        Pod other = new PodBuilder(PodStates.running(PodStates.base("j", 1, 0)))
                .editMetadata()
                .editFirstOwnerReference()
                .withKind("Deployment")
                .endOwnerReference()
                .endMetadata()
                .build();
        GangState gang = observe(List.of(users, other), T0);
        assertThat(gang.current()).isEmpty();
        assertThat(gang.stale()).isEmpty();
        // An earlier incarnation of the job (same name, another uid) is stale: deleted, never adopted.
        Pod earlier = new PodBuilder(PodStates.running(PodStates.base("j", 0, 0)))
                .editMetadata()
                .editFirstOwnerReference()
                .withUid("uid-of-an-earlier-j")
                .endOwnerReference()
                .endMetadata()
                .build();
        gang = observe(List.of(earlier), T0);
        assertThat(gang.current()).isEmpty();
        assertThat(gang.stale()).containsExactly(earlier);
    }

    @Test
    void aRefusedWriteIsReportedOnceAndRetriedWithADoublingBackoff() {
        GangState none = observe(List.of(), T0);
        GangDecision d = GangLifecycle.decideRejectedWrite(job, "ObjectNotOwned", "ConfigMap j-plan exists", none, T0);
        job.setStatus(d.status);
        var c = Conditions.get(d.status, Conditions.DEPENDENTS_READY).orElseThrow();
        assertThat(c.status).isEqualTo("False");
        assertThat(c.reason).isEqualTo("ObjectNotOwned");
        assertThat(d.status.phase).isEqualTo(JobPhase.Pending);
        assertThat(d.events).extracting(GangDecision.JobEvent::reason).containsExactly("ObjectNotOwned");
        assertThat(d.requeue()).contains(Duration.ofSeconds(10));

        d = GangLifecycle.decideRejectedWrite(
                job, "ObjectNotOwned", "ConfigMap j-plan exists", none, T0.plusSeconds(40));
        job.setStatus(d.status);
        assertThat(d.events).isEmpty();
        assertThat(d.requeue()).contains(Duration.ofSeconds(40));
        d = GangLifecycle.decideRejectedWrite(
                job, "ObjectNotOwned", "ConfigMap j-plan exists", none, T0.plusSeconds(3600));
        assertThat(d.requeue()).contains(Duration.ofMinutes(5));

        // A running gang is not stopped by a refused write; a gang still starting is given back.
        GangState running = observe(List.of(PodStates.running(PodStates.base("j", 0, 0))), T0);
        MoETrainingJobStatus s = new MoETrainingJobStatus();
        s.phase = JobPhase.Running;
        job.setStatus(s);
        assertThat(GangLifecycle.decideRejectedWrite(job, "ApiRejected", "x", running, T0).deletePods)
                .isEmpty();
        s.phase = JobPhase.Pending;
        assertThat(GangLifecycle.decideRejectedWrite(job, "ApiRejected", "x", running, T0).deletePods)
                .hasSize(1);
    }

    private static Node node(String name, Map<String, String> labels, String gpus) {
        return new NodeBuilder()
                .withNewMetadata()
                .withName(name)
                .withLabels(labels)
                .endMetadata()
                .withNewStatus()
                .addToAllocatable("nvidia.com/gpu", new Quantity(gpus))
                .endStatus()
                .build();
    }
}
