package dev.moe.operator.k8s;

import dev.moe.operator.api.v1alpha1.MoETrainingJob;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BiPredicate;
import java.util.function.BinaryOperator;

/**
 * Writes a dependent only when it is missing or differs from what the job wants, so a no-op reconcile leaves
 * every resourceVersion alone, and never touches an object the job does not control.
 *
 * <p>The informer caches only objects labelled with a job name and maps them to their job by owner reference, so
 * an object missing from the cache may still exist under the same name (a user's ConfigMap, an unrelated
 * Service). Such objects must never be applied over: a missing dependent is created with a plain create, which
 * the API server refuses when the name is taken; then the object is read, and unless this job controls it the
 * write stops with {@link ObjectNotOwnedException}. A cached object is updated only when this job is its
 * controller. Writes go through JOSDK's ResourceOperations, which put the result into the informer cache at once
 * (no duplicate create on the next reconcile). Updates are server-side apply in production and a plain update
 * where SSA is off (the Fabric8 mock server of the tests).
 */
public final class DependentWriter {
    private DependentWriter() {
    }

    /**
     * @param desired what the job wants
     * @param actual  the cached object, if any
     * @param matches whether the actual object already is what is wanted
     * @param merge   for updates without SSA: the actual object with the wanted fields copied in
     */
    public static <R extends HasMetadata> void ensure(Context<MoETrainingJob> ctx, MoETrainingJob job, boolean ssa,
            R desired, Optional<R> actual, BiPredicate<R, R> matches, BinaryOperator<R> merge) {
        if (actual.isEmpty()) {
            create(ctx, job, desired);
            return;
        }
        R current = actual.get();
        if (!controlledBy(job, current)) {
            throw new ObjectNotOwnedException(desired.getKind(), desired.getMetadata().getName(), current);
        }
        if (matches.test(desired, current)) {
            return;
        }
        if (ssa) {
            ctx.resourceOperations().serverSideApply(desired);
        } else {
            ctx.resourceOperations().update(merge.apply(desired, current));
        }
    }

    /**
     * Creates {@code desired}. When its name is taken, succeeds only if the existing object is this job's (the
     * cache was behind; the next reconcile compares it) and throws {@link ObjectNotOwnedException} otherwise.
     */
    public static <R extends HasMetadata> void create(Context<MoETrainingJob> ctx, MoETrainingJob job, R desired) {
        try {
            ctx.resourceOperations().create(desired);
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
                throw e;
            }
            HasMetadata existing = ctx.getClient().resource(desired).get();
            if (existing != null && !controlledBy(job, existing)) {
                throw new ObjectNotOwnedException(desired.getKind(), desired.getMetadata().getName(), existing);
            }
        }
    }

    /** Whether this incarnation of the job (its uid) is the object's controller. */
    public static boolean controlledBy(MoETrainingJob job, HasMetadata object) {
        var refs = object.getMetadata().getOwnerReferences();
        return refs != null && refs.stream().anyMatch(o -> Boolean.TRUE.equals(o.getController())
                && Objects.equals(o.getUid(), job.getMetadata().getUid()));
    }
}
