package dev.moe.operator.gang;

import dev.moe.api.v1alpha1.FailureRule.Action;
import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.FailureRecord;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.RestartRecord;
import dev.moe.operator.gang.GangDecision.JobEvent;
import dev.moe.operator.status.Conditions;
import dev.moe.operator.status.GangMessages;
import dev.moe.operator.status.PlanSummaries;
import dev.moe.operator.status.ProgressReader;
import dev.moe.operator.status.ProgressTracker;
import dev.moe.operator.status.Reasons;
import dev.moe.operator.status.StatusUpdater;
import dev.moe.plan.MemoryEstimate;
import dev.moe.plan.Plan;
import dev.moe.plan.PlanError;
import dev.moe.plan.PlanResult;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The gang's state machine: from (job, plan, observed pods, now) to a {@link GangDecision}. Pure; the reconciler
 * performs the decision's writes.
 *
 * <pre>
 *   Pending ──all pods running──► Running ──all pods succeeded──► Succeeded
 *      │  ▲                          │
 *      │  └──backoff over, old pods gone── Restarting ◄──retriable failure (restarts &lt; maxRestarts)
 *      │                                              ◄──not all running within gangSchedulingTimeoutSeconds
 *      └──non-retriable failure, or restarts exhausted──► Failed
 *   suspend: any non-terminal phase ──► Suspended (pods deleted, status kept) ──resume──► Pending
 *   activeDeadlineSeconds: active time (not suspended) reaches it ──► Failed (DeadlineExceeded)
 *   ttlSecondsAfterFinished: Succeeded/Failed that long ──► the job is deleted
 *   plan rejected: ──► Invalid (no pods)
 * </pre>
 */
public final class GangLifecycle {
    private GangLifecycle() {}

    /** Re-check a Restarting gang whose old pods are still terminating at least this often. */
    static final Duration TERMINATION_POLL = Duration.ofSeconds(5);

    /**
     * How long past its grace period a pod may stay terminating before it is force-deleted. A pod whose node
     * is unreachable never finishes terminating on its own, and its rank's name cannot be reused until it is
     * gone. Forcing risks a partitioned node still running the old process, hence the generous slack.
     */
    static final Duration FORCE_DELETE_AFTER = Duration.ofSeconds(120);

    /** Force-deletes pods stuck terminating; wakes up when the next one becomes due. */
    static void forceStuckPods(GangState gang, GangDecision d, Instant now) {
        for (Pod p : gang.allPods()) {
            if (!GangObserver.isTerminating(p)) {
                continue;
            }
            long grace = p.getMetadata().getDeletionGracePeriodSeconds() != null
                    ? p.getMetadata().getDeletionGracePeriodSeconds()
                    : 30;
            // deletionTimestamp is when the grace period ends.
            Instant due = FailureClassifier.parse(p.getMetadata().getDeletionTimestamp(), now)
                    .plus(FORCE_DELETE_AFTER);
            if (grace > 0 && !now.isBefore(due)) {
                d.forceDeletePods.add(p);
            } else if (grace > 0) {
                d.requeueAfter(Duration.between(now, due));
            }
        }
    }

    /** Whether the gang of the current attempt has been complete once (a vanished rank is then a failure). */
    public static boolean gangStarted(MoETrainingJobStatus status) {
        return status != null
                && (status.phase == JobPhase.Running
                        || (status.phase == JobPhase.Pending && Conditions.isTrue(status, Conditions.GANG_SCHEDULED)));
    }

    public static boolean isTerminal(MoETrainingJobStatus status) {
        return status != null && (status.phase == JobPhase.Succeeded || status.phase == JobPhase.Failed);
    }

    /** A finished job: nothing is recreated; pods still running (after a failure) are stopped. */
    public static GangDecision decideTerminal(MoETrainingJob job, GangState gang) {
        GangDecision d = new GangDecision(StatusUpdater.copyOf(job));
        for (Pod p : gang.allPods()) {
            if (!GangObserver.isFinished(p)) {
                d.delete(p);
            }
        }
        return d;
    }

