package dev.moe.operator.dependents;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.gang.GangPodFactory;
import dev.moe.operator.k8s.ObjectNotOwnedException;
import dev.moe.operator.k8s.Ownership;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.Matcher.Result;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.event.ResourceID;

/**
 * One of the job's singleton objects (plan and trainer-env ConfigMaps, headless Service, trainer ServiceAccount,
 * Role and RoleBinding), reconciled by JOSDK's managed workflow before the reconciler runs (the Role and RoleBinding by
 * the reconciler, beside the pods: {@link TrainerAccess}). Three departures from JOSDK's
 * defaults, all for the same rule ({@link Ownership}): a missing object is created with a plain create (JOSDK would
 * apply, taking over an object of the same name); an object is updated only when this job controls it; and whether
 * it is already right is decided on the fields the operator sets ({@link #matches}), so a no-op reconcile writes
 * nothing whether server-side apply is on or off.
 */
abstract class JobDependent<R extends HasMetadata> extends CRUDKubernetesDependentResource<R, MoETrainingJob> {

    JobDependent(Class<R> type) {
        super(type);
    }

    /** The object's name for this job. */
    abstract String name(MoETrainingJob job);

    /** Whether {@code actual} already has every field of {@code desired} that the operator sets. */
    abstract boolean matches(R desired, R actual);

    /** Metadata of every dependent: name, namespace, the job labels and the job as controller. */
    static ObjectMeta meta(MoETrainingJob job, String name) {
        return new ObjectMetaBuilder()
                .withName(name)
                .withNamespace(job.getMetadata().getNamespace())
                .withLabels(GangNames.jobLabels(job))
                .withOwnerReferences(GangPodFactory.ownerReference(job))
                .build();
    }

    /**
     * Throws {@link ObjectNotOwnedException} when this object's name is taken by an object the job does not control.
     * One GET: for a name the informer cache cannot answer for (it holds only objects labelled with a job name).
     */
    void requireNameFree(MoETrainingJob job, Context<MoETrainingJob> context) {
        R existing = context.getClient()
                .resources(resourceType())
                .inNamespace(job.getMetadata().getNamespace())
                .withName(name(job))
                .get();
        if (existing != null) {
            Ownership.requireControlledBy(job, existing);
        }
    }

    @Override
    protected ResourceID targetSecondaryResourceID(MoETrainingJob job, Context<MoETrainingJob> context) {
        return new ResourceID(name(job), job.getMetadata().getNamespace());
    }

    @Override
    public Result<R> match(R actual, R desired, MoETrainingJob job, Context<MoETrainingJob> context) {
        return Result.computed(matches(desired, actual), desired);
    }

    @Override
    public R create(R desired, MoETrainingJob job, Context<MoETrainingJob> context) {
        return Ownership.create(context, job, desired);
    }

    /**
     * Deletes nothing. JOSDK's workflow deletes a dependent whose reconcile precondition fails ({@link PlanIsValid}:
     * an edit that makes the plan invalid), which took a job's plan ConfigMap, Service and trainer identity away and
     * made the fixed spec recreate them. Every object a job derives has the job as controller owner, so garbage
     * collection removes it with the job; until then an invalid job keeps them.
     */
    @Override
    protected void handleDelete(MoETrainingJob job, R secondary, Context<MoETrainingJob> context) {}

    @Override
    public R update(R actual, R desired, MoETrainingJob job, Context<MoETrainingJob> context) {
        Ownership.requireControlledBy(job, actual);
        return super.update(actual, desired, job, context);
    }
}
