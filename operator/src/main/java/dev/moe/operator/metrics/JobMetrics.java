package dev.moe.operator.metrics;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.operator.gang.FailureClassifier;
import dev.moe.operator.k8s.WriteRejection;
import io.javaoperatorsdk.operator.api.reconciler.IndexedResourceCache;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import io.prometheus.client.CollectorRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

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
 *       phase): per-job figures from status, written by {@link JobSeriesCollector} from the job cache at scrape
 *       time (no meter per job); a deleted job's series are gone at the next scrape.</li>
 * </ul>
 * Label values come from closed sets (phases, reasons, rule ids, result) or are one series per existing job.
 */
@ApplicationScoped
public class JobMetrics {
    /** Per-job label: not "job", which Prometheus reserves for the scrape job. */
    public static final String JOB_TAG = "moejob";

    private static final Logger LOG = Logger.getLogger(JobMetrics.class);

    /** Where every meter of this class lives: Quarkus's Prometheus registry in the operator, any in a test. */
    MeterRegistry registry;

    /**
     * Quarkus's Prometheus registry itself, not the composite {@code MeterRegistry} bean over it. The operator starts
     * reconciling while Quarkus is still starting (after an operator restart, every job at once), before the
     * Prometheus registry joins the composite, and a composite with no registry under it drops what is recorded
     * into it. Measured with the composite: after a restart with 1,000 jobs, between none and 998 of the resync's
     * reconciles were counted in moe_reconcile_duration_seconds, and the per-job series were missing until the next
     * restart (the first reconcile found no Prometheus registry under the composite to add them to).
     */
    @Inject
    void useRegistry(PrometheusMeterRegistry prometheus) {
        this.registry = prometheus;
    }

    private volatile IndexedResourceCache<MoETrainingJob> cache;
    private final Map<String, Counter> rejections = new ConcurrentHashMap<>();
    private final Map<String, Counter> writeRejections = new ConcurrentHashMap<>();
    private final Map<String, Counter> restarts = new ConcurrentHashMap<>();
    private volatile boolean registered;
    /** Gauges that read this instance: removed when it goes, or a later instance would find them and not register. */
    private final List<Meter> gauges = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The per-job series, registered with the Prometheus registry under {@link #registry} (null: there is none). */
    private JobSeriesCollector jobSeries;

    private CollectorRegistry prometheusRegistry;

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
        prometheusRegistry = prometheusRegistryOf(registry);
        if (prometheusRegistry != null) {
            JobSeriesCollector collector = new JobSeriesCollector(this::cachedJobs);
            try {
                prometheusRegistry.register(collector);
                jobSeries = collector;
            } catch (IllegalArgumentException taken) {
                // Another instance's collector still holds the names (an application restart in one JVM, as in
                // tests): its series read that instance's cache; a reconcile must not fail over metrics.
                LOG.warnf("per-job series not registered: %s", taken.getMessage());
            }
        }
        registered = true;
    }

    /**
     * Removes the gauges that read this instance. Micrometer returns an existing meter of the same id instead of
     * registering a new one, and the global registry outlives an application restart (as in tests).
     */
    @jakarta.annotation.PreDestroy
    void close() {
        gauges.forEach(registry::remove);
        if (jobSeries != null) {
            prometheusRegistry.unregister(jobSeries);
            jobSeries = null;
        }
    }

    /** Binds the operator's primary cache (jobs) the gauges read from. */
    public void bind(IndexedResourceCache<MoETrainingJob> primaryCache) {
        if (this.cache == null) {
            synchronized (this) {
                if (this.cache == null) {
                    this.cache = primaryCache;
                }
            }
        }
        registerGlobal();
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

    /**
     * Called on every reconcile: the per-job series need nothing per job (JobSeriesCollector reads the cache at scrape
     * time), so this only makes sure the operator's meters and the collector are registered.
     */
    public void track(MoETrainingJob job) {
        registerGlobal();
    }

    private Stream<MoETrainingJob> cachedJobs() {
        IndexedResourceCache<MoETrainingJob> c = cache;
        return c != null ? c.list() : Stream.empty();
    }

    /** The simpleclient registry /q/metrics is written from; null for a test's registry of another kind. */
    static CollectorRegistry prometheusRegistryOf(MeterRegistry r) {
        return r instanceof PrometheusMeterRegistry p ? p.getPrometheusRegistry() : null;
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
                .mapToDouble(JobSeriesCollector::gpusOf)
                .sum();
    }

    private static JobPhase phaseOf(MoETrainingJob j) {
        return j.getStatus() != null && j.getStatus().phase != null ? j.getStatus().phase : JobPhase.Pending;
    }
}
