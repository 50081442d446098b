package dev.moe.operator.k8s;

import dev.moe.operator.gang.NativeGang;
import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * Whether the API server serves the native gang API ({@code scheduling.k8s.io/v1alpha2} Workload and PodGroup, alpha
 * in Kubernetes 1.36 behind the GenericWorkload and GangScheduling gates and
 * {@code --runtime-config=scheduling.k8s.io/v1alpha2=true}), found by discovery and kept for {@link #TTL}: the
 * answer changes only when the control plane is reconfigured, and it is asked only when a gang is about to be
 * created. A discovery error keeps the last answer (Fallback if there is none) and asks again after
 * {@link #RETRY}.
 *
 * <p>Discovery cannot tell whether the apiserver also has TopologyAwareWorkloadScheduling on (without it a PodGroup
 * with a topology constraint is refused as invalid): {@link #topologyRefused} remembers such a refusal for the same
 * {@link #TTL}, so the next gangs go without the constraint instead of being refused again.
 */
@ApplicationScoped
public class GangApi {
    private static final Logger LOG = Logger.getLogger(GangApi.class);
    static final Duration TTL = Duration.ofMinutes(10);
    static final Duration RETRY = Duration.ofSeconds(30);

    private record Answer(boolean served, Instant until) {}

    private volatile Answer answer;
    private volatile Instant topologyRefusedUntil = Instant.MIN;

    /** Whether Workload and PodGroup can be created (discovery of scheduling.k8s.io/v1alpha2, cached). */
    public boolean served(KubernetesClient client, Instant now) {
        return served(() -> client.getApiResources(NativeGang.API_VERSION), now);
    }

    boolean served(Supplier<APIResourceList> discovery, Instant now) {
        Answer a = answer;
        if (a != null && now.isBefore(a.until())) {
            return a.served();
        }
        try {
            boolean served = serves(discovery.get());
            if (a == null || a.served() != served) {
                LOG.infof(
                        "%s %s: gangs are %s",
                        NativeGang.API_VERSION,
                        served ? "served" : "not served",
                        served ? "native (Workload/PodGroup)" : "placed pod by pod (fallback)");
            }
            answer = new Answer(served, now.plus(TTL));
            return served;
        } catch (KubernetesClientException e) {
            if (e.getCode() == 404) {
                answer = new Answer(false, now.plus(TTL));
                return false;
            }
            boolean last = a != null && a.served();
            LOG.debugf("discovery of %s failed (%s); keeping %s", NativeGang.API_VERSION, e.getMessage(), last);
            answer = new Answer(last, now.plus(RETRY));
            return last;
        }
    }

    /** Whether the group version lists both kinds with create (null: the group version is not served). */
    static boolean serves(APIResourceList list) {
        if (list == null || list.getResources() == null) {
            return false;
        }
        return creatable(list.getResources(), "workloads") && creatable(list.getResources(), "podgroups");
    }

    private static boolean creatable(List<APIResource> resources, String plural) {
        return resources.stream()
                .anyMatch(r -> plural.equals(r.getName())
                        && r.getVerbs() != null
                        && r.getVerbs().contains("create"));
    }

    /** Whether a topology constraint was refused lately (the apiserver lacks TopologyAwareWorkloadScheduling). */
    public boolean topologyRefused(Instant now) {
        return now.isBefore(topologyRefusedUntil);
    }

    public void topologyWasRefused(Instant now) {
        LOG.warnf(
                "the API server refused a PodGroup topology constraint (TopologyAwareWorkloadScheduling off?): native"
                        + " gangs go without it for %s",
                TTL);
        topologyRefusedUntil = now.plus(TTL);
    }
}
