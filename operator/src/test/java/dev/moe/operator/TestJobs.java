package dev.moe.operator;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.ModelSpec;
import dev.moe.api.v1alpha1.ParallelismSpec;
import dev.moe.api.v1alpha1.ResourcesSpec;
import dev.moe.api.v1alpha1.RestartPolicySpec;
import dev.moe.api.v1alpha1.TrainingSpec;
import dev.moe.operator.planner.JobPlanner;
import dev.moe.plan.Plan;
import dev.moe.plan.PlanResult;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;

/** Small valid jobs on the tiny-moe preset, with fast restart settings. */
public final class TestJobs {
    private TestJobs() {}

    /** tiny-moe on {@code nodes} × 2 GPUs, tensor 2, expert 2; backoff 1 s (max 2 s), 2 restarts. */
    public static MoETrainingJob tiny(String namespace, String name, int nodes) {
        MoETrainingJob job = new MoETrainingJob();
        job.setMetadata(new ObjectMetaBuilder()
                .withNamespace(namespace)
                .withName(name)
                .withUid("uid-" + name)
                .withGeneration(1L)
                .build());
        MoETrainingJobSpec spec = new MoETrainingJobSpec();
        spec.model = new ModelSpec();
        spec.model.preset = "tiny-moe";
        spec.parallelism = new ParallelismSpec();
        spec.parallelism.tensor = 2;
        spec.parallelism.expert = 2;
        spec.parallelism.context = 1;
        spec.resources = new ResourcesSpec();
        spec.resources.nodes = nodes;
        spec.resources.gpusPerNode = 2;
        spec.resources.gpuMemoryGiB = 80;
        spec.resources.gpuProduct = "NVIDIA-H100-80GB-HBM3";
        spec.training = new TrainingSpec();
        spec.training.seqLength = 64;
        spec.training.microBatchSize = 2;
        spec.training.steps = 20;
        spec.training.warmupSteps = 2;
        spec.restartPolicy = new RestartPolicySpec();
        spec.restartPolicy.maxRestarts = 2;
        spec.restartPolicy.backoffSeconds = 1;
        spec.restartPolicy.maxBackoffSeconds = 2;
        spec.restartPolicy.gangSchedulingTimeoutSeconds = 600;
        spec.suspend = false;
        job.setSpec(spec);
        return job;
    }

    public static Plan plan(MoETrainingJob job) {
        PlanResult r = JobPlanner.plan(job);
        if (!r.isValid()) {
            throw new IllegalStateException(r.errorMessages());
        }
        return r.plan();
    }
}
