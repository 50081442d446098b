package dev.moe.operator;

import dev.moe.operator.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.operator.gang.FailureClassifier;
import dev.moe.operator.gang.FleetFit;
import dev.moe.operator.gang.PodProblem;
import dev.moe.operator.gang.GangDecision;
import dev.moe.operator.gang.GangLifecycle;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.gang.GangObserver;
import dev.moe.operator.gang.GangPodFactory;
import dev.moe.operator.gang.GangRestartPolicy;
import dev.moe.operator.gang.GangSettings;
import dev.moe.operator.gang.GangState;
import dev.moe.operator.gang.JobResourceFactory;
import dev.moe.operator.k8s.BoundedParallel;
import dev.moe.operator.k8s.DependentWriter;
import dev.moe.operator.k8s.JobEvents;
import dev.moe.operator.k8s.NodeFleet;
import dev.moe.operator.k8s.WriteRejection;
import dev.moe.operator.metrics.JobMetrics;
import dev.moe.operator.status.StatusUpdater;
import dev.moe.plan.Plan;
import dev.moe.plan.PlanResult;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
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
import org.jboss.logging.Logger;

/**
 * Reconciles MoETrainingJobs: observe → validate → reconcile, each in its own class.
 * <ol>
 *   <li>observe: the job's pods from the informer cache ({@link GangObserver});</li>
 *   <li>validate: the spec through the plan engine ({@link JobPlanner}); the reconciler does no plan
 *       arithmetic;</li>
 *   <li>reconcile: dependents written only when they differ ({@link DependentWriter}), the gang's next step
 *       decided by {@link GangLifecycle} (pure) and carried out here, Events and metrics recorded, status
 *       patched only when it changed.</li>
 * </ol>
 * Backoffs and timeouts are rescheduled reconciles, never sleeps. Every owned object carries a controller owner
 * reference, so deleting the job deletes them (garbage collection); no finalizer is needed.
 */
@ControllerConfiguration(name = MoETrainingJobReconciler.NAME)
public class MoETrainingJobReconciler implements Reconciler<MoETrainingJob> {
    public static final String NAME = "moetrainingjob";
    private static final Logger LOG = Logger.getLogger(MoETrainingJobReconciler.class);

    @Inject
    OperatorConfig config;

    @Inject
    JobMetrics metrics;

    @Inject
    NodeFleet fleet;

    /** The clock; tests may replace it. */
    Clock clock = Clock.systemUTC();

    @Override
    public List<EventSource<?, MoETrainingJob>> prepareEventSources(EventSourceContext<MoETrainingJob> context) {
        return List.of(
                informer(context, Pod.class),
                informer(context, ConfigMap.class),
                informer(context, Service.class),
                informer(context, ServiceAccount.class),
                informer(context, Role.class),
                informer(context, RoleBinding.class));
    }

    /** Watches only objects labelled with a job name; maps them to their job through the owner reference. */
    private static <R extends HasMetadata> InformerEventSource<R, MoETrainingJob> informer(
            EventSourceContext<MoETrainingJob> context, Class<R> type) {
        return new InformerEventSource<>(InformerEventSourceConfiguration.from(type, MoETrainingJob.class)
                .withName(type.getSimpleName().toLowerCase())
                .withLabelSelector(GangNames.JOB_LABEL)
                .build(), context);
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
        try {
            return decideAndAct(job, ctx);
        } catch (KubernetesClientException e) {
            if (isNamespaceTerminating(e)) {
                LOG.debugf("namespace %s is terminating; leaving %s alone", job.getMetadata().getNamespace(),
                        job.getMetadata().getName());
                return UpdateControl.noUpdate();
            }
            throw e;
        }
    }

    /** Whether the namespace is being deleted (false when it cannot be read). */
    private static boolean namespaceTerminating(Context<MoETrainingJob> ctx, String namespace) {
        try {
            Namespace ns = ctx.getClient().namespaces().withName(namespace).get();
            return ns != null && (ns.getMetadata().getDeletionTimestamp() != null
                    || (ns.getStatus() != null && "Terminating".equals(ns.getStatus().getPhase())));
        } catch (KubernetesClientException e) {
            LOG.debugf("cannot read namespace %s: %s", namespace, e.getMessage());
            return false;
        }
    }

