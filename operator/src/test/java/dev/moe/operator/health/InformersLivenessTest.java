package dev.moe.operator.health;

import static org.assertj.core.api.Assertions.assertThat;

import io.javaoperatorsdk.operator.health.InformerHealthIndicator;
import io.javaoperatorsdk.operator.health.InformerWrappingEventSourceHealthIndicator;
import io.javaoperatorsdk.operator.health.Status;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Liveness fails only for an informer that stopped, not one that is reconnecting its watch. */
class InformersLivenessTest {

    static InformerHealthIndicator informer(boolean running, boolean watching) {
        return new InformerHealthIndicator() {
            public boolean hasSynced() {
                return true;
            }

            public boolean isWatching() {
                return watching;
            }

            public boolean isRunning() {
                return running;
            }

            public String getTargetNamespace() {
                return null;
            }

            public Status getStatus() {
                return running && watching ? Status.HEALTHY : Status.UNHEALTHY;
            }
        };
    }

    static InformerWrappingEventSourceHealthIndicator<?> source(Map<String, InformerHealthIndicator> informers) {
        return () -> informers;
    }

    @Test
    void onlyStoppedInformersCount() {
        var sources = Map.of(
                "jobs", source(Map.of("", informer(false, false))),
                "pods", source(Map.of("training", informer(true, false))),
                "configmaps", source(Map.of("", informer(true, true))));
        assertThat(InformersLiveness.stoppedInformers("moetrainingjob", sources))
                .containsExactly("moetrainingjob/jobs/*");
        assertThat(InformersLiveness.stoppedInformers(
                        "moetrainingjob", Map.of("pods", source(Map.of("training", informer(true, false))))))
                .isEmpty();
    }
}
