package dev.moe.operator.dependents;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.planner.JobPlanner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.util.Map;

/** ConfigMap {@code <job>-plan}: the plan document (docs/contract.md section 1), mounted into every pod. */
public class PlanConfigMap extends JobConfigMap {

    @Override
    String name(MoETrainingJob job) {
        return GangNames.planConfigMapName(job);
    }

    @Override
    Map<String, String> data(MoETrainingJob job, Context<MoETrainingJob> context) {
        return Map.of(GangNames.PLAN_KEY, JobPlanner.plan(job, context).document());
    }
}
