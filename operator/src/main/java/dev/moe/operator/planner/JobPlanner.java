package dev.moe.operator.planner;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.operator.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.operator.k8s.TolerantJobReading.UnreadableSpec;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import dev.moe.plan.PlanEngine;
import dev.moe.plan.PlanError;
import dev.moe.plan.PlanResult;
import java.util.List;

/**
 * The operator's door to the plan engine: serialises the CRD spec to its JSON shape and plans it with the same
 * code as bin/moe-plan. A spec the operator could not read (see TolerantJobReading) or a missing spec is rejected
 * here, with rule SpecUnreadable.
 */
public final class JobPlanner {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private JobPlanner() {
    }

    /** Rule id of a spec the operator cannot read into its types (see {@link UnreadableSpec}). */
    public static final String SPEC_UNREADABLE = "SpecUnreadable";

    /**
     * The job's plan for this reconciliation: computed once and shared by the workflow's dependents and the
     * reconciler through the reconciliation's context.
     */
    public static PlanResult plan(MoETrainingJob job, Context<MoETrainingJob> context) {
        var shared = context.managedWorkflowAndDependentResourceContext();
        return shared.get(PlanResult.class, PlanResult.class).orElseGet(() -> {
            PlanResult result = plan(job);
            shared.put(PlanResult.class, result);
            return result;
        });
    }

    /** Plans a job; {@link PlanResult#plan()} is null when the spec breaks a rule (see its errors). */
    public static PlanResult plan(MoETrainingJob job) {
        if (job.getSpec() == null) {
            return rejected(new PlanError(SPEC_UNREADABLE, "spec", null, "is missing",
                    "write spec.model, spec.parallelism and spec.resources"));
        }
        if (job.getSpec() instanceof UnreadableSpec u) {
            return rejected(new PlanError(SPEC_UNREADABLE, u.problem.field(), null,
                    "cannot be read by this operator (" + u.problem.reason() + ")",
                    "the object was stored under another version of the CRD: correct the field (kubectl edit) or"
                            + " delete and re-create the job"));
        }
        return PlanEngine.plan(job.getMetadata().getNamespace(), job.getMetadata().getName(),
                specJson(job.getSpec()));
    }

    private static PlanResult rejected(PlanError error) {
        return new PlanResult(null, List.of(error), List.of(), List.of());
    }

    /** The spec as the API server stores it (null fields left out). */
    public static JsonNode specJson(MoETrainingJobSpec spec) {
        return MAPPER.valueToTree(spec);
    }
}
