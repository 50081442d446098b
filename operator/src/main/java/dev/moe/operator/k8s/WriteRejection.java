package dev.moe.operator.k8s;

import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.Optional;
import java.util.Set;

/**
 * A write of a derived object that retrying at once cannot fix: the name is taken by an object the job does not
 * control ({@link ObjectNotOwnedException}), or the API server refused the object (a 4xx other than a conflict
 * or throttling: invalid, too large, forbidden). The job reports it (condition DependentsReady=False and a Warning
 * Event) and the write is retried with backoff; transient errors (5xx, timeouts, 409 on a stale
 * resourceVersion, 429) are left to the framework's retry.
 *
 * @param reason     {@link #OBJECT_NOT_OWNED} or {@link #API_REJECTED} (condition and Event reason)
 * @param message    what was refused and why, naming the object
 * @param podRefused whether the refused object is a pod (the gang cannot be complete)
 */
public record WriteRejection(String reason, String message, boolean podRefused) {
    public static final String OBJECT_NOT_OWNED = "ObjectNotOwned";
    public static final String API_REJECTED = "ApiRejected";

    /** HTTP codes that say the request itself is wrong: the same write fails again until something changes. */
    private static final Set<Integer> PERMANENT = Set.of(400, 403, 404, 413, 422);
    private static final int MAX_MESSAGE = 1024;

    /** The rejection that caused {@code e} (itself or a cause), if it is one. */
    public static Optional<WriteRejection> of(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ObjectNotOwnedException n) {
                return Optional.of(new WriteRejection(OBJECT_NOT_OWNED, n.getMessage(), "Pod".equals(n.kind())));
            }
            if (t instanceof KubernetesClientException k && PERMANENT.contains(k.getCode())) {
                var status = k.getStatus();
                var details = status != null ? status.getDetails() : null;
                String kind = details != null && details.getKind() != null ? details.getKind() : "object";
                String serverMessage = status != null && status.getMessage() != null ? status.getMessage()
                        : k.getMessage();
                String message = "the API server refused " + kind
                        + (details != null && details.getName() != null ? " " + details.getName() : "")
                        + " (HTTP " + k.getCode() + "): " + serverMessage;
                return Optional.of(new WriteRejection(API_REJECTED, truncate(message),
                        "pods".equals(kind) || "Pod".equals(kind)));
            }
        }
        return Optional.empty();
    }

    private static String truncate(String s) {
        return s.length() <= MAX_MESSAGE ? s : s.substring(0, MAX_MESSAGE - 1) + "…";
    }
}
