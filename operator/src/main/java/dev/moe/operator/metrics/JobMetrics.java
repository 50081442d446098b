package dev.moe.operator.metrics;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.operator.gang.FailureClassifier;
import dev.moe.operator.k8s.WriteRejection;
import io.javaoperatorsdk.operator.api.reconciler.IndexedResourceCache;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/**
 * The operator's Prometheus metrics (/q/metrics). Every figure a user sees in status is also a metric.
 *
 * <ul>
 *   <li>{@code moe_jobs{phase}}: jobs by phase (read from the operator's cache at scrape time).</li>
 *   <li>{@code moe_gpus_requested}: GPUs requested by gangs that have pods (Pending or Running).</li>
 *   <li>{@code moe_gang_restarts_total{reason}}: gang restarts by reason (ExitCode, Evicted, Preempted, NodeLost,
 *       PodDeleted, PodFailed, GangSchedulingTimeout).</li>
 *   <li>{@code moe_plan_rejections_total{rule}}: plan rejections by plan-engine rule id (a stored job that does
 *       not fit the Java types counts under the rule for its value: FieldType, ValueTooLarge, ..., SpecUnreadable).</li>
 *   <li>{@code moe_write_rejections_total{reason}}: refused writes of derived objects (ObjectNotOwned,
 *       ApiRejected).</li>
 *   <li>{@code moe_reconcile_duration_seconds{result}}: reconcile latency (histogram).</li>
 *   <li>{@code moe_job_step}, {@code moe_job_loss}, {@code moe_job_tokens_per_second}, {@code moe_job_mfu},
 *       {@code moe_job_last_checkpoint_step}, {@code moe_job_restarts}, {@code moe_job_gpus_requested}
 *       {@code {namespace, moejob}}, and {@code moe_job_phase{namespace, moejob, phase}} (1 for the current
 *       phase): per-job figures from status; removed when the job is deleted.</li>
 * </ul>
 * Label values come from closed sets (phases, reasons, rule ids, result) or are one series per existing job.
 */
@ApplicationScoped
public class JobMetrics {
    /** Per-job label: not "job", which Prometheus reserves for the scrape job. */
    public static final String JOB_TAG = "moejob";

    @Inject
    MeterRegistry registry;

    private volatile IndexedResourceCache<MoETrainingJob> cache;
    private final Map<ResourceID, List<Meter>> perJob = new ConcurrentHashMap<>();
    private final Map<String, Counter> rejections = new ConcurrentHashMap<>();
    private final Map<String, Counter> writeRejections = new ConcurrentHashMap<>();
    private final Map<String, Counter> restarts = new ConcurrentHashMap<>();
    private volatile boolean registered;
    /** Gauges that read this instance: removed when it goes, or a later instance would find them and not register. */
    private final List<Meter> gauges = new java.util.concurrent.CopyOnWriteArrayList<>();