    /**
     * {@link #decideTerminal(MoETrainingJob, GangState)}, and spec.ttlSecondsAfterFinished: the job is deleted that
     * long after status.completionTime (its pods, ConfigMap, Service and identity follow by owner reference; the
     * restart count lived in its status, so nothing is reset, it is gone), or looked at again then.
     */
    public static GangDecision decideTerminal(MoETrainingJob job, GangState gang, Instant now) {
        GangDecision d = decideTerminal(job, gang);
        Integer ttl = job.getSpec() != null ? job.getSpec().ttlSecondsAfterFinished : null;
        if (ttl == null) {
            return d;
        }
        if (d.status.completionTime == null) {
            d.status.completionTime = Conditions.time(now); // finished before completionTime was recorded
        }
        Instant due = FailureClassifier.parse(d.status.completionTime, now).plusSeconds(ttl);
        if (!now.isBefore(due)) {
            d.deleteJob = true;
        } else {
            d.requeueAfter(Duration.between(now, due));
        }
        return d;
    }

    /**
     * Seconds the job has been active in all (not suspended, not finished): status.activeSeconds of the stretches
     * before, plus the current stretch since status.activeSince.
     */
    static long activeSeconds(MoETrainingJobStatus s, Instant now) {
        long before = s.activeSeconds != null ? s.activeSeconds : 0;
        if (s.activeSince == null) {
            return before;
        }
        Duration current = Duration.between(FailureClassifier.parse(s.activeSince, now), now);
        return before + Math.max(0, current.toSeconds());
    }

    /** Stops the job's active clock (suspended or finished): the current stretch is added to activeSeconds. */
    static void stopActiveClock(MoETrainingJobStatus s, Instant now) {
        if (s.activeSince != null) {
            s.activeSeconds = activeSeconds(s, now);
            s.activeSince = null;
        }
    }

    /** The job succeeded or failed: its active clock stops, and spec.ttlSecondsAfterFinished starts. */
    private static void finished(MoETrainingJob job, MoETrainingJobStatus s, GangDecision d, Instant now) {
        s.completionTime = Conditions.time(now);
        stopActiveClock(s, now);
        Integer ttl = job.getSpec().ttlSecondsAfterFinished;
        if (ttl != null) {
            d.requeueAfter(Duration.ofSeconds(ttl));
        }
    }

    /**
     * spec.activeDeadlineSeconds: the job fails (DeadlineExceeded) once it has been active that long in all.
     * Counted on the job, from its first gang creation and across restarts (a restart does not give a job more
     * time, as a batch/v1 Job's pods do not), not counting time suspended (a job suspended for a queue or a
     * maintenance window is not running out of time). Returns whether the job failed; otherwise wakes up at the
     * deadline.
     */
    private static boolean deadlineExceeded(
            MoETrainingJob job, MoETrainingJobStatus s, GangDecision d, GangState gang, Instant now) {
        Long deadline = job.getSpec().activeDeadlineSeconds;
        if (deadline == null) {
            return false;
        }
        long active = activeSeconds(s, now);
        if (active < deadline) {
            d.requeueAfter(Duration.ofSeconds(deadline - active));
            return false;
        }
        Long gen = job.getMetadata().getGeneration();
        String message = "the job was active for " + active + "s, spec.activeDeadlineSeconds=" + deadline
                + " (time suspended not counted); its pods are stopped";
        s.phase = JobPhase.Failed;
        finished(job, s, d, now);
        Conditions.set(s, Conditions.FAILED, Conditions.TRUE, Reasons.DEADLINE_EXCEEDED, message, gen, now);
        Conditions.set(
                s, Conditions.GANG_SCHEDULED, Conditions.FALSE, Reasons.DEADLINE_EXCEEDED, "the job failed", gen, now);
        Conditions.set(s, Conditions.RUNNING, Conditions.FALSE, Reasons.DEADLINE_EXCEEDED, message, gen, now);
        d.events.add(JobEvent.warning(Reasons.DEADLINE_EXCEEDED, message));
        // Finished pods stay for their logs, as after any failure.
        for (Pod p : gang.allPods()) {
            if (!GangObserver.isFinished(p)) {
                d.delete(p);
            }
        }
        return true;
    }

