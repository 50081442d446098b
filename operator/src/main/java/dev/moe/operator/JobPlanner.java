package dev.moe.operator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.operator.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.operator.api.v1alpha1.MoETrainingJobStatus.MemoryEstimate;
import dev.moe.operator.api.v1alpha1.MoETrainingJobStatus.PlanSummary;
import dev.moe.operator.k8s.TolerantJobReading.UnreadableSpec;
import dev.moe.plan.Plan;
import dev.moe.plan.PlanEngine;
import dev.moe.plan.PlanError;
import dev.moe.plan.PlanResult;
import java.util.ArrayList;
import java.util.List;

/**
 * The operator's door to the plan engine: serialises the CRD spec to its JSON shape and plans it with the same
 * code as bin/moe-plan, and turns a plan into the status summary.
 */
public final class JobPlanner {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private JobPlanner() {
    }

    /** Rule id of a spec the operator cannot read into its types (see {@link UnreadableSpec}). */
    public static final String SPEC_UNREADABLE = "SpecUnreadable";

    /** Plans a job; {@link PlanResult#plan()} is null when the spec breaks a rule (see its errors). */
    public static PlanResult plan(MoETrainingJob job) {
        if (job.getSpec() == null) {
            return rejected(new PlanError(SPEC_UNREADABLE, "spec", null, "is missing",
                    "write spec.model, spec.parallelism and spec.resources"));
        }
        if (job.getSpec() instanceof UnreadableSpec u) {
            return rejected(new PlanError(SPEC_UNREADABLE, u.problem.field(), null,
                    "cannot be read by this operator (" + u.problem.reason() + ")",
                    "the object was stored under another version of the CRD: correct the field (kubectl edit) or"
                            + " delete and re-create the job"));
        }
        return PlanEngine.plan(job.getMetadata().getNamespace(), job.getMetadata().getName(),
                specJson(job.getSpec()));
    }

    private static PlanResult rejected(PlanError error) {
        return new PlanResult(null, List.of(error), List.of(), List.of());
    }

    /** The spec as the API server stores it (null fields left out). */
    public static JsonNode specJson(MoETrainingJobSpec spec) {
        return MAPPER.valueToTree(spec);
    }

    /** The plan as shown in status.plan. */
    public static PlanSummary summary(Plan plan) {
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
