package dev.moe.operator.dependents;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.config.OperatorConfig;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.gang.GangPodFactory;
import dev.moe.operator.planner.JobPlanner;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import jakarta.inject.Inject;
import java.util.Objects;

/**
 * ConfigMap {@code <job>-trainer-env}: the environment every pod of the job shares, read by the trainer container
 * through {@code envFrom} (docs/contract.md section 2). It exists before the pods: the workflow reconciles it
 * before the reconciler writes a gang.
 */
public class TrainerEnvConfigMap extends JobDependent<ConfigMap> {

    @Inject
    OperatorConfig config;

    public TrainerEnvConfigMap() {
        super(ConfigMap.class);
    }

    @Override
    String name(MoETrainingJob job) {
        return GangNames.trainerEnvConfigMapName(job);
    }

    @Override
    protected ConfigMap desired(MoETrainingJob job, Context<MoETrainingJob> context) {
        return new ConfigMapBuilder()
                .withMetadata(meta(job, name(job)))
                .withData(GangPodFactory.sharedEnv(
                        job, JobPlanner.plan(job, context).plan(), config.gangSettings()))
                .build();
    }

    @Override
    boolean matches(ConfigMap desired, ConfigMap actual) {
        return Objects.equals(desired.getData(), actual.getData());
    }
}
