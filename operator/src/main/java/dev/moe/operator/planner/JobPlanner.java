package dev.moe.operator.planner;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.plan.PlanEngine;
import dev.moe.plan.PlanResult;
import io.javaoperatorsdk.operator.api.reconciler.Context;

/**
 * The operator's door to the plan engine: hands the job's typed spec to the same code as bin/moe-plan. A spec the
 * client could not read into the types (an UnreadableSpec, see ClientJobReading) or a missing spec is rejected by
 * the engine with the errors bin/moe-plan gives for the same object.
 */
public final class JobPlanner {
    private JobPlanner() {}

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
        return PlanEngine.plan(
                job.getMetadata().getNamespace(), job.getMetadata().getName(), job.getSpec());
    }
}
