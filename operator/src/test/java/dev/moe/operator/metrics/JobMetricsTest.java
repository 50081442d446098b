package dev.moe.operator.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.operator.gang.FailureClassifier;
import dev.moe.operator.k8s.WriteRejection;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.javaoperatorsdk.operator.api.reconciler.IndexedResourceCache;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Series of closed label sets exist at 0 before anything happened, so the dashboard's panels and the alerts on them
 * show 0 rather than "no data" (e2e/operator_tests/test_prometheus_scrape.py checks the same through a real
 * Prometheus).
 */
class JobMetricsTest {
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final JobMetrics metrics = new JobMetrics();

    @AfterEach
    void close() {
        metrics.close();
    }

    @Test
    void closedLabelSetsStartAtZero() {
        metrics.registry = registry;
        metrics.bind(null);

        for (String reason : FailureClassifier.REASONS) {
            assertEquals(
                    0,
                    registry.get("moe.gang.restarts")
                            .tag("reason", reason)
                            .counter()
                            .count(),
                    reason);
        }
        for (String reason : new String[] {WriteRejection.OBJECT_NOT_OWNED, WriteRejection.API_REJECTED}) {
            assertEquals(
                    0,
                    registry.get("moe.write.rejections")
                            .tag("reason", reason)
                            .counter()
                            .count(),
                    reason);
        }
        for (String result : new String[] {"success", "error"}) {
            assertEquals(
                    0,
                    registry.get("moe.reconcile.duration")
                            .tag("result", result)
                            .timer()
                            .count(),
                    result);
        }
    }

    @Test
    void aReconcileCountsUnderItsResult() {
        metrics.registry = registry;
        metrics.bind(null);
        metrics.stopReconcile(metrics.startReconcile(), false);
        metrics.writeRejected(WriteRejection.API_REJECTED);

        assertEquals(
                1,
                registry.get("moe.reconcile.duration")
                        .tag("result", "error")
                        .timer()
                        .count());
        assertEquals(
                0,
                registry.get("moe.reconcile.duration")
                        .tag("result", "success")
                        .timer()
                        .count());
        assertNotNull(registry.find("moe.write.rejections")
                .tag("reason", "ApiRejected")
                .counter());
        assertEquals(
                1,
                registry.get("moe.write.rejections")
                        .tag("reason", "ApiRejected")
                        .counter()
                        .count());
    }

    /** The operator's job cache, as far as the metrics read it (get by id, list). */
    @SuppressWarnings("unchecked")
    private static IndexedResourceCache<MoETrainingJob> cacheOf(Map<ResourceID, MoETrainingJob> jobs) {
        return (IndexedResourceCache<MoETrainingJob>) Proxy.newProxyInstance(
                JobMetricsTest.class.getClassLoader(),
                new Class<?>[] {IndexedResourceCache.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "get" -> Optional.ofNullable(jobs.get((ResourceID) args[0]));
                    case "list" -> jobs.values().stream();
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    private static MoETrainingJob job(String ns, String name, JobPhase phase, Integer restarts, Long step) {
        MoETrainingJob job = new MoETrainingJob();
        job.setMetadata(new ObjectMetaBuilder().withNamespace(ns).withName(name).build());
        MoETrainingJobStatus status = new MoETrainingJobStatus();
        status.phase = phase;
        status.restarts = restarts;
        if (step != null) {
            status.progress = new MoETrainingJobStatus.Progress();
            status.progress.step = step;
        }
        job.setStatus(status);
        return job;
    }

    private static void put(Map<ResourceID, MoETrainingJob> jobs, MoETrainingJob job) {
        jobs.put(ResourceID.fromResource(job), job);
    }

    @Test
    void perJobSeriesAreReadFromTheCacheAtScrapeTimeAndVanishWithTheJob() {
        PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        metrics.registry = prometheus; // as the operator runs it (JobMetrics.useRegistry)
        Map<ResourceID, MoETrainingJob> jobs = new ConcurrentHashMap<>();
        put(jobs, job("team-a", "alpha", JobPhase.Running, 2, 10L));
        put(jobs, job("team-b", "beta", null, null, null)); // no status figures yet
        metrics.bind(cacheOf(jobs));
        metrics.track(jobs.values().iterator().next());

        String scrape = prometheus.scrape();
        assertTrue(scrape.contains("# HELP moe_job_step Optimizer steps done (rank 0 report)\n"), scrape);
        assertTrue(scrape.contains("# TYPE moe_job_step gauge\n"), scrape);
        assertTrue(scrape.contains("moe_job_step{moejob=\"alpha\",namespace=\"team-a\",} 10.0\n"), scrape);
        assertTrue(scrape.contains("moe_job_step{moejob=\"beta\",namespace=\"team-b\",} NaN\n"), scrape);
        assertTrue(scrape.contains("moe_job_restarts{moejob=\"alpha\",namespace=\"team-a\",} 2.0\n"), scrape);
        // counts are 0, not NaN, before the first restart (increase() over NaN is NaN)
        assertTrue(scrape.contains("moe_job_restarts{moejob=\"beta\",namespace=\"team-b\",} 0.0\n"), scrape);
        assertTrue(
                scrape.contains("moe_job_phase{moejob=\"alpha\",namespace=\"team-a\",phase=\"Running\",} 1.0\n"),
                scrape);
        assertTrue(
                scrape.contains("moe_job_phase{moejob=\"alpha\",namespace=\"team-a\",phase=\"Pending\",} 0.0\n"),
                scrape);
        // no status: Pending
        assertTrue(
                scrape.contains("moe_job_phase{moejob=\"beta\",namespace=\"team-b\",phase=\"Pending\",} 1.0\n"),
                scrape);
        for (String name : new String[] {
            "moe_job_loss",
            "moe_job_tokens_per_second",
            "moe_job_mfu",
            "moe_job_last_checkpoint_step",
            "moe_job_infrastructure_restarts",
            "moe_job_percent_done",
            "moe_job_gpus_requested"
        }) {
            assertTrue(scrape.contains("# TYPE " + name + " gauge\n"), name);
            assertTrue(scrape.contains(name + "{moejob=\"alpha\",namespace=\"team-a\",}"), name);
        }
        assertTrue(scrape.contains("moe_jobs{phase=\"Running\",} 1.0\n"), scrape);

        jobs.remove(new ResourceID("alpha", "team-a")); // deleted: gone from the cache
        String after = prometheus.scrape();
        assertFalse(after.contains("moejob=\"alpha\""), after);
        assertTrue(after.contains("moe_job_step{moejob=\"beta\",namespace=\"team-b\",} NaN\n"), after);
    }

    @Test
    void theNumberOfMetersDoesNotGrowWithTheJobs() {
        PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        metrics.registry = prometheus;
        Map<ResourceID, MoETrainingJob> jobs = new ConcurrentHashMap<>();
        metrics.bind(cacheOf(jobs));
        put(jobs, job("ns", "first", JobPhase.Running, 0, 1L));
        metrics.track(jobs.get(new ResourceID("first", "ns")));
        prometheus.scrape();
        int meters = prometheus.getMeters().size();
        for (int i = 0; i < 200; i++) {
            MoETrainingJob j = job("ns", "job-" + i, JobPhase.Running, 0, 1L);
            put(jobs, j);
            metrics.track(j);
        }
        String scrape = prometheus.scrape();
        assertTrue(scrape.contains("moe_job_step{moejob=\"job-199\",namespace=\"ns\",} 1.0\n"), scrape);
        assertEquals(meters, prometheus.getMeters().size());
    }
}
