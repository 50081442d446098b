package dev.moe.operator;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import io.javaoperatorsdk.operator.processing.event.source.filter.GenericFilter;

/**
 * The job events this operator acts on: those of jobs whose spec.managedBy is absent or
 * {@value MoETrainingJobSpec#MANAGED_BY_OPERATOR}. A job managed by another controller (a multi-cluster dispatcher
 * such as MultiKueue, which mirrors the job to a worker cluster and copies its status back) is never reconciled:
 * no dependents, no pods, no status write. spec.managedBy is immutable (the CRD's CEL), so a job never changes
 * hands while it runs.
 */
public class ManagedByOperator implements GenericFilter<MoETrainingJob> {
    @Override
    public boolean accept(MoETrainingJob job) {
        return MoETrainingJobSpec.managedByOperator(job.getSpec());
    }
}