    /** The plan engine rejected the spec: no pods, PlanValid=False with the engine's messages. */
    public static GangDecision decideInvalid(MoETrainingJob job, PlanResult result, GangState gang, Instant now) {
        MoETrainingJobStatus s = StatusUpdater.copyOf(job);
        GangDecision d = new GangDecision(s);
        Long gen = job.getMetadata().getGeneration();
        init(s, gen);
        String reason = result.errors().isEmpty()
                ? Reasons.PLAN_REJECTED
                : result.errors().get(0).rule();
        String message = result.errors().stream().map(PlanError::message).collect(Collectors.joining("; "));
        boolean news = Conditions.get(s, Conditions.PLAN_VALID)
                .map(c -> !Conditions.FALSE.equals(c.status)
                        || !Conditions.truncate(message).equals(c.message))
                .orElse(true);
        if (news) {
            d.events.add(JobEvent.warning(Reasons.PLAN_REJECTED, message));
            result.errors().stream().map(PlanError::rule).distinct().forEach(d.rejectedRules::add);
        }
        Conditions.set(s, Conditions.PLAN_VALID, Conditions.FALSE, reason, message, gen, now);
        Conditions.set(
                s,
                Conditions.GANG_SCHEDULED,
                Conditions.FALSE,
                Reasons.PLAN_INVALID,
                "no pods while the plan is invalid",
                gen,
                now);
        Conditions.set(
                s,
                Conditions.RUNNING,
                Conditions.FALSE,
                Reasons.PLAN_INVALID,
                "no pods while the plan is invalid",
                gen,
                now);
        s.phase = JobPhase.Invalid;
        d.deleteAll(gang);
        return d;
    }

    /** First and longest wait before retrying a refused write (see {@link #decideRejectedWrite}). */
    static final Duration REJECTED_WRITE_MIN_BACKOFF = Duration.ofSeconds(10);

    static final Duration REJECTED_WRITE_MAX_BACKOFF = Duration.ofMinutes(5);

    /**
     * A write of a derived object was refused (k8s.WriteRejection): DependentsReady=False naming the object, a
     * Warning Event when the message is new, and a retry after a backoff that doubles with the time the condition
     * has been False (10 s, 20 s, 40 s … 5 min), since nothing that could fix it (someone else's object going away)
     * wakes the operator. A gang that is not running yet is deleted: it cannot be complete, and it must not hold
     * GPUs meanwhile. A running gang keeps running: the refusal is reported, not acted on.
     */
    public static GangDecision decideRejectedWrite(
            MoETrainingJob job, String reason, String message, GangState gang, Instant now) {
        MoETrainingJobStatus s = StatusUpdater.copyOf(job);
        GangDecision d = new GangDecision(s);
        Long gen = job.getMetadata().getGeneration();
        init(s, gen);
        var previous = Conditions.get(s, Conditions.DEPENDENTS_READY);
        boolean news = previous.map(c -> !Conditions.FALSE.equals(c.status)
                        || !Conditions.truncate(message).equals(c.message))
                .orElse(true);
        if (news) {
            d.events.add(JobEvent.warning(reason, message));
        }
        Conditions.set(s, Conditions.DEPENDENTS_READY, Conditions.FALSE, reason, message, gen, now);
        if (s.phase != JobPhase.Running) {
            if (s.phase == null || s.phase == JobPhase.Invalid) {
                s.phase = JobPhase.Pending;
            }
            Conditions.set(
                    s,
                    Conditions.GANG_SCHEDULED,
                    Conditions.FALSE,
                    reason,
                    "no pods until the objects the job derives can be written (see DependentsReady)",
                    gen,
                    now);
            d.deleteAll(gang);
        }
        Instant since = Conditions.get(s, Conditions.DEPENDENTS_READY)
                .map(c -> FailureClassifier.parse(c.lastTransitionTime, now))
                .orElse(now);
        Duration waited = Duration.between(since, now);
        d.requeueAfter(
                waited.compareTo(REJECTED_WRITE_MIN_BACKOFF) < 0
                        ? REJECTED_WRITE_MIN_BACKOFF
                        : waited.compareTo(REJECTED_WRITE_MAX_BACKOFF) > 0 ? REJECTED_WRITE_MAX_BACKOFF : waited);
        return d;
    }

