package dev.moe.operator.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.moe.operator.gang.FailureClassifier;
import dev.moe.operator.k8s.WriteRejection;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
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
}
