package dev.moe.operator.gang;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Reads the job's pods into a {@link GangState}. Pure: the pods come from the informer cache.
 *
 * <p>A pod belongs to the current gang when its attempt label equals the status's restart attempt and its node
 * rank label is in [0, nodes); everything else is stale. Failures are ordered so the decisive one comes first:
 * non-retriable before retriable, then earliest, then lowest rank.
 */
public final class GangObserver {
    private GangObserver() {
    }

    /**
     * @param jobUid      the job's uid: pods controlled by another incarnation of the job are stale
     * @param gangStarted whether every rank of this attempt has been seen running or bound: from then on a rank
     *                    that vanished is a failure (PodDeleted), not a pod still to be created
     */
    public static GangState observe(String jobName, String jobUid, Collection<Pod> pods, int attempt, int nodes, boolean gangStarted,
            List<Integer> nonRetryableExitCodes, Instant now) {
        SortedMap<Integer, Pod> current = new TreeMap<>();
        List<Pod> stale = new ArrayList<>();
        for (Pod p : pods) {
            Integer rank = intLabel(p, GangNames.NODE_RANK_LABEL);
            Integer podAttempt = intLabel(p, GangNames.ATTEMPT_LABEL);
            if (rank != null && podAttempt != null && podAttempt == attempt && rank >= 0 && rank < nodes
                    && !current.containsKey(rank) && ownedBy(p, jobUid)) {
                current.put(rank, p);
            } else {
                stale.add(p);
            }
        }
        List<PodFailure> failures = new ArrayList<>();
        int scheduled = 0;
        int running = 0;
        int succeeded = 0;
        Instant oldest = null;
        for (var e : current.entrySet()) {
            Pod p = e.getValue();
            FailureClassifier.classify(p, e.getKey(), now).ifPresent(failures::add);
            String phase = p.getStatus() != null ? p.getStatus().getPhase() : null;
            if (isScheduled(p)) {
                scheduled++;
            }
            if ("Running".equals(phase) || "Succeeded".equals(phase)) {
                running++;
            }
            if ("Succeeded".equals(phase)) {
                succeeded++;
            }
            Instant created = FailureClassifier.parse(p.getMetadata().getCreationTimestamp(), now);
            if (oldest == null || created.isBefore(oldest)) {
                oldest = created;
            }
        }
        if (gangStarted) {
            for (int r = 0; r < nodes; r++) {
                if (!current.containsKey(r)) {
                    String name = GangNames.podName(jobName, r);
                    failures.add(new PodFailure(FailureClassifier.POD_DELETED, name, r, null,
                            "node rank " + r + " of the running gang disappeared", now));
                }
            }
        }
        failures.sort(Comparator
                .comparing((PodFailure f) -> !FailureClassifier.isNonRetriable(f, nonRetryableExitCodes))
                .thenComparing(PodFailure::time)
                .thenComparingInt(PodFailure::nodeRank));
        return new GangState(attempt, nodes, current, stale, List.copyOf(failures), scheduled, running, succeeded,
                Optional.ofNullable(oldest));
    }

    /**
     * Whether the pod's controller is this incarnation of the job (a job deleted and re-created under the same
     * name leaves pods of the old one behind until garbage collection removes them).
     */
    static boolean ownedBy(Pod p, String jobUid) {
        if (jobUid == null || p.getMetadata().getOwnerReferences() == null) {
            return true;
        }
        return p.getMetadata().getOwnerReferences().stream()
                .filter(o -> Boolean.TRUE.equals(o.getController()))
                .allMatch(o -> jobUid.equals(o.getUid()));
    }

    /** Bound to a node: spec.nodeName set or PodScheduled=True. */
    public static boolean isScheduled(Pod p) {
        if (p.getSpec() != null && p.getSpec().getNodeName() != null && !p.getSpec().getNodeName().isEmpty()) {
            return true;
        }
        if (p.getStatus() != null && p.getStatus().getConditions() != null) {
            for (PodCondition c : p.getStatus().getConditions()) {
                if ("PodScheduled".equals(c.getType()) && "True".equals(c.getStatus())) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Pods that hold no resources any more (Succeeded or Failed). */
    public static boolean isFinished(Pod p) {
        String phase = p.getStatus() != null ? p.getStatus().getPhase() : null;
        return "Succeeded".equals(phase) || "Failed".equals(phase);
    }

    public static boolean isTerminating(Pod p) {
        return p.getMetadata().getDeletionTimestamp() != null;
    }

    static Integer intLabel(Pod p, String key) {
        if (p.getMetadata().getLabels() == null) {
            return null;
        }
        String v = p.getMetadata().getLabels().get(key);
        if (v == null) {
            return null;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    static Optional<Integer> rankOf(Pod p) {
        return Optional.ofNullable(intLabel(p, GangNames.NODE_RANK_LABEL));
    }
}
