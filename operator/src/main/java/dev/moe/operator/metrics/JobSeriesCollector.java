package dev.moe.operator.metrics;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.Progress;
import io.prometheus.client.Collector;
import io.prometheus.client.GaugeMetricFamily;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import java.util.stream.Stream;

/**
 * The per-job series ({@code moe_job_*{namespace, moejob}}), built from the job cache at scrape time, the way
 * kube-state-metrics does: nothing is held per job between scrapes, so a deleted job's series vanish with the job
 * and 1,000 jobs cost no meters (16 Micrometer gauges per job held ≈ 4 MB of heap: bench/results.md). Registered
 * with the Prometheus registry under Micrometer's PrometheusMeterRegistry (simpleclient 0.16), so the series come
 * out of /q/metrics beside the Micrometer meters, with the names, labels, help and type they had as gauges.
 */
final class JobSeriesCollector extends Collector {
    private record Series(String name, String help, ToDoubleFunction<MoETrainingJobStatus> value) {}

    // A job not yet given a status reads as an empty one: Pending, no restarts, no progress (NaN).
    // Counts are 0 while status has none (a new job), not NaN: increase() over a series that starts with NaN is NaN,
    // so the restart alerts would miss the first restarts.
    private static final List<Series> SERIES = List.of(
            new Series("moe_job_step", "Optimizer steps done (rank 0 report)", progress(p -> p.step)),
            new Series("moe_job_loss", "Training loss at the last reported step", progress(p -> p.loss)),
            new Series(
                    "moe_job_tokens_per_second", "Tokens per second over the gang", progress(p -> p.tokensPerSecond)),
            new Series("moe_job_mfu", "Model FLOPs utilisation (0..1)", progress(p -> p.mfu)),
            new Series(
                    "moe_job_last_checkpoint_step",
                    "Step of the newest complete checkpoint",
                    progress(p -> p.lastCheckpointStep)),
            new Series("moe_job_restarts", "Gang restarts of the job", s -> count(s.restarts)),
            new Series(
                    "moe_job_infrastructure_restarts",
                    "Gang restarts of the job for infrastructure failures (not counted toward maxRestarts)",
                    s -> count(s.infrastructureRestarts)),
            new Series("moe_job_percent_done", "Percent of training.steps done", progress(p -> p.percentDone)),
            new Series("moe_job_gpus_requested", "GPUs the job's gang requests now", JobSeriesCollector::gpusOf));

    static final String PHASE = "moe_job_phase";
    // In the order Micrometer wrote them (tag keys sorted), so the exposition text stays as it was.
    private static final List<String> LABELS = List.of(JobMetrics.JOB_TAG, "namespace");
    private static final List<String> PHASE_LABELS = List.of(JobMetrics.JOB_TAG, "namespace", "phase");

    /** The jobs of the operator's cache at the time of the scrape (empty before the cache is bound). */
    private final Supplier<Stream<MoETrainingJob>> jobs;

    JobSeriesCollector(Supplier<Stream<MoETrainingJob>> jobs) {
        this.jobs = jobs;
    }

    @Override
    public List<MetricFamilySamples> collect() {
        List<GaugeMetricFamily> families = new ArrayList<>(SERIES.size());
        for (Series s : SERIES) {
            families.add(new GaugeMetricFamily(s.name(), s.help(), LABELS));
        }
        GaugeMetricFamily phases =
                new GaugeMetricFamily(PHASE, "1 for the job's current phase, 0 for the others", PHASE_LABELS);
        jobs.get().forEach(job -> {
            MoETrainingJobStatus status = job.getStatus() != null ? job.getStatus() : new MoETrainingJobStatus();
            String ns =
                    job.getMetadata().getNamespace() != null ? job.getMetadata().getNamespace() : "";
            String name = job.getMetadata().getName();
            List<String> labels = List.of(name, ns);
            for (int i = 0; i < SERIES.size(); i++) {
                families.get(i).addMetric(labels, SERIES.get(i).value().applyAsDouble(status));
            }
            JobPhase current = status.phase != null ? status.phase : JobPhase.Pending;
            for (JobPhase phase : JobPhase.values()) {
                phases.addMetric(List.of(name, ns, phase.name()), phase == current ? 1 : 0);
            }
        });
        List<MetricFamilySamples> out = new ArrayList<>(families);
        out.add(phases);
        return out;
    }

    static double gpusOf(MoETrainingJobStatus s) {
        if (s == null || s.plan == null || s.plan.worldSize == null) {
            return 0;
        }
        return s.phase == JobPhase.Pending || s.phase == JobPhase.Running ? s.plan.worldSize : 0;
    }

    /** A figure of status.progress; NaN while the job has reported none. */
    private static ToDoubleFunction<MoETrainingJobStatus> progress(Function<Progress, Number> field) {
        return s -> s.progress != null ? num(field.apply(s.progress)) : Double.NaN;
    }

    private static double num(Number n) {
        return n != null ? n.doubleValue() : Double.NaN;
    }

    private static double count(Number n) {
        return n != null ? n.doubleValue() : 0;
    }
}
