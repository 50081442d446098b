package dev.moe.operator.dependents;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.planner.JobPlanner;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.util.Map;
import java.util.Objects;

/** ConfigMap {@code <job>-plan}: the plan document (docs/contract.md section 1), mounted into every pod. */
public class PlanConfigMap extends JobDependent<ConfigMap> {

    public PlanConfigMap() {
        super(ConfigMap.class);
    }

    @Override
    String name(MoETrainingJob job) {
        return GangNames.planConfigMapName(job);
    }

    @Override
    protected ConfigMap desired(MoETrainingJob job, Context<MoETrainingJob> context) {
        return new ConfigMapBuilder()
                .withMetadata(meta(job, name(job)))
                .withData(
                        Map.of(GangNames.PLAN_KEY, JobPlanner.plan(job, context).document()))
                .build();
    }

    @Override
    boolean matches(ConfigMap desired, ConfigMap actual) {
        return Objects.equals(desired.getData(), actual.getData());
    }
}