    /** The objects the job derives were written: DependentsReady=True (clears an earlier refusal). */
    public static void dependentsWritten(MoETrainingJob job, GangDecision d, Instant now) {
        Conditions.set(
                d.status,
                Conditions.DEPENDENTS_READY,
                Conditions.TRUE,
                Reasons.DEPENDENTS_WRITTEN,
                "plan ConfigMap, headless Service, trainer identity and pods are the job's own",
                job.getMetadata().getGeneration(),
                now);
    }

    /** A valid plan: create, watch, restart or finish the gang. */
    public static GangDecision decide(
            MoETrainingJob job, Plan plan, GangState gang, GangRestartPolicy policy, Instant now) {
        MoETrainingJobStatus s = StatusUpdater.copyOf(job);
        GangDecision d = new GangDecision(s);
        Long gen = job.getMetadata().getGeneration();
        init(s, gen);
        s.plan = PlanSummaries.of(plan);
        if (s.plan.warnings != null && s.plan.warnings.isEmpty()) {
            s.plan.warnings = null;
        }
        MemoryEstimate m = plan.memory();
        Conditions.set(
                s,
                Conditions.PLAN_VALID,
                Conditions.TRUE,
                Reasons.PLAN_ACCEPTED,
                plan.mesh() + "; estimated memory per GPU " + m.summary(),
                gen,
                now);
        s.progress = ProgressTracker.merge(
                s.progress,
                gang.rank0().flatMap(ProgressReader::read).orElse(null),
                job.getSpec().training != null ? job.getSpec().training.steps : null,
                now);

        forceStuckPods(gang, d, now);
        boolean suspend = Boolean.TRUE.equals(job.getSpec().suspend);
        // Checkpoint before stop: a running gang about to be stopped is asked for a checkpoint first, and kept
        // until it answers or the timeout passes (StopCheckpoint); a request once made is seen through even if
        // the suspend is lifted meanwhile (the trainer stops on it: the gang then stops as suspended, and the
        // next reconcile resumes it).
        Optional<Pod> disrupted = StopCheckpoint.disrupted(gang);
        if (suspend) {
            StopCheckpoint.request(job, s, d, StopCheckpoint.TRIGGER_SUSPEND, null, now);
        } else if (disrupted.isPresent()) {
            Pod p = disrupted.get();
            StopCheckpoint.request(
                    job,
                    s,
                    d,
                    StopCheckpoint.TRIGGER_DISRUPTION,
                    p.getMetadata().getName() + " " + FailureClassifier.disruptionReason(p),
                    now);
        }
        Optional<PodFailure> stopFor = Optional.empty();
        var pendingStop = StopCheckpoint.pending(s);
        if (pendingStop.isPresent()) {
            StopCheckpoint.Outcome outcome = StopCheckpoint.check(job, s, gang, d, now);
            if (outcome == StopCheckpoint.Outcome.WAITING) {
                return d;
            }
            StopCheckpoint.finish(job, s, d, outcome, now);
            if (StopCheckpoint.TRIGGER_SUSPEND.equals(pendingStop.get().trigger)) {
                suspend = true;
            } else {
                // The pods were asked to stop: the gang restarts for the disruption even if its mark is gone by
                // now (the pod GC clears a DisruptionTarget that no deletion followed).
                MoETrainingJobStatus.StopCheckpoint asked = pendingStop.get();
                Pod p = disrupted.orElseGet(() -> gang.current().values().stream()
                        .filter(q -> asked.detail != null
                                && asked.detail.startsWith(q.getMetadata().getName() + " "))
                        .findFirst()
                        .orElse(
                                gang.current().isEmpty()
                                        ? null
                                        : gang.current().values().iterator().next()));
                stopFor = p != null
                        ? Optional.of(FailureClassifier.disruption(
                                p, GangObserver.rankOf(p).orElse(0), now))
                        : Optional.empty();
            }
        }
        if (suspend) {
            stopActiveClock(s, now);
            d.deleteAll(gang);
            if (s.phase != JobPhase.Suspended) {
                d.events.add(JobEvent.normal(
                        Reasons.SUSPENDED, "gang deleted (" + gang.allPods().size() + " pods); status kept"));
            }
            s.phase = JobPhase.Suspended;
            Conditions.set(
                    s,
                    Conditions.SUSPENDED,
                    Conditions.TRUE,
                    Reasons.SUSPENDED_BY_USER,
                    "spec.suspend is true",
                    gen,
                    now);
            Conditions.set(
                    s,
                    Conditions.GANG_SCHEDULED,
                    Conditions.FALSE,
                    Reasons.SUSPENDED,
                    "the job is suspended",
                    gen,
                    now);
            Conditions.set(
                    s, Conditions.RUNNING, Conditions.FALSE, Reasons.SUSPENDED, "the job is suspended", gen, now);
            return d;
        }
        if (s.phase == JobPhase.Suspended) {
            d.events.add(JobEvent.normal(Reasons.RESUMED, "recreating the gang as attempt " + s.restartAttempt));
            s.phase = JobPhase.Pending;
        }
        if (s.phase == null || s.phase == JobPhase.Invalid) {
            s.phase = JobPhase.Pending;
        }
        Conditions.set(
                s, Conditions.SUSPENDED, Conditions.FALSE, Reasons.NOT_SUSPENDED, "spec.suspend is false", gen, now);
        if (s.activeSince == null) {
            s.activeSince = Conditions.time(now);
        }
        if (!gang.allSucceeded() && deadlineExceeded(job, s, d, gang, now)) {
            return d;
        }

        // Pods of earlier attempts never rejoin a gang.
        d.deleteStale(gang);

        if (s.phase == JobPhase.Restarting) {
            Instant next = policy.nextGangStart(s, now);
            if (now.isBefore(next)) {
                d.requeueAfter(Duration.between(now, next));
                return d;
            }
            if (gang.hasPods()) {
                // Ranks keep their names: wait until every old pod is gone (pod deletions wake us up too).
                d.deleteAll(gang);
                d.requeueAfter(TERMINATION_POLL);
                return d;
            }
            s.phase = JobPhase.Pending;
        }

        if (gang.failures().stream().anyMatch(f -> FailureClassifier.VANISHING.equals(f.reason()))) {
            // A rank vanished a moment ago and its delete event has not said why yet (PodTombstones): an eviction
            // must not be taken for a deletion. Nothing else is decided until it is classified.
            d.requeueAfter(PodTombstones.VANISHED_GRACE);
            return d;
        }
        if (!gang.failures().isEmpty()) {
            stopGang(job, s, d, gang, gang.failures().get(0), policy, now);
            return d;
        }
        if (stopFor.isPresent()) {
            // The checkpoint before a disruption is done and the disrupted pod is still there: stop for it now.
            stopGang(job, s, d, gang, stopFor.get(), policy, now);
            return d;
        }

        if (gang.allSucceeded()) {
            s.phase = JobPhase.Succeeded;
            finished(job, s, d, now);
            Conditions.set(
                    s,
                    Conditions.SUCCEEDED,
                    Conditions.TRUE,
                    Reasons.ALL_PODS_SUCCEEDED,
                    "every node rank exited 0",
                    gen,
                    now);
            Conditions.set(s, Conditions.RUNNING, Conditions.FALSE, Reasons.COMPLETED, "training finished", gen, now);
            d.events.add(JobEvent.normal(Reasons.SUCCEEDED, "all " + gang.nodes() + " pods succeeded"));
            return d;
        }

        List<Integer> missing = gang.missingRanks();
        if (!missing.isEmpty()) {
            var existing = gang.existingNames();
            int before = d.createRanks.size();
            for (int r : missing) {
                if (!existing.contains(GangNames.podName(job, r))) {
                    d.createRanks.add(r);
                }
            }
            if (d.createRanks.size() - before == gang.nodes()) {
                d.events.add(JobEvent.normal(
                        Reasons.GANG_CREATED,
                        "created " + gang.nodes() + " pods (" + plan.worldSize() + " GPUs) as attempt "
                                + s.restartAttempt));
            }
            if (d.createRanks.size() < missing.size()) {
                d.requeueAfter(TERMINATION_POLL);
            }
        }

        int nodes = gang.nodes();
        if (gang.allRunning()) {
            s.phase = JobPhase.Running;
            if (s.startTime == null) {
                s.startTime = Conditions.time(now);
            }
            Conditions.set(
                    s,
                    Conditions.GANG_SCHEDULED,
                    Conditions.TRUE,
                    Reasons.ALL_PODS_SCHEDULED,
                    GangMessages.allBound(nodes),
                    gen,
                    now);
            Conditions.set(
                    s,
                    Conditions.RUNNING,
                    Conditions.TRUE,
                    Reasons.ALL_PODS_RUNNING,
                    GangMessages.allRunning(nodes, s.restartAttempt),
                    gen,
                    now);
            StallDetector.check(s, gang, policy, d, now)
                    .ifPresent(stall -> stopGang(job, s, d, gang, stall, policy, now));
            return d;
        }
        s.phase = JobPhase.Pending;
        // No moving count in these messages while the gang forms (status.GangMessages says why).
        String pods = GangNames.JOB_LABEL + "=" + job.getMetadata().getName();
        if (gang.allScheduled()) {
            Conditions.set(
                    s,
                    Conditions.GANG_SCHEDULED,
                    Conditions.TRUE,
                    Reasons.ALL_PODS_SCHEDULED,
                    GangMessages.allBound(nodes),
                    gen,
                    now);
        } else {
            Conditions.set(
                    s,
                    Conditions.GANG_SCHEDULED,
                    Conditions.FALSE,
                    Reasons.WAITING_FOR_PODS,
                    GangMessages.awaitingBinding(nodes, pods),
                    gen,
                    now);
        }
        Conditions.set(
                s,
                Conditions.RUNNING,
                Conditions.FALSE,
                Reasons.WAITING_FOR_PODS,
                GangMessages.awaitingRunning(nodes, s.restartAttempt, pods),
                gen,
                now);
        reportProblem(job, s, d, gang, now);

        if (!new Placement(job, plan).queued()) {
            // Never hold GPUs with a partial gang: if it is not all running in time, give everything back. A gang
            // of which no pod is bound holds nothing; restarting it would change nothing (its pods wait in the
            // scheduler's queue, and GangScheduled says why), so it keeps waiting.
            Instant created = gang.oldestCreation().orElse(now);
            Instant deadline = created.plusSeconds(policy.gangSchedulingTimeoutSeconds());
            if (!now.isBefore(deadline) && !gang.current().isEmpty() && gang.scheduled() > 0) {
                int rank = gang.missingRanks().isEmpty()
                        ? firstNotRunning(gang)
                        : gang.missingRanks().get(0);
                PodFailure timeout = new PodFailure(
                        FailureClassifier.GANG_SCHEDULING_TIMEOUT,
                        GangNames.podName(job, rank),
                        rank,
                        null,
                        "only " + gang.running() + " of " + nodes
                                + " pods running after " + policy.gangSchedulingTimeoutSeconds() + "s"
                                + gang.problems().stream()
                                        .findFirst()
                                        .map(p -> " (" + p.describe() + ")")
                                        .orElse(""),
                        now);
                stopGang(job, s, d, gang, timeout, policy, now);
                return d;
            }
            d.requeueAfter(now.isBefore(deadline) ? Duration.between(now, deadline) : UNBOUND_GANG_RECHECK);
        } else {
            // Queued: Kueue decides when the gang starts and times it out. Its gates are set when the pods are
            // created (by Kueue's webhook), and the operator's own pod creates raise no event for it, so nothing
            // else would bring a waiting gang's status up to date: look again now and then.
            d.requeueAfter(QUEUED_GANG_RECHECK);
        }
        return d;
    }

