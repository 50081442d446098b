package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.TrainerContract;
import dev.moe.operator.TestJobs;
import dev.moe.operator.k8s.TrimmingItemStore;
import dev.moe.operator.status.ProgressReader;
import io.fabric8.kubernetes.api.model.ManagedFieldsEntryBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSchedulingGateBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The pod informer caches pods trimmed ({@link CachedPod}): what the operator concludes from a cached pod is what it
 * concludes from the pod the API server sent, for pods in every state the observer tells apart, and the copy holds
 * none of the spec the operator never reads back, nor managedFields.
 */
class CachedPodTest {
    private static final Instant NOW = Instant.parse("2026-11-26T12:10:00Z");
    private static final MoETrainingJob JOB = TestJobs.tiny("ml", "tiny", 2);
    private static final String NAME = JOB.getMetadata().getName();
    private static final String UID = JOB.getMetadata().getUid();

    /** Rank 1 of attempt 0 as the API server sends it once {@code state} happened: the rendered pod, filled in. */
    private static Pod fromApiServer(UnaryOperator<Pod> state) {
        Pod shape = state.apply(PodStates.base(NAME, 1, 0));
        Pod rendered = GangPodFactory.render(JOB, TestJobs.plan(JOB), 0, 1, GangSettings.defaults());
        PodSpec spec = rendered.getSpec();
        spec.setNodeName(shape.getSpec().getNodeName());
        if (shape.getSpec().getSchedulingGates() != null
                && !shape.getSpec().getSchedulingGates().isEmpty()) {
            spec.setSchedulingGates(shape.getSpec().getSchedulingGates());
        }
        PodBuilder b = new PodBuilder(shape)
                .withSpec(spec)
                .editMetadata()
                .withNamespace("ml")
                .withUid("pod-uid")
                .withResourceVersion("42")
                .addToLabels(rendered.getMetadata().getLabels())
                .addToAnnotations("kubectl.kubernetes.io/last-applied-configuration", "{}")
                .addToManagedFields(new ManagedFieldsEntryBuilder()
                        .withManager("moe-operator")
                        .withOperation("Update")
                        .withApiVersion("v1")
                        .withTime("2026-11-26T12:00:00Z")
                        .build())
                .addToManagedFields(new ManagedFieldsEntryBuilder()
                        .withManager("kube-scheduler")
                        .withOperation("Update")
                        .withSubresource("status")
                        .build())
                .endMetadata()
                .editStatus()
                .withHostIP("10.0.0.7")
                .withPodIP("10.244.1.9")
                .withQosClass("Guaranteed")
                .withStartTime("2026-11-26T12:00:05Z")
                .endStatus();
        Pod full = b.build();
        if (full.getStatus().getContainerStatuses() != null) {
            full.getStatus().getContainerStatuses().forEach(cs -> {
                cs.setImage("ghcr.io/moe-operator/trainer:0.1.0");
                cs.setImageID("sha256:abc");
                cs.setContainerID("containerd://abc");
            });
        }
        return full;
    }

    private static Map<String, UnaryOperator<Pod>> states() {
        Map<String, UnaryOperator<Pod>> s = new LinkedHashMap<>();
        s.put("pending", p -> p);
        s.put("unschedulable", p -> PodStates.unschedulable(p, "0/4 nodes are available"));
        s.put(
                "gated by Kueue",
                p -> new PodBuilder(p)
                        .editSpec()
                        .withSchedulingGates(new PodSchedulingGateBuilder()
                                .withName(Placement.KUEUE_GATE_PREFIX + "admission")
                                .build())
                        .endSpec()
                        .editMetadata()
                        .addToLabels(Placement.KUEUE_QUEUE_LABEL, "team-a")
                        .endMetadata()
                        .build());
        s.put("image pull back-off", PodStates::imagePullBackOff);
        s.put("running", PodStates::running);
        s.put("reporting progress", p -> PodStates.reporting(p, 7));
        s.put("exited 1", p -> PodStates.exited(p, 1));
        s.put("exited config error", p -> PodStates.exited(p, TrainerContract.EXIT_CONFIG_ERROR));
        s.put("exited with message", p -> PodStates.exitedWithMessage(p, 3, "boom"));
        s.put("OOM-killed", PodStates::oomKilled);
        s.put("evicted by the API", PodStates::evictedByApi);
        s.put("evicted by the kubelet", PodStates::evicted);
        s.put("preempted", PodStates::preempted);
        s.put("node lost", PodStates::nodeLost);
        s.put("deleted", PodStates::deleted);
        s.put("stopped by Kueue", p -> PodStates.stoppedByKueue(p, Placement.KUEUE_EVICTED_BY_PREEMPTION, true));
        s.put(
                "asked to checkpoint, stopped",
                p -> new PodBuilder(PodStates.exited(p, TrainerContract.EXIT_STOPPED))
                        .editMetadata()
                        .addToAnnotations(TrainerContract.CHECKPOINT_REQUEST_ANNOTATION, "Suspend/1")
                        .endMetadata()
                        .build());
        return s;
    }

