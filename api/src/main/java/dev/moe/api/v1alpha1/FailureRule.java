package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import java.util.List;

/**
 * One entry of spec.restartPolicy.rules: what to do with a failure that matches. Every criterion given must match
 * (a list matches when any of its items does); a rule with no criterion matches every failure.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class FailureRule {
    /** What a matching failure does. */
    public enum Action {
        /** Restart the whole gang; counts toward maxRestarts. */
        RestartGang,
        /** Restart the whole gang; counts toward maxInfrastructureRestarts (status.infrastructureRestarts). */
        RestartGangUncounted,
        /** Fail the job at once. */
        FailJob
    }

    /** Why a pod stopped the gang, as status.lastFailure.reason says. */
    public enum Reason {
        ExitCode,
        OOMKilled,
        Evicted,
        Preempted,
        NodeLost,
        PodDeleted,
        PodFailed,
        Stalled
    }

    @JsonPropertyDescription("Failure reasons this rule matches: ExitCode (the trainer exited non-zero), OOMKilled"
            + " (killed for memory), Evicted (kubelet or Eviction API), Preempted (scheduler), NodeLost (the node"
            + " went away), PodDeleted (a pod was deleted by someone else), PodFailed (any other failed pod), Stalled"
            + " (no new step within progressDeadlineSeconds).")
    @Size(max = SpecLimits.MAX_RULE_MATCHES)
    public List<Reason> reasons;

    @JsonPropertyDescription("Exit codes of the trainer container this rule matches (1-255).")
    @Size(max = SpecLimits.MAX_RULE_MATCHES)
    @LimitReason("container exit codes are 0-255 and 0 is success")
    public List<@Min(SpecLimits.MIN_EXIT_CODE) @Max(SpecLimits.MAX_EXIT_CODE) Integer> exitCodes;

    @JsonPropertyDescription("Termination reasons of the trainer container this rule matches, exactly as the"
            + " kubelet writes them (e.g. OOMKilled, Error, ContainerCannotRun, DeadlineExceeded).")
    @Size(max = SpecLimits.MAX_RULE_MATCHES)
    public List<@Size(max = SpecLimits.MAX_TERMINATION_REASON_LENGTH) String> terminationReasons;

    @JsonPropertyDescription("A plain substring (not a regular expression; case-sensitive) that the trainer"
            + " container's termination message (its last log lines) must contain, e.g. \"CUDA error: an illegal"
            + " memory access\" or \"NCCL watchdog\".")
    @Size(min = 1, max = SpecLimits.MAX_MESSAGE_CONTAINS_LENGTH)
    public String messageContains;

    @Required
    @JsonPropertyDescription("RestartGang (counts toward maxRestarts), RestartGangUncounted (an infrastructure"
            + " failure: counts toward maxInfrastructureRestarts instead) or FailJob (fail at once).")
    public Action action;
}
