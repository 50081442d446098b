package dev.moe.operator.dependents;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.operator.planner.JobPlanner;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.DependentResource;
import io.javaoperatorsdk.operator.processing.dependent.workflow.Condition;

/**
 * Reconcile precondition of every dependent: the job is this operator's (spec.managedBy) and its plan is valid. An
 * invalid job gets no objects; its existing ones stay until the job is deleted (garbage collection): the workflow's
 * delete of a dependent whose precondition fails does nothing ({@link JobDependent#handleDelete}).
 */
public class PlanIsValid implements Condition<HasMetadata, MoETrainingJob> {
    @Override
    public boolean isMet(
            DependentResource<HasMetadata, MoETrainingJob> dependent,
            MoETrainingJob job,
            Context<MoETrainingJob> context) {
        return MoETrainingJobSpec.managedByOperator(job.getSpec())
                && JobPlanner.plan(job, context).isValid();
    }
}
