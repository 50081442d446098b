package dev.moe.operator.gang;

import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.NodeFailures;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Bad-node avoidance: a node on which this job's pods failed {@value MoETrainingJobStatus#BAD_NODE_FAILURES} times,
 * or that was lost, is kept out of the next attempts (status.excludedNodes; {@link Placement} turns it into a
 * required node affinity). Pure.
 *
 * <p>Only failures a node can cause count: ExitCode, OOMKilled, PodFailed, NodeLost. An eviction or preemption is
 * the cluster's decision, a stall or a deleted pod the gang's. Bounded so that a small cluster cannot exclude
 * itself out of existence: at most as many nodes as the cluster's fitting nodes can spare beyond the gang (the
 * newest kept), and at most {@value MoETrainingJobStatus#MAX_EXCLUDED_NODES}.
 */
public final class BadNodes {
    private BadNodes() {}

    static final Set<String> NODE_FAULTS = Set.of(
            FailureClassifier.EXIT_CODE,
            FailureClassifier.OOM_KILLED,
            FailureClassifier.POD_FAILED,
            FailureClassifier.NODE_LOST);

    /**
     * Counts the failure against its node and updates the exclusions.
     *
     * @param spareNodes fitting nodes of the cluster beyond those the gang needs (0 or less: exclude none)
     * @return the node newly excluded, or null
     */
    static String record(MoETrainingJobStatus s, PodFailure failure, int spareNodes) {
        String node = failure.node();
        if (node == null || !NODE_FAULTS.contains(failure.reason())) {
            return null;
        }
        List<NodeFailures> counts = new ArrayList<>(s.nodeFailures != null ? s.nodeFailures : List.of());
        NodeFailures entry =
                counts.stream().filter(c -> node.equals(c.node)).findFirst().orElse(null);
        if (entry == null) {
            entry = new NodeFailures();
            entry.node = node;
            entry.failures = 0;
        }
        counts.remove(entry);
        entry.failures = (entry.failures != null ? entry.failures : 0) + 1;
        counts.add(entry); // most recent last
        while (counts.size() > MoETrainingJobStatus.MAX_NODE_FAILURES) {
            counts.remove(0);
        }
        s.nodeFailures = counts;

        List<String> excluded = new ArrayList<>(s.excludedNodes != null ? s.excludedNodes : List.of());
        boolean bad = entry.failures >= MoETrainingJobStatus.BAD_NODE_FAILURES
                || FailureClassifier.NODE_LOST.equals(failure.reason());
        boolean newly = bad && !excluded.contains(node);
        if (bad) {
            excluded.remove(node);
            excluded.add(node);
        }
        int allowed = Math.max(0, Math.min(MoETrainingJobStatus.MAX_EXCLUDED_NODES, spareNodes));
        while (excluded.size() > allowed) {
            excluded.remove(0); // the oldest exclusion goes first
        }
        s.excludedNodes = excluded.isEmpty() ? null : excluded;
        return newly && excluded.contains(node) ? node : null;
    }
}
