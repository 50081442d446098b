package dev.moe.operator.k8s;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.APIResourceBuilder;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.api.model.APIResourceListBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** Discovery of scheduling.k8s.io/v1alpha2: which answer means which gang mode, and how rarely it is asked. */
class GangApiTest {
    private static final Instant T0 = Instant.parse("2026-12-02T00:00:00Z");

    private static APIResourceList served(String... plurals) {
        APIResourceListBuilder b = new APIResourceListBuilder().withGroupVersion("scheduling.k8s.io/v1alpha2");
        for (String p : plurals) {
            b.addToResources(new APIResourceBuilder()
                    .withName(p)
                    .withNamespaced(true)
                    .withVerbs("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
                    .build());
        }
        return b.build();
    }

    private static Supplier<APIResourceList> counting(AtomicInteger calls, Supplier<APIResourceList> answer) {
        return () -> {
            calls.incrementAndGet();
            return answer.get();
        };
    }

    @Test
    void servedOnlyWhenBothWorkloadsAndPodGroupsCanBeCreated() {
        assertThat(GangApi.serves(served("workloads", "podgroups", "podgroups/status")))
                .isTrue();
        assertThat(GangApi.serves(served("workloads"))).isFalse();
        assertThat(GangApi.serves(null)).isFalse(); // group version not served
        assertThat(GangApi.serves(new APIResourceList())).isFalse();
    }

    @Test
    void notServedMeansFallbackAndTheAnswerIsKeptForTheTtl() {
        GangApi api = new GangApi();
        AtomicInteger calls = new AtomicInteger();
        Supplier<APIResourceList> notFound = counting(calls, () -> {
            throw new KubernetesClientException("not found", 404, null);
        });
        assertThat(api.served(notFound, T0)).isFalse();
        assertThat(api.served(notFound, T0.plus(GangApi.TTL).minusSeconds(1))).isFalse();
        assertThat(calls).hasValue(1);
        // After the TTL the API server is asked again: now it serves the API (gates turned on).
        assertThat(api.served(counting(calls, () -> served("workloads", "podgroups")), T0.plus(GangApi.TTL)))
                .isTrue();
        assertThat(calls).hasValue(2);
    }

    @Test
    void aDiscoveryErrorKeepsTheLastAnswerAndAsksAgainSoon() {
        GangApi api = new GangApi();
        assertThat(api.served(() -> served("workloads", "podgroups"), T0)).isTrue();
        Supplier<APIResourceList> failing = () -> {
            throw new KubernetesClientException("connection refused");
        };
        Instant later = T0.plus(GangApi.TTL);
        assertThat(api.served(failing, later)).isTrue();
        AtomicInteger calls = new AtomicInteger();
        assertThat(api.served(counting(calls, () -> served()), later.plus(GangApi.RETRY)))
                .isFalse();
        assertThat(calls).hasValue(1);
        // With no earlier answer an error means fallback.
        assertThat(new GangApi().served(failing, T0)).isFalse();
    }

    @Test
    void aRefusedTopologyConstraintIsRememberedForTheTtl() {
        GangApi api = new GangApi();
        assertThat(api.topologyRefused(T0)).isFalse();
        api.topologyWasRefused(T0);
        assertThat(api.topologyRefused(T0.plus(GangApi.TTL).minusSeconds(1))).isTrue();
        assertThat(api.topologyRefused(T0.plus(GangApi.TTL))).isFalse();
    }
}
