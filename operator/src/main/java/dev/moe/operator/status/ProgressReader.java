package dev.moe.operator.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.Progress;
import dev.moe.api.v1alpha1.TrainerContract;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.Optional;

/**
 * Reads rank 0's progress report, the pod annotation {@value TrainerContract.PROGRESS_ANNOTATION} (docs/contract.md
 * section 4): {@code {"step", "loss", "tokensPerSecond", "mfu", "lastCheckpointStep", "time"}}. A malformed
 * report is ignored (the trainer is not ours to trust).
 */
public final class ProgressReader {
    private ProgressReader() {}

    private static final ObjectMapper MAPPER = new ObjectMapper();

    public static Optional<Progress> read(Pod pod) {
        if (pod.getMetadata().getAnnotations() == null) {
            return Optional.empty();
        }
        String raw = pod.getMetadata().getAnnotations().get(TrainerContract.PROGRESS_ANNOTATION);
        if (raw == null || raw.isBlank()) {
            return Optional.empty();
        }
        try {
            JsonNode n = MAPPER.readTree(raw);
            if (n == null || !n.isObject() || !n.path("step").isNumber()) {
                return Optional.empty();
            }
            Progress p = new Progress();
            p.step = n.get("step").asLong();
            p.loss = number(n, "loss");
            p.tokensPerSecond = number(n, "tokensPerSecond");
            p.mfu = number(n, "mfu");
            p.lastCheckpointStep = n.path("lastCheckpointStep").isNumber()
                    ? n.get("lastCheckpointStep").asLong()
                    : null;
            p.updateTime = n.path("time").isTextual() ? n.get("time").asText() : null;
            return Optional.of(p);
        } catch (Exception e) {
            return Optional.empty();
        }
    }

    private static Double number(JsonNode n, String key) {
        JsonNode v = n.get(key);
        return v != null && v.isNumber() && Double.isFinite(v.asDouble()) ? v.asDouble() : null;
    }
}