    /** How often a queued gang that is not all running is looked at again (its status says why it waits). */
    static final Duration QUEUED_GANG_RECHECK = Duration.ofSeconds(15);

    /** How often a gang of which no pod is bound, past its scheduling timeout, is looked at again. */
    static final Duration UNBOUND_GANG_RECHECK = Duration.ofMinutes(1);

    /**
     * Says why the gang is not running, from the first pod with a problem: scheduling problems on GangScheduled,
     * container problems (image pull, container config) on Running. A Warning Event when the reason is new.
     */
    private static void reportProblem(
            MoETrainingJob job, MoETrainingJobStatus s, GangDecision d, GangState gang, Instant now) {
        if (gang.problems().isEmpty()) {
            return;
        }
        PodProblem first = gang.problems().get(0);
        int others = gang.problems().size() - 1;
        String message = first.describe() + (others > 0 ? " (and " + others + " more pods)" : "");
        boolean queued = PodProblem.AWAITING_ADMISSION.equals(first.reason());
        boolean scheduling = queued
                || PodProblem.UNSCHEDULABLE.equals(first.reason())
                || PodProblem.NO_NODE_FITS.equals(first.reason());
        String type = scheduling ? Conditions.GANG_SCHEDULED : Conditions.RUNNING;
        MoETrainingJobStatus before = job.getStatus();
        boolean news = before == null
                || Conditions.get(before, type)
                        .map(c -> !first.reason().equals(c.reason))
                        .orElse(true);
        if (news) {
            d.events.add(queued ? JobEvent.normal(first.reason(), message) : JobEvent.warning(first.reason(), message));
        }
        Conditions.set(
                s,
                type,
                Conditions.FALSE,
                first.reason(),
                GangMessages.withCounts(scheduling, gang.scheduled(), gang.running(), gang.nodes(), message),
                job.getMetadata().getGeneration(),
                now);
    }

