package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.ObjectNameRules;
import dev.moe.api.v1alpha1.SpecLimits;
import dev.moe.api.v1alpha1.TolerantJobReading;
import dev.moe.api.v1alpha1.TolerantJobReading.UnreadableSpec;
import dev.moe.api.v1alpha1.TrainingSpec;
import dev.moe.api.v1alpha1.TrainingSpec.ActivationCheckpointing;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Checks a job against its model and lays it out. Plain Java over the API types ({@code dev.moe.api.v1alpha1}, no
 * Kubernetes client); the operator and bin/moe-plan both call {@link #plan(String, String, MoETrainingJobSpec)}.
 *
 * <p>Rules, each reported with the field, the value and a fix (rule ids are {@link PlanError#rule()}):
 * <ul>
 *   <li>JobNameInvalid, JobNameTooLong: the job's name makes valid derived names ({@link ObjectNameRules},
 *       {@link JobNameRules}).</li>
 *   <li>FieldType, FieldRequired, PositiveValue, ValueTooLarge, SpecMissing, SpecUnreadable: every field is of
 *       its type and every number inside its {@link SpecLimits} range (degrees, nodes, GPUs, sequence length,
 *       batch sizes, steps are at least 1), {@link FieldRules}.</li>
 *   <li>The pod-bound fields (image, env, node selector, tolerations, topology keys, claims, mount paths):
 *       {@link WorkloadRules}.</li>
 *   <li>WorldTooLarge: nodes × gpusPerNode is at most {@link SpecLimits#MAX_WORLD}.</li>
 *   <li>TokensPerMicroBatch: microBatchSize × seqLength is at most {@link SpecLimits#MAX_TOKENS_PER_MICRO_BATCH}.</li>
 *   <li>HyperParameterInvalid, LearningRateOrder, WarmupExceedsSteps: 0 &lt; learningRate ≤ 1,
 *       0 ≤ minLearningRate ≤ learningRate, warmupSteps ≤ steps, 0 ≤ weightDecay ≤ 1, gradClip ≥ 0.</li>
 *   <li>UnknownPreset, ModelConfigInvalid: the model exists and its overrides make sense.</li>
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
 * Context parallelism (context &gt; 1) needs no rule of its own beyond SeqLengthDivisible and WorldSize: the
 * trainer runs any context degree with any tensor and expert degree the other rules accept (trainer-image
 * moe_trainer/parallel/context.py; context ranks are more token shards to the expert mesh).
 * Warnings: expert-parallel groups that cross nodes (all-to-all over the network), context-parallel groups that
 * cross nodes (every layer's K/V all-gather over the network), seqLength beyond the model's
 * max_position_embeddings.
 *
 * <p>Bounded work: every number is range-checked before any arithmetic, products are 64-bit and exact
 * ({@code Math.multiplyExact}), the rank layout is built only for a valid world of at most
 * {@link SpecLimits#MAX_WORLD} ranks, the nearest-plan search stays inside the limits, and parameter counting is
 * closed-form. So planning any spec takes milliseconds and bounded memory.
 */
public final class PlanEngine {
    private PlanEngine() {}

    /** How many nearby plans a MemoryExceeded error suggests. */
    static final int SUGGESTIONS = 3;

    /**
     * Plans the job {@code namespace/name} with the given {@code spec}: as the API server stores it, or as
     * {@link TolerantJobReading#readSpec} reads a file (an {@link UnreadableSpec} is reported, not planned).
     */
    public static PlanResult plan(String namespace, String name, MoETrainingJobSpec spec) {
        List<PlanError> errors = new ArrayList<>(JobNameRules.checkJobName(name));
        if (spec == null) {
            errors.add(FieldRules.specMissing(null));
            return new PlanResult(null, capped(errors), List.of(), List.of());
        }
        List<PlanError> fieldErrors = new ArrayList<>();
        if (spec instanceof UnreadableSpec unreadable) {
            // the values that do not fit the types, then the rules for the fields that were read (never a plan)
            unreadable.problems.forEach(p -> fieldErrors.add(FieldRules.unreadable(p)));
            if (!unreadable.othersRead) {
                errors.addAll(fieldErrors);
                return new PlanResult(null, capped(errors), List.of(), List.of());
            }
        }
        FieldRules.check(spec, fieldErrors);
        errors.addAll(fieldErrors);
        WorkloadRules.check(spec, errors);
        if (!fieldErrors.isEmpty()) {
            return new PlanResult(null, capped(errors), List.of(), List.of());
        }
        PlanResult result = evaluate(new Job(namespace, name, spec), PlanShape.of(spec), true, true);
        if (result.errors().size() > SpecLimits.MAX_REPORTED_ERRORS) {
            result = new PlanResult(null, capped(result.errors()), result.warnings(), result.suggestions());
        }
        if (errors.isEmpty()) {
            return result;
        }
        errors.addAll(result.errors());
        return new PlanResult(null, capped(errors), result.warnings(), result.suggestions());
    }

    /** The job being planned: its identity and its spec (every field present and in range, see FieldRules). */
    private record Job(String namespace, String name, MoETrainingJobSpec spec) {
        String preset() {
            return spec.model == null ? null : spec.model.preset;
        }

        JsonNode modelOverrides() {
            return spec.model == null ? null : spec.model.config;
        }

        /** The topology keys, fastest first (WorkloadRules reports a list that is too long or holds no strings). */
        List<String> topologyKeys() {
            List<String> keys = spec.placement == null ? null : spec.placement.topologyKeys;
            return keys == null
                    ? List.of()
                    : keys.stream()
                            .filter(Objects::nonNull)
                            .limit(SpecLimits.MAX_TOPOLOGY_KEYS)
                            .toList();
        }
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
        out.add(new PlanError(
                "TooManyErrors",
                "spec",
                null,
                "has " + (errors.size() - out.size()) + " more problems",
                "fix the ones above and check again"));
        return List.copyOf(out);
    }

    /**
     * The plan rules for {@code job} in the given {@code shape} (the job's own, or one the nearest-plan search
     * tries). Every number is inside its {@link SpecLimits} range: {@link FieldRules} checked the spec, and the
     * search only tries shapes inside the limits.
     */
    private static PlanResult evaluate(Job job, PlanShape shape, boolean suggest, boolean withRanks) {
        List<PlanError> errors = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        TrainingSpec training = job.spec().training;

        ModelConfig model = null;
        Optional<ModelConfig> preset = ModelCatalog.preset(job.preset());
        if (preset.isEmpty()) {
            errors.add(new PlanError(
                    "UnknownPreset",
                    "spec.model.preset",
                    job.preset(),
                    job.preset() == null ? "is required" : "is not a known model preset",
                    "use one of: " + String.join(", ", ModelCatalog.presets())));
        } else {
            int before = errors.size();
            model = preset.get().withOverrides(job.modelOverrides(), errors);
            if (errors.size() == before) {
                model.validate(errors);
            }
            if (errors.size() > before) {
                model = null;
            }
        }

        checkHyperParameters(training, errors, warnings);
        long worldSize = shape.worldSize();
        if (worldSize > SpecLimits.MAX_WORLD) {
            errors.add(new PlanError(
                    "WorldTooLarge",
                    "spec.resources",
                    "{nodes: " + shape.nodes() + ", gpusPerNode: " + shape.gpusPerNode() + "}",
                    "gives nodes × gpusPerNode = " + worldSize
                            + " GPUs, more than the " + SpecLimits.MAX_WORLD
                            + " a job may have (the plan document lists"
                            + " every rank and must fit a 1 MiB ConfigMap)",
                    "use at most " + SpecLimits.MAX_WORLD + " GPUs, e.g. resources.nodes="
                            + SpecLimits.MAX_WORLD / shape.gpusPerNode()));
        }
        long tokens = Math.multiplyExact((long) shape.microBatchSize(), (long) training.seqLength);
        if (tokens > SpecLimits.MAX_TOKENS_PER_MICRO_BATCH) {
            errors.add(new PlanError(
                    "TokensPerMicroBatch",
                    "spec.training.microBatchSize",
                    String.valueOf(shape.microBatchSize()),
                    "× seqLength " + training.seqLength + " = " + tokens
                            + " tokens per GPU per pass, more than " + SpecLimits.MAX_TOKENS_PER_MICRO_BATCH
                            + " (no GPU holds the activations of that many tokens)",
                    "use microBatchSize at most "
                            + Math.max(1, SpecLimits.MAX_TOKENS_PER_MICRO_BATCH / training.seqLength)
                            + " and reach the batch with gradient accumulation"
                            + " (training.globalBatchSize)"));
        }
        if (!errors.stream().allMatch(e -> NON_BLOCKING.contains(e.rule()))) {
            return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), List.of());
        }

        // Every number is now inside its range, so these products fit an int; they are exact regardless.
        int world = Math.toIntExact(worldSize);
        int t = shape.tensor();
        int e = shape.expert();
        int c = shape.context();
        int contextTensor = Math.multiplyExact(c, t);

        if (c > 1 && shape.gpusPerNode() % contextTensor != 0) {
            // a context group is context × tensor consecutive ranks (tensor innermost, RankLayout)
            warnings.add("context-parallel groups (context × tensor = " + c + " × " + t + " = " + contextTensor
                    + " consecutive ranks) do not fit inside one node of resources.gpusPerNode=" + shape.gpusPerNode()
                    + ", so every layer's K/V all-gather and its backward reduce-scatter cross the inter-node network;"
                    + " use context × tensor dividing gpusPerNode to keep them on NVLink");
        }
        boolean tensorOk = t <= shape.gpusPerNode() && shape.gpusPerNode() % t == 0;
        if (!tensorOk) {
            errors.add(new PlanError(
                    "TensorWithinNode",
                    "spec.parallelism.tensor",
                    String.valueOf(t),
                    "does not divide resources.gpusPerNode=" + shape.gpusPerNode()
                            + " (tensor parallelism must stay inside one node)",
                    "valid values: " + Divisors.join(tensorChoices(model, shape.gpusPerNode()))));
        }

        Integer data = shape.data();
        if (data != null) {
            long product = Math.multiplyExact((long) data, (long) contextTensor);
            if (product != world) {
                String fix = world % contextTensor == 0
                        ? "set spec.parallelism.data=" + (world / contextTensor) + " or leave it out to derive it"
                        : "change resources.nodes or resources.gpusPerNode so that context × tensor divides them";
                errors.add(new PlanError(
                        "WorldSize",
                        "spec.parallelism.data",
                        String.valueOf(data),
                        "gives data × context × tensor = " + data + " × " + c + " × " + t + " = " + product
                                + " but resources.nodes × resources.gpusPerNode = " + shape.nodes() + " × "
                                + shape.gpusPerNode() + " = " + world,
                        fix));
            }
        } else if (world % contextTensor != 0) {
            errors.add(new PlanError(
                    "WorldSize",
                    "spec.parallelism",
                    "context=" + c + ", tensor=" + t,
                    "context × tensor = " + contextTensor + " does not divide the world size " + world,
                    "choose context × tensor dividing " + world));
        } else {
            data = world / contextTensor;
        }

        if (world % e != 0) {
            errors.add(new PlanError(
                    "ExpertDividesWorld",
                    "spec.parallelism.expert",
                    String.valueOf(e),
                    "does not divide the world size " + world + " (resources.nodes × resources.gpusPerNode)",
                    "valid values: " + Divisors.join(expertChoices(model, world, shape.gpusPerNode()))));
        }
        if (model != null && model.numExperts() % e != 0) {
            errors.add(new PlanError(
                    "ExpertDividesExperts",
                    "spec.parallelism.expert",
                    String.valueOf(e),
                    "does not divide numExperts=" + model.numExperts(),
                    "valid values: " + Divisors.join(expertChoices(model, world, shape.gpusPerNode()))));
        }
        if (e % shape.gpusPerNode() != 0 && shape.gpusPerNode() % e != 0) {
            errors.add(new PlanError(
                    "ExpertGroupAlignment",
                    "spec.parallelism.expert",
                    String.valueOf(e),
                    "would make expert-parallel groups straddle node boundaries (resources.gpusPerNode="
                            + shape.gpusPerNode() + ")",
                    "use a divisor or a multiple of gpusPerNode; valid values: "
                            + Divisors.join(expertChoices(model, world, shape.gpusPerNode()))));
        }

        if (model != null && tensorOk) {
            if (model.numAttentionHeads() % t != 0) {
                errors.add(new PlanError(
                        "TensorDividesHeads",
                        "spec.parallelism.tensor",
                        String.valueOf(t),
                        "does not divide numAttentionHeads=" + model.numAttentionHeads(),
                        "valid values: " + Divisors.join(tensorChoices(model, shape.gpusPerNode()))));
            }
            if (model.numKeyValueHeads() % t != 0) {
                errors.add(new PlanError(
                        "TensorDividesKvHeads",
                        "spec.parallelism.tensor",
                        String.valueOf(t),
                        "does not divide numKeyValueHeads=" + model.numKeyValueHeads()
                                + " (key/value heads are split across tensor ranks, not replicated)",
                        "valid values: " + Divisors.join(tensorChoices(model, shape.gpusPerNode()))));
            }
        }

        int twoContext = Math.multiplyExact(2, c);
        if (training.seqLength % twoContext != 0) {
            int lo = training.seqLength / twoContext * twoContext;
            errors.add(new PlanError(
                    "SeqLengthDivisible",
                    "spec.training.seqLength",
                    String.valueOf(training.seqLength),
                    "is not divisible by 2 × context = " + twoContext,
                    "nearest valid values: " + (lo > 0 ? lo + ", " : "") + Math.addExact(lo, twoContext)));
        }
        if (model != null && training.seqLength > model.maxPositionEmbeddings()) {
            warnings.add("spec.training.seqLength=" + training.seqLength + " exceeds the model's maxPositionEmbeddings="
                    + model.maxPositionEmbeddings() + "; RoPE positions beyond it were not trained");
        }

        int globalBatch = 0;
        int accumulation = 0;
        if (data != null) {
            int perStep = Math.multiplyExact(shape.microBatchSize(), data);
            globalBatch = training.globalBatchSize != null ? training.globalBatchSize : perStep;
            if (globalBatch % perStep != 0) {
                int lo = globalBatch / perStep * perStep;
                errors.add(new PlanError(
                        "GlobalBatchDivisible",
                        "spec.training.globalBatchSize",
                        String.valueOf(globalBatch),
                        "is not a multiple of microBatchSize × data = " + shape.microBatchSize() + " × " + data + " = "
                                + perStep,
                        "nearest valid values: " + (lo > 0 ? lo + ", " : "") + Math.addExact(lo, perStep)));
            } else {
                accumulation = globalBatch / perStep;
            }
        }

        var dataset = training.dataset;
        if (dataset.type == TrainingSpec.DatasetType.tokens && (dataset.path == null || dataset.path.isEmpty())) {
            errors.add(new PlanError(
                    "DatasetInvalid",
                    "spec.training.dataset.path",
                    null,
                    "is required when spec.training.dataset.type=tokens",
                    "set the token file's path in the pod, e.g. /data/tokens.bin"));
        }

        List<String> topologyKeys = job.topologyKeys();
        if (e > shape.gpusPerNode() && e % shape.gpusPerNode() == 0 && world % e == 0) {
            int span = e / shape.gpusPerNode();
            if (topologyKeys.isEmpty()) {
                warnings.add("expert-parallel groups span " + span + " nodes, so expert all-to-all crosses the"
                        + " inter-node network, and spec.placement.topologyKeys is empty: groups may land on"
                        + " distant nodes; set topologyKeys or use expert <= " + shape.gpusPerNode());
            } else if (HOSTNAME_KEY.equals(topologyKeys.get(0))) {
                errors.add(new PlanError(
                        "TopologyKeyHostname",
                        "spec.placement.topologyKeys[0]",
                        HOSTNAME_KEY,
                        "cannot hold an expert-parallel group: groups span " + span + " nodes (expert=" + e
                                + " > gpusPerNode=" + shape.gpusPerNode() + ") and every pod needs a node of its own,"
                                + " so the gang could never be scheduled",
                        "use a topology key shared by several nodes, e.g. topology.kubernetes.io/rack, or expert <= "
                                + shape.gpusPerNode()));
            } else {
                warnings.add("expert-parallel groups span " + span + " nodes, so expert all-to-all crosses the"
                        + " inter-node network; each group is kept inside one " + topologyKeys.get(0)
                        + " domain");
            }
        }

        if (!errors.stream().allMatch(x -> NON_BLOCKING.contains(x.rule())) || model == null || data == null) {
            return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), List.of());
        }

        ParameterCount params = null;
        MemoryEstimate memory = null;
        PlanShape requested = shape;
        try {
            params = ParameterCount.of(model);
            // unset: the fastest mode that fits (each keeps less and recomputes more than the one before)
            List<ActivationCheckpointing> modes = shape.activationCheckpointing() != null
                    ? List.of(shape.activationCheckpointing())
                    : List.of(ActivationCheckpointing.values());
            for (ActivationCheckpointing ac : modes) {
                shape = requested.withActivationCheckpointing(ac);
                memory = MemoryEstimator.estimate(
                        model,
                        params,
                        t,
                        e,
                        c,
                        data,
                        shape.microBatchSize(),
                        training.seqLength,
                        ac,
                        Math.max(1, accumulation),
                        job.spec().resources.gpuMemoryGiB);
                if (!sane(memory) || memory.fits()) {
                    break;
                }
            }
        } catch (ArithmeticException overflow) {
            memory = null; // reported below
        }
        if (memory == null || !sane(memory)) {
            // SpecLimits keep every count and estimate far inside a long (ParameterCount is exact; a negative
            // part of the estimate would be a wrapped product): reaching this means a limit is wrong.
            errors.add(new PlanError(
                    "EstimateOverflow",
                    "spec.model",
                    job.preset(),
                    "with these overrides is too large to count or estimate in 64 bits",
                    "use a smaller model; please report this job file, docs/limits.md should have refused it"));
            return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), List.of());
        }
        if (!memory.fits()) {
            List<String> suggestions = suggest ? nearestFittingPlans(job, requested, model) : List.of();
            errors.add(new PlanError(
                    "MemoryExceeded",
                    "spec.parallelism",
                    "{tensor: " + t + ", expert: " + e + ", context: " + c + ", data: " + data + "}",
                    "needs an estimated " + MemoryEstimate.gib(memory.perGpuBytes()) + " per GPU (" + breakdown(memory)
                            + ") but resources.gpuMemoryGiB=" + job.spec().resources.gpuMemoryGiB,
                    suggestions.isEmpty()
                            ? "no plan with up to 8x the nodes fits; use GPUs with more memory or a smaller model"
                            : "nearest plans that fit: " + String.join("; ", suggestions)));
            return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), suggestions);
        }
        if (!errors.isEmpty()) {
            return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), List.of());
        }

        List<RankAssignment> ranks =
                withRanks ? RankLayout.of(shape.nodes(), shape.gpusPerNode(), t, c, e, model.numExperts()) : List.of();
        Plan plan = new Plan(
                job.namespace(),
                job.name(),
                job.spec(),
                shape,
                model,
                data,
                globalBatch,
                accumulation,
                params,
                memory,
                ranks,
                List.copyOf(warnings));
        String document = null;
        if (withRanks) {
            document = plan.toJsonString();
            int bytes = document.getBytes(StandardCharsets.UTF_8).length;
            if (bytes > SpecLimits.MAX_PLAN_DOCUMENT_BYTES) {
                errors.add(new PlanError(
                        "PlanTooLarge",
                        "spec.resources",
                        "{nodes: " + shape.nodes() + ", gpusPerNode: " + shape.gpusPerNode() + "}",
                        "gives a plan document of " + bytes
                                + " bytes (one entry per rank), more than the " + SpecLimits.MAX_PLAN_DOCUMENT_BYTES
                                + " the ConfigMap <job>-plan may hold",
                        "use fewer GPUs"));
                return new PlanResult(null, List.copyOf(errors), List.copyOf(warnings), List.of());
            }
        }
        return new PlanResult(plan, List.of(), List.copyOf(warnings), List.of(), document);
    }

    /** The node label of a node's own name: one pod per node, so never a domain for a multi-node group. */
    static final String HOSTNAME_KEY = "kubernetes.io/hostname";

    /**
     * Rules whose failure does not stop the plan arithmetic (the numbers involved are not used by it); the
     * other rules' errors return before the next stage, so no later stage sees a value it cannot handle.
     */
    private static final java.util.Set<String> NON_BLOCKING = java.util.Set.of(
            "UnknownPreset", "ModelConfigInvalid", "LearningRateOrder", "WarmupExceedsSteps", "HyperParameterInvalid");

    private static boolean sane(MemoryEstimate m) {
        return m.weights() >= 0
                && m.gradients() >= 0
                && m.optimizer() >= 0
                && m.activations() >= 0
                && m.headroom() >= 0
                && m.perGpuBytes() >= 0;
    }

    /**
     * Learning rates, warmup, weight decay and gradient clipping: numbers that make sense for AdamW. A default
     * that conflicts with a value the user set (warmupSteps 100 with steps 20, minLearningRate 3e-5 with
     * learningRate 1e-5) is a warning, not an error: a short job or a small learning rate must not need to
     * restate a default (the API server cannot tell a default from a value written out, so an explicit value
     * equal to the default is treated the same).
     */
    private static void checkHyperParameters(TrainingSpec training, List<PlanError> errors, List<String> warnings) {
        double lr = training.learningRate;
        if (!(lr > 0) || lr > SpecLimits.MAX_LEARNING_RATE) {
            errors.add(new PlanError(
                    "HyperParameterInvalid",
                    "spec.training.learningRate",
                    String.valueOf(lr),
                    "must be more than 0 and at most " + SpecLimits.MAX_LEARNING_RATE,
                    "use e.g. 3e-4"));
        } else if (!(training.minLearningRate >= 0)) {
            errors.add(new PlanError(
                    "HyperParameterInvalid",
                    "spec.training.minLearningRate",
                    String.valueOf(training.minLearningRate),
                    "is negative",
                    "use 0 or more, e.g. learningRate / 10"));
        } else if (training.minLearningRate > lr) {
            if (training.minLearningRate == Double.parseDouble(TrainingSpec.DEFAULT_MIN_LEARNING_RATE)) {
                warnings.add("spec.training.minLearningRate=" + training.minLearningRate + " (the default) is more than"
                        + " learningRate=" + lr + ", so the schedule rises instead of decaying; set minLearningRate");
            } else {
                errors.add(new PlanError(
                        "LearningRateOrder",
                        "spec.training.minLearningRate",
                        String.valueOf(training.minLearningRate),
                        "is more than learningRate=" + lr
                                + " (the schedule decays from learningRate down to minLearningRate)",
                        "use at most " + lr));
            }
        }
        if (training.warmupSteps > training.steps) {
            if (training.warmupSteps == Integer.parseInt(TrainingSpec.DEFAULT_WARMUP_STEPS)) {
                warnings.add("spec.training.warmupSteps=" + training.warmupSteps + " (the default) is more than"
                        + " training.steps=" + training.steps + ", so the learning rate never reaches its peak; set"
                        + " warmupSteps");
            } else {
                errors.add(new PlanError(
                        "WarmupExceedsSteps",
                        "spec.training.warmupSteps",
                        String.valueOf(training.warmupSteps),
                        "is more than training.steps=" + training.steps
                                + " (the learning rate would never reach its peak)",
                        "use at most " + training.steps));
            }
        }
        double wd = training.weightDecay;
        if (!(wd >= 0) || wd > SpecLimits.MAX_WEIGHT_DECAY) {
            errors.add(new PlanError(
                    "HyperParameterInvalid",
                    "spec.training.weightDecay",
                    String.valueOf(wd),
                    "must be between 0 and " + SpecLimits.MAX_WEIGHT_DECAY,
                    "use e.g. 0.1"));
        }
        double clip = training.gradClip;
        if (!(clip >= 0) || Double.isInfinite(clip)) {
            errors.add(new PlanError(
                    "HyperParameterInvalid",
                    "spec.training.gradClip",
                    String.valueOf(clip),
                    "must be 0 (off) or a positive number",
                    "use e.g. 1.0"));
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
    private record Candidate(String description, double distance, long bytes) {}

    /**
     * The nearest plans that fit: the next activation-checkpointing mode that fits (when the job names one; unset,
     * every candidate takes the fastest mode that fits by itself), same or more nodes (×2, ×4,
     * ×8), other tensor/expert degrees, smaller micro-batches. Distance: changing nodes costs most, then
     * expert/tensor (log2 steps), then micro-batch; checkpointing costs a little less than halving the micro-batch
     * (it keeps the batch; measured on H100 it also kept more throughput, bench/results.md).
     */
    static List<String> nearestFittingPlans(Job job, PlanShape requested, ModelConfig model) {
        List<Candidate> found = new ArrayList<>();
        ActivationCheckpointing asked = requested.activationCheckpointing();
        if (asked != null) {
            for (ActivationCheckpointing ac : ActivationCheckpointing.values()) {
                if (ac.compareTo(asked) > 0) {
                    PlanShape cand = requested.withActivationCheckpointing(ac);
                    PlanResult r = evaluate(job, cand, false, false);
                    if (r.isValid()) {
                        found.add(new Candidate(
                                describe(requested, cand, r.plan()),
                                0.2 * ac.compareTo(asked),
                                r.plan().memory().perGpuBytes()));
                        break; // the next mode recomputes more for less memory: the first that fits is the one
                    }
                }
            }
        }
        for (int mult : new int[] {1, 2, 4, 8}) {
            int nodes = Math.multiplyExact(requested.nodes(), mult);
            int world = Math.multiplyExact(nodes, requested.gpusPerNode());
            if (nodes > SpecLimits.MAX_NODES || world > SpecLimits.MAX_WORLD) {
                break; // a suggestion the job could not use; bigger multiples are bigger still
            }
            for (int t : tensorChoices(model, requested.gpusPerNode())) {
                for (int e : expertChoices(model, world, requested.gpusPerNode())) {
                    for (int mbs = requested.microBatchSize(); mbs >= 1; mbs = mbs / 2) {
                        if (mult == 1
                                && t == requested.tensor()
                                && e == requested.expert()
                                && mbs == requested.microBatchSize()) {
                            if (mbs == 1) {
                                break;
                            }
                            continue;
                        }
                        int c = requested.context();
                        Integer data = requested.data() == null ? null : world / (c * t);
                        PlanShape cand = requested
                                .withNodes(nodes)
                                .withParallelism(t, e, c, data)
                                .withMicroBatchSize(mbs);
                        PlanResult r = evaluate(job, cand, false, false);
                        if (r.isValid()) {
                            double d = 10 * log2(mult)
                                    + Math.abs(log2((double) e / requested.expert()))
                                    + Math.abs(log2((double) t / requested.tensor()))
                                    + 0.5 * Math.abs(log2((double) mbs / requested.microBatchSize()));
                            found.add(new Candidate(
                                    describe(requested, cand, r.plan()),
                                    d,
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

    private static String describe(PlanShape from, PlanShape to, Plan plan) {
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
        if (from.activationCheckpointing() != null && to.activationCheckpointing() != from.activationCheckpointing()) {
            parts.add("training.activationCheckpointing=" + to.activationCheckpointing());
        }
        return String.join(", ", parts) + " (" + plan.memory().summary() + ")";
    }

    private static double log2(double x) {
        return Math.log(x) / Math.log(2);
    }
}
