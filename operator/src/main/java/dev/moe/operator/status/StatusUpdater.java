package dev.moe.operator.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.operator.api.v1alpha1.MoETrainingJob;
import dev.moe.operator.api.v1alpha1.MoETrainingJobStatus;

/**
 * Status bookkeeping: a deep copy to edit, and the "did anything change" test that decides whether the status is
 * patched at all (a no-op reconcile must write nothing).
 */
public final class StatusUpdater {
    private StatusUpdater() {
    }

    private static final ObjectMapper MAPPER = new ObjectMapper().configure(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    public static MoETrainingJobStatus copyOf(MoETrainingJob job) {
        MoETrainingJobStatus s = job.getStatus();
        if (s == null) {
            return new MoETrainingJobStatus();
        }
        return MAPPER.convertValue(MAPPER.valueToTree(s), MoETrainingJobStatus.class);
    }

    public static boolean changed(MoETrainingJobStatus before, MoETrainingJobStatus after) {
        JsonNode a = before == null ? MAPPER.valueToTree(new MoETrainingJobStatus()) : MAPPER.valueToTree(before);
        JsonNode b = MAPPER.valueToTree(after);
        return !a.equals(b);
    }
}
