package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Checks a job against its model and lays it out: the "Plan rules" of shared/design/architecture.md. Plain Java,
 * no Kubernetes types; the operator and bin/moe-plan both call {@link #plan(String, String, JsonNode)}.
 *
 * <p>Rules, each reported with the field, the value and a fix (rule ids are {@link PlanError#rule()}):
 * <ul>
 *   <li>PositiveValue: degrees, nodes, GPUs, sequence length, batch sizes, steps are at least 1.</li>
 *   <li>UnknownPreset, ModelConfigInvalid: the model exists and its overrides make sense.</li>
 *   <li>ContextParallelNotSupported: context must be 1 (the trainer has no context parallelism yet).</li>
 *   <li>TensorWithinNode: tensor divides gpusPerNode (TP stays on NVLink).</li>
 *   <li>WorldSize: nodes × gpusPerNode = data × context × tensor (data derived when absent).</li>
 *   <li>ExpertDividesExperts, ExpertDividesWorld: expert divides numExperts and the world size.</li>
 *   <li>ExpertGroupAlignment: expert divides gpusPerNode or is a multiple of it, so expert-parallel groups
 *       are whole nodes or lie inside one node.</li>
 *   <li>TensorDividesHeads, TensorDividesKvHeads: tensor divides the attention and key/value heads
 *       (KV heads are not replicated).</li>
 *   <li>SeqLengthDivisible: seqLength divisible by 2 × context.</li>
 *   <li>GlobalBatchDivisible: globalBatchSize = microBatchSize × data × gradient accumulation.</li>
 *   <li>DatasetInvalid: dataset type synthetic or tokens (with a path), dtype uint16 or uint32.</li>
 *   <li>MemoryExceeded: the per-GPU estimate fits gpuMemoryGiB; otherwise the nearest plans that fit.</li>
 * </ul>
 * Warnings: expert-parallel groups that cross nodes (all-to-all over the network), seqLength beyond the model's
 * max_position_embeddings.
 */
public final class PlanEngine {
    private PlanEngine() {
    }

    /** How many nearby plans a MemoryExceeded error suggests. */
    static final int SUGGESTIONS = 3;

    /** Plans the job {@code namespace/name} with the given {@code spec} (JSON shape of MoETrainingJob.spec). */
    public static PlanResult plan(String namespace, String name, JsonNode spec) {
        List<PlanError> errors = new ArrayList<>();
        PlanInput input = JobSpecConverter.toInput(namespace, name, spec, errors);
        if (input == null || !errors.isEmpty()) {
            return new PlanResult(null, List.copyOf(errors), List.of(), List.of());
        }
        return plan(input);
    }

    /** Plans an already converted input. */
    public static PlanResult plan(PlanInput input) {
        return evaluate(input, true, true);
    }

    private static PlanResult evaluate(PlanInput in, boolean suggest, boolean withRanks) {
        List<PlanError> errors = new ArrayList<>();
        List<String> warnings = new ArrayList<>();

        ModelConfig model = null;
        Optional<ModelConfig> preset = ModelCatalog.preset(in.preset());
        if (preset.isEmpty()) {
            errors.add(new PlanError("UnknownPreset", "spec.model.preset", in.preset(),
                    in.preset() == null ? "is required" : "is not a known model preset",
                    "use one of: " + String.join(", ", ModelCatalog.presets())));
        } else {
            int before = errors.size();
            model = preset.get().withOverrides(in.modelOverrides(), errors);
            model.validate(errors);
            if (errors.size() > before) {
                model = null;
            }
        }

        positive(errors, "spec.parallelism.tensor", in.tensor());
        positive(errors, "spec.parallelism.expert", in.expert());
        positive(errors, "spec.parallelism.context", in.context());
        if (in.data() != null) {
            positive(errors, "spec.parallelism.data", in.data());
        }
        positive(errors, "spec.resources.nodes", in.nodes());
        positive(errors, "spec.resources.gpusPerNode", in.gpusPerNode());
        positive(errors, "spec.resources.gpuMemoryGiB", in.gpuMemoryGiB());
        positive(errors, "spec.training.seqLength", in.seqLength());
        positive(errors, "spec.training.microBatchSize", in.microBatchSize());
        if (in.globalBatchSize() != null) {
            positive(errors, "spec.training.globalBatchSize", in.globalBatchSize());
        }
        positive(errors, "spec.training.steps", in.steps());
        positive(errors, "spec.training.checkpoint.everySteps", in.checkpointEverySteps());
        if (in.warmupSteps() < 0) {
            errors.add(new PlanError("PositiveValue", "spec.training.warmupSteps", String.valueOf(in.warmupSteps()),
                    "is negative", "use 0 or more"));
        }
        if (!errors.stream().allMatch(e -> e.rule().equals("UnknownPreset") || e.rule().equals("ModelConfigInvalid"))) {
            return new PlanResult(null, List.copyOf(errors), List.of(), List.of());
        }

        int world = in.nodes() * in.gpusPerNode();
        int t = in.tensor();
        int e = in.expert();
        int c = in.context();

        if (c > 1) {
            errors.add(new PlanError("ContextParallelNotSupported", "spec.parallelism.context", String.valueOf(c),
                    "is not supported: context parallelism is not implemented by the trainer yet",
                    "set spec.parallelism.context=1"));
        }
        boolean tensorOk = t <= in.gpusPerNode() && in.gpusPerNode() % t == 0;
        if (!tensorOk) {
            errors.add(new PlanError("TensorWithinNode", "spec.parallelism.tensor", String.valueOf(t),
                    "does not divide resources.gpusPerNode=" + in.gpusPerNode()
                            + " (tensor parallelism must stay inside one node)",
                    "valid values: " + Divisors.join(tensorChoices(model, in.gpusPerNode()))));
        }

        Integer data = in.data();
        if (data != null) {
            if ((long) data * c * t != world) {
                String fix = world % (c * t) == 0
                        ? "set spec.parallelism.data=" + (world / (c * t)) + " or leave it out to derive it"
                        : "change resources.nodes or resources.gpusPerNode so that context × tensor divides them";
                errors.add(new PlanError("WorldSize", "spec.parallelism.data", String.valueOf(data),
                        "gives data × context × tensor = " + data + " × " + c + " × " + t + " = " + ((long) data * c * t)
                                + " but resources.nodes × resources.gpusPerNode = " + in.nodes() + " × "
                                + in.gpusPerNode() + " = " + world, fix));
            }
        } else if (world % (c * t) != 0) {
            errors.add(new PlanError("WorldSize", "spec.parallelism", "context=" + c + ", tensor=" + t,
                    "context × tensor = " + (c * t) + " does not divide the world size " + world,
                    "choose context × tensor dividing " + world));
        } else {
            data = world / (c * t);
        }

        if (world % e != 0) {
            errors.add(new PlanError("ExpertDividesWorld", "spec.parallelism.expert", String.valueOf(e),
                    "does not divide the world size " + world + " (resources.nodes × resources.gpusPerNode)",
                    "valid values: " + Divisors.join(expertChoices(model, world, in.gpusPerNode()))));
        }
        if (model != null && model.numExperts() % e != 0) {
            errors.add(new PlanError("ExpertDividesExperts", "spec.parallelism.expert", String.valueOf(e),
                    "does not divide numExperts=" + model.numExperts(),
                    "valid values: " + Divisors.join(expertChoices(model, world, in.gpusPerNode()))));
        }
        if (e % in.gpusPerNode() != 0 && in.gpusPerNode() % e != 0) {
            errors.add(new PlanError("ExpertGroupAlignment", "spec.parallelism.expert", String.valueOf(e),
                    "would make expert-parallel groups straddle node boundaries (resources.gpusPerNode="
                            + in.gpusPerNode() + ")",
                    "use a divisor or a multiple of gpusPerNode; valid values: "
                            + Divisors.join(expertChoices(model, world, in.gpusPerNode()))));
        }

        if (model != null && tensorOk) {
            if (model.numAttentionHeads() % t != 0) {
                errors.add(new PlanError("TensorDividesHeads", "spec.parallelism.tensor", String.valueOf(t),
                        "does not divide numAttentionHeads=" + model.numAttentionHeads(),
                        "valid values: " + Divisors.join(tensorChoices(model, in.gpusPerNode()))));
            }
            if (model.numKeyValueHeads() % t != 0) {
                errors.add(new PlanError("TensorDividesKvHeads", "spec.parallelism.tensor", String.valueOf(t),
                        "does not divide numKeyValueHeads=" + model.numKeyValueHeads()
                                + " (key/value heads are split across tensor ranks, not replicated)",
                        "valid values: " + Divisors.join(tensorChoices(model, in.gpusPerNode()))));
            }
        }

        if (in.seqLength() % (2 * c) != 0) {
            int lo = in.seqLength() / (2 * c) * (2 * c);
            errors.add(new PlanError("SeqLengthDivisible", "spec.training.seqLength", String.valueOf(in.seqLength()),
                    "is not divisible by 2 × context = " + (2 * c),
                    "nearest valid values: " + (lo > 0 ? lo + ", " : "") + (lo + 2 * c)));
        }
        if (model != null && in.seqLength() > model.maxPositionEmbeddings()) {
            warnings.add("spec.training.seqLength=" + in.seqLength() + " exceeds the model's maxPositionEmbeddings="
                    + model.maxPositionEmbeddings() + "; RoPE positions beyond it were not trained");
        }

        int globalBatch = 0;
        int accumulation = 0;
        if (data != null) {
            int perStep = in.microBatchSize() * data;
            globalBatch = in.globalBatchSize() != null ? in.globalBatchSize() : perStep;
            if (globalBatch % perStep != 0) {
                int lo = globalBatch / perStep * perStep;
                errors.add(new PlanError("GlobalBatchDivisible", "spec.training.globalBatchSize",
                        String.valueOf(globalBatch), "is not a multiple of microBatchSize × data = "
                                + in.microBatchSize() + " × " + data + " = " + perStep,
                        "nearest valid values: " + (lo > 0 ? lo + ", " : "") + (lo + perStep)));
            } else {
                accumulation = globalBatch / perStep;
            }
        }

        String dsType = in.datasetType();
        if (!"synthetic".equals(dsType) && !"tokens".equals(dsType)) {
            errors.add(new PlanError("DatasetInvalid", "spec.training.dataset.type", dsType, "is not a dataset type",
                    "use synthetic or tokens"));
        } else if ("tokens".equals(dsType) && (in.datasetPath() == null || in.datasetPath().isEmpty())) {
            errors.add(new PlanError("DatasetInvalid", "spec.training.dataset.path", null,
                    "is required when spec.training.dataset.type=tokens",
                    "set the token file's path in the pod, e.g. /data/tokens.bin"));
        }
        if (!"uint16".equals(in.datasetDtype()) && !"uint32".equals(in.datasetDtype())) {
            errors.add(new PlanError("DatasetInvalid", "spec.training.dataset.dtype", in.datasetDtype(),
                    "is not a token type", "use uint16 or uint32"));
        }

        if (e > in.gpusPerNode() && e % in.gpusPerNode() == 0 && world % e == 0) {
            int span = e / in.gpusPerNode();
            if (in.topologyKeys().isEmpty()) {
                warnings.add("expert-parallel groups span " + span + " nodes, so expert all-to-all crosses the"
                        + " inter-node network, and spec.placement.topologyKeys is empty: groups may land on"
                        + " distant nodes; set topologyKeys or use expert <= " + in.gpusPerNode());
            } else {
                warnings.add("expert-parallel groups span " + span + " nodes, so expert all-to-all crosses the"
                        + " inter-node network; each group is kept inside one " + in.topologyKeys().get(0)
                        + " domain");
            }
        }

        if (!errors.isEmpty() || model == null || data == null) {
            return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), List.of());
        }

        ParameterCount params = ParameterCount.of(model);
        MemoryEstimate memory = MemoryEstimator.estimate(model, params, t, e, c, data, in.microBatchSize(),
                in.seqLength(), in.activationCheckpointing(), Math.max(1, accumulation), in.gpuMemoryGiB());
        if (!memory.fits()) {
            List<String> suggestions = suggest ? nearestFittingPlans(in, model) : List.of();
            errors.add(new PlanError("MemoryExceeded", "spec.parallelism",
                    "{tensor: " + t + ", expert: " + e + ", context: " + c + ", data: " + data + "}",
                    "needs an estimated " + MemoryEstimate.gib(memory.perGpuBytes()) + " per GPU ("
                            + breakdown(memory) + ") but resources.gpuMemoryGiB=" + in.gpuMemoryGiB(),
                    suggestions.isEmpty()
                            ? "no plan with up to 8x the nodes fits; use GPUs with more memory or a smaller model"
                            : "nearest plans that fit: " + String.join("; ", suggestions)));
            return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), suggestions);
        }

        List<RankAssignment> ranks = withRanks
                ? RankLayout.of(in.nodes(), in.gpusPerNode(), t, c, e, model.numExperts()) : List.of();
        Plan plan = new Plan(in, model, data, globalBatch, accumulation, params, memory, ranks, List.copyOf(warnings));
        return new PlanResult(plan, List.of(), List.copyOf(warnings), List.of());
    }

    /** The breakdown as text: weights 6.8 GiB, gradients ... */
    static String breakdown(MemoryEstimate m) {
        return "weights " + MemoryEstimate.gib(m.weights()) + ", gradients " + MemoryEstimate.gib(m.gradients())
                + ", optimizer " + MemoryEstimate.gib(m.optimizer()) + ", activations "
                + MemoryEstimate.gib(m.activations()) + ", headroom " + MemoryEstimate.gib(m.headroom());
    }

    private static void positive(List<PlanError> errors, String field, long value) {
        if (value < 1) {
            errors.add(new PlanError("PositiveValue", field, String.valueOf(value), "must be at least 1",
                    "use a positive value"));
        }
    }

    /** Tensor degrees allowed on this node size (and model, when known). */
    static List<Integer> tensorChoices(ModelConfig model, int gpusPerNode) {
        List<Integer> out = new ArrayList<>();
        for (int t : Divisors.of(gpusPerNode)) {
            if (model == null || (model.numAttentionHeads() % t == 0 && model.numKeyValueHeads() % t == 0)) {
                out.add(t);
            }
        }
        return out;
    }

    /** Expert degrees dividing numExperts (when known) and the world, aligned with node boundaries. */
    static List<Integer> expertChoices(ModelConfig model, int world, int gpusPerNode) {
        List<Integer> out = new ArrayList<>();
        for (int e : Divisors.of(world)) {
            if ((model == null || model.numExperts() % e == 0) && (e % gpusPerNode == 0 || gpusPerNode % e == 0)) {
                out.add(e);
            }
        }
        return out;
    }

    /** A fitting candidate: its description, how far it is from the request, and its estimate. */
    private record Candidate(String description, double distance, long bytes) {
    }

    /**
     * The nearest plans that fit: activation checkpointing turned on (when off), same or more nodes (×2, ×4,
     * ×8), other tensor/expert degrees, smaller micro-batches. Distance: changing nodes costs most, then
     * expert/tensor (log2 steps), then micro-batch; checkpointing costs a little less than halving the micro-batch
     * (it keeps the batch; measured on H100 it also kept more throughput, bench/results.md).
     */
    static List<String> nearestFittingPlans(PlanInput in, ModelConfig model) {
        List<Candidate> found = new ArrayList<>();
        if (!in.activationCheckpointing()) {
            PlanInput cand = in.withActivationCheckpointing(true);
            PlanResult r = evaluate(cand, false, false);
            if (r.isValid()) {
                found.add(new Candidate(describe(in, cand, r.plan()), 0.4, r.plan().memory().perGpuBytes()));
            }
        }
        for (int mult : new int[] {1, 2, 4, 8}) {
            int nodes = in.nodes() * mult;
            int world = nodes * in.gpusPerNode();
            for (int t : tensorChoices(model, in.gpusPerNode())) {
                for (int e : expertChoices(model, world, in.gpusPerNode())) {
                    for (int mbs = in.microBatchSize(); mbs >= 1; mbs = mbs / 2) {
                        if (mult == 1 && t == in.tensor() && e == in.expert() && mbs == in.microBatchSize()) {
                            if (mbs == 1) {
                                break;
                            }
                            continue;
                        }
                        int c = 1;
                        Integer data = in.data() == null ? null : world / (c * t);
                        PlanInput cand = in.withNodes(nodes).withParallelism(t, e, c, data).withMicroBatchSize(mbs);
                        PlanResult r = evaluate(cand, false, false);
                        if (r.isValid()) {
                            double d = 10 * log2(mult) + Math.abs(log2((double) e / in.expert()))
                                    + Math.abs(log2((double) t / in.tensor()))
                                    + 0.5 * Math.abs(log2((double) mbs / in.microBatchSize()));
                            found.add(new Candidate(describe(in, cand, r.plan()), d,
                                    r.plan().memory().perGpuBytes()));
                        }
                        if (mbs == 1) {
                            break;
                        }
                    }
                }
            }
        }
        found.sort(Comparator.comparingDouble(Candidate::distance).thenComparingLong(Candidate::bytes));
        return found.stream().limit(SUGGESTIONS).map(Candidate::description).toList();
    }

    private static String describe(PlanInput from, PlanInput to, Plan plan) {
        List<String> parts = new ArrayList<>();
        if (to.nodes() != from.nodes()) {
            parts.add("resources.nodes=" + to.nodes());
        }
        if (to.tensor() != from.tensor()) {
            parts.add("parallelism.tensor=" + to.tensor());
        }
        if (to.expert() != from.expert()) {
            parts.add("parallelism.expert=" + to.expert());
        }
        if (from.data() != null && !from.data().equals(to.data())) {
            parts.add("parallelism.data=" + to.data());
        }
        if (to.microBatchSize() != from.microBatchSize()) {
            parts.add("training.microBatchSize=" + to.microBatchSize());
        }
        if (to.activationCheckpointing() != from.activationCheckpointing()) {
            parts.add("training.activationCheckpointing=" + to.activationCheckpointing());
        }
        return String.join(", ", parts) + " (" + plan.memory().summary() + ")";
    }

    private static double log2(double x) {
        return Math.log(x) / Math.log(2);
    }

}
