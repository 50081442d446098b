package dev.moe.operator.health;

import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.health.InformerHealthIndicator;
import io.javaoperatorsdk.operator.health.InformerWrappingEventSourceHealthIndicator;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;

/**
 * Liveness: DOWN once an informer of a started controller has stopped for good (the Fabric8 informer gave up, e.g.
 * on an object it could not handle). Such an operator answers HTTP but no longer sees jobs, so only a restart
 * helps. A watch that is reconnecting is still running and stays UP; readiness (the Quarkus Operator SDK's check)
 * reports that one.
 */
@Liveness
@ApplicationScoped
public class InformersLiveness implements HealthCheck {
    static final String NAME = "MoE operator informers";

    @Inject
    Operator operator;

    /**
     * Quarkus's Prometheus registry itself, as for every meter of the operator ({@link
     * dev.moe.operator.metrics.JobMetrics#useRegistry} says why).
     */
    @Inject
    PrometheusMeterRegistry registry;

    /** The same facts as metrics, so an alert can fire on them (the chart's MoEOperatorNotReady). */
    void registerMetrics(@Observes StartupEvent start) {
        gauges.add(Gauge.builder(
                        "moe.operator.informers.stopped", this, h -> h.stopped().size())
                .description("Informers that stopped for good (liveness fails while > 0)")
                .register(registry));
        gauges.add(Gauge.builder("moe.operator.event.sources.unhealthy", this, InformersLiveness::unhealthyEventSources)
                .description("Event sources not healthy: not synced, not watching or stopped (readiness)")
                .register(registry));
    }

    private final List<io.micrometer.core.instrument.Meter> gauges = new ArrayList<>();

    /** Gauges read this instance: removed with it, so that none outlives it in the registry. */
    @jakarta.annotation.PreDestroy
    void close() {
        gauges.forEach(registry::remove);
    }

    /** Informers of started controllers that are no longer running. */
    public List<String> stopped() {
        var info = operator.getRuntimeInfo();
        List<String> stopped = new ArrayList<>();
        if (info.isStarted()) {
            info.getRegisteredControllers()
                    .forEach(rc -> stopped.addAll(stoppedInformers(
                            rc.getConfiguration().getName(), informers(rc.getControllerHealthInfo()))));
        }
        return stopped;
    }

    private double unhealthyEventSources() {
        var info = operator.getRuntimeInfo();
        if (!info.isStarted()) {
            return 1;
        }
        return info.getRegisteredControllers().stream()
                .mapToInt(rc ->
                        rc.getControllerHealthInfo().unhealthyEventSources().size())
                .sum();
    }

    @Override
    public HealthCheckResponse call() {
        // Before the operator has started, readiness says when it can serve; liveness stays UP.
        List<String> stopped = stopped();
        var response = HealthCheckResponse.named(NAME);
        if (stopped.isEmpty()) {
            return response.up().build();
        }
        return response.down().withData("stopped", String.join(", ", stopped)).build();
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Map<String, ? extends InformerWrappingEventSourceHealthIndicator<?>> informers(
            io.javaoperatorsdk.operator.health.ControllerHealthInfo info) {
        return (Map) info.informerEventSourceHealthIndicators();
    }

    /** "controller/eventSource/namespace" of every informer that is no longer running. */
    static List<String> stoppedInformers(
            String controller, Map<String, ? extends InformerWrappingEventSourceHealthIndicator<?>> sources) {
        List<String> stopped = new ArrayList<>();
        sources.forEach((source, indicator) -> {
            Map<String, InformerHealthIndicator> informers = indicator.informerHealthIndicators();
            informers.forEach((ns, informer) -> {
                if (!informer.isRunning()) {
                    stopped.add(controller + "/" + source + "/" + (ns == null || ns.isEmpty() ? "*" : ns));
                }
            });
        });
        return stopped;
    }
}