    private static final long PRUNE_SECONDS = 30;
    private final ScheduledExecutorService pruner = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "moe-metrics-pruner");
        t.setDaemon(true);
        return t;
    });

    private synchronized void registerGlobal() {
        if (registered) {
            return;
        }
        for (JobPhase phase : JobPhase.values()) {
            gauges.add(Gauge.builder("moe.jobs", this, m -> m.countPhase(phase))
                    .description("MoETrainingJobs by phase")
                    .tag("phase", phase.name())
                    .register(registry));
        }
        gauges.add(Gauge.builder("moe.gpus.requested", this, JobMetrics::gpusRequested)
                .description("GPUs requested by gangs that have pods (Pending or Running jobs)")
                .register(registry));
        // Counters and timers of closed label sets exist from the start at 0, so a dashboard panel or an alert on
        // them has a series (0, not "no data") before the first restart, error or refused write.
        for (String reason : FailureClassifier.REASONS) {
            restartCounter(reason);
        }
        for (String reason : List.of(WriteRejection.OBJECT_NOT_OWNED, WriteRejection.API_REJECTED)) {
            writeRejectionCounter(reason);
        }
        reconcileTimer(true);
        reconcileTimer(false);
        registered = true;
    }

    /**
     * Removes the gauges that read this instance. Micrometer returns an existing meter of the same id instead of
     * registering a new one, and the global registry outlives an application restart (as in tests).
     */
    @jakarta.annotation.PreDestroy
    void close() {
        gauges.forEach(registry::remove);
        perJob.values().forEach(meters -> meters.forEach(registry::remove));
        pruner.shutdownNow();
    }

    /** Binds the operator's primary cache (jobs) the gauges read from. */
    public void bind(IndexedResourceCache<MoETrainingJob> primaryCache) {
        if (this.cache == null) {
            synchronized (this) {
                if (this.cache == null) {
                    this.cache = primaryCache;
                    // Deleted jobs trigger no reconcile: drop their series on a timer as well.
                    pruner.scheduleWithFixedDelay(this::prune, PRUNE_SECONDS, PRUNE_SECONDS, TimeUnit.SECONDS);
                }
            }
        }
        registerGlobal();
    }

    @PreDestroy
    void stop() {
        pruner.shutdownNow();
    }

    public Timer.Sample startReconcile() {
        return Timer.start(registry);
    }

    public void stopReconcile(Timer.Sample sample, boolean success) {
        sample.stop(reconcileTimer(success));
    }

    private Timer reconcileTimer(boolean success) {
        return Timer.builder("moe.reconcile.duration")
                .description("Reconcile duration")
                .tag("result", success ? "success" : "error")
                .publishPercentileHistogram()
                .register(registry);
    }

    private Counter restartCounter(String reason) {
        return restarts.computeIfAbsent(
                reason,
                r -> Counter.builder("moe.gang.restarts")
                        .description("Gang restarts by reason")
                        .tag("reason", r)
                        .register(registry));
    }

    public void gangRestarted(String reason) {
        registerGlobal();
        restartCounter(FailureClassifier.REASONS.contains(reason) ? reason : "Other")
                .increment();
    }

    public void planRejected(String rule) {
        registerGlobal();
        rejections
                .computeIfAbsent(
                        rule,
                        r -> Counter.builder("moe.plan.rejections")
                                .description("Plan rejections by plan-engine rule")
                                .tag("rule", r)
                                .register(registry))
                .increment();
    }

    /**
     * A derived object's write was refused (reason ObjectNotOwned or ApiRejected): an object of someone else under
     * the job's name, or the API server's 4xx.
     */
    public void writeRejected(String reason) {
        registerGlobal();
        writeRejectionCounter(reason).increment();
    }

    private Counter writeRejectionCounter(String reason) {
        return writeRejections.computeIfAbsent(
                reason,
                r -> Counter.builder("moe.write.rejections")
                        .description("Writes of derived objects refused (ObjectNotOwned, ApiRejected)")
                        .tag("reason", r)
                        .register(registry));
    }

    /** Makes sure the per-job gauges of {@code job} exist, and drops those of jobs that are gone. */
    public synchronized void track(MoETrainingJob job) {
        registerGlobal();
        ResourceID id = ResourceID.fromResource(job);
        perJob.computeIfAbsent(id, this::registerJob);
        prune();
    }

    private List<Meter> registerJob(ResourceID id) {
        Tags tags = Tags.of("namespace", id.getNamespace().orElse(""), JOB_TAG, id.getName());
        List<Meter> meters = new ArrayList<>();
        meters.add(jobGauge(
                "moe.job.step",
                "Optimizer steps done (rank 0 report)",
                id,
                tags,
                s -> s.progress != null ? num(s.progress.step) : Double.NaN));
        meters.add(jobGauge(
                "moe.job.loss",
                "Training loss at the last reported step",
                id,
                tags,
                s -> s.progress != null ? num(s.progress.loss) : Double.NaN));
        meters.add(jobGauge(
                "moe.job.tokens.per.second",
                "Tokens per second over the gang",
                id,
                tags,
                s -> s.progress != null ? num(s.progress.tokensPerSecond) : Double.NaN));
        meters.add(jobGauge(
                "moe.job.mfu",
                "Model FLOPs utilisation (0..1)",
                id,
                tags,
                s -> s.progress != null ? num(s.progress.mfu) : Double.NaN));
        meters.add(jobGauge(
                "moe.job.last.checkpoint.step",
                "Step of the newest complete checkpoint",
                id,
                tags,
                s -> s.progress != null ? num(s.progress.lastCheckpointStep) : Double.NaN));
        // Counts are 0 while status has none (a new job), not NaN: increase() over a series that starts with NaN is
        // NaN, so the restart alerts would miss the first restarts.
        meters.add(jobGauge("moe.job.restarts", "Gang restarts of the job", id, tags, s -> count(s.restarts)));
        meters.add(jobGauge(
                "moe.job.infrastructure.restarts",
                "Gang restarts of the job for infrastructure" + " failures (not counted toward maxRestarts)",
                id,
                tags,
                s -> count(s.infrastructureRestarts)));
        meters.add(jobGauge(
                "moe.job.percent.done",
                "Percent of training.steps done",
                id,
                tags,
                s -> s.progress != null ? num(s.progress.percentDone) : Double.NaN));
        meters.add(
                jobGauge("moe.job.gpus.requested", "GPUs the job's gang requests now", id, tags, JobMetrics::gpusOf));
        for (JobPhase phase : JobPhase.values()) {
            meters.add(jobGauge(
                    "moe.job.phase",
                    "1 for the job's current phase, 0 for the others",
                    id,
                    tags.and("phase", phase.name()),
                    s -> (s.phase != null ? s.phase : JobPhase.Pending) == phase ? 1 : 0));
        }
        return meters;
    }

    private Meter jobGauge(
            String name, String help, ResourceID id, Tags tags, ToDoubleFunction<MoETrainingJobStatus> f) {
        Function<ResourceID, Double> read = rid -> {
            IndexedResourceCache<MoETrainingJob> c = cache;
            if (c == null) {
                return Double.NaN;
            }
            // A job not yet given a status reads as an empty one: Pending, no restarts, no progress (NaN).
            return c.get(rid)
                    .map(j -> j.getStatus() != null ? j.getStatus() : new MoETrainingJobStatus())
                    .map(f::applyAsDouble)
                    .orElse(Double.NaN);
        };
        return Gauge.builder(name, id, rid -> read.apply(rid))
                .description(help)
                .tags(tags)
                .register(registry);
    }

    synchronized void prune() {
        IndexedResourceCache<MoETrainingJob> c = cache;
        if (c == null) {
            return;
        }
        for (ResourceID id : List.copyOf(perJob.keySet())) {
            if (c.get(id).isEmpty()) {
                List<Meter> meters = perJob.remove(id);
                if (meters != null) {
                    meters.forEach(registry::remove);
                }
            }
        }
    }

    private double countPhase(JobPhase phase) {
        IndexedResourceCache<MoETrainingJob> c = cache;
        if (c == null) {
            return 0;
        }
        return c.list().filter(j -> phaseOf(j) == phase).count();
    }

    private double gpusRequested() {
        IndexedResourceCache<MoETrainingJob> c = cache;
        if (c == null) {
            return 0;
        }
        return c.list()
                .map(MoETrainingJob::getStatus)
                .filter(s -> s != null)
                .mapToDouble(JobMetrics::gpusOf)
                .sum();
    }

    private static double gpusOf(MoETrainingJobStatus s) {
        if (s == null || s.plan == null || s.plan.worldSize == null) {
            return 0;
        }
        return s.phase == JobPhase.Pending || s.phase == JobPhase.Running ? s.plan.worldSize : 0;
    }

    private static JobPhase phaseOf(MoETrainingJob j) {
        return j.getStatus() != null && j.getStatus().phase != null ? j.getStatus().phase : JobPhase.Pending;
    }

    private static double num(Number n) {
        return n != null ? n.doubleValue() : Double.NaN;
    }

    private static double count(Number n) {
        return n != null ? n.doubleValue() : 0;
    }
}
