package dev.moe.operator.k8s;

import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * Pods this operator has deleted, by uid, until the informer cache can be trusted to show it: a reconcile that runs
 * on the cache between a DELETE and its watch event would delete the pod again. That second DELETE changes nothing
 * (the pod is terminating or gone) but costs a write per pod, and for stale pods a deletecollection that
 * kube-apiserver serves one item at a time (0.5 s for 64 pods on the benchmark cluster) on the reconciler's thread.
 * Skipping it is safe: a pod recreated under the same name has another uid. The Job controller keeps the same kind
 * of deletion expectations. Entries older than {@link #TTL} are dropped (a pod still there by then is deleted
 * again, and a stuck one is force-deleted by its own rule).
 */
final class PendingDeletes {
    static final Duration TTL = Duration.ofMinutes(2);
    private static final int PRUNE_EVERY = 1024;

    private final Map<String, Long> deletedAt = new ConcurrentHashMap<>();
    private final AtomicInteger sincePrune = new AtomicInteger();
    private final LongSupplier nanos;

    PendingDeletes(LongSupplier nanos) {
        this.nanos = nanos;
    }

    PendingDeletes() {
        this(System::nanoTime);
    }

    /** The pods whose deletion this operator has not asked for within the TTL. */
    List<Pod> notYetDeleted(List<Pod> pods) {
        long now = nanos.getAsLong();
        return pods.stream()
                .filter(p -> {
                    Long at = deletedAt.get(uid(p));
                    return at == null || now - at >= TTL.toNanos();
                })
                .toList();
    }

    void deleted(Pod p) {
        String uid = uid(p);
        if (uid.isEmpty()) {
            return;
        }
        long now = nanos.getAsLong();
        deletedAt.put(uid, now);
        if (sincePrune.incrementAndGet() >= PRUNE_EVERY) {
            sincePrune.set(0);
            deletedAt.values().removeIf(at -> now - at >= TTL.toNanos());
        }
    }

    int size() {
        return deletedAt.size();
    }

    private static String uid(Pod p) {
        String uid = p.getMetadata().getUid();
        return uid != null ? uid : "";
    }
}
