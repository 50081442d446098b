package dev.moe.operator.gang;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Reads the job's pods into a {@link GangState}. Pure: the pods come from the informer cache.
 *
 * <p>A pod belongs to the current gang when its attempt label equals the status's restart attempt and its node
 * rank label is in [0, nodes); everything else is stale. Failures are ordered so the decisive one comes first:
 * those that fail the job before those that restart it, then earliest, then lowest rank.
 */
public final class GangObserver {
    private GangObserver() {}

    /**
     * @param jobUid      the job's uid: pods controlled by another incarnation of the job are stale
     * @param gangStarted whether every rank of this attempt has been seen running or bound: from then on a rank
     *                    that vanished is a failure (PodDeleted), not a pod still to be created
     */
    public static GangState observe(
            String jobName,
            String jobUid,
            Collection<Pod> pods,
            int attempt,
            int nodes,
            boolean gangStarted,
            List<Integer> nonRetryableExitCodes,
            Instant now) {
        return observe(
                jobName,
                jobUid,
                pods,
                attempt,
                nodes,
                gangStarted,
                f -> FailureClassifier.isNonRetriable(f, nonRetryableExitCodes),
                now);
    }

    /** @param failsJob whether a failure fails the job at once (those come first: see {@link FailureRules}) */
    public static GangState observe(
            String jobName,
            String jobUid,
            Collection<Pod> pods,
            int attempt,
            int nodes,
            boolean gangStarted,
            java.util.function.Predicate<PodFailure> failsJob,
            Instant now) {
        return observe(jobName, jobUid, pods, attempt, nodes, gangStarted, failsJob, podName -> Optional.empty(), now);
    }

    /**
     * @param vanished the last failure a deleted pod of this attempt showed (see {@link PodTombstones}), by pod
     *                 name: a vanished rank is that failure (e.g. Evicted) instead of PodDeleted
     */
    public static GangState observe(
            String jobName,
            String jobUid,
            Collection<Pod> pods,
            int attempt,
            int nodes,
            boolean gangStarted,
            java.util.function.Predicate<PodFailure> failsJob,
            java.util.function.Function<String, Optional<PodFailure>> vanished,
            Instant now) {
        SortedMap<Integer, Pod> current = new TreeMap<>();
        List<Pod> stale = new ArrayList<>();
        for (Pod p : pods) {
            if (!controlledByJobNamed(p, jobName)) {
                // Not created by the operator for a job of this name (e.g. a user's pod carrying our labels or a
                // non-controller owner reference): never counted, never deleted.
                continue;
            }
            Integer rank = intLabel(p, GangNames.NODE_RANK_LABEL);
            Integer podAttempt = intLabel(p, GangNames.ATTEMPT_LABEL);
            if (rank != null
                    && podAttempt != null
                    && podAttempt == attempt
                    && rank >= 0
                    && rank < nodes
                    && !current.containsKey(rank)
                    && ownedBy(p, jobUid)) {
                current.put(rank, p);
            } else {
                stale.add(p);
            }
        }
        List<PodFailure> failures = new ArrayList<>();
        List<PodProblem> problems = new ArrayList<>();
        int scheduled = 0;
        int running = 0;
        int succeeded = 0;
        Instant oldest = null;
        for (var e : current.entrySet()) {
            Pod p = e.getValue();
            FailureClassifier.classify(p, e.getKey(), now).ifPresent(failures::add);
            problem(p).ifPresent(problems::add);
            String phase = p.getStatus() != null ? p.getStatus().getPhase() : null;
            if (isScheduled(p)) {
                scheduled++;
            }
            if ("Running".equals(phase) || "Succeeded".equals(phase)) {
                running++;
            }
            if ("Succeeded".equals(phase)) {
                succeeded++;
            }
            Instant created = FailureClassifier.parse(p.getMetadata().getCreationTimestamp(), now);
            if (oldest == null || created.isBefore(oldest)) {
                oldest = created;
            }
        }
        if (gangStarted) {
            for (int r = 0; r < nodes; r++) {
                if (!current.containsKey(r)) {
                    String name = GangNames.podName(jobName, r);
                    int rank = r;
                    failures.add(vanished.apply(name)
                            .map(f -> FailureClassifier.VANISHING.equals(f.reason())
                                    ? new PodFailure(f.reason(), name, rank, null, f.message(), f.time())
                                    : f)
                            .orElseGet(() -> new PodFailure(
                                    FailureClassifier.POD_DELETED,
                                    name,
                                    rank,
                                    null,
                                    "node rank " + rank + " of the running gang disappeared",
                                    now)));
                }
            }
        }
        // A rank that exited EXIT_STOPPED (128 + SIGTERM) was stopped, by its peers' agreement or its kubelet: the
        // cause is another rank's failure when there is one (an eviction must not read as an exit code).
        failures.sort(Comparator.comparing((PodFailure f) -> !failsJob.test(f))
                .thenComparing(f -> FailureClassifier.EXIT_CODE.equals(f.reason())
                        && Integer.valueOf(dev.moe.api.v1alpha1.TrainerContract.EXIT_STOPPED)
                                .equals(f.exitCode()))
                .thenComparing(PodFailure::time)
                .thenComparingInt(PodFailure::nodeRank));
        return new GangState(
                attempt,
                nodes,
                current,
                stale,
                List.copyOf(failures),
                List.copyOf(problems),
                scheduled,
                running,
                succeeded,
                Optional.ofNullable(oldest));
    }

