package dev.moe.operator.gang;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodStatus;
import java.util.Objects;

/**
 * What the pod informer keeps of each of the jobs' pods (its item store, a {@code k8s.TrimmingItemStore} of
 * {@link #trim}): the fields the operator reads ({@link GangObserver},
 * {@link FailureClassifier}, {@link PodTombstones}, {@link StopCheckpoint}, {@link StallDetector}, the progress
 * report, the reconciler's node-fit check) and nothing else. A pod as the API server sends it is mostly its spec
 * (the trainer container's environment, volumes, tolerations, affinity) and managedFields, none of which the
 * operator reads back: it renders pods from the job ({@link GangPodFactory}) and never updates one (it deletes
 * pods and merge-patches one annotation). Kept:
 * <ul>
 *   <li>metadata, whole but for managedFields: name, namespace, uid, resourceVersion (the informer and JOSDK compare
 *       it), labels (rank, attempt), annotations (progress, checkpoint request), owner references (Ownership),
 *       creation and deletion timestamps, deletion grace period;</li>
 *   <li>spec: nodeName, nodeSelector, schedulingGates;</li>
 *   <li>status: phase, reason, message, conditions, and per container its name, state, last state, readiness and
 *       restart count.</li>
 * </ul>
 * A field the operator starts to read must be added here: CachedPodTest compares what the operator concludes from
 * a full pod and from its cached copy, for pods in every state the observer tells apart.
 *
 * <p>The same fields decide which pod updates wake the job's reconciler ({@link #changesWhatIsKept}): most of a
 * gang start's pod events change nothing kept (kube-scheduler writes each waiting pod's nominatedNodeName before
 * it binds the gang, the kubelet the pod's IPs), and a reconcile they woke would read the same pods again, on
 * the cores the scheduler and the API server need at that moment (bench/results.md).
 */
public final class CachedPod {
    private CachedPod() {}

    /** A copy of {@code pod} with only the kept fields (it shares their objects with {@code pod}). */
    public static Pod trim(Pod pod) {
        Pod kept = new Pod();
        kept.setApiVersion(pod.getApiVersion());
        kept.setKind(pod.getKind());
        if (pod.getMetadata() != null) {
            pod.getMetadata().setManagedFields(null);
        }
        kept.setMetadata(pod.getMetadata());
        PodSpec spec = pod.getSpec();
        if (spec != null) {
            PodSpec s = new PodSpec();
            s.setNodeName(spec.getNodeName());
            s.setNodeSelector(spec.getNodeSelector());
            s.setSchedulingGates(spec.getSchedulingGates());
            kept.setSpec(s);
        }
        PodStatus status = pod.getStatus();
        if (status != null) {
            PodStatus s = new PodStatus();
            s.setPhase(status.getPhase());
            s.setReason(status.getReason());
            s.setMessage(status.getMessage());
            s.setConditions(status.getConditions());
            s.setContainerStatuses(
                    status.getContainerStatuses() != null
                            ? status.getContainerStatuses().stream()
                                    .map(CachedPod::trim)
                                    .toList()
                            : null);
            kept.setStatus(s);
        }
        return kept;
    }

    /**
     * Whether {@code updated} differs from {@code previous} (the informer's cached copy) in a field the cache keeps,
     * other than metadata.resourceVersion: the pod informer's update filter. Both are compared trimmed, so the
     * answer is the same for a full pod and for a cached one.
     */
    public static boolean changesWhatIsKept(Pod updated, Pod previous) {
        Pod now = trim(updated);
        Pod before = trim(previous);
        return !Objects.equals(now.getSpec(), before.getSpec())
                || !Objects.equals(now.getStatus(), before.getStatus())
                || !Objects.equals(versionless(now.getMetadata()), versionless(before.getMetadata()));
    }

    private static ObjectMeta versionless(ObjectMeta metadata) {
        return metadata == null
                ? null
                : new ObjectMetaBuilder(metadata).withResourceVersion(null).build();
    }

    private static ContainerStatus trim(ContainerStatus cs) {
        ContainerStatus kept = new ContainerStatus();
        kept.setName(cs.getName());
        kept.setState(cs.getState());
        kept.setLastState(cs.getLastState());
        kept.setReady(cs.getReady());
        kept.setRestartCount(cs.getRestartCount());
        return kept;
    }
}