    /** Everything the operator reads of a pod, as the values it derives. */
    private static List<Object> conclusions(Pod p) {
        GangState gang = GangObserver.observe(NAME, UID, List.of(p), 0, 2, true, List.of(), NOW);
        PodTombstones tombstones = new PodTombstones();
        tombstones.record(p, NOW);
        return List.of(
                gang.current().keySet(),
                gang.stale().size(),
                gang.failures(),
                gang.problems(),
                gang.scheduled(),
                gang.running(),
                gang.succeeded(),
                gang.oldestCreation(),
                FailureClassifier.classify(p, 1, NOW),
                FailureClassifier.disruption(p, 1, NOW),
                GangObserver.isScheduled(p),
                GangObserver.isFinished(p),
                GangObserver.isTerminating(p),
                GangObserver.ownedBy(p, UID),
                StopCheckpoint.asked(p),
                ProgressReader.read(p).map(Serialization::asJson), // Progress has no equals
                tombstones.lastFailure("ml", p.getMetadata().getName(), UID, 0, NOW),
                String.valueOf(p.getSpec().getNodeSelector()),
                String.valueOf(p.getMetadata().getDeletionGracePeriodSeconds()),
                p.getMetadata().getResourceVersion(),
                p.getMetadata().getUid());
    }

    @Test
    void theOperatorConcludesFromTheCachedPodWhatItConcludesFromTheFullOne() {
        for (var e : states().entrySet()) {
            Pod full = fromApiServer(e.getValue());
            List<Object> expected = conclusions(full);
            Pod cached = CachedPod.trim(Serialization.clone(full));
            assertThat(conclusions(cached)).as(e.getKey()).isEqualTo(expected);
        }
    }

    @Test
    void theStatesAboveAreTheOnesTheObserverTellsApart() {
        // Guards the comparison above against shapes that all read alike.
        var seen = states().values().stream()
                .map(s -> conclusions(fromApiServer(s)).subList(2, 7))
                .distinct()
                .count();
        assertThat(seen).isGreaterThanOrEqualTo(10);
    }

    @Test
    void everyUpdateThatChangesWhatTheOperatorConcludesWakesTheReconciler() {
        // The pod informer's update filter: from each state's cached copy to each other state as the API server
        // sends it, an update the operator would conclude something new from is never filtered out.
        var states = states();
        int compared = 0;
        for (var from : states.entrySet()) {
            Pod cached = CachedPod.trim(fromApiServer(from.getValue()));
            for (var to : states.entrySet()) {
                Pod updated = withVersion(fromApiServer(to.getValue()), "43");
                List<Object> before = conclusions(cached).subList(0, 19); // less resourceVersion and uid
                if (!before.equals(conclusions(updated).subList(0, 19))) {
                    compared++;
                    assertThat(CachedPod.changesWhatIsKept(updated, cached))
                            .as(from.getKey() + " -> " + to.getKey())
                            .isTrue();
                }
            }
        }
        assertThat(compared).isGreaterThan(100);
    }