    /**
     * Whether the pod's controller is this incarnation of the job (a job deleted and re-created under the same
     * name leaves pods of the old one behind until garbage collection removes them).
     */
    static boolean ownedBy(Pod p, String jobUid) {
        return jobUid == null
                || p.getMetadata().getOwnerReferences().stream()
                        .anyMatch(o -> Boolean.TRUE.equals(o.getController()) && jobUid.equals(o.getUid()));
    }

    /** Whether the pod's controller is a MoETrainingJob of this name (this incarnation or an earlier one). */
    static boolean controlledByJobNamed(Pod p, String jobName) {
        return p.getMetadata().getOwnerReferences() != null
                && p.getMetadata().getOwnerReferences().stream()
                        .anyMatch(o -> Boolean.TRUE.equals(o.getController())
                                && "MoETrainingJob".equals(o.getKind())
                                && jobName.equals(o.getName()));
    }

    private static final java.util.Set<String> IMAGE_PULL =
            java.util.Set.of("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull");
    private static final java.util.Set<String> CONTAINER_CONFIG =
            java.util.Set.of("CreateContainerConfigError", "CreateContainerError", "RunContainerError");

    /** Why a pod that has not failed is not running, when its status says so. */
    static Optional<PodProblem> problem(Pod p) {
        if (p.getStatus() == null || isFinished(p) || isTerminating(p)) {
            return Optional.empty();
        }
        String name = p.getMetadata().getName();
        if (p.getStatus().getContainerStatuses() != null) {
            for (var cs : p.getStatus().getContainerStatuses()) {
                var waiting = cs.getState() != null ? cs.getState().getWaiting() : null;
                if (waiting == null || waiting.getReason() == null) {
                    continue;
                }
                String message =
                        waiting.getReason() + (waiting.getMessage() != null ? ": " + waiting.getMessage() : "");
                if (IMAGE_PULL.contains(waiting.getReason())) {
                    return Optional.of(new PodProblem(PodProblem.IMAGE_PULL_FAILED, name, message));
                }
                if (CONTAINER_CONFIG.contains(waiting.getReason())) {
                    return Optional.of(new PodProblem(PodProblem.CONTAINER_CONFIG_ERROR, name, message));
                }
            }
        }
        if (!isScheduled(p) && p.getSpec() != null && p.getSpec().getSchedulingGates() != null) {
            for (var gate : p.getSpec().getSchedulingGates()) {
                if (gate != null && gate.getName() != null && gate.getName().startsWith(Placement.KUEUE_GATE_PREFIX)) {
                    String queue = p.getMetadata().getLabels() != null
                            ? p.getMetadata().getLabels().get(Placement.KUEUE_QUEUE_LABEL)
                            : null;
                    return Optional.of(new PodProblem(
                            PodProblem.AWAITING_ADMISSION,
                            name,
                            "held by Kueue's scheduling gate " + gate.getName() + " until LocalQueue " + queue
                                    + " admits the pod group"));
                }
            }
        }
        if (p.getStatus().getConditions() != null && !isScheduled(p)) {
            for (PodCondition c : p.getStatus().getConditions()) {
                if ("PodScheduled".equals(c.getType())
                        && "False".equals(c.getStatus())
                        && "Unschedulable".equals(c.getReason())) {
                    return Optional.of(new PodProblem(
                            PodProblem.UNSCHEDULABLE, name, c.getMessage() != null ? c.getMessage() : "unschedulable"));
                }
            }
        }
        return Optional.empty();
    }

    /** Bound to a node: spec.nodeName set, PodScheduled=True, or a phase only a bound pod reaches. */
    public static boolean isScheduled(Pod p) {
        String phase = p.getStatus() != null ? p.getStatus().getPhase() : null;
        if ("Running".equals(phase) || "Succeeded".equals(phase) || "Failed".equals(phase)) {
            return true;
        }
        if (p.getSpec() != null
                && p.getSpec().getNodeName() != null
                && !p.getSpec().getNodeName().isEmpty()) {
            return true;
        }
        if (p.getStatus() != null && p.getStatus().getConditions() != null) {
            for (PodCondition c : p.getStatus().getConditions()) {
                if ("PodScheduled".equals(c.getType()) && "True".equals(c.getStatus())) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Pods that hold no resources any more (Succeeded or Failed). */
    public static boolean isFinished(Pod p) {
        String phase = p.getStatus() != null ? p.getStatus().getPhase() : null;
        return "Succeeded".equals(phase) || "Failed".equals(phase);
    }

    public static boolean isTerminating(Pod p) {
        return p.getMetadata().getDeletionTimestamp() != null;
    }

    static Integer intLabel(Pod p, String key) {
        if (p.getMetadata().getLabels() == null) {
            return null;
        }
        String v = p.getMetadata().getLabels().get(key);
        if (v == null) {
            return null;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    static Optional<Integer> rankOf(Pod p) {
        return Optional.ofNullable(intLabel(p, GangNames.NODE_RANK_LABEL));
    }
}