    private static int firstNotRunning(GangState gang) {
        for (var e : gang.current().entrySet()) {
            String phase =
                    e.getValue().getStatus() != null ? e.getValue().getStatus().getPhase() : null;
            if (!"Running".equals(phase) && !"Succeeded".equals(phase)) {
                return e.getKey();
            }
        }
        return 0;
    }

    /**
     * A failure stops the whole gang: fail the job, or restart the gang after a backoff. What it does is the
     * policy's verdict ({@link FailureRules}); a gang-scheduling timeout is no failure of the training and always
     * restarts, counted apart.
     */
    static void stopGang(
            MoETrainingJob job,
            MoETrainingJobStatus s,
            GangDecision d,
            GangState gang,
            PodFailure failure,
            GangRestartPolicy policy,
            Instant now) {
        Long gen = job.getMetadata().getGeneration();
        d.stoppedBy = failure;
        boolean timeout = FailureClassifier.GANG_SCHEDULING_TIMEOUT.equals(failure.reason());
        FailureRules.Verdict verdict = timeout ? null : policy.verdict(failure);
        FailureRecord record = new FailureRecord();
        record.reason = failure.reason();
        record.pod = failure.pod();
        record.rank = failure.nodeRank();
        record.exitCode = failure.exitCode();
        record.time = Conditions.time(now);
        record.action = verdict != null ? verdict.action().name() : null;
        record.node = failure.node();
        record.message = boundedMessage(failure.message());
        s.lastFailure = record;
        if (s.infrastructureRestarts == null) {
            s.infrastructureRestarts = 0;
        }
        Conditions.set(s, Conditions.RUNNING, Conditions.FALSE, failure.reason(), failure.message(), gen, now);

        boolean uncounted = verdict != null && verdict.action() == Action.RestartGangUncounted;
        String failReason = null;
        String failMessage = null;
        if (verdict != null && verdict.action() == Action.FailJob) {
            boolean byCode = !verdict.source().startsWith("restartPolicy.rules");
            failReason = byCode ? Reasons.NON_RETRYABLE_EXIT_CODE : Reasons.FAILURE_RULE_MATCHED;
            failMessage = failure.message()
                    + (byCode
                            ? "; exit code " + failure.exitCode() + " is not retried (" + verdict.source() + ")"
                            : "; " + verdict.source() + " says FailJob");
        } else if (verdict != null && !uncounted && s.restarts >= policy.maxRestarts()) {
            failReason = Reasons.RESTART_LIMIT_EXCEEDED;
            failMessage = failure.message() + "; restartPolicy.maxRestarts=" + policy.maxRestarts() + " reached";
        } else if (uncounted && s.infrastructureRestarts >= policy.maxInfrastructureRestarts()) {
            failReason = Reasons.INFRASTRUCTURE_RESTART_LIMIT_EXCEEDED;
            failMessage = failure.message() + "; restartPolicy.maxInfrastructureRestarts="
                    + policy.maxInfrastructureRestarts() + " reached";
        }
        if (failReason != null) {
            s.lastFailure.action = Action.FailJob.name();
            s.phase = JobPhase.Failed;
            finished(job, s, d, now);
            Conditions.set(s, Conditions.FAILED, Conditions.TRUE, failReason, failMessage, gen, now);
            Conditions.set(s, Conditions.GANG_SCHEDULED, Conditions.FALSE, failReason, "the job failed", gen, now);
            d.events.add(JobEvent.warning(Reasons.FAILED, failMessage));
            // Stop the rest of the gang; finished pods stay for their logs.
            for (Pod p : gang.allPods()) {
                if (!GangObserver.isFinished(p)) {
                    d.delete(p);
                }
            }
            return;
        }
        recordRestart(s, record, s.restartAttempt);
        String excluded = BadNodes.record(s, failure, gang.spareNodes());
        if (excluded != null) {
            d.events.add(JobEvent.warning(
                    Reasons.NODE_EXCLUDED,
                    "node " + excluded + " is kept out of the next"
                            + " attempts (" + failure.reason() + " of " + failure.pod() + "; excluded nodes: "
                            + s.excludedNodes + ")"));
        }
        String counted;
        if (timeout) {
            counted = "";
        } else if (uncounted) {
            s.infrastructureRestarts = s.infrastructureRestarts + 1;
            counted = " (infrastructure restart " + s.infrastructureRestarts + " of "
                    + policy.maxInfrastructureRestarts() + ", " + verdict.source() + ")";
        } else {
            s.restarts = s.restarts + 1;
            counted = " (restart " + s.restarts + " of " + policy.maxRestarts() + ")";
        }
        s.restartAttempt = s.restartAttempt + 1;
        s.phase = JobPhase.Restarting;
        Duration delay = policy.backoff(GangRestartPolicy.restartIndex(s));
        Conditions.set(
                s,
                Conditions.GANG_SCHEDULED,
                Conditions.FALSE,
                Reasons.RESTARTING,
                "gang deleted after " + failure.reason() + "; next attempt " + s.restartAttempt + " in "
                        + delay.toSeconds() + "s",
                gen,
                now);
        d.events.add(JobEvent.warning(
                timeout ? FailureClassifier.GANG_SCHEDULING_TIMEOUT : Reasons.GANG_RESTART,
                failure.message() + "; restarting the whole gang" + counted + " as attempt " + s.restartAttempt
                        + " after " + delay.toSeconds() + "s"));
        d.restartReasons.add(failure.reason());
        d.deleteAll(gang);
        d.requeueAfter(delay);
    }

