package dev.moe.operator.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.TestJobs;
import dev.moe.operator.webhook.JobAdmission.Verdict;
import io.javaoperatorsdk.webhook.admission.Operation;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What admission decides (pure), and the bounds around it (BoundedJudge). */
class JobAdmissionTest {

    @Test
    void aValidJobIsAllowedWithoutWarnings() {
        Verdict v = JobAdmission.judge(Operation.CREATE, "ns", "", TestJobs.tiny("ns", "ok", 2), null);
        assertThat(v.allowed()).isTrue();
        assertThat(v.warnings()).isEmpty();
    }

    @Test
    void anInvalidJobIsRefusedWithTheEnginesFieldValueRuleAndFix() {
        MoETrainingJob job = TestJobs.tiny("ns", "bad", 2);
        job.getSpec().parallelism.expert = 3; // divides neither the world (4) nor tiny-moe's experts
        Verdict v = JobAdmission.judge(Operation.CREATE, "ns", "", job, null);
        assertThat(v.allowed()).isFalse();
        assertThat(v.message()).startsWith(JobAdmission.REFUSED_PREFIX).contains("spec.parallelism.expert=3");
        assertThat(v.name()).isEqualTo("bad");
        assertThat(v.causes())
                .isNotEmpty()
                .allSatisfy(c -> assertThat(c.field()).isEqualTo("spec.parallelism.expert"))
                .allSatisfy(c -> assertThat(c.message())
                        .startsWith("spec.parallelism.expert=3 ")
                        .endsWith("[" + c.rule() + "]"));
        assertThat(v.causes()).extracting(JobAdmission.Cause::rule).contains("ExpertDividesExperts");
    }

    @Test
    void memoryThatDoesNotFitNamesTheNearestPlansThatFit() {
        MoETrainingJob job = TestJobs.tiny("ns", "mem", 2);
        job.getSpec().model.preset = "qwen3-235b-a22b";
        job.getSpec().resources.gpusPerNode = 8;
        job.getSpec().parallelism.tensor = 1;
        job.getSpec().parallelism.expert = 16;
        job.getSpec().training.seqLength = 4096;
        job.getSpec().training.microBatchSize = 1;
        Verdict v = JobAdmission.judge(Operation.CREATE, "ns", "", job, null);
        assertThat(v.allowed()).isFalse();
        assertThat(v.causes()).extracting(JobAdmission.Cause::rule).contains("MemoryExceeded");
        assertThat(v.causes())
                .filteredOn(c -> c.rule().equals(JobAdmission.NEAREST_PLANS))
                .singleElement()
                .satisfies(c -> assertThat(c.message()).startsWith("Nearest plans that fit: "));
    }

    @Test
    void aLegalButSlowPlanIsAllowedWithTheEnginesWarning() {
        MoETrainingJob job = TestJobs.tiny("ns", "slow", 2);
        job.getSpec().parallelism.tensor = 1;
        job.getSpec().parallelism.expert = 4; // groups of 4 on 2-GPU nodes: all-to-all across nodes
        Verdict v = JobAdmission.judge(Operation.CREATE, "ns", "", job, null);
        assertThat(v.allowed()).isTrue();
        assertThat(v.warnings()).anySatisfy(w -> assertThat(w).contains("expert-parallel groups span 2 nodes"));
    }

    @Test
    void anUpdateIsJudgedOnlyWhenTheSpecChanged() {
        MoETrainingJob stored = TestJobs.tiny("ns", "u", 2);
        stored.getSpec().parallelism.expert = 3; // stored before the webhook existed
        MoETrainingJob labelled = TestJobs.tiny("ns", "u", 2);
        labelled.getSpec().parallelism.expert = 3;
        labelled.getMetadata().setLabels(java.util.Map.of("team", "a"));
        assertThat(JobAdmission.judge(Operation.UPDATE, "ns", "u", labelled, stored)
                        .allowed())
                .isTrue();

        MoETrainingJob changed = TestJobs.tiny("ns", "u", 2);
        changed.getSpec().parallelism.expert = 3;
        changed.getSpec().training.steps = 40;
        assertThat(JobAdmission.judge(Operation.UPDATE, "ns", "u", changed, stored)
                        .allowed())
                .isFalse();

        MoETrainingJob valid = TestJobs.tiny("ns", "u", 2);
        MoETrainingJob broken = TestJobs.tiny("ns", "u", 2);
        broken.getSpec().parallelism.expert = 3;
        assertThat(JobAdmission.judge(Operation.UPDATE, "ns", "u", broken, valid)
                        .allowed())
                .isFalse();
    }

    @Test
    void aGeneratedNameIsJudgedAtItsFinalLength() {
        MoETrainingJob job = TestJobs.tiny("ns", null, 2);
        job.getMetadata().setGenerateName("g".repeat(47)); // + 5 random characters = 52 > 51
        Verdict v = JobAdmission.judge(Operation.CREATE, "ns", "", job, null);
        assertThat(v.allowed()).isFalse();
        assertThat(v.causes()).extracting(JobAdmission.Cause::field).contains("metadata.name");
        job.getMetadata().setGenerateName("g".repeat(46));
        assertThat(JobAdmission.judge(Operation.CREATE, "ns", "", job, null).allowed())
                .isTrue();
    }

    @Test
    void aVerdictThatDoesNotComeInTimeLetsTheJobThroughWithAWarning() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try (BoundedJudge judge = new BoundedJudge(1, 1, Duration.ofMillis(50))) {
            Verdict v = judge.judge(() -> {
                release.await(30, TimeUnit.SECONDS);
                return new Verdict(false, null, "never seen", java.util.List.of(), java.util.List.of());
            });
            assertThat(v.allowed()).isTrue();
            assertThat(v.warnings())
                    .singleElement()
                    .asString()
                    .contains("no verdict within 50 ms")
                    .contains("status.phase");
        } finally {
            release.countDown();
        }
    }

    @Test
    void aFullPoolAnswersAtOnceInsteadOfQueueingWithoutBound() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch started = new CountDownLatch(1);
        try (BoundedJudge judge = new BoundedJudge(1, 1, Duration.ofMillis(20))) {
            // one verdict runs (stuck), one waits in the queue: the third finds no room
            judge.judge(() -> {
                started.countDown();
                awaitIgnoringInterrupts(release); // a verdict that ignores the cancel, as a stuck one would
                return null;
            });
            assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
            judge.judge(() -> null);
            Verdict third = judge.judge(() -> new Verdict(false, null, "x", java.util.List.of(), java.util.List.of()));
            assertThat(third.allowed()).isTrue();
            assertThat(third.warnings()).singleElement().asString().contains("too many admission requests");
        } finally {
            release.countDown();
        }
    }

    static void awaitIgnoringInterrupts(CountDownLatch latch) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (latch.getCount() > 0 && System.nanoTime() < deadline) {
            try {
                latch.await(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException ignored) {
                // keep the thread busy
            }
        }
    }

    @Test
    void aVerdictThatFailsLetsTheJobThroughWithAWarning() {
        try (BoundedJudge judge = new BoundedJudge(1, 1, Duration.ofSeconds(30))) {
            Verdict v = judge.judge(() -> {
                throw new IllegalStateException("boom");
            });
            assertThat(v.allowed()).isTrue();
            assertThat(v.warnings()).singleElement().asString().contains("IllegalStateException");
        }
    }
}
