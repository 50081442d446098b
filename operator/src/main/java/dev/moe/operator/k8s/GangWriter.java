package dev.moe.operator.k8s;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.GangMode;
import dev.moe.api.v1alpha1.TrainerContract;
import dev.moe.operator.gang.GangDecision;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.gang.GangPodFactory;
import dev.moe.operator.gang.GangSettings;
import dev.moe.operator.gang.NativeGang;
import dev.moe.operator.gang.Placement;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodList;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.PodResource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.time.Instant;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * Every API write to a gang's pods, in one place: the decided creates (in the waves {@link Placement} orders, up to
 * {@link BoundedParallel#MAX_IN_FLIGHT} at a time) and deletes (as many in flight; one deletecollection for the
 * stale pods of earlier attempts).
 */
public final class GangWriter {
    private static final Logger LOG = Logger.getLogger(GangWriter.class);
    private static final PendingDeletes PENDING_DELETES = new PendingDeletes();

    private GangWriter() {}

    /**
     * Creates the decided ranks. Names are deterministic, so a create that meets this job's existing pod is a no-op
     * (an operator restart never duplicates a rank); a pod of that name the job does not control stops the gang
     * ({@link ObjectNotOwnedException}). One failed create does not stop the others of its wave; the first failure
     * is rethrown and the next reconcile creates what is still missing. In {@link GangMode#Native} the attempt's Workload and PodGroup ({@link NativeGang}) are created first
     * (create-first, like every derived object) and the pods name the PodGroup; the native objects of earlier
     * attempts are deleted after the pods, so that the gang's creation waits for no more than two writes.
     */
    public static void create(
            Context<MoETrainingJob> ctx,
            MoETrainingJob job,
            Plan plan,
            GangDecision decision,
            GangSettings settings,
            GangMode mode,
            GangApi api,
            Instant now) {
        if (decision.createRanks.isEmpty()) {
            return;
        }
        int attempt = decision.status.restartAttempt;
        boolean nativeGang = mode == GangMode.Native;
        boolean newNativeGang = nativeGang && createNativeGang(ctx, job, plan, attempt, api, now);
        try {
            for (List<Integer> wave : new Placement(job, plan).createWaves(decision.createRanks)) {
                // Each task renders its own pod: the rendering of a 512-pod gang runs in the pool too, not on
                // the reconciler's thread before the first create.
                BoundedParallel.runAll(wave.stream()
                        .<Runnable>map(rank -> () -> {
                            Pod pod = GangPodFactory.render(job, plan, attempt, rank, settings);
                            if (nativeGang) {
                                NativeGang.join(pod, job, attempt);
                            }
                            Ownership.create(ctx, job, pod);
                        })
                        .toList());
            }
        } finally {
            if (newNativeGang && NativeGang.earlierAttemptsMayExist(attempt)) {
                // After the pods (nothing waits for it), and even when a create failed: the PodGroup exists now,
                // so the next reconcile's create would not come here again.
                deleteEarlierNativeGangs(ctx, job, attempt);
            }
        }
    }

    /**
     * The attempt's Workload, then its PodGroup (the pods wait in the scheduler until it exists).
     *
     * @return whether the PodGroup was created now (false: this job's PodGroup of the attempt was there already)
     */
    private static boolean createNativeGang(
            Context<MoETrainingJob> ctx, MoETrainingJob job, Plan plan, int attempt, GangApi api, Instant now) {
        boolean topology = NativeGang.hasTopology(job, plan) && !api.topologyRefused(now);
        try {
            Ownership.createUncached(ctx.getClient(), job, NativeGang.workload(job, plan, attempt, topology));
        } catch (KubernetesClientException e) {
            if (!topology || e.getCode() != 422) {
                throw e;
            }
            // Refused as invalid with a topology constraint: the apiserver lacks TopologyAwareWorkloadScheduling.
            api.topologyWasRefused(now);
            topology = false;
            Ownership.createUncached(ctx.getClient(), job, NativeGang.workload(job, plan, attempt, false));
        }
        return Ownership.createUncached(ctx.getClient(), job, NativeGang.podGroup(job, plan, attempt, topology));
    }

    /**
     * A new PodGroup means a new attempt: those of earlier attempts (their pods are gone or going) are deleted by one
     * deletecollection each, selected by job and job uid, so nothing the job did not create is reached.
     */
    private static void deleteEarlierNativeGangs(Context<MoETrainingJob> ctx, MoETrainingJob job, int attempt) {
        String uid = job.getMetadata().getUid();
        if (uid == null) {
            return;
        }
        for (String kind : List.of(NativeGang.POD_GROUP_KIND, NativeGang.WORKLOAD_KIND)) {
            ctx.getClient()
                    .genericKubernetesResources(NativeGang.API_VERSION, kind)
                    .inNamespace(job.getMetadata().getNamespace())
                    .withLabel(GangNames.JOB_LABEL, job.getMetadata().getName())
                    .withLabel(GangNames.JOB_UID_LABEL, uid)
                    .withLabel(GangNames.ATTEMPT_LABEL)
                    .withoutLabel(GangNames.ATTEMPT_LABEL, String.valueOf(attempt))
                    .delete();
        }
    }

