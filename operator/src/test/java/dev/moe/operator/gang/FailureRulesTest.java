package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.FailureRule;
import dev.moe.api.v1alpha1.FailureRule.Action;
import dev.moe.api.v1alpha1.FailureRule.Reason;
import dev.moe.api.v1alpha1.SpecLimits;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The rule matcher and the order of decisions: 78 and nonRetryableExitCodes, then rules in order, then defaults. */
class FailureRulesTest {
    private static final Instant NOW = Instant.parse("2026-11-26T12:10:00Z");

    private static PodFailure failure(String reason, Integer code, String terminationReason, String message) {
        return new PodFailure(reason, "j-node-0", 0, code, "j-node-0 failed", NOW, terminationReason, message, "n1");
    }

    private static FailureRule rule(Action action) {
        FailureRule r = new FailureRule();
        r.action = action;
        return r;
    }

    @Test
    void defaultsLeaveInfrastructureFailuresUncountedAndEverythingElseCounted() {
        for (String infra : List.of("Evicted", "Preempted", "NodeLost")) {
            assertThat(FailureRules.decide(failure(infra, null, null, null), List.of(), List.of()))
                    .isEqualTo(new FailureRules.Verdict(Action.RestartGangUncounted, "default"));
        }
        for (String counted : List.of("ExitCode", "OOMKilled", "PodDeleted", "PodFailed", "Stalled")) {
            assertThat(FailureRules.decide(failure(counted, 1, null, null), List.of(), null)
                            .action())
                    .as(counted)
                    .isEqualTo(Action.RestartGang);
        }
    }

    @Test
    void exitCode78AndNonRetryableCodesFailBeforeAnyRule() {
        FailureRule retry = rule(Action.RestartGang);
        assertThat(FailureRules.decide(failure("ExitCode", 78, "Error", null), List.of(), List.of(retry)))
                .extracting(FailureRules.Verdict::action)
                .isEqualTo(Action.FailJob);
        assertThat(FailureRules.decide(failure("ExitCode", 3, "Error", null), List.of(3), List.of(retry)))
                .isEqualTo(new FailureRules.Verdict(Action.FailJob, "restartPolicy.nonRetryableExitCodes"));
        // An evicted pod whose process exited 78 on SIGTERM is still an eviction.
        assertThat(FailureRules.decide(failure("Evicted", 78, null, null), List.of(), List.of())
                        .action())
                .isEqualTo(Action.RestartGangUncounted);
    }

    @Test
    void theFirstMatchingRuleDecidesInOrder() {
        FailureRule oom = rule(Action.FailJob);
        oom.reasons = List.of(Reason.OOMKilled);
        FailureRule anyExit = rule(Action.RestartGangUncounted);
        anyExit.reasons = List.of(Reason.ExitCode, Reason.OOMKilled);
        List<FailureRule> rules = List.of(oom, anyExit);
        assertThat(FailureRules.decide(failure("OOMKilled", 137, "OOMKilled", null), List.of(), rules))
                .isEqualTo(new FailureRules.Verdict(Action.FailJob, "restartPolicy.rules[0]"));
        assertThat(FailureRules.decide(failure("ExitCode", 1, "Error", null), List.of(), rules))
                .isEqualTo(new FailureRules.Verdict(Action.RestartGangUncounted, "restartPolicy.rules[1]"));
        // No rule for evictions: the default.
        assertThat(FailureRules.decide(failure("Evicted", null, null, null), List.of(), rules))
                .isEqualTo(new FailureRules.Verdict(Action.RestartGangUncounted, "default"));
        // A rule can make an eviction count, or fail the job.
        FailureRule evictionFails = rule(Action.FailJob);
        evictionFails.reasons = List.of(Reason.Evicted);
        assertThat(FailureRules.decide(failure("Evicted", null, null, null), List.of(), List.of(evictionFails))
                        .action())
                .isEqualTo(Action.FailJob);
    }

    @Test
    void everyCriterionGivenMustMatch() {
        FailureRule r = rule(Action.FailJob);
        r.exitCodes = List.of(1, 2);
        r.terminationReasons = List.of("Error");
        r.messageContains = "CUDA error: an illegal memory access";
        String log = "step 12 loss 2.1\nRuntimeError: CUDA error: an illegal memory access was encountered";
        assertThat(FailureRules.matches(r, failure("ExitCode", 1, "Error", log)))
                .isTrue();
        assertThat(FailureRules.matches(r, failure("ExitCode", 3, "Error", log)))
                .as("other code")
                .isFalse();
        assertThat(FailureRules.matches(r, failure("ExitCode", null, "Error", log)))
                .as("no code")
                .isFalse();
        assertThat(FailureRules.matches(r, failure("ExitCode", 1, "OOMKilled", log)))
                .as("other reason")
                .isFalse();
        assertThat(FailureRules.matches(r, failure("ExitCode", 1, "Error", "NCCL timeout")))
                .as("other text")
                .isFalse();
        assertThat(FailureRules.matches(r, failure("ExitCode", 1, "Error", null)))
                .as("no message")
                .isFalse();
        // Case-sensitive plain substring: no pattern syntax.
        FailureRule dots = rule(Action.FailJob);
        dots.messageContains = "a.c";
        assertThat(FailureRules.matches(dots, failure("ExitCode", 1, null, "abc")))
                .isFalse();
        assertThat(FailureRules.matches(dots, failure("ExitCode", 1, null, "xa.cx")))
                .isTrue();
        // No criterion: every failure.
        assertThat(FailureRules.matches(rule(Action.RestartGang), failure("Stalled", null, null, null)))
                .isTrue();
    }

    @Test
    void terminationReasonMatchesTheKubeletsWord() {
        FailureRule r = rule(Action.FailJob);
        r.terminationReasons = List.of("OOMKilled");
        assertThat(FailureRules.matches(r, failure("OOMKilled", 137, "OOMKilled", null)))
                .isTrue();
        assertThat(FailureRules.matches(r, failure("ExitCode", 137, "Error", null)))
                .isFalse();
        assertThat(FailureRules.matches(r, failure("Evicted", null, null, null)))
                .isFalse();
    }

    @Test
    void theLongestMessageAndRuleSetStayLinear() {
        // The worst a job can write: 32 rules of 256-character needles, each almost matching everywhere in a
        // message of the longest kept length. A substring search is linear; this completes at once (a
        // backtracking regex of the same size would not). No clock is read: the bound is structural.
        String message = "a".repeat(SpecLimits.MAX_FAILURE_MESSAGE_LENGTH);
        List<FailureRule> rules = new java.util.ArrayList<>();
        for (int i = 0; i < SpecLimits.MAX_FAILURE_RULES; i++) {
            FailureRule r = rule(Action.FailJob);
            r.messageContains = "a".repeat(SpecLimits.MAX_MESSAGE_CONTAINS_LENGTH - 1) + "b";
            rules.add(r);
        }
        assertThat(FailureRules.decide(failure("ExitCode", 1, "Error", message), List.of(), rules))
                .isEqualTo(new FailureRules.Verdict(Action.RestartGang, "default"));
    }
}
