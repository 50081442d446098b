package dev.moe.operator.dependents;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.config.OperatorConfig;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.gang.GangPodFactory;
import dev.moe.operator.planner.JobPlanner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import jakarta.inject.Inject;
import java.util.Map;

/**
 * ConfigMap {@code <job>-trainer-env}: the environment every pod of the job shares for the job's whole life, read
 * by the trainer container through {@code envFrom} (docs/contract.md section 2). It exists before the pods: the
 * workflow reconciles it before the reconciler writes a gang.
 */
public class TrainerEnvConfigMap extends JobConfigMap {

    @Inject
    OperatorConfig config;

    @Override
    String name(MoETrainingJob job) {
        return GangNames.trainerEnvConfigMapName(job);
    }

    @Override
    Map<String, String> data(MoETrainingJob job, Context<MoETrainingJob> context) {
        return GangPodFactory.sharedEnv(job, JobPlanner.plan(job, context).plan(), config.gangSettings());
    }
}
