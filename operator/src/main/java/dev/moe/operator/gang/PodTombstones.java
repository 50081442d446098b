package dev.moe.operator.gang;

import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The last state of the job pods that were deleted, as a failure. A pod evicted, preempted or lost is marked
 * (DisruptionTarget) and then deleted; when it goes before a reconcile reads the cache, its rank has simply
 * vanished, which alone reads as PodDeleted and would spend maxRestarts on an eviction. The informer hands the
 * deleted pod's last state to {@link #record}; the observer reads it for a vanished rank.
 *
 * <p>Bounded: at most {@link #MAX_ENTRIES} entries, none older than {@link #TTL}; each is a small record, not the
 * pod. Thread-safe (the informer's thread records, reconciler threads read).
 */
public final class PodTombstones {
    static final int MAX_ENTRIES = 10_000;
    static final Duration TTL = Duration.ofMinutes(15);

    private record Tombstone(String ownerUid, Integer attempt, PodFailure failure, Instant at) {}

    private final Map<String, Tombstone> byPod = new LinkedHashMap<>();

    /**
     * How long a rank that vanished without a tombstone waits before it is classified PodDeleted. The informer
     * drops a deleted pod from its cache before it calls the delete handler that records the tombstone, so a
     * reconcile already running in between sees the rank gone and no tombstone yet; the handler follows at once
     * (and its event reconciles again), so a short wait tells an eviction from a deletion.
     */
    public static final Duration VANISHED_GRACE = Duration.ofSeconds(2);

    /** When a reconcile first found a rank gone without a tombstone, by pod, job uid and attempt. */
    private final Map<String, Instant> missingSince = new LinkedHashMap<>();

    /** Records the deleted pod's last state when it says why it failed. */
    public synchronized void record(Pod pod, Instant now) {
        Integer rank = GangObserver.intLabel(pod, GangNames.NODE_RANK_LABEL);
        if (rank == null || pod.getMetadata().getOwnerReferences() == null) {
            return;
        }
        // A pod deleted with no disruption or failure of its own classifies as PodDeleted: nothing to add.
        Optional<PodFailure> failure = FailureClassifier.classify(pod, rank, now)
                .filter(f -> !FailureClassifier.POD_DELETED.equals(f.reason()));
        if (failure.isEmpty()) {
            return;
        }
        String owner = pod.getMetadata().getOwnerReferences().stream()
                .filter(o -> Boolean.TRUE.equals(o.getController()))
                .map(o -> o.getUid())
                .findFirst()
                .orElse(null);
        String key = key(pod.getMetadata().getNamespace(), pod.getMetadata().getName());
        byPod.remove(key);
        byPod.put(key, new Tombstone(owner, GangObserver.intLabel(pod, GangNames.ATTEMPT_LABEL), failure.get(), now));
        prune(now);
    }

    /** The failure the deleted pod of this job's attempt showed last, if it was recorded. */
    public synchronized Optional<PodFailure> lastFailure(
            String namespace, String podName, String jobUid, int attempt, Instant now) {
        prune(now);
        Tombstone t = byPod.get(key(namespace, podName));
        if (t == null
                || t.attempt() == null
                || t.attempt() != attempt
                || (jobUid != null && !jobUid.equals(t.ownerUid()))) {
            return Optional.empty();
        }
        return Optional.of(t.failure());
    }

    /**
     * What a vanished rank of this job's attempt is: the tombstone's failure when one is recorded; a
     * {@link FailureClassifier#VANISHING} failure (not classified yet: the caller waits) within
     * {@link #VANISHED_GRACE} of the first time it was found gone without one; empty after that (PodDeleted).
     */
    public synchronized Optional<PodFailure> vanished(
            String namespace, String podName, String jobUid, int attempt, Instant now) {
        Optional<PodFailure> known = lastFailure(namespace, podName, jobUid, attempt, now);
        if (known.isPresent()) {
            return known;
        }
        String key = key(namespace, podName) + "/" + jobUid + "/" + attempt;
        Instant since = missingSince.get(key);
        if (since == null) {
            since = now;
            missingSince.put(key, now);
            pruneMissing(now);
        }
        if (now.isBefore(since.plus(VANISHED_GRACE))) {
            return Optional.of(new PodFailure(
                    FailureClassifier.VANISHING,
                    podName,
                    -1,
                    null,
                    podName + " vanished; waiting " + VANISHED_GRACE.toSeconds() + "s for its delete event to say why",
                    now));
        }
        return Optional.empty();
    }

    private void pruneMissing(Instant now) {
        Iterator<Instant> it = missingSince.values().iterator();
        while (it.hasNext()) {
            Instant t = it.next();
            if (missingSince.size() > MAX_ENTRIES || t.plus(TTL).isBefore(now)) {
                it.remove();
            } else {
                break; // insertion order: the rest are newer
            }
        }
    }

    synchronized int size() {
        return byPod.size();
    }

    private void prune(Instant now) {
        Iterator<Tombstone> it = byPod.values().iterator();
        while (it.hasNext()) {
            Tombstone t = it.next();
            if (byPod.size() > MAX_ENTRIES || t.at().plus(TTL).isBefore(now)) {
                it.remove();
            } else {
                break; // insertion order: the rest are newer
            }
        }
    }

    private static String key(String namespace, String name) {
        return namespace + "/" + name;
    }
}