    /**
     * Deletes the decided pods, each by its own DELETE, up to {@link BoundedParallel#MAX_IN_FLIGHT} at a time.
     * Not one deletecollection for a whole gang: that would be one write, but kube-apiserver deletes a collection's
     * items one after another ({@code --delete-collection-workers} defaults to 1), 0.9–2.2 s for 64 pods on the
     * benchmark cluster (bench/results.md), and every restart waits for it (the ranks keep their names). Only stale
     * pods of earlier attempts, whose deletion nothing waits for, go by one deletecollection with {@code attempt !=
     * current}; its selector includes the job's uid label, so it can only reach pods this job created, and it is
     * used only when every pod to delete matches it. A pod this operator deleted already ({@link PendingDeletes})
     * is not deleted again while the cache catches up.
     */
    public static void delete(Context<MoETrainingJob> ctx, MoETrainingJob job, GangDecision decision) {
        delete(ctx.getClient().pods().inNamespace(job.getMetadata().getNamespace()), job, decision, PENDING_DELETES);
        for (Pod p : decision.forceDeletePods) {
            LOG.warnf(
                    "force-deleting %s/%s, terminating since %s (node unreachable?)",
                    job.getMetadata().getNamespace(),
                    p.getMetadata().getName(),
                    p.getMetadata().getDeletionTimestamp());
            ctx.getClient()
                    .pods()
                    .inNamespace(job.getMetadata().getNamespace())
                    .withName(p.getMetadata().getName())
                    .withGracePeriod(0)
                    .delete();
        }
    }

    /** The decided deletes, less those {@code pending} says were asked for already. */
    static void delete(
            NonNamespaceOperation<Pod, PodList, PodResource> pods,
            MoETrainingJob job,
            GangDecision decision,
            PendingDeletes pending) {
        String ns = job.getMetadata().getNamespace();
        String name = job.getMetadata().getName();
        String uid = job.getMetadata().getUid();
        String attempt = String.valueOf(decision.status.restartAttempt);
        List<Pod> toDelete = pending.notYetDeleted(decision.deletePods);
        List<Pod> oneByOne = toDelete;
        if (uid != null
                && decision.deleteOtherAttempts
                && !toDelete.isEmpty()
                && toDelete.stream()
                        .allMatch(p -> ofJob(p, ns, name)
                                && p.getMetadata().getLabels().containsKey(GangNames.ATTEMPT_LABEL)
                                && !attempt.equals(p.getMetadata().getLabels().get(GangNames.ATTEMPT_LABEL)))) {
            pods.withLabel(GangNames.JOB_LABEL, name)
                    .withLabel(GangNames.JOB_UID_LABEL, uid)
                    .withLabel(GangNames.ATTEMPT_LABEL)
                    .withoutLabel(GangNames.ATTEMPT_LABEL, attempt)
                    .delete();
            toDelete.stream()
                    .filter(p -> uid.equals(p.getMetadata().getLabels().get(GangNames.JOB_UID_LABEL)))
                    .forEach(pending::deleted);
            oneByOne = withoutLabel(toDelete, GangNames.JOB_UID_LABEL, uid);
        }
        BoundedParallel.runAll(oneByOne.stream()
                .<Runnable>map(p -> () -> {
                    pods.withName(p.getMetadata().getName()).delete();
                    pending.deleted(p);
                })
                .toList());
    }

    /**
     * Deletes the job itself (spec.ttlSecondsAfterFinished): in the background, so garbage collection then takes
     * every object the job controls (pods, plan ConfigMap, Service, trainer identity) by owner reference.
     */
    public static void deleteJob(Context<MoETrainingJob> ctx, MoETrainingJob job) {
        LOG.infof(
                "%s/%s finished %s ago or more: deleting it (spec.ttlSecondsAfterFinished)",
                job.getMetadata().getNamespace(),
                job.getMetadata().getName(),
                job.getSpec().ttlSecondsAfterFinished + "s");
        ctx.getClient()
                .resources(MoETrainingJob.class)
                .inNamespace(job.getMetadata().getNamespace())
                .withName(job.getMetadata().getName())
                .withPropagationPolicy(DeletionPropagation.BACKGROUND)
                .delete();
    }

    /**
     * Asks the decided pods for a checkpoint before stop (gang.StopCheckpoint): a JSON merge patch of one
     * annotation, with the pod's uid as a precondition so it can only reach the pod the gang observed (the
     * observer keeps only pods this job controls). A pod gone meanwhile is skipped: the next reconcile sees why.
     */
    public static void annotate(Context<MoETrainingJob> ctx, MoETrainingJob job, GangDecision decision) {
        if (decision.annotatePods.isEmpty()) {
            return;
        }
        var pods = ctx.getClient().pods().inNamespace(job.getMetadata().getNamespace());
        ObjectMapper json = new ObjectMapper();
        for (Pod p : decision.annotatePods) {
            ObjectNode patch = json.createObjectNode();
            ObjectNode md = patch.putObject("metadata");
            md.put("uid", p.getMetadata().getUid());
            md.putObject("annotations")
                    .put(TrainerContract.CHECKPOINT_REQUEST_ANNOTATION, decision.checkpointRequestValue);
            try {
                pods.withName(p.getMetadata().getName()).patch(PatchContext.of(PatchType.JSON_MERGE), patch.toString());
            } catch (KubernetesClientException e) {
                if (e.getCode() != 404 && e.getCode() != 409) {
                    throw e;
                }
                LOG.debugf(
                        "checkpoint request to %s skipped: %s", p.getMetadata().getName(), e.getMessage());
            }
        }
    }

    private static List<Pod> withoutLabel(List<Pod> pods, String key, String value) {
        return pods.stream()
                .filter(p -> p.getMetadata().getLabels() == null
                        || !value.equals(p.getMetadata().getLabels().get(key)))
                .toList();
    }

    private static boolean ofJob(Pod p, String ns, String name) {
        return ns.equals(p.getMetadata().getNamespace())
                && p.getMetadata().getLabels() != null
                && name.equals(p.getMetadata().getLabels().get(GangNames.JOB_LABEL));
    }
}
