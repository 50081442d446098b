package dev.moe.operator.k8s;

import dev.moe.operator.api.v1alpha1.MoETrainingJob;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.util.Optional;
import java.util.function.BiPredicate;
import java.util.function.BinaryOperator;

/**
 * Writes a dependent only when it is missing or differs from what the job wants, so a no-op reconcile leaves
 * every resourceVersion alone. Writes go through JOSDK's ResourceOperations, which put the result into the
 * informer cache at once (no duplicate create on the next reconcile). Server-side apply in production; a plain
 * update where SSA is off (the Fabric8 mock server of the tests).
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
    public static <R extends HasMetadata> void ensure(Context<MoETrainingJob> ctx, boolean ssa, R desired,
            Optional<R> actual, BiPredicate<R, R> matches, BinaryOperator<R> merge) {
        if (actual.isPresent() && matches.test(desired, actual.get())) {
            return;
        }
        if (ssa) {
            ctx.resourceOperations().serverSideApply(desired);
            return;
        }
        if (actual.isEmpty()) {
            try {
                ctx.resourceOperations().create(desired);
            } catch (KubernetesClientException e) {
                if (e.getCode() != 409) {
                    throw e;
                }
                // Already there (the cache was behind): the next reconcile compares it.
            }
            return;
        }
        ctx.resourceOperations().update(merge.apply(desired, actual.get()));
    }
}
