package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * Everything the plan engine reads from a job, defaults applied. Built by {@link JobSpecConverter} from the
 * {@code spec} of a MoETrainingJob (the same code path for the operator and the offline check).
 *
 * @param data            data-parallel degree, or null to derive it as world / (context × tensor)
 * @param activationCheckpointing per-decoder-layer activation checkpointing in the trainer (memory estimate)
 * @param globalBatchSize sequences per optimizer step, or null for microBatchSize × data
 * @param checkpointDir   where the trainer writes checkpoints in the pod, or null for none
 * @param modelCheckpointPath HF safetensors directory to load, or null for random initialisation
 */
public record PlanInput(
        String namespace,
        String name,
        String preset,
        JsonNode modelOverrides,
        String modelCheckpointPath,
        int tensor,
        int expert,
        int context,
        Integer data,
        int nodes,
        int gpusPerNode,
        int gpuMemoryGiB,
        String gpuProduct,
        int seqLength,
        int microBatchSize,
        boolean activationCheckpointing,
        Integer globalBatchSize,
        int steps,
        double learningRate,
        double minLearningRate,
        int warmupSteps,
        double weightDecay,
        double gradClip,
        long seed,
        String checkpointDir,
        int checkpointEverySteps,
        String datasetType,
        String datasetPath,
        String datasetDtype,
        List<String> topologyKeys) {

    /** A copy with other parallel degrees (used to search for plans that fit). */
    public PlanInput withParallelism(int tensor, int expert, int context, Integer data) {
        return copy(tensor, expert, context, data, nodes, microBatchSize, activationCheckpointing);
    }

    /** A copy with another node count. */
    public PlanInput withNodes(int nodes) {
        return copy(tensor, expert, context, data, nodes, microBatchSize, activationCheckpointing);
    }

    /** A copy with activation checkpointing on or off. */
    public PlanInput withActivationCheckpointing(boolean activationCheckpointing) {
        return copy(tensor, expert, context, data, nodes, microBatchSize, activationCheckpointing);
    }

    /** A copy with another micro-batch size. */
    public PlanInput withMicroBatchSize(int microBatchSize) {
        return copy(tensor, expert, context, data, nodes, microBatchSize, activationCheckpointing);
    }

    /** The one place that copies every field: the knobs the plan search turns, the rest unchanged. */
    private PlanInput copy(int tensor, int expert, int context, Integer data, int nodes, int microBatchSize,
            boolean activationCheckpointing) {
        return new PlanInput(namespace, name, preset, modelOverrides, modelCheckpointPath, tensor, expert, context,
                data, nodes, gpusPerNode, gpuMemoryGiB, gpuProduct, seqLength, microBatchSize, activationCheckpointing,
                globalBatchSize, steps,
                learningRate, minLearningRate, warmupSteps, weightDecay, gradClip, seed, checkpointDir,
                checkpointEverySteps, datasetType, datasetPath, datasetDtype, topologyKeys);
    }
}
