package dev.moe.operator.gang;

import io.fabric8.kubernetes.api.model.Pod;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;

/**
 * What the job's pods say, for one attempt of the gang (see {@link GangObserver}).
 *
 * @param attempt        the attempt observed (status.restartAttempt)
 * @param nodes          ranks the gang should have
 * @param current        pods of this attempt by node rank
 * @param stale          pods of other attempts (or unknown ranks): to be deleted before ranks are recreated
 * @param failures       failures among the current pods, most decisive first (see {@link GangObserver#observe})
 * @param problems       why current pods that have not failed are not running (unschedulable, image pull …), in
 *                       rank order
 * @param scheduled      current pods bound to a node
 * @param running        current pods running (or already succeeded)
 * @param succeeded      current pods succeeded
 * @param oldestCreation creation time of the oldest current pod, if any
 * @param spareNodes     fitting nodes of the cluster beyond those the gang needs, when the reconciler counted them
 *                       (for a failure: how many bad nodes the job may exclude, see {@link BadNodes}); else 0
 */
public record GangState(
        int attempt,
        int nodes,
        SortedMap<Integer, Pod> current,
        List<Pod> stale,
        List<PodFailure> failures,
        List<PodProblem> problems,
        int scheduled,
        int running,
        int succeeded,
        Optional<Instant> oldestCreation,
        int spareNodes) {

    public GangState(
            int attempt,
            int nodes,
            SortedMap<Integer, Pod> current,
            List<Pod> stale,
            List<PodFailure> failures,
            List<PodProblem> problems,
            int scheduled,
            int running,
            int succeeded,
            Optional<Instant> oldestCreation) {
        this(attempt, nodes, current, stale, failures, problems, scheduled, running, succeeded, oldestCreation, 0);
    }

    /** The same state, knowing how many fitting nodes the cluster has beyond the gang. */
    public GangState withSpareNodes(int spare) {
        return new GangState(
                attempt,
                nodes,
                current,
                stale,
                failures,
                problems,
                scheduled,
                running,
                succeeded,
                oldestCreation,
                spare);
    }

    /** The same state with {@code problem} as the first problem (a fact learnt outside the pods, e.g. NoNodeFits). */
    public GangState withFirstProblem(PodProblem problem) {
        List<PodProblem> all = new java.util.ArrayList<>();
        all.add(problem);
        all.addAll(problems);
        return new GangState(
                attempt,
                nodes,
                current,
                stale,
                failures,
                List.copyOf(all),
                scheduled,
                running,
                succeeded,
                oldestCreation,
                spareNodes);
    }

    /** Node ranks with no pod of this attempt. */
    public List<Integer> missingRanks() {
        return java.util.stream.IntStream.range(0, nodes)
                .filter(r -> !current.containsKey(r))
                .boxed()
                .toList();
    }

    public boolean allSucceeded() {
        return succeeded == nodes && current.size() == nodes;
    }

    public boolean allRunning() {
        return running == nodes && current.size() == nodes;
    }

    public boolean allScheduled() {
        return scheduled == nodes && current.size() == nodes;
    }

    /** Names of pods that exist (any attempt). */
    public Set<String> existingNames() {
        java.util.Set<String> names = new java.util.HashSet<>();
        current.values().forEach(p -> names.add(p.getMetadata().getName()));
        stale.forEach(p -> names.add(p.getMetadata().getName()));
        return names;
    }

    public boolean hasPods() {
        return !current.isEmpty() || !stale.isEmpty();
    }

    public Optional<Pod> rank0() {
        return Optional.ofNullable(current.get(0));
    }

    /** All pods, current first. */
    public List<Pod> allPods() {
        java.util.List<Pod> all = new java.util.ArrayList<>(current.values());
        all.addAll(stale);
        return all;
    }
}
