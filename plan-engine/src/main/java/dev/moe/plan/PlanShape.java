package dev.moe.plan;

import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.TrainingSpec.ActivationCheckpointing;

/**
 * The numbers that shape a plan: the gang (nodes × gpusPerNode), the parallel degrees and what one GPU holds per
 * pass (micro-batch, activation checkpointing). Read from the spec; the nearest-plan search tries other shapes of
 * the same job, everything else of the job unchanged.
 *
 * @param data                    data-parallel degree, or null to derive it as world / (context × tensor)
 * @param activationCheckpointing what each decoder layer keeps for backward, or null to take the fastest mode
 *                                whose memory estimate fits
 */
public record PlanShape(
        int nodes,
        int gpusPerNode,
        int tensor,
        int expert,
        int context,
        Integer data,
        int microBatchSize,
        ActivationCheckpointing activationCheckpointing) {

    /** The shape {@code spec} asks for (a spec that passed {@link FieldRules}: every field present). */
    static PlanShape of(MoETrainingJobSpec spec) {
        return new PlanShape(
                spec.resources.nodes,
                spec.resources.gpusPerNode,
                spec.parallelism.tensor,
                spec.parallelism.expert,
                spec.parallelism.context,
                spec.parallelism.data,
                spec.training.microBatchSize,
                spec.training.activationCheckpointing);
    }

    PlanShape withParallelism(int tensor, int expert, int context, Integer data) {
        return new PlanShape(
                nodes, gpusPerNode, tensor, expert, context, data, microBatchSize, activationCheckpointing);
    }

    PlanShape withNodes(int nodes) {
        return new PlanShape(
                nodes, gpusPerNode, tensor, expert, context, data, microBatchSize, activationCheckpointing);
    }

    PlanShape withMicroBatchSize(int microBatchSize) {
        return new PlanShape(
                nodes, gpusPerNode, tensor, expert, context, data, microBatchSize, activationCheckpointing);
    }

    PlanShape withActivationCheckpointing(ActivationCheckpointing activationCheckpointing) {
        return new PlanShape(
                nodes, gpusPerNode, tensor, expert, context, data, microBatchSize, activationCheckpointing);
    }

    /** GPUs of the gang; exact (both factors are inside their limits once checked). */
    long worldSize() {
        return Math.multiplyExact((long) nodes, (long) gpusPerNode);
    }
}