    /**
     * A failure message for the status: the operator's words and the termination message's tail are each bounded
     * already; this bounds their sum too (an untrusted pod status message is part of it), keeping the head (which
     * pod, what happened) and the tail (the last log lines).
     */
    static String boundedMessage(String message) {
        int max = MoETrainingJobStatus.MAX_FAILURE_RECORD_MESSAGE;
        if (message == null || message.length() <= max) {
            return message;
        }
        int head = 512;
        return message.substring(0, head) + " … " + message.substring(message.length() - (max - head - 3));
    }

    /** Appends a gang restart to status.restartHistory (newest last), keeping the last RESTART_HISTORY_LIMIT. */
    static void recordRestart(MoETrainingJobStatus s, FailureRecord failure, int attempt) {
        RestartRecord r = new RestartRecord();
        r.reason = failure.reason;
        r.pod = failure.pod;
        r.rank = failure.rank;
        r.exitCode = failure.exitCode;
        r.time = failure.time;
        r.attempt = attempt;
        r.action = failure.action;
        r.node = failure.node;
        r.message = failure.message;
        List<RestartRecord> history = new ArrayList<>(s.restartHistory != null ? s.restartHistory : List.of());
        history.add(r);
        int drop = history.size() - MoETrainingJobStatus.RESTART_HISTORY_LIMIT;
        s.restartHistory = drop > 0 ? new ArrayList<>(history.subList(drop, history.size())) : history;
    }

    private static void init(MoETrainingJobStatus s, Long gen) {
        s.observedGeneration = gen;
        if (s.restarts == null) {
            s.restarts = 0;
        }
        if (s.restartAttempt == null) {
            s.restartAttempt = 0;
        }
    }
}
