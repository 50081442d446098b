package dev.moe.operator.gang;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.GangMode;
import dev.moe.api.v1alpha1.PlacementSpec;
import dev.moe.operator.TestJobs;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Workload/PodGroup of the native gang as the API server will read them (their JSON). */
class NativeGangTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static MoETrainingJob job(int nodes, String... topologyKeys) {
        MoETrainingJob job = TestJobs.tiny("ml", "big", nodes);
        if (topologyKeys.length > 0) {
            job.getSpec().placement = new PlacementSpec();
            job.getSpec().placement.topologyKeys = List.of(topologyKeys);
        }
        return job;
    }

    /** Expert-parallel degree 2 × nodes on 2-GPU nodes: expert groups of {@code span} nodes. */
    private static MoETrainingJob expertGroupsOf(int span, int nodes, String... topologyKeys) {
        MoETrainingJob job = job(nodes, topologyKeys);
        job.getSpec().parallelism.tensor = 1;
        job.getSpec().parallelism.expert = 2 * span;
        return job;
    }

    private static JsonNode json(Object o) {
        return JSON.valueToTree(o);
    }

    @Test
    void podGroupIsAGangOfAllNodes() {
        MoETrainingJob job = job(9, "topology.kubernetes.io/rack", "topology.kubernetes.io/zone");
        Plan plan = TestJobs.plan(job);
        GenericKubernetesResource group = NativeGang.podGroup(job, plan, 3, true);
        JsonNode j = json(group);

        assertThat(j.path("apiVersion").asText()).isEqualTo("scheduling.k8s.io/v1alpha2");
        assertThat(j.path("kind").asText()).isEqualTo("PodGroup");
        assertThat(j.at("/metadata/name").asText()).isEqualTo("big-a3");
        assertThat(j.at("/metadata/namespace").asText()).isEqualTo("ml");
        assertThat(j.at("/spec/schedulingPolicy/gang/minCount").asInt()).isEqualTo(9);
        assertThat(j.at("/spec/schedulingPolicy").size()).isEqualTo(1); // gang, not basic
        // Expert groups inside a node: the topology keys stay preferences of the pods, not a gang constraint
        // (a 9-node gang would otherwise need 9 free nodes in one rack).
        assertThat(j.at("/spec").has("schedulingConstraints")).isFalse();
        assertThat(j.at("/spec/podGroupTemplateRef/workload/workloadName").asText())
                .isEqualTo("big-a3");
        assertThat(j.at("/spec/podGroupTemplateRef/workload/podGroupTemplateName")
                        .asText())
                .isEqualTo(NativeGang.TEMPLATE);
        // Fields the API forbids without WorkloadAwarePreemption are not set.
        assertThat(j.at("/spec").has("priority")).isFalse();
        assertThat(j.at("/spec").has("priorityClassName")).isFalse();
        assertThat(j.at("/spec").has("disruptionMode")).isFalse();
        // Owned by the job (garbage collection, create-first ownership), labelled with job, uid and attempt.
        OwnerReference owner = group.getMetadata().getOwnerReferences().get(0);
        assertThat(owner.getController()).isTrue();
        assertThat(owner.getUid()).isEqualTo("uid-big");
        assertThat(owner.getKind()).isEqualTo("MoETrainingJob");
        assertThat(group.getMetadata().getLabels())
                .containsEntry(GangNames.JOB_LABEL, "big")
                .containsEntry(GangNames.JOB_UID_LABEL, "uid-big")
                .containsEntry(GangNames.ATTEMPT_LABEL, "3");
    }

    @Test
    void workloadHasOneGangTemplateAndTheJobAsControllerRef() {
        MoETrainingJob job = expertGroupsOf(4, 4, "nvidia.com/gpu.clique", "topology.kubernetes.io/rack");
        Plan plan = TestJobs.plan(job);
        JsonNode j = json(NativeGang.workload(job, plan, 0, true));

        assertThat(j.path("kind").asText()).isEqualTo("Workload");
        assertThat(j.at("/metadata/name").asText()).isEqualTo("big-a0");
        assertThat(j.at("/spec/controllerRef/apiGroup").asText()).isEqualTo("training.moe.dev");
        assertThat(j.at("/spec/controllerRef/kind").asText()).isEqualTo("MoETrainingJob");
        assertThat(j.at("/spec/controllerRef/name").asText()).isEqualTo("big");
        JsonNode templates = j.at("/spec/podGroupTemplates");
        assertThat(templates).hasSize(1);
        assertThat(templates.get(0).path("name").asText()).isEqualTo(NativeGang.TEMPLATE);
        assertThat(templates.get(0).at("/schedulingPolicy/gang/minCount").asInt())
                .isEqualTo(4);
        assertThat(templates.get(0).at("/schedulingConstraints/topology/0/key").asText())
                .isEqualTo("nvidia.com/gpu.clique");
    }

    @Test
    void oneExpertGroupOverTheWholeGangPutsTheGangInOneDomainOfTheFirstKey() {
        MoETrainingJob job = expertGroupsOf(4, 4, "nvidia.com/gpu.clique", "topology.kubernetes.io/rack");
        Plan plan = TestJobs.plan(job);
        assertThat(NativeGang.hasTopology(job, plan)).isTrue();
        JsonNode j = json(NativeGang.podGroup(job, plan, 1, true));
        assertThat(j.at("/spec/schedulingConstraints/topology")).hasSize(1);
        assertThat(j.at("/spec/schedulingConstraints/topology/0/key").asText()).isEqualTo("nvidia.com/gpu.clique");
        // Two expert groups of 4 nodes each: each group shares a clique (pod affinity), the gang need not.
        MoETrainingJob two = expertGroupsOf(4, 8, "nvidia.com/gpu.clique");
        Plan twoPlan = TestJobs.plan(two);
        assertThat(NativeGang.hasTopology(two, twoPlan)).isFalse();
        assertThat(json(NativeGang.podGroup(two, twoPlan, 0, true)).at("/spec").has("schedulingConstraints"))
                .isFalse();
    }

    @Test
    void noTopologyKeyOrATopologyRefusedMeansNoConstraint() {
        MoETrainingJob plain = expertGroupsOf(2, 2);
        assertThat(NativeGang.hasTopology(plain, TestJobs.plan(plain))).isFalse();
        assertThat(json(NativeGang.podGroup(plain, TestJobs.plan(plain), 0, true))
                        .at("/spec")
                        .has("schedulingConstraints"))
                .isFalse();
        MoETrainingJob racked = expertGroupsOf(2, 2, "topology.kubernetes.io/rack");
        assertThat(NativeGang.hasTopology(racked, TestJobs.plan(racked))).isTrue();
        assertThat(json(NativeGang.podGroup(racked, TestJobs.plan(racked), 0, false))
                        .at("/spec")
                        .has("schedulingConstraints"))
                .isFalse();
        assertThat(json(NativeGang.workload(racked, TestJobs.plan(racked), 0, false))
                        .at("/spec/podGroupTemplates/0")
                        .has("schedulingConstraints"))
                .isFalse();
    }

    @Test
    void podsOfTheAttemptNameItsPodGroupInSpecSchedulingGroup() {
        MoETrainingJob job = job(2);
        Plan plan = TestJobs.plan(job);
        Pod pod = NativeGang.join(GangPodFactory.render(job, plan, 5, 1, GangSettings.defaults()), job, 5);
        JsonNode spec = json(pod).path("spec");
        assertThat(spec.at("/schedulingGroup/podGroupName").asText()).isEqualTo("big-a5");
        assertThat(spec.at("/schedulingGroup").size()).isEqualTo(1); // a union: exactly one member
        // Everything else of the pod is what the factory rendered.
        assertThat(spec.path("containers").get(0).path("name").asText()).isEqualTo(GangNames.TRAINER_CONTAINER);
        Pod plainPod = GangPodFactory.render(job, plan, 5, 1, GangSettings.defaults());
        assertThat(json(plainPod).path("spec").has("schedulingGroup")).isFalse();
    }

    @Test
    void modeIsKueueWithAQueueNativeWhenServedFallbackOtherwise() {
        MoETrainingJob job = job(2);
        Plan plan = TestJobs.plan(job);
        assertThat(NativeGang.mode(new Placement(job, plan), true)).isEqualTo(GangMode.Native);
        assertThat(NativeGang.mode(new Placement(job, plan), false)).isEqualTo(GangMode.Fallback);
        job.getSpec().placement = new PlacementSpec();
        job.getSpec().placement.queueName = "team-a";
        assertThat(NativeGang.mode(new Placement(job, plan), true)).isEqualTo(GangMode.Kueue);
        assertThat(NativeGang.mode(new Placement(job, plan), false)).isEqualTo(GangMode.Kueue);
    }

    @Test
    void onlyARestartedJobHasEarlierAttemptsGangObjectsToDelete() {
        // The first gang of a job goes without the two deletecollections (nothing of an earlier attempt can exist);
        // every later attempt deletes those of the attempts before it.
        assertThat(NativeGang.earlierAttemptsMayExist(0)).isFalse();
        assertThat(NativeGang.earlierAttemptsMayExist(1)).isTrue();
        assertThat(NativeGang.earlierAttemptsMayExist(999)).isTrue();
    }
}
