package dev.moe.operator;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.GangMode;
import dev.moe.operator.config.OperatorConfig;
import dev.moe.operator.dependents.HeadlessService;
import dev.moe.operator.dependents.PlanConfigMap;
import dev.moe.operator.dependents.PlanIsValid;
import dev.moe.operator.dependents.TrainerAccess;
import dev.moe.operator.dependents.TrainerEnvConfigMap;
import dev.moe.operator.dependents.TrainerServiceAccount;
import dev.moe.operator.gang.CachedPod;
import dev.moe.operator.gang.FailureClassifier;
import dev.moe.operator.gang.FleetFit;
import dev.moe.operator.gang.GangDecision;
import dev.moe.operator.gang.GangLifecycle;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.gang.GangObserver;
import dev.moe.operator.gang.GangRestartPolicy;
import dev.moe.operator.gang.GangState;
import dev.moe.operator.gang.NativeGang;
import dev.moe.operator.gang.Placement;
import dev.moe.operator.gang.PodProblem;
import dev.moe.operator.gang.PodTombstones;
import dev.moe.operator.k8s.BoundedParallel;
import dev.moe.operator.k8s.GangApi;
import dev.moe.operator.k8s.GangWriter;
import dev.moe.operator.k8s.JobEvents;
import dev.moe.operator.k8s.NodeFleet;
import dev.moe.operator.k8s.TrimmingItemStore;
import dev.moe.operator.k8s.WriteRejection;
import dev.moe.operator.metrics.JobMetrics;
import dev.moe.operator.planner.JobPlanner;
import dev.moe.operator.status.Reasons;
import dev.moe.operator.status.StatusUpdater;
import dev.moe.plan.Plan;
import dev.moe.plan.PlanResult;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Workflow;
import io.javaoperatorsdk.operator.api.reconciler.dependent.Dependent;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.micrometer.core.instrument.Timer;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * Reconciles MoETrainingJobs: observe → validate → reconcile, each in its own class.
 * <ol>
 *   <li>the job's singleton objects (plan and trainer-env ConfigMaps, headless Service, trainer ServiceAccount)
 *       are JOSDK dependents of a managed workflow ({@code dependents/}), reconciled before this class runs,
 *       only for a valid plan ({@link PlanIsValid}); the trainer's Role and RoleBinding ({@link TrainerAccess})
 *       are reconciled here, beside the first gang's creates;</li>
 *   <li>observe: the job's pods from the informer cache ({@link GangObserver});</li>
 *   <li>validate: the spec through the plan engine ({@link JobPlanner}, computed once per reconciliation); the
 *       reconciler does no plan arithmetic;</li>
 *   <li>decide: the gang's next step by {@link GangLifecycle} (pure); act: the pod writes by {@link GangWriter},
 *       Events and metrics, status patched only when it changed.</li>
 * </ol>
 * Backoffs and timeouts are rescheduled reconciles, never sleeps. A write refused for good (a name taken by
 * someone else's object, an API 4xx) reaches status through {@link #updateErrorStatus}. Every owned object carries
 * a controller owner reference, so deleting the job deletes them (garbage collection); no finalizer is needed.
 */
@Workflow(
        dependents = {
            @Dependent(
                    type = PlanConfigMap.class,
                    reconcilePrecondition = PlanIsValid.class,
                    useEventSourceWithName = MoETrainingJobReconciler.CONFIG_MAPS),
            @Dependent(
                    type = TrainerEnvConfigMap.class,
                    reconcilePrecondition = PlanIsValid.class,
                    useEventSourceWithName = MoETrainingJobReconciler.CONFIG_MAPS),
            @Dependent(type = HeadlessService.class, reconcilePrecondition = PlanIsValid.class),
            // Before the pods: the API server admits a pod only once its ServiceAccount exists. The Role and
            // RoleBinding are not here: TrainerAccess says why.
            @Dependent(type = TrainerServiceAccount.class, reconcilePrecondition = PlanIsValid.class)
        })
@ControllerConfiguration(
        name = MoETrainingJobReconciler.NAME,
        informer = @Informer(genericFilter = ManagedByOperator.class))
public class MoETrainingJobReconciler implements Reconciler<MoETrainingJob> {
    public static final String NAME = "moetrainingjob";
    /** The one ConfigMap informer of the job's two ConfigMaps (plan, trainer env). */
    static final String CONFIG_MAPS = "configmap";

    private static final Logger LOG = Logger.getLogger(MoETrainingJobReconciler.class);

    @Inject
    OperatorConfig config;

    @Inject
    JobMetrics metrics;

    @Inject
    NodeFleet fleet;

    @Inject
    GangApi gangApi;

    /** The clock; tests may replace it. */
    Clock clock = Clock.systemUTC();

    /**
     * Jobs whose write was refused, by uid: not retried before {@code at} unless their spec changed. Without it the
     * events of the job's own writes would retry at once: a gang that got one pod created before the refusal of
     * the next is given back (a pod deleted: an event), recreated, refused, given back, in a hot loop. In memory:
     * after an operator restart the first reconcile simply tries once more.
     */
    private final Map<String, RefusedUntil> refused = new ConcurrentHashMap<>();

    private record RefusedUntil(Long generation, Instant at) {}

    /** The trainer's Role and RoleBinding, reconciled beside the gang's creates (see the class). */
    private final TrainerAccess trainerAccess = new TrainerAccess();

    /** Deleted pods' last failures (an evicted pod that went before a reconcile saw it is still an eviction). */
    private final PodTombstones tombstones = new PodTombstones();

    /**
     * The pods: only those labelled with a job name, mapped to their job through the owner reference, each cached
     * with only the fields the operator reads ({@link CachedPod}).
     */
    @Override
    public List<EventSource<?, MoETrainingJob>> prepareEventSources(EventSourceContext<MoETrainingJob> context) {
        InformerEventSource<ConfigMap, MoETrainingJob> configMaps = new InformerEventSource<>(
                InformerEventSourceConfiguration.from(ConfigMap.class, MoETrainingJob.class)
                        .withName(CONFIG_MAPS)
                        .withLabelSelector(GangNames.JOB_LABEL)
                        .build(),
                context);
        List<EventSource<?, MoETrainingJob>> sources = new ArrayList<>(trainerAccess.eventSources(context));
        sources.add(configMaps);
        sources.add(new InformerEventSource<>(
                InformerEventSourceConfiguration.from(Pod.class, MoETrainingJob.class)
                        .withName("pod")
                        .withLabelSelector(GangNames.JOB_LABEL)
                        .withItemStore(new TrimmingItemStore<>(CachedPod::trim))
                        // An update that changes nothing the cache keeps wakes no reconcile (CachedPod).
                        .withOnUpdateFilter(CachedPod::changesWhatIsKept)
                        .withOnDeleteFilter((pod, unknownFinalState) -> {
                            if (!Boolean.TRUE.equals(unknownFinalState)) {
                                tombstones.record(pod, clock.instant());
                            }
                            return true;
                        })
                        .build(),
                context));
        return sources;
    }

    @Override
    public UpdateControl<MoETrainingJob> reconcile(MoETrainingJob job, Context<MoETrainingJob> ctx) {
        metrics.bind(ctx.getPrimaryCache());
        Timer.Sample sample = metrics.startReconcile();
        boolean ok = false;
        try {
            UpdateControl<MoETrainingJob> control = doReconcile(job, ctx);
            ok = true;
            return control;
        } finally {
            metrics.stopReconcile(sample, ok);
        }
    }

    private UpdateControl<MoETrainingJob> doReconcile(MoETrainingJob job, Context<MoETrainingJob> ctx) {
        if (job.getMetadata().getDeletionTimestamp() != null) {
            // Being deleted (foreground deletion or namespace teardown): garbage collection removes the gang.
            return UpdateControl.noUpdate();
        }
        if (!MoETrainingJobSpec.managedByOperator(job.getSpec())) {
            // Another controller's job (spec.managedBy); the event filter keeps these out, this is the last word.
            return UpdateControl.noUpdate();
        }
        RefusedUntil wait = refused.get(job.getMetadata().getUid());
        Instant now = clock.instant();
        if (wait != null
                && Objects.equals(wait.generation(), job.getMetadata().getGeneration())
                && now.isBefore(wait.at())) {
            return UpdateControl.<MoETrainingJob>noUpdate().rescheduleAfter(Duration.between(now, wait.at()));
        }
        try {
            UpdateControl<MoETrainingJob> control = decideAndAct(job, ctx);
            refused.remove(job.getMetadata().getUid());
            return control;
        } catch (KubernetesClientException e) {
            if (isNamespaceTerminating(e)) {
                LOG.debugf(
                        "namespace %s is terminating; leaving %s alone",
                        job.getMetadata().getNamespace(), job.getMetadata().getName());
                return UpdateControl.noUpdate();
            }
            throw e;
        }
    }

    private UpdateControl<MoETrainingJob> decideAndAct(MoETrainingJob job, Context<MoETrainingJob> ctx) {
        Instant now = clock.instant();
        String name = job.getMetadata().getName();
        String uid = job.getMetadata().getUid();
        Set<Pod> pods = ctx.getSecondaryResources(Pod.class);
        MoETrainingJobStatus before = job.getStatus();
        int attempt = before != null && before.restartAttempt != null ? before.restartAttempt : 0;
        GangRestartPolicy policy = GangRestartPolicy.of(job.getSpec() != null ? job.getSpec().restartPolicy : null);
        java.util.function.Predicate<dev.moe.operator.gang.PodFailure> codes = policy::failsJob;

        GangDecision decision;
        Plan plan = null;
        if (GangLifecycle.isTerminal(before)) {
            decision = GangLifecycle.decideTerminal(
                    job, GangObserver.observe(name, uid, pods, attempt, 0, false, codes, now), now);
            if (decision.deleteJob) {
                JobEvents.record(
                        ctx.getClient(),
                        job,
                        GangDecision.JobEvent.normal(
                                Reasons.TTL_EXPIRED,
                                "deleting the finished job: spec.ttlSecondsAfterFinished="
                                        + job.getSpec().ttlSecondsAfterFinished + " passed since "
                                        + before.completionTime),
                        now);
                GangWriter.deleteJob(ctx, job);
                return UpdateControl.noUpdate();
            }
        } else {
            PlanResult result = JobPlanner.plan(job, ctx);
            if (!result.isValid()) {
                decision = GangLifecycle.decideInvalid(
                        job, result, GangObserver.observe(name, uid, pods, attempt, 0, false, codes, now), now);
            } else {
                plan = result.plan();
                String namespace = job.getMetadata().getNamespace();
                GangState gang = noNodeFits(
                        job,
                        GangObserver.observe(
                                name,
                                uid,
                                pods,
                                attempt,
                                plan.nodes(),
                                GangLifecycle.gangStarted(before),
                                codes,
                                pod -> tombstones.vanished(namespace, pod, uid, attempt, now),
                                now),
                        ctx,
                        now);
                if (!gang.failures().isEmpty()) {
                    gang = gang.withSpareNodes(spareNodes(job, plan, ctx, now));
                }
                decision = GangLifecycle.decide(job, plan, gang, policy, now);
            }
        }
        if (decision.stoppedBy != null
                && FailureClassifier.POD_DELETED.equals(decision.stoppedBy.reason())
                && namespaceTerminating(ctx, job.getMetadata().getNamespace())) {
            // The namespace controller is deleting the pods, and the job next: not a failure of the gang.
            return UpdateControl.noUpdate();
        }
        if (plan != null) {
            Plan valid = plan;
            GangMode mode = gangMode(job, valid, decision, ctx, now);
            Runnable createGang =
                    () -> GangWriter.create(ctx, job, valid, decision, config.gangSettings(), mode, gangApi, now);
            Runnable reconcileAccess = () -> trainerAccess.reconcile(job, ctx);
            if (!decision.createRanks.isEmpty() && trainerAccess.missing(job, ctx)) {
                // The first gang: its pods do not wait for the RBAC escalation checks (TrainerAccess).
                trainerAccess.requireNamesFree(job, ctx);
                BoundedParallel.runBeside(reconcileAccess, createGang);
            } else {
                reconcileAccess.run();
                createGang.run();
            }
            GangLifecycle.dependentsWritten(job, decision, now);
        }
        GangWriter.annotate(ctx, job, decision);
        GangWriter.delete(ctx, job, decision);
        decision.events.forEach(e -> JobEvents.record(ctx.getClient(), job, e, now));
        decision.restartReasons.forEach(metrics::gangRestarted);
        decision.rejectedRules.forEach(metrics::planRejected);
        metrics.track(job);

        UpdateControl<MoETrainingJob> control;
        if (StatusUpdater.changed(before, decision.status)) {
            job.setStatus(decision.status);
            control = UpdateControl.patchStatus(job);
        } else {
            control = UpdateControl.noUpdate();
        }
        decision.requeue().ifPresent(control::rescheduleAfter);
        return control;
    }

    /**
     * How this attempt's gang is scheduled (status.gangMode), decided when the whole gang is created and kept while
     * the attempt lasts: its pods name a PodGroup or they do not, whatever the API server serves meanwhile.
     */
    private GangMode gangMode(
            MoETrainingJob job, Plan plan, GangDecision decision, Context<MoETrainingJob> ctx, Instant now) {
        MoETrainingJobStatus s = decision.status;
        if (decision.createRanks.isEmpty() || (s.gangMode != null && decision.createRanks.size() < plan.nodes())) {
            return s.gangMode;
        }
        Placement placement = new Placement(job, plan);
        s.gangMode = NativeGang.mode(placement, !placement.queued() && gangApi.served(ctx.getClient(), now));
        return s.gangMode;
    }

    /**
     * When no pod of the gang can be scheduled, asks whether any node could ever take one (see {@link FleetFit});
     * if none can, that becomes the gang's first problem.
     */
    /** Fitting nodes of the cluster beyond the gang's: how many bad nodes the job may exclude (gang.BadNodes). */
    private int spareNodes(MoETrainingJob job, Plan plan, Context<MoETrainingJob> ctx, Instant now) {
        Map<String, String> selector = new Placement(job, plan).nodeSelector();
        return fleet.matching(ctx.getClient(), selector, now)
                .map(nodes -> FleetFit.fitting(nodes, selector, plan.gpusPerNode()) - plan.nodes())
                .orElse(0);
    }

    private GangState noNodeFits(MoETrainingJob job, GangState gang, Context<MoETrainingJob> ctx, Instant now) {
        if (gang.scheduled() > 0
                || gang.problems().stream().noneMatch(p -> PodProblem.UNSCHEDULABLE.equals(p.reason()))) {
            return gang;
        }
        Pod pod = gang.current().values().iterator().next();
        Map<String, String> selector = pod.getSpec().getNodeSelector();
        int gpus = job.getSpec().resources.gpusPerNode != null ? job.getSpec().resources.gpusPerNode : 1;
        return fleet.matching(ctx.getClient(), selector, now)
                .flatMap(nodes ->
                        FleetFit.check(nodes, selector, gpus, pod.getMetadata().getName()))
                .map(gang::withFirstProblem)
                .orElse(gang);
    }

    /**
     * A refused write of a derived object (someone else's object under the job's name, or the API server's 4xx),
     * by a dependent of the workflow or by the gang, is reported on the job and retried with backoff (see
     * {@link GangLifecycle#decideRejectedWrite}); any other error goes to the framework's retry.
     */
    @Override
    public ErrorStatusUpdateControl<MoETrainingJob> updateErrorStatus(
            MoETrainingJob job, Context<MoETrainingJob> ctx, Exception e) {
        var rejection = WriteRejection.of(e);
        if (rejection.isEmpty()) {
            return ErrorStatusUpdateControl.defaultErrorProcessing();
        }
        WriteRejection r = rejection.get();
        Instant now = clock.instant();
        if (r.namespaceTerminating()) {
            return ErrorStatusUpdateControl.<MoETrainingJob>noStatusUpdate().withNoRetry();
        }
        LOG.warnf(
                "%s/%s: %s: %s",
                job.getMetadata().getNamespace(), job.getMetadata().getName(), r.reason(), r.message());
        MoETrainingJobStatus before = job.getStatus();
        int attempt = before != null && before.restartAttempt != null ? before.restartAttempt : 0;
        GangState gang = GangObserver.observe(
                job.getMetadata().getName(),
                job.getMetadata().getUid(),
                ctx.getSecondaryResources(Pod.class),
                attempt,
                0,
                false,
                List.of(),
                now);
        GangDecision decision = GangLifecycle.decideRejectedWrite(job, r.reason(), r.message(), gang, now);
        GangWriter.delete(ctx, job, decision);
        decision.events.forEach(ev -> JobEvents.record(ctx.getClient(), job, ev, now));
        metrics.writeRejected(r.reason());
        ErrorStatusUpdateControl<MoETrainingJob> control;
        if (StatusUpdater.changed(before, decision.status)) {
            job.setStatus(decision.status);
            control = ErrorStatusUpdateControl.patchStatus(job);
        } else {
            control = ErrorStatusUpdateControl.noStatusUpdate();
        }
        Duration delay = decision.requeue().orElse(Duration.ofMinutes(1));
        refused.values().removeIf(old -> old.at().isBefore(now.minus(Duration.ofHours(1)))); // jobs deleted meanwhile
        refused.put(
                job.getMetadata().getUid(), new RefusedUntil(job.getMetadata().getGeneration(), now.plus(delay)));
        return control.rescheduleAfter(delay);
    }

    /** Whether the namespace is being deleted (false when it cannot be read). */
    private static boolean namespaceTerminating(Context<MoETrainingJob> ctx, String namespace) {
        try {
            Namespace ns = ctx.getClient().namespaces().withName(namespace).get();
            return ns != null
                    && (ns.getMetadata().getDeletionTimestamp() != null
                            || (ns.getStatus() != null
                                    && "Terminating".equals(ns.getStatus().getPhase())));
        } catch (KubernetesClientException e) {
            LOG.debugf("cannot read namespace %s: %s", namespace, e.getMessage());
            return false;
        }
    }

    static boolean isNamespaceTerminating(KubernetesClientException e) {
        return WriteRejection.isNamespaceTerminating(e);
    }
}
