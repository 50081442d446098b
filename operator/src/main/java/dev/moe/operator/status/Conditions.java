package dev.moe.operator.status;

import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobCondition;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

/**
 * metav1.Condition handling: lastTransitionTime changes only when the condition's status changes, so a
 * reconcile that observes nothing new writes nothing new.
 */
public final class Conditions {
    private Conditions() {}

    public static final String PLAN_VALID = "PlanValid";
    public static final String GANG_SCHEDULED = "GangScheduled";
    public static final String RUNNING = "Running";
    public static final String SUSPENDED = "Suspended";
    public static final String SUCCEEDED = "Succeeded";
    public static final String FAILED = "Failed";
    /**
     * The objects the job derives (plan ConfigMap, headless Service, trainer identity, pods) could be written:
     * False when a name is taken by an object the job does not control, or the API server refused a write.
     */
    public static final String DEPENDENTS_READY = "DependentsReady";
    /**
     * Checkpoint before stop (gang.StopCheckpoint): Unknown while the operator waits for the checkpoint it asked
     * for, True when one was saved before the last stop, False when the wait timed out or the trainer stopped
     * without one. Absent until the first such stop.
     */
    public static final String STOP_CHECKPOINT = "StopCheckpoint";

    public static final String TRUE = "True";
    public static final String FALSE = "False";
    public static final String UNKNOWN = "Unknown";

    /** RFC 3339 with second precision, as the API server writes times. */
    public static String time(Instant t) {
        return t.truncatedTo(ChronoUnit.SECONDS).toString();
    }

    public static Optional<JobCondition> get(MoETrainingJobStatus status, String type) {
        if (status.conditions == null) {
            return Optional.empty();
        }
        return status.conditions.stream().filter(c -> type.equals(c.type)).findFirst();
    }

    public static boolean isTrue(MoETrainingJobStatus status, String type) {
        return get(status, type).map(c -> TRUE.equals(c.status)).orElse(false);
    }

    /**
     * Longest condition message kept (metav1.Condition allows 32 KiB): a job with hundreds of errors must not turn
     * every status patch into a megabyte. The plan's full verdict is always available offline (bin/moe-plan).
     */
    public static final int MAX_MESSAGE = 4096;

    /** The message as a condition keeps it (at most {@link #MAX_MESSAGE} characters). */
    public static String truncate(String message) {
        return message != null && message.length() > MAX_MESSAGE
                ? message.substring(0, MAX_MESSAGE - 40) + "… (" + (message.length() - MAX_MESSAGE + 40)
                        + " more characters)"
                : message;
    }

    /** Sets a condition; keeps lastTransitionTime when the status does not change. */
    public static void set(
            MoETrainingJobStatus status,
            String type,
            String value,
            String reason,
            String message,
            Long generation,
            Instant now) {
        if (status.conditions == null) {
            status.conditions = new java.util.ArrayList<>();
        }
        JobCondition c = get(status, type).orElse(null);
        if (c == null) {
            c = new JobCondition();
            c.type = type;
            status.conditions.add(c);
        }
        if (!value.equals(c.status) || c.lastTransitionTime == null) {
            c.lastTransitionTime = time(now);
        }
        c.status = value;
        c.reason = reason;
        c.message = truncate(message);
        c.observedGeneration = generation;
    }
}
