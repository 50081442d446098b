package dev.moe.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobCondition;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.api.v1alpha1.TolerantJobReading.UnreadableSpec;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.status.Conditions;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import io.quarkus.test.kubernetes.client.KubernetesTestServer;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Jobs a hostile or careless user can write, against the Fabric8 mock API server: one the operator cannot read,
 * names taken by the user's own objects, an API server that refuses an object. Each is reported on that job, and
 * nothing the operator did not create is changed. The real-cluster proof is e2e/hostile_tests.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
class HostileInputReconcilerTest {
    static final String NS = "hostile";
    static final Duration WAIT = Duration.ofSeconds(30);
    /** Two refusal backoffs (10 s, then 10–20 s) and the reconcile after them. */
    static final Duration RETRY_WAIT = Duration.ofSeconds(75);

    @Inject
    KubernetesClient client;

    @KubernetesTestServer
    KubernetesServer mockServer;

    MoETrainingJob create(MoETrainingJob job) {
        job.getMetadata().setUid(null);
        job.getMetadata().setGeneration(null);
        return client.resources(MoETrainingJob.class)
                .inNamespace(NS)
                .resource(job)
                .create();
    }

    MoETrainingJobStatus status(String name) {
        MoETrainingJob j = client.resources(MoETrainingJob.class)
                .inNamespace(NS)
                .withName(name)
                .get();
        return j != null && j.getStatus() != null ? j.getStatus() : new MoETrainingJobStatus();
    }

    JobCondition condition(String job, String type) {
        return Conditions.get(status(job), type).orElse(new JobCondition());
    }

    List<Pod> pods(String job) {
        return pods(NS, job);
    }

    List<Pod> pods(String namespace, String job) {
        return client.pods()
                .inNamespace(namespace)
                .withLabel(GangNames.JOB_LABEL, job)
                .list()
                .getItems();
    }

    List<Event> warnings(String job, String reason) {
        return client.v1().events().inNamespace(NS).list().getItems().stream()
                .filter(e -> job.equals(e.getInvolvedObject().getName())
                        && "Warning".equals(e.getType())
                        && reason.equals(e.getReason()))
                .toList();
    }

    @Test
    void aStoredJobTheOperatorCannotReadIsReportedOnItAndTheOthersStillReconcile() {
        // What an object stored before the CRD bounded resources.nodes looks like: the number does not fit an int.
        GenericKubernetesResource poison =
                client.getKubernetesSerialization().unmarshal("""
                {"apiVersion": "training.moe.dev/v1alpha1", "kind": "MoETrainingJob",
                 "metadata": {"name": "poison", "namespace": "hostile"},
                 "spec": {"model": {"preset": "tiny-moe"}, "parallelism": {"tensor": 1, "expert": 1, "context": 1},
                          "resources": {"nodes": 3000000000, "gpusPerNode": 8}}}""", GenericKubernetesResource.class);
        client.genericKubernetesResources(new io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext.Builder()
                        .withGroup(MoETrainingJob.GROUP)
                        .withVersion(MoETrainingJob.VERSION)
                        .withKind("MoETrainingJob")
                        .withPlural("moetrainingjobs")
                        .withNamespaced(true)
                        .build())
                .inNamespace(NS)
                .resource(poison)
                .create();
        create(TestJobs.tiny(NS, "bystander", 2));

        await().atMost(WAIT).untilAsserted(() -> assertThat(pods("bystander")).hasSize(2));
        await().atMost(WAIT).untilAsserted(() -> {
            MoETrainingJobStatus s = status("poison");
            assertThat(s.phase).isEqualTo(JobPhase.Invalid);
            JobCondition c = Conditions.get(s, Conditions.PLAN_VALID).orElseThrow();
            assertThat(c.status).isEqualTo("False");
            // the message bin/moe-plan gives for the same object (the plan engine reads what the client could not)
            assertThat(c.reason).isEqualTo("ValueTooLarge");
            assertThat(c.message).contains("spec.resources.nodes=3000000000 is more than 4096");
        });
        assertThat(client.resources(MoETrainingJob.class)
                        .inNamespace(NS)
                        .withName("poison")
                        .get()
                        .getSpec())
                .isInstanceOf(UnreadableSpec.class);
        assertThat(pods("poison")).isEmpty();
        await().atMost(WAIT)
                .untilAsserted(
                        () -> assertThat(warnings("poison", "PlanRejected")).isNotEmpty());
    }

