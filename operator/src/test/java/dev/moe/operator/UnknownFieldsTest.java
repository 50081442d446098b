package dev.moe.operator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.operator.planner.JobPlanner;
import dev.moe.plan.PlanResult;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import org.junit.jupiter.api.Test;

/**
 * A CRD newer than the operator: the apiserver hands out fields the operator's Java types do not know. They must
 * be ignored, not fail deserialisation (which would stop the job informer, and with it every job's reconcile).
 */
class UnknownFieldsTest {
    static String jobJson() throws Exception {
        ObjectMapper m = new ObjectMapper();
        ObjectNode job = m.valueToTree(TestJobs.tiny("ml", "newer", 2));
        ObjectNode spec = (ObjectNode) job.get("spec");
        spec.put("fieldFromTheFuture", "x");
        spec.putObject("anotherNewSection").put("knob", 3);
        ((ObjectNode) spec.get("training")).put("newTrainingKnob", true);
        ((ObjectNode) spec.get("parallelism")).put("pipeline", 1);
        ((ObjectNode) spec.get("resources")).putArray("newList").add("a");
        ((ObjectNode) spec.get("restartPolicy")).put("newPolicy", "Whatever");
        ObjectNode status = job.putObject("status");
        status.put("phase", "Running");
        status.put("statusFieldFromTheFuture", 1);
        status.putObject("lastFailure").put("reason", "ExitCode").put("newDetail", "x");
        status.putArray("conditions")
                .addObject()
                .put("type", "Running")
                .put("status", "True")
                .put("newField", 1);
        return m.writeValueAsString(job);
    }

    @Test
    void aJobWithUnknownSpecAndStatusFieldsDeserialisesWithTheClientsSerialisationAndPlans() throws Exception {
        MoETrainingJob job = new KubernetesSerialization().unmarshal(jobJson(), MoETrainingJob.class);
        assertThat(job.getSpec().resources.nodes).isEqualTo(2);
        assertThat(job.getStatus().phase).isEqualTo(JobPhase.Running);
        assertThat(job.getStatus().lastFailure.reason).isEqualTo("ExitCode");
        PlanResult plan = JobPlanner.plan(job);
        assertThat(plan.isValid()).as(plan.errorMessages()).isTrue();
        assertThat(plan.plan().nodes()).isEqualTo(2);
    }

    @Test
    void evenAStrictObjectMapperIgnoresThem() throws Exception {
        // A plain ObjectMapper fails on unknown properties by default: the types themselves must say ignore.
        MoETrainingJob job = new ObjectMapper().readValue(jobJson(), MoETrainingJob.class);
        assertThat(job.getSpec().training.steps).isEqualTo(20);
        assertThat(JobPlanner.plan(job).isValid()).isTrue();
    }
}
