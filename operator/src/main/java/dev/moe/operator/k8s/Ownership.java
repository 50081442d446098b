package dev.moe.operator.k8s;

import dev.moe.api.v1alpha1.MoETrainingJob;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.util.Objects;

/**
 * The one rule for every object a job derives: the operator creates it, and never writes an object it does not
 * control.
 *
 * <p>The informers cache only objects labelled with a job name and map them to their job by owner reference, so an
 * object missing from the cache may still exist under the same name (a user's ConfigMap, an unrelated Service, a
 * pod). Applying over it would take it over; so a missing object is created with a plain create, which the API
 * server refuses when the name is taken; then the object is read, and unless this job controls it the write stops
 * with {@link ObjectNotOwnedException}. Writes go through JOSDK's ResourceOperations, which put the result into the
 * informer cache at once (no duplicate create on the next reconcile).
 */
public final class Ownership {
    private Ownership() {}

    /**
     * Creates {@code desired}. When its name is taken, succeeds only if the existing object is this job's (the
     * cache was behind; the next reconcile compares it) and throws {@link ObjectNotOwnedException} otherwise.
     *
     * @return the created object, or the existing one of this job
     */
    public static <R extends HasMetadata> R create(Context<MoETrainingJob> ctx, MoETrainingJob job, R desired) {
        try {
            return ctx.resourceOperations().create(desired);
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
                throw e;
            }
            R existing = ctx.getClient().resource(desired).get();
            if (existing != null && !controlledBy(job, existing)) {
                throw new ObjectNotOwnedException(
                        desired.getKind(), desired.getMetadata().getName(), existing);
            }
            return existing != null ? existing : desired;
        }
    }

    /**
     * The same rule for objects no informer caches (the native gang's Workload and PodGroup, of an API Fabric8 has
     * no model of): a plain create; a name taken by an object of this job is fine, by anyone else's is
     * {@link ObjectNotOwnedException}.
     *
     * @return whether the object was created (false: this job's object of that name was there)
     */
    public static boolean createUncached(
            KubernetesClient client, MoETrainingJob job, GenericKubernetesResource desired) {
        var resources = client.genericKubernetesResources(desired.getApiVersion(), desired.getKind())
                .inNamespace(desired.getMetadata().getNamespace());
        try {
            resources.resource(desired).create();
            return true;
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
                throw e;
            }
            GenericKubernetesResource existing =
                    resources.withName(desired.getMetadata().getName()).get();
            if (existing != null && !controlledBy(job, existing)) {
                throw new ObjectNotOwnedException(
                        desired.getKind(), desired.getMetadata().getName(), existing);
            }
            return false;
        }
    }

    /** Throws {@link ObjectNotOwnedException} unless this job controls {@code actual}. */
    public static void requireControlledBy(MoETrainingJob job, HasMetadata actual) {
        if (!controlledBy(job, actual)) {
            throw new ObjectNotOwnedException(
                    actual.getKind(), actual.getMetadata().getName(), actual);
        }
    }

    /** Whether this incarnation of the job (its uid) is the object's controller. */
    public static boolean controlledBy(MoETrainingJob job, HasMetadata object) {
        var refs = object.getMetadata().getOwnerReferences();
        return refs != null
                && refs.stream()
                        .anyMatch(o -> Boolean.TRUE.equals(o.getController())
                                && Objects.equals(o.getUid(), job.getMetadata().getUid()));
    }
}
