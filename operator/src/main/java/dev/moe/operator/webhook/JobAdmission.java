package dev.moe.operator.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobSpec;
import dev.moe.api.v1alpha1.TolerantJobReading.UnreadableSpec;
import dev.moe.plan.PlanEngine;
import dev.moe.plan.PlanError;
import dev.moe.plan.PlanResult;
import io.javaoperatorsdk.webhook.admission.Operation;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What admission decides for a MoETrainingJob, with no HTTP and no threads (pure): the plan engine's verdict on the
 * job as it would be stored. The engine is the one home of every plan rule; the webhook only brings its verdict
 * forward to {@code kubectl apply} (and {@code --dry-run=server}), and the reconciler still judges every stored job
 * the same way (status Invalid), so a cluster without the webhook, or with it unreachable, loses nothing but the
 * early answer.
 *
 * <ul>
 *   <li>CREATE: judged.</li>
 *   <li>UPDATE: judged only when the spec changed (labels, annotations, finalizers and other metadata are not the
 *       engine's business, and a job stored before the webhook existed can still be labelled or deleted); an
 *       object being deleted is never held up.</li>
 *   <li>Refused: the engine's errors (field, value, rule, fix) and, when memory does not fit, the nearest plans that
 *       do. Allowed: the engine's warnings (legal but slow, e.g. expert all-to-all across nodes) come back as
 *       admission warnings, which kubectl prints.</li>
 * </ul>
 */
public final class JobAdmission {
    /** Shown by kubectl after "admission webhook ... denied the request: ". */
    static final String REFUSED_PREFIX = "the plan engine refuses this MoETrainingJob (the operator would report it"
            + " as phase Invalid; bin/moe-plan gives the same answer): ";

    private static final ObjectMapper JSON = new ObjectMapper();

    private JobAdmission() {}

    /**
     * @param rule   the engine's rule id, e.g. ExpertDividesExperts
     * @param field  e.g. spec.parallelism.expert
     * @param message the whole one-line message (field=value problem; fix)
     */
    public record Cause(String rule, String field, String message) {}

    /**
     * The answer: allowed (with warnings) or refused with a message and one cause per engine error (kubectl prints
     * the causes, "The MoETrainingJob "name" is invalid: * field: message", and the message when there are none).
     *
     * @param name the job's name as judged (for the refusal's details)
     */
    public record Verdict(boolean allowed, String name, String message, List<Cause> causes, List<String> warnings) {
        static Verdict allow(List<String> warnings) {
            return new Verdict(true, null, null, List.of(), List.copyOf(warnings));
        }
    }

    /** The rule id of the cause that lists the nearest plans that fit (MemoryExceeded's suggestions). */
    static final String NEAREST_PLANS = "NearestPlansThatFit";

    /**
     * @param operation   CREATE or UPDATE (the webhook is registered for nothing else; others are allowed)
     * @param namespace   the request's namespace
     * @param requestName the request's name (empty on a CREATE with generateName)
     */
    public static Verdict judge(
            Operation operation, String namespace, String requestName, MoETrainingJob job, MoETrainingJob oldJob) {
        if (job == null || (operation != Operation.CREATE && operation != Operation.UPDATE)) {
            return Verdict.allow(List.of());
        }
        if (operation == Operation.UPDATE) {
            if (job.getMetadata() != null && job.getMetadata().getDeletionTimestamp() != null) {
                return Verdict.allow(List.of());
            }
            if (oldJob != null && sameSpec(job.getSpec(), oldJob.getSpec())) {
                return Verdict.allow(List.of());
            }
        }
        // the same call as the reconciler's JobPlanner, on the object as the API server would store it (defaults
        // filled in: structural defaulting runs before admission)
        String name = nameOf(job, requestName);
        PlanResult result = PlanEngine.plan(namespace, name, job.getSpec());
        if (result.isValid()) {
            return Verdict.allow(result.warnings());
        }
        List<Cause> causes = new ArrayList<>();
        StringBuilder message = new StringBuilder(REFUSED_PREFIX);
        for (PlanError e : result.errors()) {
            causes.add(new Cause(e.rule(), e.field(), e.message() + " [" + e.rule() + "]"));
        }
        if (!result.suggestions().isEmpty()) {
            causes.add(new Cause(
                    NEAREST_PLANS, "spec", "Nearest plans that fit: " + String.join(", ", result.suggestions())));
        }
        message.append(String.join("; and ", causes.stream().map(Cause::message).toList()));
        return new Verdict(false, name, message.toString(), List.copyOf(causes), result.warnings());
    }

    /**
     * The name the job will be stored under. With {@code generateName} the API server appends 5 random characters
     * after admission; the engine judges a name of that length (its rules are about length and characters).
     */
    static String nameOf(MoETrainingJob job, String requestName) {
        var meta = job.getMetadata();
        if (meta != null && meta.getName() != null && !meta.getName().isEmpty()) {
            return meta.getName();
        }
        if (requestName != null && !requestName.isEmpty()) {
            return requestName;
        }
        if (meta != null && meta.getGenerateName() != null) {
            return meta.getGenerateName() + "xxxxx";
        }
        return null;
    }

    /** Compared as JSON trees: the spec types have no equals, and an UnreadableSpec compares by what was stored. */
    static boolean sameSpec(MoETrainingJobSpec a, MoETrainingJobSpec b) {
        if (a == null || b == null) {
            return a == b;
        }
        if (a.getClass() != b.getClass()) {
            return false;
        }
        if (a instanceof UnreadableSpec ua && b instanceof UnreadableSpec ub) {
            return Objects.equals(ua.stored, ub.stored);
        }
        try {
            JsonNode ja = JSON.valueToTree(a);
            JsonNode jb = JSON.valueToTree(b);
            return Objects.equals(ja, jb);
        } catch (IllegalArgumentException e) {
            return false; // not comparable: judge it
        }
    }
}
