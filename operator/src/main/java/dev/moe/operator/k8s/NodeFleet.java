package dev.moe.operator.k8s;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * The nodes matching a node selector, listed on demand and kept for {@link #TTL}: asked only for gangs of which no
 * pod can be scheduled, to tell "no room now" from "no node can ever take it". No informer: watching every node of
 * a large cluster would cost far more memory than this rare question is worth.
 */
@ApplicationScoped
public class NodeFleet {
    private static final Logger LOG = Logger.getLogger(NodeFleet.class);
    static final Duration TTL = Duration.ofSeconds(30);

    private record Snapshot(List<Node> nodes, Instant at) {}

    private final Map<Map<String, String>, Snapshot> cache = new ConcurrentHashMap<>();

    /** The nodes with these labels, or empty when they cannot be listed (e.g. no RBAC for nodes). */
    public Optional<List<Node>> matching(KubernetesClient client, Map<String, String> selector, Instant now) {
        Map<String, String> key = new TreeMap<>(selector == null ? Map.of() : selector);
        Snapshot s = cache.get(key);
        if (s != null && now.isBefore(s.at().plus(TTL))) {
            return Optional.of(s.nodes());
        }
        try {
            List<Node> nodes = (key.isEmpty() ? client.nodes() : client.nodes().withLabels(key))
                    .list()
                    .getItems();
            if (cache.size() > 256) {
                cache.clear(); // selectors come from jobs: keep the cache bounded
            }
            cache.put(key, new Snapshot(nodes, now));
            return Optional.of(nodes);
        } catch (KubernetesClientException e) {
            LOG.debugf("cannot list nodes %s: %s", key, e.getMessage());
            return Optional.empty();
        }
    }
}
