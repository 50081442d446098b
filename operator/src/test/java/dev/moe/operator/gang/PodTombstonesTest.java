package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** An evicted pod that is gone before a reconcile reads the cache is still an eviction, not PodDeleted. */
class PodTombstonesTest {
    private static final Instant NOW = Instant.parse("2026-11-26T12:10:00Z");

    private static Pod inNamespace(Pod p) {
        return new PodBuilder(p)
                .editMetadata()
                .withNamespace("ml")
                .endMetadata()
                .build();
    }

    @Test
    void aVanishedEvictedRankIsAnEvictionOfThisAttemptOnly() {
        PodTombstones t = new PodTombstones();
        t.record(inNamespace(PodStates.evictedByApi(PodStates.base("j", 1, 3))), NOW);
        assertThat(t.lastFailure("ml", "j-node-1", "uid-j", 3, NOW))
                .get()
                .extracting(PodFailure::reason)
                .isEqualTo("Evicted");
        assertThat(t.lastFailure("ml", "j-node-1", "uid-j", 4, NOW))
                .as("another attempt")
                .isEmpty();
        assertThat(t.lastFailure("ml", "j-node-1", "uid-other", 3, NOW))
                .as("another job incarnation")
                .isEmpty();
        assertThat(t.lastFailure("other", "j-node-1", "uid-j", 3, NOW))
                .as("another namespace")
                .isEmpty();

        GangState gang = GangObserver.observe(
                "j",
                "uid-j",
                List.of(PodStates.running(PodStates.base("j", 0, 3))),
                3,
                2,
                true,
                f -> false,
                pod -> t.lastFailure("ml", pod, "uid-j", 3, NOW),
                NOW);
        assertThat(gang.failures()).singleElement().satisfies(f -> {
            assertThat(f.reason()).isEqualTo("Evicted");
            assertThat(f.nodeRank()).isEqualTo(1);
        });
        assertThat(t.lastFailure(
                        "ml",
                        "j-node-1",
                        "uid-j",
                        3,
                        NOW.plus(PodTombstones.TTL).plusSeconds(1)))
                .as("expired")
                .isEmpty();
    }

    @Test
    void aPlainDeletionLeavesNoTombstoneAndTheMapIsBounded() {
        PodTombstones t = new PodTombstones();
        t.record(inNamespace(PodStates.deleted(PodStates.base("j", 0, 0))), NOW);
        assertThat(t.size()).isZero();
        GangState gang = GangObserver.observe(
                "j", "uid-j", List.of(), 0, 1, true, f -> false, pod -> t.lastFailure("ml", pod, "uid-j", 0, NOW), NOW);
        assertThat(gang.failures()).extracting(PodFailure::reason).containsExactly("PodDeleted");
        for (int i = 0; i < PodTombstones.MAX_ENTRIES + 50; i++) {
            t.record(inNamespace(PodStates.evictedByApi(PodStates.base("j" + i, 0, 0))), NOW);
        }
        assertThat(t.size()).isEqualTo(PodTombstones.MAX_ENTRIES);
    }

    /**
     * The informer drops a deleted pod from its cache before its delete handler records the tombstone: a reconcile
     * in between sees the rank gone without one. It waits one short requeue instead of counting PodDeleted; the
     * tombstone recorded meanwhile makes it the eviction it was; without one it is PodDeleted after the grace.
     */
    @Test
    void aRankGoneBeforeItsTombstoneWaitsOneShortRequeueBeforeItIsClassified() {
        PodTombstones t = new PodTombstones();
        var job = dev.moe.operator.TestJobs.tiny("ml", "j", 2);
        var plan = dev.moe.operator.TestJobs.plan(job);
        var policy = GangRestartPolicy.of(job.getSpec().restartPolicy);
        job.setStatus(new dev.moe.api.v1alpha1.MoETrainingJobStatus());
        job.getStatus().phase = dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase.Running;
        job.getStatus().restartAttempt = 3;
        java.util.function.Function<Instant, GangState> observe = now -> GangObserver.observe(
                "j",
                "uid-j",
                List.of(PodStates.running(PodStates.base("j", 0, 3))),
                3,
                2,
                true,
                f -> false,
                pod -> t.vanished("ml", pod, "uid-j", 3, now),
                now);

        GangState gang = observe.apply(NOW);
        assertThat(gang.failures()).singleElement().satisfies(f -> {
            assertThat(f.reason()).isEqualTo(FailureClassifier.VANISHING);
            assertThat(f.nodeRank()).isEqualTo(1);
        });
        GangDecision d = GangLifecycle.decide(job, plan, gang, policy, NOW);
        assertThat(d.deletePods).isEmpty();
        assertThat(d.createRanks).isEmpty();
        assertThat(d.status.restartAttempt).isEqualTo(3);
        assertThat(d.status.lastFailure).isNull();
        assertThat(d.requeue()).hasValue(PodTombstones.VANISHED_GRACE);

        // the delete handler ran meanwhile: an eviction, an infrastructure restart
        t.record(inNamespace(PodStates.evictedByApi(PodStates.base("j", 1, 3))), NOW.plusSeconds(1));
        d = GangLifecycle.decide(job, plan, observe.apply(NOW.plusSeconds(1)), policy, NOW.plusSeconds(1));
        assertThat(d.status.lastFailure.reason).isEqualTo("Evicted");
        assertThat(d.status.infrastructureRestarts).isEqualTo(1);
        assertThat(d.status.restarts).isZero();

        // no tombstone ever: PodDeleted once the grace is over
        PodTombstones none = new PodTombstones();
        assertThat(none.vanished("ml", "j-node-1", "uid-j", 3, NOW))
                .get()
                .extracting(PodFailure::reason)
                .isEqualTo(FailureClassifier.VANISHING);
        assertThat(none.vanished("ml", "j-node-1", "uid-j", 3, NOW.plus(PodTombstones.VANISHED_GRACE)))
                .isEmpty();
        assertThat(none.vanished("ml", "j-node-1", "uid-j", 4, NOW.plus(PodTombstones.VANISHED_GRACE)))
                .as("another attempt waits on its own")
                .isPresent();
    }
}