    @Test
    void usersObjectsUnderTheJobsNamesAreNeverAdoptedNorChanged() {
        ConfigMap userPlan = client.configMaps()
                .inNamespace(NS)
                .resource(new ConfigMapBuilder()
                        .withNewMetadata()
                        .withName("victim-plan")
                        .endMetadata()
                        .addToData("owner", "a user")
                        .build())
                .create();
        Service userService = client.services()
                .inNamespace(NS)
                .resource(new ServiceBuilder()
                        .withNewMetadata()
                        .withName("victim")
                        .addToLabels(GangNames.JOB_LABEL, "victim")
                        .endMetadata()
                        .withNewSpec()
                        .addToSelector("app", "users-own")
                        .addNewPort()
                        .withPort(80)
                        .endPort()
                        .endSpec()
                        .build())
                .create();

        create(TestJobs.tiny(NS, "victim", 2));
        await().atMost(WAIT).untilAsserted(() -> {
            JobCondition c = condition("victim", Conditions.DEPENDENTS_READY);
            assertThat(c.status).isEqualTo("False");
            assertThat(c.reason).isEqualTo("ObjectNotOwned");
            assertThat(c.message).contains("ConfigMap victim-plan");
        });
        assertThat(warnings("victim", "ObjectNotOwned")).isNotEmpty();
        assertThat(pods("victim")).isEmpty();
        assertUnchanged(userPlan);

        // The ConfigMap goes: the next retry meets the user's Service, and changes it neither.
        client.configMaps().inNamespace(NS).withName("victim-plan").delete();
        await().atMost(RETRY_WAIT)
                .untilAsserted(() -> assertThat(condition("victim", Conditions.DEPENDENTS_READY).message)
                        .contains("Service victim"));
        assertThat(pods("victim")).isEmpty();
        assertUnchanged(userService);

        // Once the user's Service is gone too, the job gets its own objects and its gang.
        client.services().inNamespace(NS).withName("victim").delete();
        await().atMost(RETRY_WAIT)
                .untilAsserted(() -> assertThat(pods("victim")).hasSize(2));
        await().atMost(WAIT)
                .untilAsserted(() -> assertThat(condition("victim", Conditions.DEPENDENTS_READY).status)
                        .isEqualTo("True"));
    }

    @Test
    void aUsersPodUnderARankNameStopsTheGangAndIsLeftAlone() throws Exception {
        Pod squatter = client.pods()
                .inNamespace(NS)
                .resource(new PodBuilder()
                        .withNewMetadata()
                        .withName("squat-node-1")
                        .addToLabels("app", "users-own")
                        .endMetadata()
                        .withNewSpec()
                        .addNewContainer()
                        .withName("c")
                        .withImage("busybox")
                        .endContainer()
                        .endSpec()
                        .build())
                .create();
        create(TestJobs.tiny(NS, "squat", 2));
        await().atMost(WAIT).untilAsserted(() -> {
            JobCondition c = condition("squat", Conditions.DEPENDENTS_READY);
            assertThat(c.reason).isEqualTo("ObjectNotOwned");
            assertThat(c.message).contains("Pod squat-node-1");
        });
        // The rank the job could create is given back: a gang that cannot be complete holds no GPUs.
        await().atMost(WAIT).untilAsserted(() -> assertThat(pods("squat")).isEmpty());
        assertUnchanged(squatter);
        // ... and not created again at once by the events of its own deletion (a hot loop): only after the backoff.
        drainRequests();
        await().pollDelay(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(6)).until(() -> true);
        assertThat(drainRequests().stream()
                        .filter(r -> r.getMethod().equals("POST") && r.getPath().contains("/pods")))
                .isEmpty();
    }

