package dev.moe.plan;

/**
 * Where one global rank sits (docs/contract.md, plan document {@code ranks[]}).
 *
 * @param rank        global rank = node × gpusPerNode + localRank
 * @param node        node rank (pod index)
 * @param localRank   GPU index inside the pod
 * @param data        dense mesh coordinate: rank / (tensor × context)
 * @param context     dense mesh coordinate: (rank / tensor) % context
 * @param tensor      dense mesh coordinate: rank % tensor (innermost)
 * @param expertData  expert mesh coordinate: rank / expert
 * @param expert      expert mesh coordinate: rank % expert (innermost)
 * @param firstExpert first expert id owned (inclusive)
 * @param endExpert   end of the owned expert ids (exclusive)
 */
public record RankAssignment(
        int rank,
        int node,
        int localRank,
        int data,
        int context,
        int tensor,
        int expertData,
        int expert,
        int firstExpert,
        int endExpert) {}
