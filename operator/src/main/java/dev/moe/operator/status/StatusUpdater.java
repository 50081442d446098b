package dev.moe.operator.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;

/**
 * Status bookkeeping: a deep copy to edit, and the "did anything change" test that decides whether the status is
 * patched at all (a no-op reconcile must write nothing).
 */
public final class StatusUpdater {
    private StatusUpdater() {}

    private static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    public static MoETrainingJobStatus copyOf(MoETrainingJob job) {
        MoETrainingJobStatus s = job.getStatus();
        if (s == null) {
            return new MoETrainingJobStatus();
        }
        return MAPPER.convertValue(MAPPER.valueToTree(s), MoETrainingJobStatus.class);
    }

    /**
     * Whether {@code after} says something {@code before} does not. Empty lists and nulls count as absent: API
     * servers may drop them, and a difference that the server erases would patch the status on every reconcile.
     */
    public static boolean changed(MoETrainingJobStatus before, MoETrainingJobStatus after) {
        JsonNode a = normalize(MAPPER.valueToTree(before == null ? new MoETrainingJobStatus() : before));
        JsonNode b = normalize(MAPPER.valueToTree(after));
        return !a.equals(b);
    }

    static JsonNode normalize(JsonNode n) {
        if (n.isObject()) {
            com.fasterxml.jackson.databind.node.ObjectNode out = MAPPER.createObjectNode();
            n.fields().forEachRemaining(e -> {
                JsonNode v = normalize(e.getValue());
                if (!v.isNull() && !(v.isArray() && v.isEmpty())) {
                    out.set(e.getKey(), v);
                }
            });
            return out;
        }
        if (n.isArray()) {
            com.fasterxml.jackson.databind.node.ArrayNode out = MAPPER.createArrayNode();
            n.forEach(x -> out.add(normalize(x)));
            return out;
        }
        if (n.isNumber()) {
            // 1 and 1.0 are the same number once they have been through JSON.
            return MAPPER.getNodeFactory().numberNode(n.decimalValue().stripTrailingZeros());
        }
        return n;
    }
}
