package dev.moe.operator.k8s;

import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.AggregatedOperatorException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;
import java.util.Set;

/**
 * A write of a derived object that retrying at once cannot fix: the name is taken by an object the job does not
 * control ({@link ObjectNotOwnedException}), or the API server refused the object (a 4xx other than a conflict
 * or throttling: invalid, too large, forbidden). The job reports it (condition DependentsReady=False and a Warning
 * Event) and the write is retried with backoff; transient errors (5xx, timeouts, 409 on a stale
 * resourceVersion, 429) are left to the framework's retry. A write refused because the namespace is being deleted
 * is neither: nothing is reported, the namespace and the job go.
 *
 * @param reason     {@link #OBJECT_NOT_OWNED} or {@link #API_REJECTED} (condition and Event reason)
 * @param message    what was refused and why, naming the object
 * @param namespaceTerminating whether the refusal is the namespace's teardown
 */
public record WriteRejection(String reason, String message, boolean namespaceTerminating) {
    public static final String OBJECT_NOT_OWNED = "ObjectNotOwned";
    public static final String API_REJECTED = "ApiRejected";

    /**
     * HTTP codes that say the request itself is wrong: the same write fails again until something changes. Not 404:
     * an update of an object deleted meanwhile (garbage collection, a namespace teardown) is fixed by the next
     * reconcile.
     */
    private static final Set<Integer> PERMANENT = Set.of(400, 403, 413, 422);

    private static final int MAX_MESSAGE = 1024;

    /**
     * The rejection that caused {@code e}: itself, a cause, or one of the errors of the workflow's dependents
     * (JOSDK aggregates them).
     */
    public static Optional<WriteRejection> of(Throwable e) {
        Deque<Throwable> todo = new ArrayDeque<>();
        todo.add(e);
        while (!todo.isEmpty()) {
            Throwable t = todo.poll();
            if (t instanceof ObjectNotOwnedException n) {
                return Optional.of(new WriteRejection(OBJECT_NOT_OWNED, n.getMessage(), false));
            }
            if (t instanceof KubernetesClientException k && PERMANENT.contains(k.getCode())) {
                if (isNamespaceTerminating(k)) {
                    return Optional.of(new WriteRejection(API_REJECTED, k.getMessage(), true));
                }
                var status = k.getStatus();
                var details = status != null ? status.getDetails() : null;
                String kind = details != null && details.getKind() != null ? details.getKind() : "object";
                String serverMessage =
                        status != null && status.getMessage() != null ? status.getMessage() : k.getMessage();
                String message = "the API server refused " + kind
                        + (details != null && details.getName() != null ? " " + details.getName() : "")
                        + " (HTTP " + k.getCode() + "): " + serverMessage;
                return Optional.of(new WriteRejection(API_REJECTED, truncate(message), false));
            }
            if (t instanceof AggregatedOperatorException a) {
                todo.addAll(a.getAggregatedExceptions().values());
            }
            if (t.getCause() != null && t.getCause() != t) {
                todo.add(t.getCause());
            }
        }
        return Optional.empty();
    }

    /** A 403 because the namespace is being deleted: not the job's problem. */
    public static boolean isNamespaceTerminating(KubernetesClientException e) {
        return e.getCode() == 403
                && e.getStatus() != null
                && e.getStatus().getDetails() != null
                && e.getStatus().getDetails().getCauses() != null
                && e.getStatus().getDetails().getCauses().stream()
                        .anyMatch(c -> "NamespaceTerminating".equals(c.getReason()));
    }

    private static String truncate(String s) {
        return s.length() <= MAX_MESSAGE ? s : s.substring(0, MAX_MESSAGE - 1) + "…";
    }
}
