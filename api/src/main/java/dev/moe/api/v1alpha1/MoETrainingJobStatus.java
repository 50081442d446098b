package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import java.util.ArrayList;
import java.util.List;

/**
 * Observed state of a MoETrainingJob, written only by the operator (status subresource). Integer fields are
 * bounded to what a Java int holds, so no status anyone writes can stop the operator from reading the job (Long
 * fields need no bound: the API server refuses integers beyond 64 bits).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class MoETrainingJobStatus {
    /** How many gang restarts {@link #restartHistory} keeps. */
    public static final int RESTART_HISTORY_LIMIT = 10;
    /** Failures on one node after which the job's next attempts avoid it. */
    public static final int BAD_NODE_FAILURES = 2;
    /** Nodes a job excludes at most (fewer when the cluster cannot spare them). */
    public static final int MAX_EXCLUDED_NODES = 16;
    /** Nodes whose failure counts status keeps. */
    public static final int MAX_NODE_FAILURES = 32;
    /**
     * The longest message of a failure record: the operator's words, the pod status's message and the termination
     * message's tail (at most {@link SpecLimits#MAX_FAILURE_MESSAGE_LENGTH}). Ten history entries and lastFailure
     * stay well under the status size an object can carry.
     */
    public static final int MAX_FAILURE_RECORD_MESSAGE = SpecLimits.MAX_FAILURE_MESSAGE_LENGTH + 1024;

    @JsonPropertyDescription("Pending, Running, Restarting, Suspended, Succeeded, Failed, or Invalid (the plan"
            + " was rejected; see the PlanValid condition).")
    public JobPhase phase;

    @JsonPropertyDescription("Conditions (PlanValid, GangScheduled, Running, Succeeded, Failed, ...), each with"
            + " the generation it describes.")
    public List<JobCondition> conditions = new ArrayList<>();

    @JsonPropertyDescription("The metadata.generation this status describes.")
    public Long observedGeneration;

    @JsonPropertyDescription(
            "Summary of the parallel plan the operator runs (the full plan is the ConfigMap" + " <job>-plan).")
    public PlanSummary plan;

    @JsonPropertyDescription("Gang restarts so far.")
    @Min(0)
    @Max(Integer.MAX_VALUE)
    public Integer restarts;

    @JsonPropertyDescription("Gang restarts for infrastructure failures so far (Evicted, Preempted, NodeLost by"
            + " default; see restartPolicy.rules): they count toward restartPolicy.maxInfrastructureRestarts, not"
            + " maxRestarts.")
    @Min(0)
    @Max(Integer.MAX_VALUE)
    public Integer infrastructureRestarts;

    @JsonPropertyDescription("Attempt number of the current gang (MOE_RESTART_ATTEMPT): 0 first, +1 per restart.")
    @Min(0)
    @Max(Integer.MAX_VALUE)
    public Integer restartAttempt;

    @JsonPropertyDescription("The most recent failure that stopped the gang.")
    public FailureRecord lastFailure;

    @JsonPropertyDescription("The last " + RESTART_HISTORY_LIMIT + " gang restarts, oldest first (newest last):"
            + " what stopped each attempt and when. Older entries are dropped; restarts counts them all.")
    @Size(max = RESTART_HISTORY_LIMIT)
    public List<RestartRecord> restartHistory;

    @JsonPropertyDescription("Nodes the next attempts are kept off (required node affinity): nodes on which this"
            + " job's pods failed " + BAD_NODE_FAILURES + " times, or that were lost. Newest last; at most as many as"
            + " the cluster's fitting nodes can spare beyond the gang, and at most " + MAX_EXCLUDED_NODES + ".")
    @Size(max = MAX_EXCLUDED_NODES)
    public List<String> excludedNodes;

    @JsonPropertyDescription("Failures of this job's pods by node (those a node can cause: ExitCode, OOMKilled,"
            + " PodFailed, NodeLost), most recent last, at most " + MAX_NODE_FAILURES + " nodes.")
    @Size(max = MAX_NODE_FAILURES)
    public List<NodeFailures> nodeFailures;

    @JsonPropertyDescription("Latest progress report of global rank 0.")
    public Progress progress;

    @JsonPropertyDescription("Checkpoint before stop: the checkpoint the operator asked the running trainer for"
            + " before stopping the gang (spec.training.checkpoint.stopTimeoutSeconds); present while it waits,"
            + " removed once the gang is stopped. The StopCheckpoint condition says how it ended.")
    public StopCheckpoint stopCheckpoint;

    @JsonPropertyDescription("When the first gang started running (RFC 3339).")
    public String startTime;

    @JsonPropertyDescription("When the job succeeded or failed (RFC 3339).")
    public String completionTime;

    @JsonPropertyDescription("Seconds the job was active (not suspended) before its current active stretch; with"
            + " activeSince, what spec.activeDeadlineSeconds is compared with.")
    @Min(0)
    @Max(Integer.MAX_VALUE)
    public Long activeSeconds;

    @JsonPropertyDescription("When the job's current active stretch began (RFC 3339): its first gang, or its"
            + " last resume; absent while suspended or finished.")
    public String activeSince;

    @JsonPropertyDescription("How the current attempt's gang is scheduled all-or-nothing: Kueue (placement.queueName:"
            + " Kueue admits the whole gang), Native (the cluster serves scheduling.k8s.io/v1alpha2: a Workload and"
            + " a PodGroup with a gang policy of minCount = nodes, so kube-scheduler binds all pods or none), or"
            + " Fallback (neither: pods are created one by one and a partly bound gang is given back after"
            + " restartPolicy.gangSchedulingTimeoutSeconds).")
    public GangMode gangMode;

    /** How a gang is scheduled all-or-nothing (status.gangMode). */
    public enum GangMode {
        Kueue,
        Native,
        Fallback
    }

    /** Lifecycle phase of the job. */
    public enum JobPhase {
        Pending,
        Running,
        Restarting,
        Suspended,
        Succeeded,
        Failed,
        Invalid
    }

    /** A metav1.Condition. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class JobCondition {
        @JsonPropertyDescription("Condition type, e.g. PlanValid, GangScheduled, Running, Succeeded, Failed.")
        public String type;

        @JsonPropertyDescription("True, False or Unknown.")
        public String status;

        @JsonPropertyDescription("CamelCase reason for the last transition.")
        public String reason;

        @JsonPropertyDescription("Human-readable detail.")
        public String message;

        @JsonPropertyDescription("When status last changed (RFC 3339).")
        public String lastTransitionTime;

        @JsonPropertyDescription("The metadata.generation the condition was set for.")
        public Long observedGeneration;
    }

    /** What the plan engine decided for the current spec. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class PlanSummary {
        @JsonPropertyDescription("GPUs in the gang: nodes × gpusPerNode.")
        @Min(Integer.MIN_VALUE)
        @Max(Integer.MAX_VALUE)
        public Integer worldSize;

        @JsonPropertyDescription("Tensor-parallel degree.")
        @Min(Integer.MIN_VALUE)
        @Max(Integer.MAX_VALUE)
        public Integer tensor;

        @JsonPropertyDescription("Expert-parallel degree.")
        @Min(Integer.MIN_VALUE)
        @Max(Integer.MAX_VALUE)
        public Integer expert;

        @JsonPropertyDescription("Context-parallel degree.")
        @Min(Integer.MIN_VALUE)
        @Max(Integer.MAX_VALUE)
        public Integer context;

        @JsonPropertyDescription("Data-parallel degree (given or derived).")
        @Min(Integer.MIN_VALUE)
        @Max(Integer.MAX_VALUE)
        public Integer data;

        @JsonPropertyDescription("Expert-data-parallel degree: world / expert.")
        @Min(Integer.MIN_VALUE)
        @Max(Integer.MAX_VALUE)
        public Integer expertData;

        @JsonPropertyDescription("Gradient accumulation steps: globalBatchSize / (microBatchSize × data).")
        @Min(Integer.MIN_VALUE)
        @Max(Integer.MAX_VALUE)
        public Integer gradientAccumulation;

        @JsonPropertyDescription(
                "Both meshes, e.g. dense(data=8, context=1, tensor=1) x expert(expertData=8, expert=8).")
        public String mesh;

        @JsonPropertyDescription("Experts owned by each expert rank.")
        @Min(Integer.MIN_VALUE)
        @Max(Integer.MAX_VALUE)
        public Integer expertsPerRank;

        @JsonPropertyDescription("Total parameters of the model.")
        public Long parametersTotal;

        @JsonPropertyDescription("Parameters active per token (embeddings included).")
        public Long parametersActive;

        @JsonPropertyDescription("Estimated memory per GPU.")
        public MemoryEstimate memory;

        @JsonPropertyDescription("Things that work but may be slow or surprising.")
        public List<String> warnings;
    }

    /** Per-GPU memory estimate, bytes. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class MemoryEstimate {
        @JsonPropertyDescription("Estimated bytes per GPU (sum of the parts below).")
        public Long perGpuBytes;

        @JsonPropertyDescription("Memory of one GPU in bytes (resources.gpuMemoryGiB).")
        public Long gpuBytes;

        @JsonPropertyDescription("Human-readable total, e.g. 61.3 GiB of 80 GiB.")
        public String summary;

        @JsonPropertyDescription("Parameters held by this GPU: float32 masters (in the model where FSDP2 shards a"
                + " parameter, in the optimizer otherwise) and bf16 working copies, plus FSDP2's transient unsharded"
                + " bf16 layers at the peak.")
        public Long weights;

        @JsonPropertyDescription("Gradients allocated at the peak: float32 where FSDP2 shards a parameter or while"
                + " accumulating, bf16 otherwise; FSDP2's reduce buffers included.")
        public Long gradients;

        @JsonPropertyDescription("The two float32 AdamW moments of the parameters this GPU holds (the float32"
                + " masters are counted in weights).")
        public Long optimizer;

        @JsonPropertyDescription("Activations of one micro-batch at the peak, as training.activationCheckpointing"
                + " keeps them, plus one layer's backward working set and a loss chunk's logits.")
        public Long activations;

        @JsonPropertyDescription("CUDA context, NCCL buffers, allocator fragmentation.")
        public Long headroom;
    }

    /** A checkpoint requested before a stop (see {@link #stopCheckpoint}). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class StopCheckpoint {
        @JsonPropertyDescription("Why the gang stops: Suspend (spec.suspend) or DisruptionTarget (a pod's"
                + " condition: preemption, eviction, drain), or the name another admission layer asked with.")
        public String trigger;

        @JsonPropertyDescription("The pod whose DisruptionTarget condition asked, and the condition's reason.")
        public String detail;

        @JsonPropertyDescription("When the operator asked (RFC 3339, its own clock); the wait ends"
                + " spec.training.checkpoint.stopTimeoutSeconds later.")
        public String requestTime;

        @JsonPropertyDescription(
                "The step rank 0 had reported when the operator asked: a checkpoint past it" + " answers.")
        public Long afterStep;

        @JsonPropertyDescription("The gang attempt asked.")
        @Min(0)
        @Max(Integer.MAX_VALUE)
        public Integer attempt;
    }

    /** The failure that stopped a gang. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class FailureRecord {
        @JsonPropertyDescription("Why: ExitCode, OOMKilled, Evicted, Preempted, NodeLost, PodDeleted, PodFailed,"
                + " Stalled, GangSchedulingTimeout.")
        public String reason;

        @JsonPropertyDescription("Pod that failed first.")
        public String pod;

        @JsonPropertyDescription("Node rank of that pod (its global ranks are rank*gpusPerNode ...).")
        @Min(Integer.MIN_VALUE)
        @Max(Integer.MAX_VALUE)
        public Integer rank;

        @JsonPropertyDescription("The node the pod ran on, when it was bound.")
        public String node;

        @JsonPropertyDescription("Exit code of the trainer container, when it exited.")
        @Min(Integer.MIN_VALUE)
        @Max(Integer.MAX_VALUE)
        public Integer exitCode;

        @JsonPropertyDescription("When the failure was observed (RFC 3339).")
        public String time;

        @JsonPropertyDescription(
                "What the operator did: RestartGang, RestartGangUncounted or FailJob (see" + " restartPolicy.rules).")
        public String action;

        @JsonPropertyDescription("What happened, with the trainer container's termination message (its last log"
                + " lines) when it left one; at most " + SpecLimits.MAX_FAILURE_MESSAGE_LENGTH + " characters of it.")
        public String message;
    }

    /** One gang restart: the failure that stopped an attempt (its fields), and which attempt it stopped. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class RestartRecord extends FailureRecord {
        @JsonPropertyDescription(
                "The attempt that was stopped (its pods' MOE_RESTART_ATTEMPT); the next gang runs" + " as attempt + 1.")
        @Min(Integer.MIN_VALUE)
        @Max(Integer.MAX_VALUE)
        public Integer attempt;
    }

    /** Failures of the job's pods on one node. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class NodeFailures {
        @JsonPropertyDescription("Node name.")
        public String node;

        @JsonPropertyDescription("Failures of this job's pods on it.")
        @Min(0)
        @Max(Integer.MAX_VALUE)
        public Integer failures;
    }

    /** Progress report of global rank 0 (contract section 4). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class Progress {
        @JsonPropertyDescription("Optimizer steps done.")
        public Long step;

        @JsonPropertyDescription("Training loss at that step.")
        public Double loss;

        @JsonPropertyDescription("Tokens per second over the whole gang.")
        public Double tokensPerSecond;

        @JsonPropertyDescription("Model FLOPs utilisation, 0..1.")
        public Double mfu;

        @JsonPropertyDescription("Step of the newest complete checkpoint.")
        public Long lastCheckpointStep;

        @JsonPropertyDescription("When rank 0 reported (RFC 3339).")
        public String updateTime;

        @JsonPropertyDescription("When the operator first saw this step (its own clock, RFC 3339): what stall"
                + " detection (restartPolicy.progressDeadlineSeconds) measures from.")
        public String stepObservedTime;

        @JsonPropertyDescription("Percent of spec.training.steps done, 0-100.")
        public Double percentDone;

        @JsonPropertyDescription("Estimated completion time at the recent step rate (RFC 3339); absent until two"
                + " steps have been seen.")
        public String estimatedCompletionTime;
    }
}
