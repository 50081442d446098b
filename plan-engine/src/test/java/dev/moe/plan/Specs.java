package dev.moe.plan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.moe.api.v1alpha1.TolerantJobReading;
import java.io.IOException;
import java.io.UncheckedIOException;

/** Test helpers: job specs from YAML snippets, planned as a file is. */
final class Specs {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private Specs() {}

    static ObjectNode yaml(String text) {
        try {
            return (ObjectNode) YAML.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Qwen3-30B-A3B on nodes × 8 GPUs with the given degrees (data derived). */
    static ObjectNode qwen30b(int nodes, int tensor, int expert) {
        return yaml("model: {preset: qwen3-30b-a3b}\n"
                + "parallelism: {tensor: " + tensor + ", expert: " + expert + "}\n"
                + "resources: {nodes: " + nodes + ", gpusPerNode: 8, gpuMemoryGiB: 80}\n"
                + "training: {seqLength: 4096, microBatchSize: 1}\n");
    }

    /** tiny-moe on nodes × gpusPerNode. */
    static ObjectNode tiny(int nodes, int gpusPerNode, int tensor, int expert) {
        return yaml("model: {preset: tiny-moe}\n"
                + "parallelism: {tensor: " + tensor + ", expert: " + expert + "}\n"
                + "resources: {nodes: " + nodes + ", gpusPerNode: " + gpusPerNode + "}\n"
                + "training: {seqLength: 64, microBatchSize: 2}\n");
    }

    static PlanResult plan(JsonNode spec) {
        return plan("default", "job", spec);
    }

    /** Plans a spec written as JSON, read as bin/moe-plan and the operator read it (TolerantJobReading). */
    static PlanResult plan(String namespace, String name, JsonNode spec) {
        return PlanEngine.plan(namespace, name, TolerantJobReading.readSpec(spec));
    }

    /**
     * Plans one job, so that the reader's and the engine's classes are loaded (about a second on a loaded 2-core
     * machine) before a test's hang detector times a job: it watches for work that does not end, not for the JVM.
     */
    static void warmUp() {
        plan(tiny(2, 2, 2, 2));
    }

    static ObjectNode set(ObjectNode spec, String path, Object value) {
        String[] parts = path.split("\\.");
        ObjectNode n = spec;
        for (int i = 0; i < parts.length - 1; i++) {
            n = n.has(parts[i]) ? (ObjectNode) n.get(parts[i]) : n.putObject(parts[i]);
        }
        n.set(parts[parts.length - 1], new ObjectMapper().valueToTree(value));
        return spec;
    }
}
