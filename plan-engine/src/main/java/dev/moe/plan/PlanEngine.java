package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
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
 *   <li>JobNameInvalid, JobNameTooLong: the job's name makes valid derived names ({@link ObjectNameRules}).</li>
 *   <li>FieldType, FieldRequired, PositiveValue, ValueTooLarge: every number is a number of the right kind inside
 *       its {@link SpecLimits} range (degrees, nodes, GPUs, sequence length, batch sizes, steps are at least 1).</li>
 *   <li>The pod-bound fields (image, env, node selector, tolerations, topology keys, claims, mount paths):
 *       {@link WorkloadRules}.</li>
 *   <li>WorldTooLarge: nodes × gpusPerNode is at most {@link SpecLimits#MAX_WORLD}.</li>
 *   <li>TokensPerMicroBatch: microBatchSize × seqLength is at most {@link SpecLimits#MAX_TOKENS_PER_MICRO_BATCH}.</li>
 *   <li>HyperParameterInvalid, LearningRateOrder, WarmupExceedsSteps: 0 &lt; learningRate ≤ 1,
 *       0 ≤ minLearningRate ≤ learningRate, warmupSteps ≤ steps, 0 ≤ weightDecay ≤ 1, gradClip ≥ 0.</li>
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
 *   <li>TopologyKeyHostname: expert-parallel groups that span nodes cannot share kubernetes.io/hostname.</li>
 *   <li>MemoryExceeded: the per-GPU estimate fits gpuMemoryGiB; otherwise the nearest plans that fit.</li>
 *   <li>PlanTooLarge: the plan document fits the ConfigMap ({@link SpecLimits#MAX_PLAN_DOCUMENT_BYTES}).</li>
 *   <li>TooManyErrors: only the first {@link SpecLimits#MAX_REPORTED_ERRORS} problems are listed.</li>
 * </ul>
 * Warnings: expert-parallel groups that cross nodes (all-to-all over the network), seqLength beyond the model's
 * max_position_embeddings.
 *
 * <p>Bounded work: every number is range-checked before any arithmetic, products are 64-bit and exact
 * ({@code Math.multiplyExact}), the rank layout is built only for a valid world of at most
 * {@link SpecLimits#MAX_WORLD} ranks, the nearest-plan search stays inside the limits, and parameter counting is
 * closed-form. So planning any spec takes milliseconds and bounded memory.
 */
public final class PlanEngine {
    private PlanEngine() {
    }

    /** How many nearby plans a MemoryExceeded error suggests. */
    static final int SUGGESTIONS = 3;

    /** Plans the job {@code namespace/name} with the given {@code spec} (JSON shape of MoETrainingJob.spec). */
    public static PlanResult plan(String namespace, String name, JsonNode spec) {
        List<PlanError> errors = new ArrayList<>(ObjectNameRules.checkJobName(name));
        List<PlanError> readErrors = new ArrayList<>();
        PlanInput input = JobSpecConverter.toInput(namespace, name, spec, readErrors);
        errors.addAll(readErrors);
        if (input != null) {
            WorkloadRules.check(JobSpecConverter.withDefaults(spec), errors);
        }
        if (input == null || !readErrors.isEmpty()) {
            return new PlanResult(null, capped(errors), List.of(), List.of());
        }
        PlanResult result = plan(input);
        if (errors.isEmpty()) {
            return result;
        }
        errors.addAll(result.errors());
        return new PlanResult(null, capped(errors), result.warnings(), result.suggestions());
    }

    /** Plans an already converted input. */
    public static PlanResult plan(PlanInput input) {
        PlanResult r = evaluate(input, true, true);
        return r.errors().size() > SpecLimits.MAX_REPORTED_ERRORS
                ? new PlanResult(null, capped(r.errors()), r.warnings(), r.suggestions()) : r;
    }

    /**
     * Each problem once (a field two rules read is reported by both), and at most
     * {@link SpecLimits#MAX_REPORTED_ERRORS}: the first ones, then how many more there are.
     */
    static List<PlanError> capped(List<PlanError> all) {
        List<PlanError> errors = new ArrayList<>(new java.util.LinkedHashSet<>(all));
        if (errors.size() <= SpecLimits.MAX_REPORTED_ERRORS) {
            return List.copyOf(errors);
        }
        List<PlanError> out = new ArrayList<>(errors.subList(0, SpecLimits.MAX_REPORTED_ERRORS - 1));
        out.add(new PlanError("TooManyErrors", "spec", null, "has " + (errors.size() - out.size())
                + " more problems", "fix the ones above and check again"));
        return List.copyOf(out);
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
            if (errors.size() == before) {
                model.validate(errors);
            }
            if (errors.size() > before) {
                model = null;
            }
        }

        // Ranges first (JobSpecConverter already checked a spec; this covers inputs built in code and the
        // nearest-plan search): nothing below multiplies a number that is not inside SpecLimits.
        inRange(errors, "spec.parallelism.tensor", in.tensor());
        inRange(errors, "spec.parallelism.expert", in.expert());
        inRange(errors, "spec.parallelism.context", in.context());
        if (in.data() != null) {
            inRange(errors, "spec.parallelism.data", in.data());
        }
        inRange(errors, "spec.resources.nodes", in.nodes());
        inRange(errors, "spec.resources.gpusPerNode", in.gpusPerNode());
        inRange(errors, "spec.resources.gpuMemoryGiB", in.gpuMemoryGiB());
        inRange(errors, "spec.training.seqLength", in.seqLength());
        inRange(errors, "spec.training.microBatchSize", in.microBatchSize());
        if (in.globalBatchSize() != null) {
            inRange(errors, "spec.training.globalBatchSize", in.globalBatchSize());
        }
        inRange(errors, "spec.training.steps", in.steps());
        inRange(errors, "spec.training.warmupSteps", in.warmupSteps());
        inRange(errors, "spec.training.seed", in.seed());
        inRange(errors, "spec.training.checkpoint.everySteps", in.checkpointEverySteps());
        checkHyperParameters(in, errors, warnings);
        long worldSize = Math.multiplyExact((long) in.nodes(), (long) in.gpusPerNode());
        if (errors.stream().noneMatch(e -> e.rule().equals("PositiveValue") || e.rule().equals("ValueTooLarge"))) {
            if (worldSize > SpecLimits.MAX_WORLD) {
                errors.add(new PlanError("WorldTooLarge", "spec.resources", "{nodes: " + in.nodes()
                        + ", gpusPerNode: " + in.gpusPerNode() + "}", "gives nodes × gpusPerNode = " + worldSize
                        + " GPUs, more than the " + SpecLimits.MAX_WORLD + " a job may have (the plan document lists"
                        + " every rank and must fit a 1 MiB ConfigMap)",
                        "use at most " + SpecLimits.MAX_WORLD + " GPUs, e.g. resources.nodes="
                                + SpecLimits.MAX_WORLD / in.gpusPerNode()));
            }
            long tokens = Math.multiplyExact((long) in.microBatchSize(), (long) in.seqLength());
            if (tokens > SpecLimits.MAX_TOKENS_PER_MICRO_BATCH) {
                errors.add(new PlanError("TokensPerMicroBatch", "spec.training.microBatchSize",
                        String.valueOf(in.microBatchSize()), "× seqLength " + in.seqLength() + " = " + tokens
                                + " tokens per GPU per pass, more than " + SpecLimits.MAX_TOKENS_PER_MICRO_BATCH
                                + " (no GPU holds the activations of that many tokens)",
                        "use microBatchSize at most " + Math.max(1, SpecLimits.MAX_TOKENS_PER_MICRO_BATCH
                                / in.seqLength()) + " and reach the batch with gradient accumulation"
                                + " (training.globalBatchSize)"));
            }
        }
        if (!errors.stream().allMatch(e -> NON_BLOCKING.contains(e.rule()))) {
            return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), List.of());
        }

        // Every number is now inside its range, so these products fit an int; they are exact regardless.
        int world = Math.toIntExact(worldSize);
        int t = in.tensor();
        int e = in.expert();
        int c = in.context();
        int contextTensor = Math.multiplyExact(c, t);

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
            long product = Math.multiplyExact((long) data, (long) contextTensor);
            if (product != world) {
                String fix = world % contextTensor == 0
                        ? "set spec.parallelism.data=" + (world / contextTensor) + " or leave it out to derive it"
                        : "change resources.nodes or resources.gpusPerNode so that context × tensor divides them";
                errors.add(new PlanError("WorldSize", "spec.parallelism.data", String.valueOf(data),
                        "gives data × context × tensor = " + data + " × " + c + " × " + t + " = " + product
                                + " but resources.nodes × resources.gpusPerNode = " + in.nodes() + " × "
                                + in.gpusPerNode() + " = " + world, fix));
            }
        } else if (world % contextTensor != 0) {
            errors.add(new PlanError("WorldSize", "spec.parallelism", "context=" + c + ", tensor=" + t,
                    "context × tensor = " + contextTensor + " does not divide the world size " + world,
                    "choose context × tensor dividing " + world));
        } else {
            data = world / contextTensor;
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

        int twoContext = Math.multiplyExact(2, c);
        if (in.seqLength() % twoContext != 0) {
            int lo = in.seqLength() / twoContext * twoContext;
            errors.add(new PlanError("SeqLengthDivisible", "spec.training.seqLength", String.valueOf(in.seqLength()),
                    "is not divisible by 2 × context = " + twoContext,
                    "nearest valid values: " + (lo > 0 ? lo + ", " : "") + Math.addExact(lo, twoContext)));
        }
        if (model != null && in.seqLength() > model.maxPositionEmbeddings()) {
            warnings.add("spec.training.seqLength=" + in.seqLength() + " exceeds the model's maxPositionEmbeddings="
                    + model.maxPositionEmbeddings() + "; RoPE positions beyond it were not trained");
        }

        int globalBatch = 0;
        int accumulation = 0;
        if (data != null) {
            int perStep = Math.multiplyExact(in.microBatchSize(), data);
            globalBatch = in.globalBatchSize() != null ? in.globalBatchSize() : perStep;
            if (globalBatch % perStep != 0) {
                int lo = globalBatch / perStep * perStep;
                errors.add(new PlanError("GlobalBatchDivisible", "spec.training.globalBatchSize",
                        String.valueOf(globalBatch), "is not a multiple of microBatchSize × data = "
                                + in.microBatchSize() + " × " + data + " = " + perStep,
                        "nearest valid values: " + (lo > 0 ? lo + ", " : "") + Math.addExact(lo, perStep)));
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
            } else if (HOSTNAME_KEY.equals(in.topologyKeys().get(0))) {
                errors.add(new PlanError("TopologyKeyHostname", "spec.placement.topologyKeys[0]", HOSTNAME_KEY,
                        "cannot hold an expert-parallel group: groups span " + span + " nodes (expert=" + e
                                + " > gpusPerNode=" + in.gpusPerNode() + ") and every pod needs a node of its own,"
                                + " so the gang could never be scheduled",
                        "use a topology key shared by several nodes, e.g. topology.kubernetes.io/rack, or expert <= "
                                + in.gpusPerNode()));
            } else {
                warnings.add("expert-parallel groups span " + span + " nodes, so expert all-to-all crosses the"
                        + " inter-node network; each group is kept inside one " + in.topologyKeys().get(0)
                        + " domain");
            }
        }

        if (!errors.stream().allMatch(x -> NON_BLOCKING.contains(x.rule())) || model == null || data == null) {
            return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), List.of());
        }

        ParameterCount params = null;
        MemoryEstimate memory = null;
        try {
            params = ParameterCount.of(model);
            memory = MemoryEstimator.estimate(model, params, t, e, c, data, in.microBatchSize(), in.seqLength(),
                    in.activationCheckpointing(), Math.max(1, accumulation), in.gpuMemoryGiB());
        } catch (ArithmeticException overflow) {
            memory = null; // reported below
        }
        if (memory == null || !sane(memory)) {
            // SpecLimits keep every count and estimate far inside a long (ParameterCount is exact; a negative
            // part of the estimate would be a wrapped product): reaching this means a limit is wrong.
            errors.add(new PlanError("EstimateOverflow", "spec.model", in.preset(),
                    "with these overrides is too large to count or estimate in 64 bits",
                    "use a smaller model; please report this job file, docs/limits.md should have refused it"));
            return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), List.of());
        }
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
        if (!errors.isEmpty()) {
            return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), List.of());
        }

        List<RankAssignment> ranks = withRanks
                ? RankLayout.of(in.nodes(), in.gpusPerNode(), t, c, e, model.numExperts()) : List.of();
        Plan plan = new Plan(in, model, data, globalBatch, accumulation, params, memory, ranks, List.copyOf(warnings));
        if (withRanks) {
            int bytes = plan.toJsonString().getBytes(StandardCharsets.UTF_8).length;
            if (bytes > SpecLimits.MAX_PLAN_DOCUMENT_BYTES) {
                errors.add(new PlanError("PlanTooLarge", "spec.resources", "{nodes: " + in.nodes()
                        + ", gpusPerNode: " + in.gpusPerNode() + "}", "gives a plan document of " + bytes
                        + " bytes (one entry per rank), more than the " + SpecLimits.MAX_PLAN_DOCUMENT_BYTES
                        + " the ConfigMap <job>-plan may hold", "use fewer GPUs"));
                return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), List.of());
            }
        }
        return new PlanResult(plan, List.of(), List.copyOf(warnings), List.of());
    }

    /** The node label of a node's own name: one pod per node, so never a domain for a multi-node group. */
    static final String HOSTNAME_KEY = "kubernetes.io/hostname";

    /**
     * Rules whose failure does not stop the plan arithmetic (the numbers involved are not used by it); the
     * other rules' errors return before the next stage, so no later stage sees a value it cannot handle.
     */
    private static final java.util.Set<String> NON_BLOCKING = java.util.Set.of("UnknownPreset",
            "ModelConfigInvalid", "LearningRateOrder", "WarmupExceedsSteps", "HyperParameterInvalid");

    private static boolean sane(MemoryEstimate m) {
        return m.weights() >= 0 && m.gradients() >= 0 && m.optimizer() >= 0 && m.activations() >= 0
                && m.headroom() >= 0 && m.perGpuBytes() >= 0;
    }

    /**
     * Learning rates, warmup, weight decay and gradient clipping: numbers that make sense for AdamW. A default
     * that conflicts with a value the user set (warmupSteps 100 with steps 20, minLearningRate 3e-5 with
     * learningRate 1e-5) is a warning, not an error: a short job or a small learning rate must not need to
     * restate a default (the API server cannot tell a default from a value written out, so an explicit value
     * equal to the default is treated the same).
     */
    private static void checkHyperParameters(PlanInput in, List<PlanError> errors, List<String> warnings) {
        double lr = in.learningRate();
        if (!(lr > 0) || lr > SpecLimits.MAX_LEARNING_RATE) {
            errors.add(new PlanError("HyperParameterInvalid", "spec.training.learningRate", String.valueOf(lr),
                    "must be more than 0 and at most " + SpecLimits.MAX_LEARNING_RATE, "use e.g. 3e-4"));
        } else if (!(in.minLearningRate() >= 0)) {
            errors.add(new PlanError("HyperParameterInvalid", "spec.training.minLearningRate",
                    String.valueOf(in.minLearningRate()), "is negative", "use 0 or more, e.g. learningRate / 10"));
        } else if (in.minLearningRate() > lr) {
            if (in.minLearningRate() == Double.parseDouble(SpecDefaults.MIN_LEARNING_RATE)) {
                warnings.add("spec.training.minLearningRate=" + in.minLearningRate() + " (the default) is more than"
                        + " learningRate=" + lr + ", so the schedule rises instead of decaying; set minLearningRate");
            } else {
                errors.add(new PlanError("LearningRateOrder", "spec.training.minLearningRate",
                        String.valueOf(in.minLearningRate()), "is more than learningRate=" + lr
                                + " (the schedule decays from learningRate down to minLearningRate)",
                        "use at most " + lr));
            }
        }
        if (in.warmupSteps() > in.steps()) {
            if (in.warmupSteps() == Integer.parseInt(SpecDefaults.WARMUP_STEPS)) {
                warnings.add("spec.training.warmupSteps=" + in.warmupSteps() + " (the default) is more than"
                        + " training.steps=" + in.steps() + ", so the learning rate never reaches its peak; set"
                        + " warmupSteps");
            } else {
                errors.add(new PlanError("WarmupExceedsSteps", "spec.training.warmupSteps",
                        String.valueOf(in.warmupSteps()), "is more than training.steps=" + in.steps()
                                + " (the learning rate would never reach its peak)",
                        "use at most " + in.steps()));
            }
        }
        double wd = in.weightDecay();
        if (!(wd >= 0) || wd > SpecLimits.MAX_WEIGHT_DECAY) {
            errors.add(new PlanError("HyperParameterInvalid", "spec.training.weightDecay", String.valueOf(wd),
                    "must be between 0 and " + SpecLimits.MAX_WEIGHT_DECAY, "use e.g. 0.1"));
        }
        double clip = in.gradClip();
        if (!(clip >= 0) || Double.isInfinite(clip)) {
            errors.add(new PlanError("HyperParameterInvalid", "spec.training.gradClip", String.valueOf(clip),
                    "must be 0 (off) or a positive number", "use e.g. 1.0"));
        }
    }

    private static void inRange(List<PlanError> errors, String field, long value) {
        PlanError e = RangeRules.check(field, value, SpecLimits.range(field.substring("spec.".length())));
        if (e != null) {
            errors.add(e);
        }
    }

    /** The breakdown as text: weights 6.8 GiB, gradients ... */
    static String breakdown(MemoryEstimate m) {
        return "weights " + MemoryEstimate.gib(m.weights()) + ", gradients " + MemoryEstimate.gib(m.gradients())
                + ", optimizer " + MemoryEstimate.gib(m.optimizer()) + ", activations "
                + MemoryEstimate.gib(m.activations()) + ", headroom " + MemoryEstimate.gib(m.headroom());
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
            int nodes = Math.multiplyExact(in.nodes(), mult);
            int world = Math.multiplyExact(nodes, in.gpusPerNode());
            if (nodes > SpecLimits.MAX_NODES || world > SpecLimits.MAX_WORLD) {
                break; // a suggestion the job could not use; bigger multiples are bigger still
            }
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
