package dev.moe.operator.status;

import dev.moe.api.v1alpha1.MoETrainingJobStatus.MemoryEstimate;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.PlanSummary;
import dev.moe.plan.Plan;
import java.util.ArrayList;

/** A plan as {@code status.plan} shows it (the full plan is the ConfigMap {@code <job>-plan}). */
public final class PlanSummaries {
    private PlanSummaries() {}

    /** The plan as shown in status.plan. */
    public static PlanSummary of(Plan plan) {
        PlanSummary s = new PlanSummary();
        s.worldSize = plan.worldSize();
        s.tensor = plan.tensor();
        s.expert = plan.expert();
        s.context = plan.context();
        s.data = plan.data();
        s.expertData = plan.expertData();
        s.gradientAccumulation = plan.gradientAccumulation();
        s.mesh = plan.mesh();
        s.expertsPerRank = plan.expertsPerRank();
        s.parametersTotal = plan.parameters().total();
        s.parametersActive = plan.parameters().activePerToken();
        MemoryEstimate m = new MemoryEstimate();
        m.perGpuBytes = plan.memory().perGpuBytes();
        m.gpuBytes = plan.memory().gpuBytes();
        m.summary = plan.memory().summary();
        m.weights = plan.memory().weights();
        m.gradients = plan.memory().gradients();
        m.optimizer = plan.memory().optimizer();
        m.activations = plan.memory().activations();
        m.headroom = plan.memory().headroom();
        s.memory = m;
        s.warnings = new ArrayList<>(plan.warnings());
        return s;
    }
}