    @Test
    void anUpdateOfFieldsTheCacheDropsWakesNothing() {
        // kube-scheduler's nomination of a waiting gang member, then the kubelet's pod IP: a new resourceVersion and
        // managedFields entry each time, nothing the operator reads.
        Pod pending = fromApiServer(p -> PodStates.unschedulable(p, "waiting for the gang"));
        Pod cached = CachedPod.trim(Serialization.clone(pending));
        Pod nominated = withVersion(Serialization.clone(pending), "43");
        nominated.getStatus().setNominatedNodeName("kwok-node-7");
        nominated
                .getMetadata()
                .getManagedFields()
                .add(new ManagedFieldsEntryBuilder()
                        .withManager("kube-scheduler")
                        .withOperation("Update")
                        .withSubresource("status")
                        .withTime("2026-11-26T12:00:01Z")
                        .build());
        assertThat(CachedPod.changesWhatIsKept(nominated, cached)).isFalse();

        Pod running = fromApiServer(PodStates::running);
        Pod runningCached = CachedPod.trim(Serialization.clone(running));
        Pod withIp = withVersion(Serialization.clone(running), "44");
        withIp.getStatus().setPodIP("10.244.1.10");
        assertThat(CachedPod.changesWhatIsKept(withIp, runningCached)).isFalse();

        // ...whereas a new annotation (the trainer's progress report) or a binding does.
        Pod reported = withVersion(Serialization.clone(running), "45");
        reported.getMetadata().getAnnotations().put(TrainerContract.PROGRESS_ANNOTATION, "{\"step\":8}");
        assertThat(CachedPod.changesWhatIsKept(reported, runningCached)).isTrue();
        Pod bound = withVersion(Serialization.clone(pending), "46");
        bound.getSpec().setNodeName("kwok-node-7");
        assertThat(CachedPod.changesWhatIsKept(bound, cached)).isTrue();
    }

    private static Pod withVersion(Pod pod, String resourceVersion) {
        pod.getMetadata().setResourceVersion(resourceVersion);
        return pod;
    }

    @Test
    void theCachedPodHoldsNoManagedFieldsAndNoneOfTheSpecTheOperatorRendered() {
        Pod full = fromApiServer(p -> PodStates.exited(p, 1));
        int fullSize = Serialization.asJson(full).length();
        Pod cached = CachedPod.trim(Serialization.clone(full));
        assertThat(full.getMetadata().getManagedFields()).hasSize(2);
        assertThat(full.getSpec().getContainers()).isNotEmpty();
        assertThat(full.getSpec().getVolumes()).isNotEmpty();

        assertThat(cached.getMetadata().getManagedFields()).isNullOrEmpty();
        assertThat(cached.getSpec().getContainers()).isEmpty();
        assertThat(cached.getSpec().getVolumes()).isEmpty();
        assertThat(cached.getSpec().getTolerations()).isEmpty();
        assertThat(cached.getSpec().getAffinity()).isNull();
        assertThat(cached.getStatus().getPodIP()).isNull();
        assertThat(cached.getStatus().getContainerStatuses().get(0).getImage()).isNull();
        // Kept: what the observer and the node-fit check read.
        assertThat(cached.getSpec().getNodeName()).isEqualTo(full.getSpec().getNodeName());
        assertThat(cached.getSpec().getNodeSelector())
                .isEqualTo(full.getSpec().getNodeSelector())
                .isNotEmpty();
        assertThat(cached.getMetadata().getLabels())
                .isEqualTo(full.getMetadata().getLabels());
        assertThat(cached.getMetadata().getOwnerReferences())
                .isEqualTo(full.getMetadata().getOwnerReferences());
        assertThat(Serialization.asJson(cached).length()).isLessThan(fullSize / 3);
    }

    @Test
    void theStoreKeysPodsAsTheInformerDoesAndHoldsTheTrimmedCopy() {
        TrimmingItemStore<Pod> store = new TrimmingItemStore<>(CachedPod::trim); // as the reconciler's pod informer
        Pod full = fromApiServer(PodStates::running);
        String key = Cache.metaNamespaceKeyFunc(full);
        assertThat(store.getKey(full))
                .isEqualTo(key)
                .isEqualTo("ml/" + full.getMetadata().getName());
        store.put(key, full);
        assertThat(store.size()).isEqualTo(1);
        assertThat(store.get(key).getSpec().getContainers()).isEmpty();
        assertThat(store.get(key).getMetadata().getResourceVersion()).isEqualTo("42");
        assertThat(store.keySet()).containsExactly(key);
        assertThat(store.remove(key)).isNotNull();
        assertThat(store.size()).isZero();
    }
}
