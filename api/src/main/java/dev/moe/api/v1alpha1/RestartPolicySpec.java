package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/**
 * Gang restarts: any failed pod stops the whole gang; retriable failures recreate it from the last checkpoint
 * after an exponential backoff, up to maxRestarts. What a failure does is decided in this order: exit code 78 and
 * nonRetryableExitCodes fail the job; then the first matching entry of rules; then the defaults (Evicted,
 * Preempted and NodeLost restart uncounted, everything else restarts counted).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
        value = "!has(self.backoffSeconds) || !has(self.maxBackoffSeconds)"
                + " || self.maxBackoffSeconds >= self.backoffSeconds",
        message = "restartPolicy.maxBackoffSeconds must be at least restartPolicy.backoffSeconds",
        reason = "FieldValueInvalid")
@JsonIgnoreProperties(ignoreUnknown = true)
public class RestartPolicySpec {
    @LimitReason("a gang that failed a thousand times will not succeed")
    @Min(0)
    @Max(SpecLimits.MAX_RESTARTS)
    @Default("5")
    @JsonPropertyDescription("Gang restarts allowed before the job fails.")
    public Integer maxRestarts = 5;

    @LimitReason("a restart delay of more than a day is a stopped job")
    @Min(0)
    @Max(SpecLimits.MAX_BACKOFF_SECONDS)
    @Default("10")
    @JsonPropertyDescription("Delay before the first restart; doubles with each restart.")
    public Integer backoffSeconds = 10;

    @LimitReason("a restart delay of more than a day is a stopped job")
    @Min(0)
    @Max(SpecLimits.MAX_BACKOFF_SECONDS)
    @Default("300")
    @JsonPropertyDescription("Upper bound of the restart delay.")
    public Integer maxBackoffSeconds = 300;

    @JsonPropertyDescription("Container exit codes that fail the job at once. 78 (trainer configuration error)"
            + " is always non-retryable.")
    @Size(max = SpecLimits.MAX_NON_RETRYABLE_EXIT_CODES)
    @LimitReason("container exit codes are 0-255 and 0 is success")
    public List<@Min(SpecLimits.MIN_EXIT_CODE) @Max(SpecLimits.MAX_EXIT_CODE) Integer> nonRetryableExitCodes;

    @LimitReason("a gang that has not started within a week will not start")
    @Min(1)
    @Max(SpecLimits.MAX_GANG_SCHEDULING_TIMEOUT_SECONDS)
    @Default("600")
    @JsonPropertyDescription("If not every pod of the gang is running after this long while some are bound, the"
            + " partial gang is deleted and recreated, so it never holds GPUs while waiting. A gang of which no pod"
            + " is bound holds nothing and keeps waiting (GangScheduled says why); in status.gangMode Native"
            + " kube-scheduler binds all pods or none, so this fires only for a gang that is bound but not all"
            + " running (e.g. an image that will not pull on some node). Not used with placement.queueName (Kueue).")
    public Integer gangSchedulingTimeoutSeconds = 600;

    @LimitReason("a gang restarted a thousand times for its infrastructure will not get better")
    @Min(0)
    @Max(SpecLimits.MAX_RESTARTS)
    @Default("50")
    @JsonPropertyDescription("Gang restarts for infrastructure failures (by default Evicted, Preempted, NodeLost;"
            + " any failure a rule sends to RestartGangUncounted) allowed before the job fails. They are counted"
            + " in status.infrastructureRestarts and do not use up maxRestarts.")
    public Integer maxInfrastructureRestarts = 50;

    @JsonPropertyDescription("What to do with a failure, read in order; the first rule that matches decides."
            + " Exit code 78 and nonRetryableExitCodes fail the job before any rule is read; a failure no rule"
            + " matches gets the default: Evicted, Preempted and NodeLost RestartGangUncounted, everything else"
            + " RestartGang.")
    @Size(max = SpecLimits.MAX_FAILURE_RULES)
    public List<FailureRule> rules;

    @LimitReason("at least two of the trainer's 10 s progress-report intervals (a healthy gang's report can lag a"
            + " step by one); a training step that takes more than a day is a stopped job")
    @Min(SpecLimits.MIN_PROGRESS_DEADLINE_SECONDS)
    @Max(SpecLimits.MAX_PROGRESS_DEADLINE_SECONDS)
    @JsonPropertyDescription("Stall detection: when global rank 0 reports no new step for this long while the"
            + " gang runs, the gang is restarted with reason Stalled (counted, unless a rule says otherwise). At"
            + " least 20: the trainer reports progress at most every 10 s. Off when unset.")
    public Integer progressDeadlineSeconds;

    @LimitReason("loading a model and the first step take minutes, not days")
    @Min(1)
    @Max(SpecLimits.MAX_PROGRESS_DEADLINE_SECONDS)
    @Default("900")
    @JsonPropertyDescription("With progressDeadlineSeconds: how long each attempt may take from all pods running"
            + " to its first new step (model load, compilation, checkpoint restore) before it counts as Stalled.")
    public Integer progressStartupGraceSeconds = 900;
}
