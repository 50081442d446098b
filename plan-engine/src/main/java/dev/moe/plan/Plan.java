package dev.moe.plan;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * A valid parallel plan: what the trainer runs. {@link #toJson()} is the versioned plan document of
 * docs/contract.md ({@value #API_VERSION}).
 *
 * @param input                the job's input (defaults applied)
 * @param model                the model configuration (preset plus overrides)
 * @param data                 data-parallel degree (given or derived)
 * @param globalBatchSize      sequences per optimizer step (given or derived)
 * @param gradientAccumulation globalBatchSize / (microBatchSize × data)
 * @param parameters           exact parameter counts
 * @param memory               per-GPU memory estimate
 * @param ranks                every rank's coordinates, in rank order
 * @param warnings             things that work but may be slow or surprising
 */
public record Plan(PlanInput input, ModelConfig model, int data, int globalBatchSize, int gradientAccumulation,
        ParameterCount parameters, MemoryEstimate memory, List<RankAssignment> ranks, List<String> warnings) {

    public static final String API_VERSION = "training.moe.dev/plan-v1";

    /** Compact JSON: the ConfigMap must hold the document of the largest world (SpecLimits.MAX_WORLD). */
    private static final ObjectMapper MAPPER = new ObjectMapper();

    public int tensor() {
        return input.tensor();
    }

    public int expert() {
        return input.expert();
    }

    public int context() {
        return input.context();
    }

    public int expertData() {
        return worldSize() / input.expert();
    }

    public int nodes() {
        return input.nodes();
    }

    public int gpusPerNode() {
        return input.gpusPerNode();
    }

    public int worldSize() {
        return input.nodes() * input.gpusPerNode();
    }

    public int expertsPerRank() {
        return model.numExperts() / input.expert();
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
        job.put("namespace", input.namespace());
        job.put("name", input.name());
        doc.set("model", model.toHfJson());
        if (input.modelCheckpointPath() != null) {
            doc.putObject("checkpoint").put("path", input.modelCheckpointPath());
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
        ObjectNode training = doc.putObject("training");
        training.put("seqLength", input.seqLength());
        training.put("microBatchSize", input.microBatchSize());
        training.put("activationCheckpointing", input.activationCheckpointing());
        training.put("globalBatchSize", globalBatchSize);
        training.put("gradientAccumulation", gradientAccumulation);
        training.put("steps", input.steps());
        training.put("learningRate", input.learningRate());
        training.put("minLearningRate", input.minLearningRate());
        training.put("warmupSteps", input.warmupSteps());
        training.put("weightDecay", input.weightDecay());
        training.put("gradClip", input.gradClip());
        training.put("seed", input.seed());
        ObjectNode dataset = training.putObject("dataset");
        dataset.put("type", input.datasetType());
        if ("tokens".equals(input.datasetType())) {
            dataset.put("path", input.datasetPath());
            dataset.put("dtype", input.datasetDtype());
        }
        ObjectNode ckpt = training.putObject("checkpoint");
        if (input.checkpointDir() != null) {
            ckpt.put("dir", input.checkpointDir());
        } else {
            ckpt.putNull("dir");
        }
        ckpt.put("everySteps", input.checkpointEverySteps());
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
