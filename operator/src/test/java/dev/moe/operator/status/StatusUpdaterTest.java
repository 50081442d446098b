package dev.moe.operator.status;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import java.time.Instant;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;

class StatusUpdaterTest {

    @Test
    void anUnreadableStatusIsRebuiltFromScratch() {
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        mapper.registerModule(dev.moe.api.v1alpha1.TolerantJobReading.module());
        var serialization = new io.fabric8.kubernetes.client.utils.KubernetesSerialization(mapper, true);
        dev.moe.api.v1alpha1.MoETrainingJob j = serialization.unmarshal(
                "{\"apiVersion\":\"training.moe.dev/v1alpha1\","
                        + "\"kind\":\"MoETrainingJob\",\"metadata\":{\"name\":\"j\",\"namespace\":\"ns\"},"
                        + "\"spec\":{\"model\":{\"preset\":\"tiny-moe\"}},\"status\":{\"phase\":\"Bogus\",\"restartAttempt\":-5}}",
                dev.moe.api.v1alpha1.MoETrainingJob.class);
        assertThat(j.getStatus()).isInstanceOf(dev.moe.api.v1alpha1.TolerantJobReading.UnreadableStatus.class);
        // The operator rebuilds status from scratch rather than keep what it cannot read.
        assertThat(StatusUpdater.copyOf(j).phase).isNull();
        assertThat(StatusUpdater.copyOf(j).restartAttempt).isNull();
    }

    @Test
    void emptyListsAndNullsAreNotChanges() {
        MoETrainingJobStatus a = new MoETrainingJobStatus();
        a.plan = new MoETrainingJobStatus.PlanSummary();
        a.plan.warnings = new ArrayList<>();
        MoETrainingJobStatus b = new MoETrainingJobStatus();
        b.plan = new MoETrainingJobStatus.PlanSummary();
        b.conditions = null;
        assertThat(StatusUpdater.changed(a, b)).isFalse();
        b.phase = MoETrainingJobStatus.JobPhase.Running;
        assertThat(StatusUpdater.changed(a, b)).isTrue();
    }

    @Test
    void aConditionKeepsItsTransitionTimeUntilItsStatusChanges() {
        MoETrainingJobStatus s = new MoETrainingJobStatus();
        Instant t0 = Instant.parse("2026-11-26T12:00:00.123Z");
        Conditions.set(s, "Running", "False", "WaitingForPods", "0 of 2", 1L, t0);
        assertThat(Conditions.get(s, "Running").orElseThrow().lastTransitionTime)
                .isEqualTo("2026-11-26T12:00:00Z");
        Conditions.set(s, "Running", "False", "WaitingForPods", "1 of 2", 1L, t0.plusSeconds(5));
        assertThat(Conditions.get(s, "Running").orElseThrow().lastTransitionTime)
                .isEqualTo("2026-11-26T12:00:00Z");
        Conditions.set(s, "Running", "True", "AllPodsRunning", "2 of 2", 2L, t0.plusSeconds(9));
        var c = Conditions.get(s, "Running").orElseThrow();
        assertThat(c.lastTransitionTime).isEqualTo("2026-11-26T12:00:09Z");
        assertThat(c.observedGeneration).isEqualTo(2L);
    }
}
