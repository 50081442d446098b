package dev.moe.plan.cli;

import dev.moe.plan.MemoryEstimate;
import dev.moe.plan.ModelConfig;
import dev.moe.plan.Plan;
import dev.moe.plan.RankAssignment;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/** Human-readable rendering of a plan for the offline check. */
final class PlanText {
    private PlanText() {}

    /** Worlds up to this size print every rank; bigger ones print the first and last node. */
    static final int FULL_LAYOUT_MAX_RANKS = 16;

    static void print(Plan p, boolean full, PrintStream out) {
        ModelConfig m = p.model();
        row(
                out,
                "model",
                m.preset() + ": " + m.numHiddenLayers() + " layers, hidden " + m.hiddenSize() + ", "
                        + m.numExperts() + " experts (top-" + m.numExpertsPerTok() + ", expert FFN "
                        + m.moeIntermediateSize()
                        + "), " + m.numAttentionHeads() + " heads / " + m.numKeyValueHeads() + " KV heads");
        row(
                out,
                "parameters",
                "total " + p.parameters().total() + " ("
                        + billions(p.parameters().total())
                        + "), active per token " + p.parameters().activePerToken() + " ("
                        + billions(p.parameters().activePerToken()) + ")");
        row(out, "world", p.worldSize() + " GPUs = " + p.nodes() + " nodes x " + p.gpusPerNode() + " GPUs");
        row(out, "mesh", p.mesh());
        row(out, "experts", p.expertsPerRank() + " per expert rank");
        row(
                out,
                "batch",
                "global " + p.globalBatchSize() + " = micro " + p.shape().microBatchSize() + " x data "
                        + p.data() + " x accumulation " + p.gradientAccumulation() + ", " + p.spec().training.seqLength
                        + " tokens per sequence");
        row(
                out,
                "recompute",
                "training.activationCheckpointing="
                        + p.shape().activationCheckpointing().name()
                        + (p.spec().training.activationCheckpointing == null
                                ? " (unset: the fastest mode that fits)"
                                : ""));
        MemoryEstimate mem = p.memory();
        row(out, "memory/GPU", mem.summary() + " (" + mem.perGpuBytes() + " bytes)");
        sub(out, "weights", mem.weights());
        sub(out, "gradients", mem.gradients());
        sub(out, "optimizer", mem.optimizer());
        sub(out, "activations", mem.activations());
        sub(out, "headroom", mem.headroom());
        row(
                out,
                "rank layout",
                String.format(
                        Locale.ROOT,
                        "%6s %5s %5s %5s %4s %4s %6s %4s  %s",
                        "rank",
                        "node",
                        "local",
                        "data",
                        "ctx",
                        "tp",
                        "edata",
                        "ep",
                        "experts"));
        List<RankAssignment> ranks = p.ranks();
        int perNode = p.gpusPerNode();
        boolean abbreviate = !full && ranks.size() > FULL_LAYOUT_MAX_RANKS && p.nodes() > 2;
        for (RankAssignment r : ranks) {
            if (abbreviate && r.node() > 0 && r.node() < p.nodes() - 1) {
                if (r.rank() == perNode) {
                    row(
                            out,
                            "",
                            "   ... ranks " + perNode + ".." + (ranks.size() - perNode - 1) + " (nodes 1.."
                                    + (p.nodes() - 2) + ") follow the same pattern; --full prints them");
                }
                continue;
            }
            row(
                    out,
                    "",
                    String.format(
                            Locale.ROOT,
                            "%6d %5d %5d %5d %4d %4d %6d %4d  [%d, %d)",
                            r.rank(),
                            r.node(),
                            r.localRank(),
                            r.data(),
                            r.context(),
                            r.tensor(),
                            r.expertData(),
                            r.expert(),
                            r.firstExpert(),
                            r.endExpert()));
        }
        for (String w : p.warnings()) {
            row(out, "warning", w);
        }
    }

    private static void row(PrintStream out, String key, String value) {
        out.println(String.format(Locale.ROOT, "  %-13s %s", key, value));
    }

    private static void sub(PrintStream out, String key, long bytes) {
        out.println(String.format(
                Locale.ROOT, "  %-13s   %-12s %10s (%d bytes)", "", key, MemoryEstimate.gib(bytes), bytes));
    }

    private static String billions(long n) {
        if (n >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.2fB", n / 1e9);
        }
        if (n >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.2fM", n / 1e6);
        }
        return String.format(Locale.ROOT, "%.1fK", n / 1e3);
    }
}
