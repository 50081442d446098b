package dev.moe.operator.gang;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;

/**
 * Whether any node of the cluster could ever take one pod of the gang: a node whose labels match the pod's node
 * selector and whose allocatable GPUs reach the pod's request, busy or not. When none can, waiting or restarting
 * is pointless until the fleet changes, and the job says so (reason {@link PodProblem#NO_NODE_FITS}) instead of
 * "0 of N pods bound". Pure: the reconciler lists the nodes.
 */
public final class FleetFit {
    private FleetFit() {}

    /**
     * @param nodes        every node of the cluster (or those matching the selector)
     * @param nodeSelector the pod's node selector
     * @param gpus         GPUs one pod requests
     * @param pod          a pod of the gang, named in the message
     */
    public static Optional<PodProblem> check(
            Collection<Node> nodes, Map<String, String> nodeSelector, int gpus, String pod) {
        int matching = 0;
        long most = 0;
        for (Node n : nodes) {
            Map<String, String> labels =
                    n.getMetadata().getLabels() != null ? n.getMetadata().getLabels() : Map.of();
            if (nodeSelector != null
                    && !nodeSelector.entrySet().stream()
                            .allMatch(e -> e.getValue().equals(labels.get(e.getKey())))) {
                continue;
            }
            matching++;
            long allocatable = gpusOf(n);
            if (allocatable >= gpus) {
                return Optional.empty();
            }
            most = Math.max(most, allocatable);
        }
        String selector = nodeSelector == null || nodeSelector.isEmpty() ? "" : " with labels " + nodeSelector;
        String message = matching == 0
                ? "no node" + selector + " exists; the gang cannot start until such nodes join the cluster (check"
                        + " spec.resources.gpuProduct and spec.placement.nodeSelector)"
                : "no node" + selector + " offers " + gpus + " " + Placement.GPU_RESOURCE + " (" + matching
                        + " such nodes, the most any offers is " + most + "); the gang cannot start until such"
                        + " nodes join the cluster: lower spec.resources.gpusPerNode";
        return Optional.of(new PodProblem(PodProblem.NO_NODE_FITS, pod, message));
    }

    /** Nodes that match the selector and whose allocatable GPUs reach the request (busy or not). */
    public static int fitting(Collection<Node> nodes, Map<String, String> nodeSelector, int gpus) {
        int n = 0;
        for (Node node : nodes) {
            Map<String, String> labels =
                    node.getMetadata().getLabels() != null ? node.getMetadata().getLabels() : Map.of();
            if ((nodeSelector == null
                            || nodeSelector.entrySet().stream()
                                    .allMatch(e -> e.getValue().equals(labels.get(e.getKey()))))
                    && gpusOf(node) >= gpus) {
                n++;
            }
        }
        return n;
    }

    private static long gpusOf(Node n) {
        if (n.getStatus() == null || n.getStatus().getAllocatable() == null) {
            return 0;
        }
        Quantity q = n.getStatus().getAllocatable().get(Placement.GPU_RESOURCE);
        if (q == null) {
            return 0;
        }
        try {
            return Quantity.getAmountInBytes(q).longValue();
        } catch (ArithmeticException | IllegalArgumentException e) {
            return 0;
        }
    }
}
