package dev.moe.operator.dependents;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.gang.GangNames;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;

/** ServiceAccount {@code <job>-trainer}: the pods' identity, bound to {@link TrainerRole}. */
@KubernetesDependent(informer = @Informer(labelSelector = GangNames.JOB_LABEL))
public class TrainerServiceAccount extends JobDependent<ServiceAccount> {

    public TrainerServiceAccount() {
        super(ServiceAccount.class);
    }

    @Override
    String name(MoETrainingJob job) {
        return GangNames.trainerIdentityName(job);
    }

    @Override
    protected ServiceAccount desired(MoETrainingJob job, Context<MoETrainingJob> context) {
        return new ServiceAccountBuilder().withMetadata(meta(job, name(job))).build();
    }

    @Override
    boolean matches(ServiceAccount desired, ServiceAccount actual) {
        return true; // nothing but its name and owner
    }
}
