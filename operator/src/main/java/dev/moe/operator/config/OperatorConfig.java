package dev.moe.operator.config;

import dev.moe.operator.gang.GangSettings;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/** Operator settings from application.properties or the environment (MOE_TRAINER_DEFAULT_IMAGE, ...). */
@ApplicationScoped
public class OperatorConfig {

    @ConfigProperty(name = "moe.trainer.default-image", defaultValue = GangSettings.DEFAULT_TRAINER_IMAGE)
    String defaultTrainerImage;

    @ConfigProperty(name = "moe.trainer.master-port", defaultValue = "29500")
    int masterPort;

    @ConfigProperty(name = "moe.trainer.metrics-port", defaultValue = "9400")
    int metricsPort;

    /** Server-side apply for dependents (off in tests: the Fabric8 mock server answers 415). */
    @ConfigProperty(name = "quarkus.operator-sdk.enable-ssa", defaultValue = "true")
    boolean serverSideApply;

    public GangSettings gangSettings() {
        return new GangSettings(defaultTrainerImage, masterPort, metricsPort);
    }

    public boolean serverSideApply() {
        return serverSideApply;
    }
}
