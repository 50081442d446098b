package dev.moe.operator;

import dev.moe.operator.api.v1alpha1.MoETrainingJob;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;

/**
 * Reconciles MoETrainingJobs.
 *
 * <p>TODO(issue 3): the real reconciler (plan → ConfigMap, headless Service, gang pods, failure handling,
 * status). This placeholder only registers the resource so that the build generates the CRD.
 */
public class MoETrainingJobReconciler implements Reconciler<MoETrainingJob> {

    @Override
    public UpdateControl<MoETrainingJob> reconcile(MoETrainingJob job, Context<MoETrainingJob> context) {
        return UpdateControl.noUpdate();
    }
}
