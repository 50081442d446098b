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
 * after an exponential backoff, up to maxRestarts.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.backoffSeconds) || !has(self.maxBackoffSeconds)"
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
    @JsonPropertyDescription("If not every pod of the gang is running after this long, the partial gang is"
            + " deleted and recreated, so it never holds GPUs while waiting.")
    public Integer gangSchedulingTimeoutSeconds = 600;
}