    static boolean isNamespaceTerminating(KubernetesClientException e) {
        return e.getCode() == 403 && e.getStatus() != null && e.getStatus().getDetails() != null
                && e.getStatus().getDetails().getCauses() != null && e.getStatus().getDetails().getCauses().stream()
                        .anyMatch(c -> "NamespaceTerminating".equals(c.getReason()));
    }

    private UpdateControl<MoETrainingJob> decideAndAct(MoETrainingJob job, Context<MoETrainingJob> ctx) {
        Instant now = clock.instant();
        String name = job.getMetadata().getName();
        Set<Pod> pods = ctx.getSecondaryResources(Pod.class);
        MoETrainingJobStatus before = job.getStatus();
        int attempt = before != null && before.restartAttempt != null ? before.restartAttempt : 0;
        GangRestartPolicy policy = GangRestartPolicy.of(job.getSpec() != null ? job.getSpec().restartPolicy : null);

        String uid = job.getMetadata().getUid();
        List<Integer> codes = policy.nonRetryableExitCodes();
        GangDecision decision;
        Plan plan = null;
        if (GangLifecycle.isTerminal(before)) {
            decision = GangLifecycle.decideTerminal(job, GangObserver.observe(name, uid, pods, attempt, 0, false,
                    codes, now));
        } else {
            PlanResult result = JobPlanner.plan(job);
            if (!result.isValid()) {
                decision = GangLifecycle.decideInvalid(job, result, GangObserver.observe(name, uid, pods, attempt, 0,
                        false, codes, now), now);
            } else {
                plan = result.plan();
                ensureDependents(job, plan, ctx);
                GangState gang = noNodeFits(job, GangObserver.observe(name, uid, pods, attempt, plan.nodes(),
                        GangLifecycle.gangStarted(before), codes, now), ctx, now);
                decision = GangLifecycle.decide(job, plan, gang, policy, now);
            }
        }
        if (decision.stoppedBy != null && FailureClassifier.POD_DELETED.equals(decision.stoppedBy.reason())
                && namespaceTerminating(ctx, job.getMetadata().getNamespace())) {
            // The namespace controller is deleting the pods, and the job next: not a failure of the gang.
            return UpdateControl.noUpdate();
        }
        if (plan != null) {
            createPods(job, plan, decision, ctx);
            GangLifecycle.dependentsWritten(job, decision, now);
        }
        deletePods(job, decision, ctx);
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
     * When no pod of the gang can be scheduled, asks whether any node could ever take one (see {@link FleetFit});
     * if none can, that becomes the gang's first problem.
     */
    private GangState noNodeFits(MoETrainingJob job, GangState gang, Context<MoETrainingJob> ctx, Instant now) {
        if (gang.scheduled() > 0 || gang.problems().stream().noneMatch(p -> PodProblem.UNSCHEDULABLE.equals(p.reason()))) {
            return gang;
        }
        Pod pod = gang.current().values().iterator().next();
        Map<String, String> selector = pod.getSpec().getNodeSelector();
        int gpus = job.getSpec().resources.gpusPerNode != null ? job.getSpec().resources.gpusPerNode : 1;
        return fleet.matching(ctx.getClient(), selector, now)
                .flatMap(nodes -> FleetFit.check(nodes, selector, gpus, pod.getMetadata().getName()))
                .map(gang::withFirstProblem).orElse(gang);
    }

    /**
     * A refused write of a derived object (someone else's object under the job's name, or the API server's 4xx)
     * is reported on the job and retried with backoff (see {@link GangLifecycle#decideRejectedWrite}); any other
     * error goes to the framework's retry.
     */
    @Override
    public ErrorStatusUpdateControl<MoETrainingJob> updateErrorStatus(MoETrainingJob job, Context<MoETrainingJob> ctx,
            Exception e) {
        var rejection = WriteRejection.of(e);
        if (rejection.isEmpty()) {
            return ErrorStatusUpdateControl.defaultErrorProcessing();
        }
        WriteRejection r = rejection.get();
        Instant now = clock.instant();
        LOG.warnf("%s/%s: %s: %s", job.getMetadata().getNamespace(), job.getMetadata().getName(), r.reason(),
                r.message());
        MoETrainingJobStatus before = job.getStatus();
        int attempt = before != null && before.restartAttempt != null ? before.restartAttempt : 0;
        GangState gang = GangObserver.observe(job.getMetadata().getName(), job.getMetadata().getUid(),
                ctx.getSecondaryResources(Pod.class), attempt, 0, false, List.of(), now);
        GangDecision decision = GangLifecycle.decideRejectedWrite(job, r.reason(), r.message(), gang, now);
        deletePods(job, decision, ctx);
        decision.events.forEach(ev -> JobEvents.record(ctx.getClient(), job, ev, now));
        metrics.writeRejected(r.reason());
        ErrorStatusUpdateControl<MoETrainingJob> control;
        if (StatusUpdater.changed(before, decision.status)) {
            job.setStatus(decision.status);
            control = ErrorStatusUpdateControl.patchStatus(job);
        } else {
            control = ErrorStatusUpdateControl.noStatusUpdate();
        }
        return control.rescheduleAfter(decision.requeue().orElse(Duration.ofMinutes(1)));
    }

    private void ensureDependents(MoETrainingJob job, Plan plan, Context<MoETrainingJob> ctx) {
        boolean ssa = config.serverSideApply();
        GangSettings settings = config.gangSettings();
        DependentWriter.ensure(ctx, job, ssa, JobResourceFactory.planConfigMap(job, plan),
                ctx.getSecondaryResource(ConfigMap.class),
                (d, a) -> Objects.equals(d.getData(), a.getData()),
                (d, a) -> {
                    a.setData(d.getData());
                    return a;
                });
        DependentWriter.ensure(ctx, job, ssa, JobResourceFactory.headlessService(job, settings.masterPort()),
                ctx.getSecondaryResource(Service.class),
                (d, a) -> a.getSpec() != null && "None".equals(a.getSpec().getClusterIP())
                        && Objects.equals(d.getSpec().getSelector(), a.getSpec().getSelector())
                        && Boolean.TRUE.equals(a.getSpec().getPublishNotReadyAddresses())
                        && a.getSpec().getPorts() != null && a.getSpec().getPorts().size() == 1
                        && Objects.equals(a.getSpec().getPorts().get(0).getPort(), settings.masterPort()),
                (d, a) -> {
                    a.getSpec().setSelector(d.getSpec().getSelector());
                    a.getSpec().setPorts(d.getSpec().getPorts());
                    a.getSpec().setPublishNotReadyAddresses(true);
                    return a;
                });
        DependentWriter.ensure(ctx, job, ssa, JobResourceFactory.trainerServiceAccount(job),
                ctx.getSecondaryResource(ServiceAccount.class), (d, a) -> true, (d, a) -> a);
        DependentWriter.ensure(ctx, job, ssa, JobResourceFactory.trainerRole(job, plan.nodes()),
                ctx.getSecondaryResource(Role.class),
                (d, a) -> Objects.equals(d.getRules(), a.getRules()),
                (d, a) -> {
                    a.setRules(d.getRules());
                    return a;
                });
        DependentWriter.ensure(ctx, job, ssa, JobResourceFactory.trainerRoleBinding(job),
                ctx.getSecondaryResource(RoleBinding.class),
                (d, a) -> Objects.equals(d.getSubjects(), a.getSubjects())
                        && Objects.equals(d.getRoleRef(), a.getRoleRef()),
                (d, a) -> {
                    a.setSubjects(d.getSubjects());
                    return a;
                });
    }

    /**
     * Creates the decided ranks, up to {@link BoundedParallel#MAX_IN_FLIGHT} at a time. Names are deterministic, so
     * a create that meets an existing pod is a no-op (an operator restart never duplicates a rank). One failed
     * create does not stop the others of its wave; the first failure is rethrown and the next reconcile creates
     * what is still missing.
     *
     * <p>When expert groups span nodes (required podAffinity within the group), the groups are created one after
     * another, in rank order: every pod of group g is in the scheduler's queue before the first pod of group g+1,
     * so the scheduler places a whole group before the next one can take nodes in its topology domain (created
     * all at once, two groups could each take half a rack and neither fit). Otherwise the whole gang is one wave.
     */
    private void createPods(MoETrainingJob job, Plan plan, GangDecision decision, Context<MoETrainingJob> ctx) {
        int attempt = decision.status.restartAttempt;
        List<List<Runnable>> waves = new ArrayList<>();
        String lastGroup = null;
        for (int rank : decision.createRanks) {
            Pod pod = GangPodFactory.render(job, plan, attempt, rank, config.gangSettings());
            String group = groupAffinity(pod) ? pod.getMetadata().getLabels().get(GangNames.EXPERT_GROUP_LABEL) : null;
            if (waves.isEmpty() || (group != null && !group.equals(lastGroup))) {
                waves.add(new ArrayList<>());
            }
            lastGroup = group;
            // A pod of this job that already exists is left alone (the cache was behind); a pod of that name the
            // job does not control stops the gang (ObjectNotOwnedException).
            waves.get(waves.size() - 1).add(() -> DependentWriter.create(ctx, job, pod));
        }
        for (List<Runnable> wave : waves) {
            BoundedParallel.runAll(wave);
        }
    }

    private static boolean hasLabel(Pod p, String key, String value) {
        return p.getMetadata().getLabels() != null && value.equals(p.getMetadata().getLabels().get(key));
    }

    private static boolean ofJob(Pod p, String ns, String name) {
        return ns.equals(p.getMetadata().getNamespace()) && p.getMetadata().getLabels() != null
                && name.equals(p.getMetadata().getLabels().get(GangNames.JOB_LABEL));
    }

    /** Whether the pod must land with the other pods of its expert group (required podAffinity). */
    private static boolean groupAffinity(Pod pod) {
        var affinity = pod.getSpec().getAffinity();
        return affinity != null && affinity.getPodAffinity() != null
                && affinity.getPodAffinity().getRequiredDuringSchedulingIgnoredDuringExecution() != null
                && !affinity.getPodAffinity().getRequiredDuringSchedulingIgnoredDuringExecution().isEmpty();
    }

    /**
     * Deletes the decided pods. When the decision stops the whole gang, one deletecollection replaces a DELETE per
     * pod (one API write instead of one per node); stale pods of earlier attempts go the same way with
     * {@code attempt != current}. The selector always includes the job's uid label, so it can only reach pods this
     * job created; pods without that label (created before it existed) are deleted one by one. A selector is used
     * only when every pod to delete matches it and nothing that must stay can: the whole-gang delete never runs in
     * a decision that also creates pods.
     */
    private void deletePods(MoETrainingJob job, GangDecision decision, Context<MoETrainingJob> ctx) {
        String ns = job.getMetadata().getNamespace();
        String name = job.getMetadata().getName();
        String uid = job.getMetadata().getUid();
        String attempt = String.valueOf(decision.status.restartAttempt);
        var pods = ctx.getClient().pods().inNamespace(ns);
        List<Pod> oneByOne = decision.deletePods;
        if (uid != null && decision.deleteGang && decision.createRanks.isEmpty()
                && decision.deletePods.stream().allMatch(p -> ofJob(p, ns, name))) {
            pods.withLabel(GangNames.JOB_LABEL, name).withLabel(GangNames.JOB_UID_LABEL, uid).delete();
            oneByOne = decision.deletePods.stream().filter(p -> !hasLabel(p, GangNames.JOB_UID_LABEL, uid)).toList();
        } else if (uid != null && decision.deleteOtherAttempts && decision.deletePods.stream()
                .allMatch(p -> ofJob(p, ns, name) && !attempt.equals(p.getMetadata().getLabels()
                        .get(GangNames.ATTEMPT_LABEL)) && p.getMetadata().getLabels()
                        .containsKey(GangNames.ATTEMPT_LABEL))) {
            pods.withLabel(GangNames.JOB_LABEL, name).withLabel(GangNames.JOB_UID_LABEL, uid)
                    .withLabel(GangNames.ATTEMPT_LABEL).withoutLabel(GangNames.ATTEMPT_LABEL, attempt).delete();
            oneByOne = decision.deletePods.stream().filter(p -> !hasLabel(p, GangNames.JOB_UID_LABEL, uid)).toList();
        }
        for (Pod p : oneByOne) {
            ctx.getClient().pods().inNamespace(p.getMetadata().getNamespace())
                    .withName(p.getMetadata().getName()).delete();
        }
        for (Pod p : decision.forceDeletePods) {
            LOG.warnf("force-deleting %s/%s, terminating since %s (node unreachable?)", p.getMetadata().getNamespace(),
                    p.getMetadata().getName(), p.getMetadata().getDeletionTimestamp());
            ctx.getClient().pods().inNamespace(p.getMetadata().getNamespace()).withName(p.getMetadata().getName())
                    .withGracePeriod(0).delete();
        }
    }
}
