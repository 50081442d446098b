package dev.moe.plan;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.TrainerContract;
import dev.moe.api.v1alpha1.TrainingSpec;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * A valid parallel plan: what the trainer runs. {@link #toJson()} is the versioned plan document of
 * docs/contract.md ({@value #API_VERSION}).
 *
 * @param namespace            the job's namespace
 * @param name                 the job's name
 * @param spec                 the job's spec (every field present and in range); the document's training settings
 * @param shape                nodes, GPUs per node, parallel degrees, micro-batch, activation checkpointing
 * @param model                the model configuration (preset plus overrides)
 * @param data                 data-parallel degree (given or derived)
 * @param globalBatchSize      sequences per optimizer step (given or derived)
 * @param gradientAccumulation globalBatchSize / (microBatchSize × data)
 * @param parameters           exact parameter counts
 * @param memory               per-GPU memory estimate
 * @param ranks                every rank's coordinates, in rank order
 * @param warnings             things that work but may be slow or surprising
 */
public record Plan(
        String namespace,
        String name,
        MoETrainingJobSpec spec,
        PlanShape shape,
        ModelConfig model,
        int data,
        int globalBatchSize,
        int gradientAccumulation,
        ParameterCount parameters,
        MemoryEstimate memory,
        List<RankAssignment> ranks,
        List<String> warnings) {

    public static final String API_VERSION = "training.moe.dev/plan-v1";

    /** Compact JSON: the ConfigMap must hold the document of the largest world (SpecLimits.MAX_WORLD). */
    private static final ObjectMapper MAPPER = new ObjectMapper();

    public int tensor() {
        return shape.tensor();
    }

    public int expert() {
        return shape.expert();
    }

    public int context() {
        return shape.context();
    }

    public int expertData() {
        return worldSize() / shape.expert();
    }

    public int nodes() {
        return shape.nodes();
    }

    public int gpusPerNode() {
        return shape.gpusPerNode();
    }

    public int worldSize() {
        return shape.nodes() * shape.gpusPerNode();
    }

    public int expertsPerRank() {
        return model.numExperts() / shape.expert();
    }

    /** Both meshes in one line, e.g. {@code dense(data=8, context=1, tensor=1) x expert(expertData=8, expert=8)}. */
    public String mesh() {
        return "dense(data=" + data + ", context=" + context() + ", tensor=" + tensor() + ") x expert(expertData="
                + expertData() + ", expert=" + expert() + ")";
    }

    /** The plan document (docs/contract.md section 1). */
    public ObjectNode toJson() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode doc = f.objectNode();
        doc.put("apiVersion", API_VERSION);
        ObjectNode job = doc.putObject("job");
        job.put("namespace", namespace);
        job.put("name", name);
        doc.set("model", model.toHfJson());
        if (spec.model.checkpoint != null) {
            doc.putObject("checkpoint").put("path", spec.model.checkpoint.path);
        } else {
            doc.putNull("checkpoint");
        }
        ObjectNode par = doc.putObject("parallelism");
        par.put("tensor", tensor());
        par.put("expert", expert());
        par.put("context", context());
        par.put("data", data);
        par.put("expertData", expertData());
        ObjectNode world = doc.putObject("world");
        world.put("size", worldSize());
        world.put("nodes", nodes());
        world.put("gpusPerNode", gpusPerNode());
        TrainingSpec t = spec.training;
        ObjectNode training = doc.putObject("training");
        training.put("seqLength", t.seqLength);
        training.put("microBatchSize", shape.microBatchSize());
        training.put("activationCheckpointing", shape.activationCheckpointing().name());
        training.put("globalBatchSize", globalBatchSize);
        training.put("gradientAccumulation", gradientAccumulation);
        training.put("steps", t.steps);
        training.put("learningRate", t.learningRate);
        training.put("minLearningRate", t.minLearningRate);
        training.put("warmupSteps", t.warmupSteps);
        training.put("weightDecay", t.weightDecay);
        training.put("gradClip", t.gradClip);
        training.put("seed", t.seed);
        training.put("logEvery", t.logEvery);
        ObjectNode dataset = training.putObject("dataset");
        dataset.put("type", t.dataset.type.name());
        if (t.dataset.type == TrainingSpec.DatasetType.tokens) {
            dataset.put("path", t.dataset.path);
            dataset.put("dtype", t.dataset.dtype.name());
        }
        // without a checkpoint object the job writes no checkpoints, and everySteps is the field's default
        var checkpoint = t.checkpoint != null ? t.checkpoint : new TrainingSpec.CheckpointSpec();
        ObjectNode ckpt = training.putObject("checkpoint");
        if (t.checkpoint != null) {
            ckpt.put("dir", TrainerContract.CHECKPOINT_DIR);
        } else {
            ckpt.putNull("dir");
        }
        ckpt.put("everySteps", checkpoint.everySteps);
        ObjectNode params = doc.putObject("parameters");
        params.put("total", parameters.total());
        params.put("activePerToken", parameters.activePerToken());
        ObjectNode mem = doc.putObject("memory");
        mem.put("perGpuBytes", memory.perGpuBytes());
        mem.put("gpuBytes", memory.gpuBytes());
        ObjectNode breakdown = mem.putObject("breakdown");
        breakdown.put("weights", memory.weights());
        breakdown.put("gradients", memory.gradients());
        breakdown.put("optimizer", memory.optimizer());
        breakdown.put("activations", memory.activations());
        breakdown.put("headroom", memory.headroom());
        ArrayNode rs = doc.putArray("ranks");
        for (RankAssignment r : ranks) {
            ObjectNode o = rs.addObject();
            o.put("rank", r.rank());
            o.put("node", r.node());
            o.put("localRank", r.localRank());
            o.put("data", r.data());
            o.put("context", r.context());
            o.put("tensor", r.tensor());
            o.put("expertData", r.expertData());
            o.put("expert", r.expert());
            o.putArray("experts").add(r.firstExpert()).add(r.endExpert());
        }
        ArrayNode ws = doc.putArray("warnings");
        warnings.forEach(ws::add);
        return doc;
    }

    /**
     * The plan document as compact JSON text (the ConfigMap's plan.json; about 124 bytes per rank, so the largest
     * world fits; {@code bin/moe-plan --output json} prints it indented).
     */
    public String toJsonString() {
        try {
            return MAPPER.writeValueAsString(toJson());
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
