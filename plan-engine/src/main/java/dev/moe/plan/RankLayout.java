package dev.moe.plan;

import dev.moe.api.v1alpha1.SpecLimits;
import java.util.ArrayList;
import java.util.List;

/**
 * The rank layout of docs/contract.md: global rank = node × gpusPerNode + localRank; dense mesh
 * (data, context, tensor) with tensor innermost; expert mesh (expertData, expert) with expert innermost; expert
 * rank e owns experts [e·numExperts/E, (e+1)·numExperts/E).
 */
public final class RankLayout {
    private RankLayout() {}

    /**
     * Assignments of every rank, in rank order. Degrees must already be valid (PlanEngine checks them first); an
     * invalid or oversized world is refused here too, before anything is allocated.
     */
    public static List<RankAssignment> of(
            int nodes, int gpusPerNode, int tensor, int context, int expert, int numExperts) {
        long size = (long) nodes * gpusPerNode;
        if (nodes < 1
                || gpusPerNode < 1
                || size > SpecLimits.MAX_WORLD
                || tensor < 1
                || context < 1
                || expert < 1
                || size % ((long) tensor * context) != 0
                || size % expert != 0
                || numExperts % expert != 0) {
            throw new IllegalArgumentException("not a valid world: nodes=" + nodes + ", gpusPerNode=" + gpusPerNode
                    + ", tensor=" + tensor + ", context=" + context + ", expert=" + expert + ", numExperts="
                    + numExperts);
        }
        int world = (int) size;
        int perRank = numExperts / expert;
        List<RankAssignment> out = new ArrayList<>(world);
        for (int rank = 0; rank < world; rank++) {
            int e = rank % expert;
            out.add(new RankAssignment(
                    rank,
                    rank / gpusPerNode,
                    rank % gpusPerNode,
                    rank / (tensor * context),
                    (rank / tensor) % context,
                    rank % tensor,
                    rank / expert,
                    e,
                    e * perRank,
                    (e + 1) * perRank));
        }
        return out;
    }
}