    @Test
    void aGangRestartDeletesOnlyTheJobsOwnPodsNotOthersCarryingItsLabel() {
        Pod lookalike = client.pods()
                .inNamespace(NS)
                .resource(new PodBuilder()
                        .withNewMetadata()
                        .withName("lookalike")
                        .addToLabels(GangNames.JOB_LABEL, "labelled")
                        .addToLabels(GangNames.ATTEMPT_LABEL, "7")
                        .endMetadata()
                        .withNewSpec()
                        .addNewContainer()
                        .withName("c")
                        .withImage("busybox")
                        .endContainer()
                        .endSpec()
                        .build())
                .create();
        create(TestJobs.tiny(NS, "labelled", 2));
        await().atMost(WAIT).untilAsserted(() -> assertThat(pods("labelled")).hasSize(3));
        for (Pod p : pods("labelled")) {
            if (!"lookalike".equals(p.getMetadata().getName())) {
                client.pods()
                        .inNamespace(NS)
                        .withName(p.getMetadata().getName())
                        .editStatus(q -> {
                            q.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder()
                                    .withPhase("Running")
                                    .withConditions(new PodConditionBuilder()
                                            .withType("PodScheduled")
                                            .withStatus("True")
                                            .build())
                                    .build());
                            return q;
                        });
            }
        }
        await().atMost(WAIT)
                .untilAsserted(() -> assertThat(status("labelled").phase).isEqualTo(JobPhase.Running));
        client.pods().inNamespace(NS).withName("labelled-node-1").editStatus(q -> {
            q.getStatus().setPhase("Failed");
            q.getStatus()
                    .setContainerStatuses(List.of(new io.fabric8.kubernetes.api.model.ContainerStatusBuilder()
                            .withName(GangNames.TRAINER_CONTAINER)
                            .withNewState()
                            .withNewTerminated()
                            .withExitCode(75)
                            .endTerminated()
                            .endState()
                            .build()));
            return q;
        });
        await().atMost(WAIT)
                .untilAsserted(() -> assertThat(pods("labelled"))
                        .filteredOn(p -> "1".equals(p.getMetadata().getLabels().get(GangNames.ATTEMPT_LABEL)))
                        .hasSize(2));
        assertUnchanged(lookalike);
    }

    @Test
    void aUsersRoleBindingUnderTheTrainersNameStopsTheJobBeforeAnyPodIsCreated() throws Exception {
        // The trainer's Role and RoleBinding are created beside the first gang's pods (TrainerAccess), so their
        // names are checked before any pod: a taken name must still leave the job without a single pod. A namespace
        // of its own, so that the request log's pod creates there are this job's.
        String ns = "hostile-rbac";
        RoleBinding userBinding = client.rbac()
                .roleBindings()
                .inNamespace(ns)
                .resource(new RoleBindingBuilder()
                        .withNewMetadata()
                        .withName("rbac-trainer")
                        .endMetadata()
                        .withNewRoleRef()
                        .withApiGroup("rbac.authorization.k8s.io")
                        .withKind("ClusterRole")
                        .withName("view")
                        .endRoleRef()
                        .addNewSubject()
                        .withKind("User")
                        .withName("alice")
                        .endSubject()
                        .build())
                .create();
        drainRequests();
        client.resources(MoETrainingJob.class)
                .inNamespace(ns)
                .resource(TestJobs.tiny(ns, "rbac", 2))
                .create();
        var job = client.resources(MoETrainingJob.class).inNamespace(ns).withName("rbac");
        java.util.function.Supplier<JobCondition> dependentsReady =
                () -> Optional.ofNullable(job.get().getStatus())
                        .flatMap(st -> Conditions.get(st, Conditions.DEPENDENTS_READY))
                        .orElse(new JobCondition());
        await().atMost(WAIT).untilAsserted(() -> {
            JobCondition c = dependentsReady.get();
            assertThat(c.status).isEqualTo("False");
            assertThat(c.reason).isEqualTo("ObjectNotOwned");
            assertThat(c.message).contains("RoleBinding rbac-trainer");
        });
        assertThat(drainRequests().stream()
                        .filter(r -> r.getMethod().equals("POST")
                                && r.getPath().startsWith("/api/v1/namespaces/" + ns + "/pods")))
                .as("no pod of the job was ever created")
                .isEmpty();
        assertUnchanged(userBinding);

        // Once the user's RoleBinding is gone, the job gets its own and its gang.
        client.rbac().roleBindings().inNamespace(ns).withName("rbac-trainer").delete();
        await().atMost(RETRY_WAIT)
                .untilAsserted(() -> assertThat(pods(ns, "rbac")).hasSize(2));
        await().atMost(WAIT).untilAsserted(() -> {
            RoleBinding own = client.rbac()
                    .roleBindings()
                    .inNamespace(ns)
                    .withName("rbac-trainer")
                    .get();
            assertThat(own).isNotNull();
            assertThat(own.getRoleRef().getName()).isEqualTo("rbac-trainer");
        });
    }

    @Test
    void aWriteTheApiServerRefusesIsReportedWithItsMessageAndRetriedWithBackoff() {
        mockServer
                .expect()
                .post()
                .withPath("/api/v1/namespaces/" + NS + "/configmaps")
                .andReturn(
                        422,
                        new StatusBuilder()
                                .withStatus("Failure")
                                .withCode(422)
                                .withReason("Invalid")
                                .withMessage("ConfigMap \"refused-plan\" is invalid: []: Too long: must have at most"
                                        + " 1048576 bytes")
                                .withNewDetails()
                                .withKind("configmaps")
                                .withName("refused-plan")
                                .endDetails()
                                .build())
                .once();
        create(TestJobs.tiny(NS, "refused", 2));
        await().atMost(WAIT).untilAsserted(() -> {
            JobCondition c = condition("refused", Conditions.DEPENDENTS_READY);
            assertThat(c.status).isEqualTo("False");
            assertThat(c.reason).isEqualTo("ApiRejected");
            assertThat(c.message).contains("refused-plan").contains("422").contains("at most 1048576 bytes");
        });
        assertThat(pods("refused")).isEmpty();
        assertThat(warnings("refused", "ApiRejected")).isNotEmpty();
        // The refusal was once: the retry after the backoff succeeds.
        await().atMost(RETRY_WAIT)
                .untilAsserted(() -> assertThat(pods("refused")).hasSize(2));
        await().atMost(WAIT)
                .untilAsserted(() -> assertThat(condition("refused", Conditions.DEPENDENTS_READY).status)
                        .isEqualTo("True"));
    }

    /** Requests the mock server received since the last drain. */
    List<io.fabric8.mockwebserver.http.RecordedRequest> drainRequests() throws InterruptedException {
        List<io.fabric8.mockwebserver.http.RecordedRequest> out = new java.util.ArrayList<>();
        io.fabric8.mockwebserver.http.RecordedRequest r;
        while ((r = mockServer.getKubernetesMockServer().takeRequest(1, java.util.concurrent.TimeUnit.MILLISECONDS))
                != null) {
            out.add(r);
        }
        return out;
    }

    /** The object as the user left it: same resourceVersion, no owner references. */
    void assertUnchanged(io.fabric8.kubernetes.api.model.HasMetadata before) {
        var now = client.resource(before).get();
        assertThat(now)
                .as("%s %s still exists", before.getKind(), before.getMetadata().getName())
                .isNotNull();
        assertThat(now.getMetadata().getResourceVersion())
                .isEqualTo(before.getMetadata().getResourceVersion());
        assertThat(now.getMetadata().getOwnerReferences()).isNullOrEmpty();
        assertThat(now.getMetadata().getLabels())
                .isEqualTo(
                        before.getMetadata().getLabels() == null
                                ? null
                                : Map.copyOf(before.getMetadata().getLabels()));
    }
}
