package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.RestartPolicySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class GangRestartPolicyTest {

    @Test
    void backoffDoublesAndIsCapped() {
        GangRestartPolicy p = new GangRestartPolicy(10, 10, 60, List.of(), 600);
        assertThat(p.backoff(0)).isEqualTo(Duration.ZERO);
        assertThat(p.backoff(1)).isEqualTo(Duration.ofSeconds(10));
        assertThat(p.backoff(2)).isEqualTo(Duration.ofSeconds(20));
        assertThat(p.backoff(3)).isEqualTo(Duration.ofSeconds(40));
        assertThat(p.backoff(4)).isEqualTo(Duration.ofSeconds(60));
        assertThat(p.backoff(1000)).isEqualTo(Duration.ofSeconds(60));
    }

    @Test
    void defaultsAreThoseOfTheType() {
        GangRestartPolicy p = GangRestartPolicy.of(new RestartPolicySpec());
        assertThat(p.maxRestarts()).isEqualTo(5);
        assertThat(p.backoffSeconds()).isEqualTo(10);
        assertThat(p.maxBackoffSeconds()).isEqualTo(300);
        assertThat(p.gangSchedulingTimeoutSeconds()).isEqualTo(600);
        RestartPolicySpec cleared = new RestartPolicySpec();
        cleared.maxRestarts = null;
        cleared.gangSchedulingTimeoutSeconds = null;
        assertThat(GangRestartPolicy.of(cleared)).isEqualTo(p);
        assertThat(GangRestartPolicy.of(null)).isEqualTo(p);
    }

    @Test
    void nextStartCountsFailuresAndSchedulingTimeoutsSeparately() {
        GangRestartPolicy p = new GangRestartPolicy(10, 10, 600, List.of(), 600);
        MoETrainingJobStatus s = new MoETrainingJobStatus();
        s.restarts = 2;
        s.restartAttempt = 3;
        s.lastFailure = new MoETrainingJobStatus.FailureRecord();
        s.lastFailure.reason = "ExitCode";
        s.lastFailure.time = "2026-11-26T12:00:00Z";
        Instant now = Instant.parse("2026-11-26T12:00:01Z");
        assertThat(p.nextGangStart(s, now)).isEqualTo(Instant.parse("2026-11-26T12:00:20Z"));
        s.lastFailure.reason = "GangSchedulingTimeout";
        assertThat(p.nextGangStart(s, now)).isEqualTo(Instant.parse("2026-11-26T12:00:10Z"));
    }
}
