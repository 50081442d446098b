package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * Desired state of a MoETrainingJob.
 *
 * <p>CEL here keeps structure and immutability only (bounds, formats, which fields may change while the job runs).
 * Every plan rule, the arithmetic between fields included (world = data × context × tensor, divisibility, batch
 * sizes, memory), has one home: the plan engine, which the operator's admission webhook runs at
 * {@code kubectl apply} (and {@code --dry-run=server}) and the reconciler runs on every stored job (status Invalid),
 * with the field, the value, the rule and the fix.
 *
 * <p>Defaults, in one place each: the field's declaration. A field with a CRD {@code @Default} starts at the same
 * value (the API server fills the annotation's value in; the Java value is what a spec read without an API server,
 * bin/moe-plan, holds), and an object whose fields all have defaults (parallelism, training, training.dataset,
 * restartPolicy) starts as that object. CrdDefaultsTest compares every default of the committed CRD with what the
 * Java types start with. {@link TolerantJobReading} reads a JSON {@code null} as absent, as the API server does.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
        value = "self.suspend || oldSelf.suspend || self.parallelism == oldSelf.parallelism",
        message = "spec.parallelism is immutable while the job is not suspended: set spec.suspend=true first",
        reason = "FieldValueForbidden")
@ValidationRule(
        value = "self.suspend || oldSelf.suspend || self.resources == oldSelf.resources",
        message = "spec.resources is immutable while the job is not suspended: set spec.suspend=true first",
        reason = "FieldValueForbidden")
@ValidationRule(
        value = "has(self.managedBy) == has(oldSelf.managedBy) && (!has(self.managedBy)"
                + " || self.managedBy == oldSelf.managedBy)",
        message = "spec.managedBy is immutable: delete and recreate the job to hand it to another controller",
        reason = "FieldValueForbidden")
@JsonIgnoreProperties(ignoreUnknown = true)
public class MoETrainingJobSpec {
    /** spec.managedBy of a job this operator reconciles (absent means the same). */
    public static final String MANAGED_BY_OPERATOR = "training.moe.dev/moe-operator";

    /** Whether this operator reconciles a job with this spec: spec.managedBy is absent or the operator's name. */
    public static boolean managedByOperator(MoETrainingJobSpec spec) {
        return spec == null || spec.managedBy == null || MANAGED_BY_OPERATOR.equals(spec.managedBy);
    }

    @Required
    @JsonPropertyDescription("The model to train: a preset from the operator's catalog, HF-style overrides, and"
            + " optionally a safetensors checkpoint to start from.")
    public ModelSpec model;

    @Required
    @JsonPropertyDescription("Parallel degrees. world = resources.nodes × resources.gpusPerNode = data × context ×"
            + " tensor; experts are spread over an expert mesh (world/expert, expert).")
    public ParallelismSpec parallelism = new ParallelismSpec();

    @Required
    @JsonPropertyDescription("The GPUs the job runs on: one pod per node, all GPUs of a node in that pod.")
    public ResourcesSpec resources;

    @JsonPropertyDescription("Training hyper-parameters, dataset and checkpointing.")
    public TrainingSpec training = new TrainingSpec();

    @JsonPropertyDescription("The trainer container; the operator's trainer image by default. Any torchrun"
            + " program that honours the plan contract (docs/contract.md) works.")
    public TrainerSpec trainer;

    @JsonPropertyDescription("Where the pods go: topology keys that an expert-parallel group must share,"
            + " a Kueue queue, node selector and tolerations.")
    public PlacementSpec placement;

    @JsonPropertyDescription("How failures of the gang are retried.")
    public RestartPolicySpec restartPolicy = new RestartPolicySpec();

    @JsonPropertyDescription("NCCL hints passed to every pod.")
    public NcclSpec nccl;

    @JsonPropertyDescription("Additions to every pod of the gang: labels, annotations, image pull secrets, the pod"
            + " security context and extra volumes (mounted by spec.trainer.volumeMounts).")
    public PodOverridesSpec pod;

    @LimitReason("at most a year of running")
    @Min(1)
    @Max(SpecLimits.MAX_LIFECYCLE_SECONDS)
    @JsonPropertyDescription("Fail the job (reason DeadlineExceeded) once it has been active this many seconds in"
            + " all: counted on the job from its first gang creation, across gang restarts, not per pod; time"
            + " suspended does not count. None by default.")
    public Long activeDeadlineSeconds;

    @LimitReason("at most a year")
    @Min(0)
    @Max(SpecLimits.MAX_LIFECYCLE_SECONDS)
    @JsonPropertyDescription("Delete the job this many seconds after it succeeded or failed (its pods, ConfigMap,"
            + " Service and trainer identity go with it, by owner reference); kept until deleted when absent.")
    public Integer ttlSecondsAfterFinished;

    @Size(max = ObjectNameRules.MAX_LABEL_VALUE_LENGTH)
    @Pattern(ObjectNameRules.QUALIFIED_NAME)
    @JsonPropertyDescription("The controller that reconciles this job: absent or " + MANAGED_BY_OPERATOR
            + " for this operator; any other value (e.g. kueue.x-k8s.io/multikueue) and this operator leaves the"
            + " job alone (no pods, no status). Immutable.")
    public String managedBy;

    @Default("false")
    @JsonPropertyDescription("Suspend the job: its pods are deleted and its status kept. parallelism and"
            + " resources may only change while suspended.")
    public Boolean suspend = false;
}
