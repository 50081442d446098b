package dev.moe.operator.status;

/**
 * Reasons of the job's conditions and Events that the gang lifecycle writes (machine-readable, CamelCase; users
 * filter on them with {@code kubectl get events --field-selector reason=…} and alerts match them). Failure reasons
 * of pods are in {@code gang.FailureClassifier}, reasons of a gang that cannot start in {@code gang.PodProblem},
 * refused writes in {@code k8s.WriteRejection}, plan rules in the plan engine.
 */
public final class Reasons {
    private Reasons() {}

    // PlanValid
    public static final String PLAN_ACCEPTED = "PlanAccepted";
    /** Warning Event when the plan engine rejects the spec (the condition's reason is the first rule broken). */
    public static final String PLAN_REJECTED = "PlanRejected";
    /** GangScheduled/Running while the plan is invalid. */
    public static final String PLAN_INVALID = "PlanInvalid";

    // Suspended
    public static final String SUSPENDED_BY_USER = "SuspendedByUser";
    public static final String NOT_SUSPENDED = "NotSuspended";
    /** GangScheduled/Running while suspended, and the Event. */
    public static final String SUSPENDED = "Suspended";

    public static final String RESUMED = "Resumed";

    // GangScheduled / Running
    public static final String GANG_CREATED = "GangCreated";
    public static final String WAITING_FOR_PODS = "WaitingForPods";
    public static final String ALL_PODS_SCHEDULED = "AllPodsScheduled";
    public static final String ALL_PODS_RUNNING = "AllPodsRunning";
    public static final String RESTARTING = "Restarting";
    /** Warning Event: a node is kept out of the job's next attempts (status.excludedNodes). */
    public static final String NODE_EXCLUDED = "NodeExcluded";
    /** Warning Event of a gang restart after a failure. */
    public static final String GANG_RESTART = "GangRestart";

    // Succeeded / Failed
    public static final String ALL_PODS_SUCCEEDED = "AllPodsSucceeded";
    public static final String COMPLETED = "Completed";
    public static final String SUCCEEDED = "Succeeded";
    public static final String NON_RETRYABLE_EXIT_CODE = "NonRetryableExitCode";
    public static final String RESTART_LIMIT_EXCEEDED = "RestartLimitExceeded";
    /** restartPolicy.maxInfrastructureRestarts reached (evictions, preemptions, node losses …). */
    public static final String INFRASTRUCTURE_RESTART_LIMIT_EXCEEDED = "InfrastructureRestartLimitExceeded";
    /** A restartPolicy.rules entry with action FailJob matched the failure. */
    public static final String FAILURE_RULE_MATCHED = "FailureRuleMatched";

    /** spec.activeDeadlineSeconds reached (the Failed condition and the Warning Event; batch/v1 Job's word). */
    public static final String DEADLINE_EXCEEDED = "DeadlineExceeded";

    public static final String FAILED = "Failed";
    /** Normal Event: spec.ttlSecondsAfterFinished passed, the finished job is deleted. */
    public static final String TTL_EXPIRED = "TTLExpired";

    // StopCheckpoint (condition and Events)
    /** Asked the trainer for a checkpoint before stopping the gang (Unknown while waiting). */
    public static final String CHECKPOINT_REQUESTED = "CheckpointRequested";
    /** The checkpoint asked for is saved; the pods are stopped. */
    public static final String CHECKPOINT_SAVED = "CheckpointSaved";
    /** The trainer stopped without a checkpoint past the request's step. */
    public static final String CHECKPOINT_MISSING = "CheckpointMissing";
    /** checkpoint.stopTimeoutSeconds passed without a checkpoint; the pods are stopped anyway. */
    public static final String CHECKPOINT_TIMEOUT = "CheckpointTimeout";

    // DependentsReady
    public static final String DEPENDENTS_WRITTEN = "DependentsWritten";
}
