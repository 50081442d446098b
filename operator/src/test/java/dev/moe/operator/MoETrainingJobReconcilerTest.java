package dev.moe.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.JobPhase;
import dev.moe.operator.gang.GangNames;
import dev.moe.operator.gang.GangPodFactory;
import dev.moe.operator.gang.GangSettings;
import dev.moe.operator.status.Conditions;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import io.quarkus.test.kubernetes.client.KubernetesTestServer;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The operator running against the Fabric8 mock API server (CRUD mode). Pod lifecycles are simulated by
 * patching pod status from the test, as the kubelet and scheduler would. The real-cluster proof is in e2e/.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
class MoETrainingJobReconcilerTest {
    static final String NS = "training";
    static final Duration WAIT = Duration.ofSeconds(30);

    @Inject
    KubernetesClient client;

    /** The registry the operator's meters live in and /q/metrics is written from (JobMetrics says why). */
    @Inject
    PrometheusMeterRegistry registry;

    @KubernetesTestServer
    KubernetesServer mockServer;

    // ---- helpers -------------------------------------------------------------------------------------------

    MoETrainingJob create(MoETrainingJob job) {
        job.getMetadata().setUid(null);
        job.getMetadata().setGeneration(null);
        return client.resources(MoETrainingJob.class)
                .inNamespace(NS)
                .resource(job)
                .create();
    }

    MoETrainingJob job(String name) {
        return client.resources(MoETrainingJob.class)
                .inNamespace(NS)
                .withName(name)
                .get();
    }

    MoETrainingJobStatus status(String name) {
        MoETrainingJob j = job(name);
        return j != null && j.getStatus() != null ? j.getStatus() : new MoETrainingJobStatus();
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

    Map<Integer, Pod> podsByRank(String job) {
        return pods(job).stream()
                .collect(Collectors.toMap(
                        p -> Integer.parseInt(p.getMetadata().getLabels().get(GangNames.NODE_RANK_LABEL)),
                        p -> p,
                        (a, b) -> {
                            throw new AssertionError(
                                    "two pods with node rank " + a.getMetadata().getLabels());
                        },
                        TreeMap::new));
    }

    void awaitPods(String job, int n, int attempt) {
        await().atMost(WAIT)
                .untilAsserted(() -> assertThat(pods(job))
                        .hasSize(n)
                        .allSatisfy(p -> assertThat(p.getMetadata().getLabels())
                                .containsEntry(GangNames.ATTEMPT_LABEL, String.valueOf(attempt))));
    }

    void awaitPhase(String job, JobPhase phase) {
        await().atMost(WAIT).untilAsserted(() -> assertThat(status(job).phase).isEqualTo(phase));
    }

    /** Waits for attempt {@code attempt}'s {@code n} pods, marks them all running, waits for phase Running. */
    void runGang(String job, int n, int attempt) {
        awaitPods(job, n, attempt);
        runAll(job);
        awaitPhase(job, JobPhase.Running);
    }

    void editPodStatus(Pod pod, UnaryOperator<Pod> f) {
        client.pods().inNamespace(NS).withName(pod.getMetadata().getName()).editStatus(p -> {
            if (p.getStatus() == null) {
                p.setStatus(new io.fabric8.kubernetes.api.model.PodStatus());
            }
            return f.apply(p);
        });
    }

    /** The scheduler binds and the kubelet starts every pod. */
    void runAll(String job) {
        for (Pod p : pods(job)) {
            editPodStatus(p, q -> {
                q.getStatus().setPhase("Running");
                q.getStatus()
                        .setConditions(List.of(new PodConditionBuilder()
                                .withType("PodScheduled")
                                .withStatus("True")
                                .build()));
                return q;
            });
        }
    }

    void exit(Pod p, int code) {
        editPodStatus(p, q -> {
            q.getStatus().setPhase(code == 0 ? "Succeeded" : "Failed");
            q.getStatus()
                    .setContainerStatuses(List.of(new io.fabric8.kubernetes.api.model.ContainerStatusBuilder()
                            .withName(GangNames.TRAINER_CONTAINER)
                            .withNewState()
                            .withNewTerminated()
                            .withExitCode(code)
                            .withReason(code == 0 ? "Completed" : "Error")
                            .endTerminated()
                            .endState()
                            .build()));
            return q;
        });
    }

    /** A merge patch (no resourceVersion): the operator's status patches cannot make it conflict. */
    void setSuspend(String job, boolean suspend) {
        mergePatchSpec(job, "{\"suspend\":" + suspend + "}");
    }

    void mergePatchSpec(String job, String specPatch) {
        client.resources(MoETrainingJob.class)
                .inNamespace(NS)
                .withName(job)
                .patch(
                        io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
                                io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
                        "{\"spec\":" + specPatch + "}");
    }

    List<Event> events(String job) {
        return client.v1().events().inNamespace(NS).list().getItems().stream()
                .filter(e -> job.equals(e.getInvolvedObject().getName()))
                .toList();
    }

    /**
     * The trainer container's environment with a value, as the kubelet builds it: the data of each ConfigMap of
     * its envFrom, read from the API server (so the ConfigMap must exist), then its own env over it.
     */
    Map<String, String> env(Pod p) {
        var c = p.getSpec().getContainers().get(0);
        Map<String, String> env = new TreeMap<>();
        for (var from : c.getEnvFrom()) {
            ConfigMap cm = client.configMaps()
                    .inNamespace(p.getMetadata().getNamespace())
                    .withName(from.getConfigMapRef().getName())
                    .get();
            assertThat(cm).as("ConfigMap " + from.getConfigMapRef().getName()).isNotNull();
            env.putAll(cm.getData());
        }
        c.getEnv().stream().filter(e -> e.getValue() != null).forEach(e -> env.put(e.getName(), e.getValue()));
        return env;
    }

    long reconciles() {
        return registry.find("moe.reconcile.duration").timers().stream()
                .mapToLong(Timer::count)
                .sum();
    }

    // ---- tests ---------------------------------------------------------------------------------------------

    @Test
    void validJobGetsServicePlanIdentityAndOnePodPerNodeInRankOrder() {
        create(TestJobs.tiny(NS, "gang", 3));
        awaitPods("gang", 3, 0);
        MoETrainingJob job = job("gang");
        String uid = job.getMetadata().getUid();

        Map<Integer, Pod> pods = podsByRank("gang");
        assertThat(pods.keySet()).containsExactly(0, 1, 2);
        // The mock API server does not serve scheduling.k8s.io/v1alpha2: today's pod-by-pod gang, and status says so.
        await().atMost(WAIT)
                .untilAsserted(() -> assertThat(status("gang").gangMode)
                        .isEqualTo(dev.moe.api.v1alpha1.MoETrainingJobStatus.GangMode.Fallback));
        pods.values()
                .forEach(p -> assertThat(p.getSpec().getAdditionalProperties()).doesNotContainKey("schedulingGroup"));
        pods.forEach((rank, p) -> {
            assertThat(p.getMetadata().getName()).isEqualTo("gang-node-" + rank);
            assertThat(env(p))
                    .containsEntry("NODE_RANK", String.valueOf(rank))
                    .containsEntry("MASTER_ADDR", "gang-node-0.gang." + NS + ".svc")
                    .containsEntry("WORLD_SIZE", "6")
                    .containsEntry("NNODES", "3")
                    .containsEntry("MOE_RESTART_ATTEMPT", "0");
            assertThat(p.getSpec()
                            .getContainers()
                            .get(0)
                            .getResources()
                            .getLimits()
                            .get("nvidia.com/gpu")
                            .getAmount())
                    .isEqualTo("2");
            assertThat(p.getMetadata().getOwnerReferences())
                    .singleElement()
                    .satisfies(o -> assertThat(o.getUid()).isEqualTo(uid));
        });

        Service svc = client.services().inNamespace(NS).withName("gang").get();
        assertThat(svc.getSpec().getClusterIP()).isEqualTo("None");
        assertThat(svc.getSpec().getPublishNotReadyAddresses()).isTrue();
        ConfigMap cm = client.configMaps().inNamespace(NS).withName("gang-plan").get();
        assertThat(cm.getData().get("plan.json"))
                .contains("training.moe.dev/plan-v1")
                .contains("\"nodes\":3");
        assertThat(client.serviceAccounts()
                        .inNamespace(NS)
                        .withName("gang-trainer")
                        .get())
                .isNotNull();
        Role role =
                client.rbac().roles().inNamespace(NS).withName("gang-trainer").get();
        assertThat(role.getRules().get(0).getResourceNames())
                .containsExactly("gang-node-0", "gang-node-1", "gang-node-2");
        RoleBinding binding = client.rbac()
                .roleBindings()
                .inNamespace(NS)
                .withName("gang-trainer")
                .get();
        assertThat(binding.getRoleRef().getName()).isEqualTo("gang-trainer");
        assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
            assertThat(s.getKind()).isEqualTo("ServiceAccount");
            assertThat(s.getName()).isEqualTo("gang-trainer");
        });
        ConfigMap sharedEnv =
                client.configMaps().inNamespace(NS).withName("gang-trainer-env").get();
        assertThat(sharedEnv.getData()).containsEntry("NNODES", "3").doesNotContainKey("NODE_RANK");
        // Everything is owned by the job: deleting the job garbage-collects it.
        for (HasMetadata owned : List.<HasMetadata>of(svc, cm, sharedEnv, role, binding)) {
            assertThat(owned.getMetadata().getOwnerReferences())
                    .singleElement()
                    .satisfies(o -> assertThat(o.getUid()).isEqualTo(uid));
        }

        await().atMost(WAIT).untilAsserted(() -> {
            MoETrainingJobStatus s = status("gang");
            assertThat(s.phase).isEqualTo(JobPhase.Pending);
            assertThat(s.plan.worldSize).isEqualTo(6);
            assertThat(s.plan.memory.perGpuBytes).isPositive();
            assertThat(s.observedGeneration).isEqualTo(job("gang").getMetadata().getGeneration());
            assertThat(Conditions.get(s, Conditions.PLAN_VALID).orElseThrow().status)
                    .isEqualTo("True");
        });

        runAll("gang");
        awaitPhase("gang", JobPhase.Running);
        assertThat(status("gang").startTime).isNotNull();
        assertThat(Conditions.isTrue(status("gang"), Conditions.GANG_SCHEDULED)).isTrue();

        // All ranks exit 0 → Succeeded.
        pods("gang").forEach(p -> exit(p, 0));
        awaitPhase("gang", JobPhase.Succeeded);
        assertThat(status("gang").completionTime).isNotNull();
    }

    @Test
    void theFirstGangsPodsDoNotWaitForTheTrainersRoleBinding() {
        // The API server's escalation check makes a RoleBinding create slow (TrainerAccess); here it takes 4 s and
        // then fails as unavailable. The pods are all created meanwhile, and the retry creates the RoleBinding.
        String ns = "beside";
        mockServer
                .expect()
                .post()
                .delay(4, java.util.concurrent.TimeUnit.SECONDS)
                .withPath("/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns + "/rolebindings")
                .andReturn(
                        503,
                        new io.fabric8.kubernetes.api.model.StatusBuilder()
                                .withStatus("Failure")
                                .withCode(503)
                                .withReason("ServiceUnavailable")
                                .build())
                .once();
        client.resources(MoETrainingJob.class)
                .inNamespace(ns)
                .resource(TestJobs.tiny(ns, "beside", 2))
                .create();
        var bindings = client.rbac().roleBindings().inNamespace(ns).withName("beside-trainer");
        await().atMost(Duration.ofSeconds(3))
                .untilAsserted(() -> assertThat(pods(ns, "beside")).hasSize(2));
        assertThat(bindings.get())
                .as("the RoleBinding's create is still under way")
                .isNull();
        await().atMost(WAIT).untilAsserted(() -> assertThat(bindings.get()).isNotNull());
        assertThat(pods(ns, "beside"))
                .hasSize(2)
                .allSatisfy(
                        pod -> assertThat(pod.getMetadata().getLabels()).containsEntry(GangNames.ATTEMPT_LABEL, "0"));
    }

    @Test
    void retriableFailureRestartsTheWholeGangWithTheNextAttemptUntilMaxRestarts() {
        create(TestJobs.tiny(NS, "flaky", 2)); // maxRestarts 2, backoff 1 s (max 2 s)
        runGang("flaky", 2, 0);

        exit(podsByRank("flaky").get(1), 75);
        awaitPods("flaky", 2, 1);
        MoETrainingJobStatus s = status("flaky");
        assertThat(s.restarts).isEqualTo(1);
        assertThat(s.restartAttempt).isEqualTo(1);
        assertThat(s.lastFailure.reason).isEqualTo("ExitCode");
        assertThat(s.lastFailure.exitCode).isEqualTo(75);
        assertThat(s.lastFailure.rank).isEqualTo(1);
        assertThat(s.lastFailure.pod).isEqualTo("flaky-node-1");
        assertThat(s.lastFailure.time).isNotNull();
        assertThat(s.restartHistory).singleElement().satisfies(r -> {
            assertThat(r.reason).isEqualTo("ExitCode");
            assertThat(r.pod).isEqualTo("flaky-node-1");
            assertThat(r.exitCode).isEqualTo(75);
            assertThat(r.attempt).isZero();
            assertThat(r.time).isEqualTo(s.lastFailure.time);
        });
        assertThat(podsByRank("flaky").values())
                .allSatisfy(p -> assertThat(env(p)).containsEntry("MOE_RESTART_ATTEMPT", "1"));
        assertThat(events("flaky")).anySatisfy(e -> {
            assertThat(e.getReason()).isEqualTo("GangRestart");
            assertThat(e.getType()).isEqualTo("Warning");
            assertThat(e.getMessage()).contains("flaky-node-1").contains("75");
        });

        // Evicted (second restart, an infrastructure one: maxRestarts is not spent)
        runAll("flaky");
        awaitPhase("flaky", JobPhase.Running);
        editPodStatus(podsByRank("flaky").get(0), q -> {
            q.getStatus().setPhase("Failed");
            q.getStatus().setReason("Evicted");
            return q;
        });
        awaitPods("flaky", 2, 2);
        assertThat(status("flaky").lastFailure.reason).isEqualTo("Evicted");
        assertThat(status("flaky").restarts).isEqualTo(1);
        assertThat(status("flaky").infrastructureRestarts).isEqualTo(1);
        assertThat(status("flaky").restartHistory)
                .extracting(r -> r.reason, r -> r.attempt, r -> r.action)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("ExitCode", 0, "RestartGang"),
                        org.assertj.core.groups.Tuple.tuple("Evicted", 1, "RestartGangUncounted"));

        // Third failure: the second counted restart.
        runAll("flaky");
        awaitPhase("flaky", JobPhase.Running);
        exit(podsByRank("flaky").get(1), 75);
        awaitPods("flaky", 2, 3);
        assertThat(status("flaky").restarts).isEqualTo(2);

        // Fourth failure: maxRestarts reached → Failed; the other rank is stopped, the failed one kept.
        runAll("flaky");
        awaitPhase("flaky", JobPhase.Running);
        exit(podsByRank("flaky").get(0), 1);
        awaitPhase("flaky", JobPhase.Failed);
        assertThat(Conditions.get(status("flaky"), Conditions.FAILED).orElseThrow().reason)
                .isEqualTo("RestartLimitExceeded");
        await().atMost(WAIT)
                .untilAsserted(() -> assertThat(pods("flaky"))
                        .extracting(p -> p.getMetadata().getName())
                        .containsExactly("flaky-node-0"));
        assertThat(registry.find("moe.gang.restarts")
                        .tag("reason", "ExitCode")
                        .counter()
                        .count())
                .isPositive();
        assertThat(registry.find("moe.gang.restarts")
                        .tag("reason", "Evicted")
                        .counter()
                        .count())
                .isPositive();
    }

    @Test
    void configErrorExitCodeFailsTheJobWithoutRestart() {
        create(TestJobs.tiny(NS, "badcfg", 2));
        runGang("badcfg", 2, 0);
        exit(podsByRank("badcfg").get(0), 78);
        awaitPhase("badcfg", JobPhase.Failed);
        MoETrainingJobStatus s = status("badcfg");
        assertThat(s.restarts).isZero();
        assertThat(s.lastFailure.exitCode).isEqualTo(78);
        assertThat(Conditions.get(s, Conditions.FAILED).orElseThrow().reason).isEqualTo("NonRetryableExitCode");
        await().atMost(WAIT).untilAsserted(() -> assertThat(pods("badcfg")).hasSize(1));
        assertThat(events("badcfg")).anySatisfy(e -> assertThat(e.getReason()).isEqualTo("Failed"));
    }

    @Test
    void configuredNonRetryableExitCodeFailsTheJob() {
        MoETrainingJob j = TestJobs.tiny(NS, "custom-code", 2);
        j.getSpec().restartPolicy.nonRetryableExitCodes = List.of(42);
        create(j);
        runGang("custom-code", 2, 0);
        exit(podsByRank("custom-code").get(1), 42);
        awaitPhase("custom-code", JobPhase.Failed);
        assertThat(status("custom-code").restarts).isZero();
    }

    @Test
    void nodeLossAndPreemptionRestartTheGang() {
        create(TestJobs.tiny(NS, "lost", 2));
        runGang("lost", 2, 0);
        editPodStatus(podsByRank("lost").get(1), q -> {
            q.getStatus().setPhase("Unknown");
            return q;
        });
        awaitPods("lost", 2, 1);
        assertThat(status("lost").lastFailure.reason).isEqualTo("NodeLost");

        runAll("lost");
        awaitPhase("lost", JobPhase.Running);
        editPodStatus(podsByRank("lost").get(0), q -> {
            q.getStatus().setPhase("Failed");
            q.getStatus()
                    .setConditions(List.of(new PodConditionBuilder()
                            .withType("DisruptionTarget")
                            .withStatus("True")
                            .withReason("PreemptionByScheduler")
                            .build()));
            return q;
        });
        awaitPods("lost", 2, 2);
        assertThat(status("lost").lastFailure.reason).isEqualTo("Preempted");
    }

    @Test
    void aDeletedPodRestartsTheGangUnlessItsNamespaceIsBeingDeleted() {
        create(TestJobs.tiny(NS, "vanish", 2));
        runGang("vanish", 2, 0);
        client.pods().inNamespace(NS).withName("vanish-node-1").delete();
        awaitPods("vanish", 2, 1);
        assertThat(status("vanish").lastFailure.reason).isEqualTo("PodDeleted");
        assertThat(status("vanish").restarts).isEqualTo(1);

        // Namespace teardown deletes pods before the job: that is not a failure of the gang.
        String ns = "going-away";
        client.namespaces()
                .resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder()
                        .withNewMetadata()
                        .withName(ns)
                        .endMetadata()
                        .withNewStatus()
                        .withPhase("Terminating")
                        .endStatus()
                        .build())
                .create();
        MoETrainingJob j = TestJobs.tiny(ns, "teardown", 2);
        j.getMetadata().setUid(null);
        j.getMetadata().setGeneration(null);
        client.resources(MoETrainingJob.class).inNamespace(ns).resource(j).create();
        await().atMost(WAIT)
                .until(() -> client.pods().inNamespace(ns).list().getItems().size() == 2);
        for (Pod p : client.pods().inNamespace(ns).list().getItems()) {
            client.pods().inNamespace(ns).withName(p.getMetadata().getName()).editStatus(q -> {
                q.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder()
                        .withPhase("Running")
                        .addNewCondition()
                        .withType("PodScheduled")
                        .withStatus("True")
                        .endCondition()
                        .build());
                return q;
            });
        }
        await().atMost(WAIT)
                .until(() -> client.resources(MoETrainingJob.class)
                                .inNamespace(ns)
                                .withName("teardown")
                                .get()
                                .getStatus()
                                .phase
                        == JobPhase.Running);
        client.pods().inNamespace(ns).withName("teardown-node-0").delete();
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(10)).until(() -> {
            MoETrainingJobStatus st = client.resources(MoETrainingJob.class)
                    .inNamespace(ns)
                    .withName("teardown")
                    .get()
                    .getStatus();
            return st.restarts == 0 && st.phase == JobPhase.Running;
        });
    }

    @Test
    void partialGangIsDeletedAfterTheSchedulingTimeoutAndRetriedWithoutUsingARestart() {
        MoETrainingJob j = TestJobs.tiny(NS, "stuck", 2);
        j.getSpec().restartPolicy.gangSchedulingTimeoutSeconds = 1;
        create(j);
        awaitPods("stuck", 2, 0);
        // Only rank 0 gets a node.
        editPodStatus(podsByRank("stuck").get(0), q -> {
            q.getStatus().setPhase("Running");
            return q;
        });
        awaitPods("stuck", 2, 1);
        MoETrainingJobStatus s = status("stuck");
        assertThat(s.lastFailure.reason).isEqualTo("GangSchedulingTimeout");
        assertThat(s.restarts).isZero();
        assertThat(s.restartAttempt).isGreaterThanOrEqualTo(1);
        assertThat(events("stuck")).anySatisfy(e -> assertThat(e.getReason()).isEqualTo("GangSchedulingTimeout"));
        // Stop the retry loop for the other tests.
        setSuspend("stuck", true);
    }

    @Test
    void suspendDeletesPodsKeepsStatusAndResumeRecreatesThem() {
        create(TestJobs.tiny(NS, "pause", 2));
        runGang("pause", 2, 0);
        String started = status("pause").startTime;

        setSuspend("pause", true);
        awaitPhase("pause", JobPhase.Suspended);
        await().atMost(WAIT).untilAsserted(() -> assertThat(pods("pause")).isEmpty());
        assertThat(status("pause").startTime).isEqualTo(started);
        assertThat(Conditions.isTrue(status("pause"), Conditions.SUSPENDED)).isTrue();

        setSuspend("pause", false);
        awaitPods("pause", 2, 0);
        awaitPhase("pause", JobPhase.Pending);
        assertThat(events("pause")).extracting(Event::getReason).contains("Suspended", "Resumed");
    }

    @Test
    void invalidPlanGivesPlanValidFalseAWarningEventAndNoPods() {
        MoETrainingJob j = TestJobs.tiny(NS, "invalid", 2);
        j.getSpec().parallelism.expert = 3; // does not divide 8 experts nor the world of 4
        create(j);
        awaitPhase("invalid", JobPhase.Invalid);
        var cond = Conditions.get(status("invalid"), Conditions.PLAN_VALID).orElseThrow();
        assertThat(cond.status).isEqualTo("False");
        assertThat(cond.message).contains("spec.parallelism.expert=3");
        assertThat(pods("invalid")).isEmpty();
        await().atMost(WAIT)
                .untilAsserted(() -> assertThat(events("invalid")).anySatisfy(e -> {
                    assertThat(e.getType()).isEqualTo("Warning");
                    assertThat(e.getReason()).isEqualTo("PlanRejected");
                    assertThat(e.getMessage()).contains("spec.parallelism.expert=3");
                }));
        assertThat(registry.find("moe.plan.rejections").counters()).isNotEmpty();
    }

    @Test
    void aPlanThatTurnsInvalidKeepsTheJobsObjectsAndNeverTouchesAUsersObjectOfADerivedName() {
        // A user's ConfigMap under the name the operator derives for job "foreign", labelled so that the operator's
        // informer caches it: the job is invalid from the start, and the workflow leaves the user's object alone
        // (a guard: JOSDK finds a dependent through its owner, so this held before the fix below too).
        client.configMaps()
                .inNamespace(NS)
                .resource(new io.fabric8.kubernetes.api.model.ConfigMapBuilder()
                        .withNewMetadata()
                        .withName("foreign-plan")
                        .addToLabels(GangNames.JOB_LABEL, "someone-else")
                        .endMetadata()
                        .addToData("mine", "yes")
                        .build())
                .create();
        await().pollDelay(Duration.ofSeconds(1)).atMost(WAIT).until(() -> true); // the informer has it
        MoETrainingJob foreign = TestJobs.tiny(NS, "foreign", 2);
        foreign.getSpec().parallelism.expert = 3;
        create(foreign);
        awaitPhase("foreign", JobPhase.Invalid);
        assertThat(client.configMaps().inNamespace(NS).withName("foreign-plan").get())
                .isNotNull()
                .satisfies(cm -> assertThat(cm.getData()).containsEntry("mine", "yes"));

        // A valid job's objects stay when an edit makes its plan invalid (garbage collection removes them with
        // the job); the workflow deletes nothing.
        create(TestJobs.tiny(NS, "turns", 2));
        awaitPods("turns", 2, 0);
        await().atMost(WAIT)
                .untilAsserted(() -> assertThat(client.rbac()
                                .roleBindings()
                                .inNamespace(NS)
                                .withName("turns-trainer")
                                .get())
                        .isNotNull());
        mergePatchSpec("turns", "{\"parallelism\":{\"expert\":3}}");
        awaitPhase("turns", JobPhase.Invalid);
        assertThat(client.configMaps().inNamespace(NS).withName("turns-plan").get())
                .isNotNull();
        assertThat(client.configMaps()
                        .inNamespace(NS)
                        .withName("turns-trainer-env")
                        .get())
                .isNotNull();
        assertThat(client.services().inNamespace(NS).withName("turns").get()).isNotNull();
        assertThat(client.serviceAccounts()
                        .inNamespace(NS)
                        .withName("turns-trainer")
                        .get())
                .isNotNull();
        assertThat(client.rbac()
                        .roles()
                        .inNamespace(NS)
                        .withName("turns-trainer")
                        .get())
                .isNotNull();
        assertThat(client.rbac()
                        .roleBindings()
                        .inNamespace(NS)
                        .withName("turns-trainer")
                        .get())
                .isNotNull();
    }

    @Test
    void operatorRestartWhileCreatingTheGangNeverDuplicatesARank() {
        // What an operator that died half-way through creating a gang leaves behind: some ranks of the attempt
        // exist, others do not. The next reconcile must create exactly the missing ranks, under the same names.
        create(TestJobs.tiny(NS, "halfway", 3));
        awaitPods("halfway", 3, 0);
        Map<Integer, Pod> first = podsByRank("halfway");
        client.pods().inNamespace(NS).withName("halfway-node-1").delete();
        client.pods().inNamespace(NS).withName("halfway-node-2").delete();
        await().atMost(WAIT).untilAsserted(() -> {
            Map<Integer, Pod> now = podsByRank("halfway"); // fails on a duplicate rank
            assertThat(now.keySet()).containsExactly(0, 1, 2);
            assertThat(now.get(1).getMetadata().getUid())
                    .isNotEqualTo(first.get(1).getMetadata().getUid());
        });
        Map<Integer, Pod> now = podsByRank("halfway");
        assertThat(now.get(0).getMetadata().getUid())
                .isEqualTo(first.get(0).getMetadata().getUid());
        assertThat(pods("halfway"))
                .hasSize(3)
                .allSatisfy(p -> assertThat(p.getMetadata().getLabels()).containsEntry(GangNames.ATTEMPT_LABEL, "0"));
        assertThat(status("halfway").restarts).isZero();
    }

    @Test
    void podsOfAnEarlierJobWithTheSameNameAreNotAdopted() {
        MoETrainingJob old = TestJobs.tiny(NS, "reborn", 2);
        old.getMetadata().setUid("uid-of-a-deleted-job");
        Pod orphan = GangPodFactory.render(old, TestJobs.plan(old), 0, 0, GangSettings.defaults());
        String orphanUid = client.pods()
                .inNamespace(NS)
                .resource(orphan)
                .create()
                .getMetadata()
                .getUid();
        create(TestJobs.tiny(NS, "reborn", 2));
        await().atMost(WAIT).untilAsserted(() -> {
            Map<Integer, Pod> pods = podsByRank("reborn");
            assertThat(pods.keySet()).containsExactly(0, 1);
            assertThat(pods.get(0).getMetadata().getUid()).isNotEqualTo(orphanUid);
            assertThat(pods.get(0).getMetadata().getOwnerReferences().get(0).getUid())
                    .isEqualTo(job("reborn").getMetadata().getUid());
        });
    }

    @Test
    void noOpReconcileLeavesEveryResourceVersionUnchanged() throws Exception {
        create(TestJobs.tiny(NS, "steady", 2));
        runGang("steady", 2, 0);
        // Let the reconciles caused by our own writes settle.
        await().pollDelay(Duration.ofMillis(500)).atMost(WAIT).until(() -> {
            long before = reconciles();
            Thread.sleep(700);
            return reconciles() == before;
        });
        Map<String, String> before = resourceVersions("steady");
        drainRequests();
        long reconcilesBefore = reconciles();

        // An event that changes nothing the operator cares about: it reconciles and must write nothing.
        Pod rank1 = podsByRank("steady").get(1);
        client.pods().inNamespace(NS).withName(rank1.getMetadata().getName()).edit(p -> {
            p.getMetadata().getLabels().put("unrelated", "touch");
            return p;
        });
        await().atMost(WAIT).until(() -> reconciles() > reconcilesBefore);
        // Not one write for this job besides the test's own edit (not even an identical one).
        assertThat(drainRequests())
                .filteredOn(r -> !r.getMethod().equals("GET"))
                .filteredOn(
                        r -> r.getPath().contains("steady") || r.getUtf8Body().contains("steady"))
                .extracting(r -> r.getMethod() + " " + r.getPath())
                .allMatch(line -> line.endsWith("/pods/steady-node-1"), "only the test's own pod edit");
        Map<String, String> after = resourceVersions("steady");
        after.remove("Pod/steady-node-1");
        before.remove("Pod/steady-node-1");
        assertThat(after).isEqualTo(before);
    }

    @Test
    void aLargeGangIsCreatedInParallelOncePerRankAndDeletedWithOneDeletePerPod() throws Exception {
        int nodes = 12;
        drainRequests();
        create(TestJobs.tiny(NS, "wide", nodes));
        runGang("wide", nodes, 0);
        assertThat(podsByRank("wide").keySet()).hasSize(nodes); // fails on a duplicate rank
        assertThat(pods("wide"))
                .extracting(p -> p.getMetadata().getName())
                .doesNotHaveDuplicates()
                .hasSize(nodes);

        exit(podsByRank("wide").get(5), 75);
        awaitPods("wide", nodes, 1);
        List<String> deletes = drainRequests().stream()
                .filter(r -> r.getMethod().equals("DELETE"))
                .map(r -> java.net.URLDecoder.decode(r.getPath(), java.nio.charset.StandardCharsets.UTF_8))
                .filter(path -> path.contains("wide"))
                .toList();
        // The whole gang went by one DELETE per pod (in parallel; kube-apiserver deletes a collection's items one
        // after another, and the restart waits for them), never by a deletecollection that could reach the new
        // attempt. The only collection delete allowed is the stale attempts' (attempt != 1).
        String podPath = "/api/v1/namespaces/" + NS + "/pods/wide-node-";
        assertThat(deletes)
                .allSatisfy(path -> assertThat(path)
                        .satisfiesAnyOf(
                                p -> assertThat(p).startsWith(podPath),
                                p -> assertThat(p)
                                        .contains("pods?labelSelector=")
                                        .contains(GangNames.ATTEMPT_LABEL + "!=1")));
        assertThat(deletes.stream().filter(path -> path.startsWith(podPath)))
                .as("every rank of attempt 0 deleted once (PendingDeletes: never again while the cache catches up)")
                .doesNotHaveDuplicates()
                .hasSize(nodes);
        assertThat(status("wide").restarts).isEqualTo(1);
        setSuspend("wide", true);
        await().atMost(WAIT).untilAsserted(() -> assertThat(pods("wide")).isEmpty());
    }

    /**
     * A gang whose pods are bound, then start, two at a time (a reconcile after each step, as in a real ramp) writes
     * its status at most three times: created (Pending), all bound (GangScheduled=True), all running (Running). A
     * condition message that counted the pods would patch the status at every step. The conditions stay true
     * meanwhile: GangScheduled is False until the last pod is bound, True from then on.
     */
    @Test
    void aGangFormingAFewPodsAtATimePatchesItsStatusAtMostThreeTimesPerStart() throws Exception {
        int nodes = 8;
        drainRequests();
        create(TestJobs.tiny(NS, "ramp", nodes));
        awaitPods("ramp", nodes, 0);
        int steps = formGangInSteps("ramp", 2);
        awaitPhase("ramp", JobPhase.Running);
        settle();
        List<String> writes = statusWrites(drainRequests(), "ramp");
        assertThat(steps).isEqualTo(nodes); // 4 bind steps, 4 start steps, each followed by a reconcile
        assertThat(writes)
                .as("status writes of one gang start (%d ramp steps)", steps)
                .isNotEmpty()
                .hasSizeLessThanOrEqualTo(3);
        assertThat(Conditions.get(status("ramp"), Conditions.RUNNING).orElseThrow().message)
                .isEqualTo("all 8 pods are running (attempt 0)");

        // A gang restart: Restarting, the new gang created (Pending), bound, running: no write per ramp step.
        exit(podsByRank("ramp").get(3), 75);
        awaitPods("ramp", nodes, 1);
        formGangInSteps("ramp", 2);
        await().atMost(WAIT)
                .untilAsserted(() -> assertThat(status("ramp"))
                        .satisfies(st -> assertThat(st.phase).isEqualTo(JobPhase.Running))
                        .satisfies(st -> assertThat(st.restartAttempt).isEqualTo(1)));
        settle();
        assertThat(statusWrites(drainRequests(), "ramp"))
                .as("status writes of one gang restart")
                .hasSizeLessThanOrEqualTo(4);
        setSuspend("ramp", true);
        await().atMost(WAIT).untilAsserted(() -> assertThat(pods("ramp")).isEmpty());
    }

    /**
     * Binds the job's pods {@code perStep} at a time, then starts them {@code perStep} at a time, waiting for a
     * reconcile after each step; checks GangScheduled on the way. Returns the number of steps.
     */
    int formGangInSteps(String job, int perStep) {
        List<Pod> all = List.copyOf(podsByRank(job).values());
        int steps = 0;
        for (boolean start : new boolean[] {false, true}) {
            for (int i = 0; i < all.size(); i += perStep) {
                long before = reconciles();
                for (Pod p : all.subList(i, Math.min(all.size(), i + perStep))) {
                    editPodStatus(p, q -> {
                        q.getStatus().setPhase(start ? "Running" : "Pending");
                        q.getStatus()
                                .setConditions(List.of(new PodConditionBuilder()
                                        .withType("PodScheduled")
                                        .withStatus("True")
                                        .build()));
                        return q;
                    });
                }
                steps++;
                await().atMost(WAIT).until(() -> reconciles() > before);
                boolean allBound = start || i + perStep >= all.size();
                await().atMost(WAIT)
                        .untilAsserted(() -> assertThat(Conditions.isTrue(status(job), Conditions.GANG_SCHEDULED))
                                .as("GangScheduled after %s", allBound ? "all pods bound" : "some pods bound")
                                .isEqualTo(allBound));
            }
        }
        return steps;
    }

    /** Waits until no reconcile has run for a while (the writes of the last step have landed). */
    void settle() {
        await().pollDelay(Duration.ofMillis(500)).atMost(WAIT).until(() -> {
            long before = reconciles();
            Thread.sleep(700);
            return reconciles() == before;
        });
    }

    /** The writes (PATCH, PUT) of the job's status among {@code requests}. */
    static List<String> statusWrites(List<io.fabric8.mockwebserver.http.RecordedRequest> requests, String job) {
        return requests.stream()
                .filter(r -> r.getMethod().equals("PATCH") || r.getMethod().equals("PUT"))
                .filter(r -> r.getPath().contains("/namespaces/" + NS + "/moetrainingjobs/" + job + "/status"))
                .map(r -> r.getMethod() + " " + r.getUtf8Body())
                .toList();
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

    Map<String, String> resourceVersions(String name) {
        Map<String, String> rv = new TreeMap<>();
        List<HasMetadata> all = new java.util.ArrayList<>();
        all.add(job(name));
        all.addAll(pods(name));
        all.add(client.services().inNamespace(NS).withName(name).get());
        all.add(client.configMaps().inNamespace(NS).withName(name + "-plan").get());
        all.add(client.configMaps()
                .inNamespace(NS)
                .withName(name + "-trainer-env")
                .get());
        all.add(client.serviceAccounts()
                .inNamespace(NS)
                .withName(name + "-trainer")
                .get());
        all.add(client.rbac()
                .roles()
                .inNamespace(NS)
                .withName(name + "-trainer")
                .get());
        all.add(client.rbac()
                .roleBindings()
                .inNamespace(NS)
                .withName(name + "-trainer")
                .get());
        for (HasMetadata h : all) {
            rv.put(
                    h.getKind() + "/" + h.getMetadata().getName(),
                    h.getMetadata().getResourceVersion());
        }
        return rv;
    }

    @Test
    void progressAnnotationOfRankZeroLandsInStatusAndMetrics() {
        create(TestJobs.tiny(NS, "progress", 2));
        runGang("progress", 2, 0);
        client.pods().inNamespace(NS).withName("progress-node-0").edit(p -> {
            if (p.getMetadata().getAnnotations() == null) {
                p.getMetadata().setAnnotations(new java.util.HashMap<>());
            }
            p.getMetadata()
                    .getAnnotations()
                    .put(
                            GangNames.PROGRESS_ANNOTATION,
                            "{\"step\": 120, \"loss\": 3.21, \"tokensPerSecond\": 51234.0, \"mfu\": 0.31,"
                                    + " \"lastCheckpointStep\": 100, \"time\": \"2026-11-26T12:00:00Z\"}");
            return p;
        });
        await().atMost(WAIT).untilAsserted(() -> {
            MoETrainingJobStatus.Progress p = status("progress").progress;
            assertThat(p).isNotNull();
            assertThat(p.step).isEqualTo(120L);
            assertThat(p.loss).isEqualTo(3.21);
            assertThat(p.tokensPerSecond).isEqualTo(51234.0);
            assertThat(p.mfu).isEqualTo(0.31);
            assertThat(p.lastCheckpointStep).isEqualTo(100L);
            assertThat(p.updateTime).isEqualTo("2026-11-26T12:00:00Z");
        });
        // Per-job series are written at scrape time from the job cache (JobSeriesCollector), not Micrometer meters.
        await().atMost(WAIT)
                .untilAsserted(() -> assertThat(
                                io.restassured.RestAssured.get("/q/metrics").asString())
                        .contains("moe_job_step{moejob=\"progress\",namespace=\"" + NS + "\"} 120.0")
                        .contains("moe_job_mfu{moejob=\"progress\",namespace=\"" + NS + "\"} 0.31"));
        assertThat(registry.find("moe.jobs").tag("phase", "Running").gauge().value())
                .isGreaterThanOrEqualTo(1.0);
        String metrics = io.restassured.RestAssured.get("/q/metrics").asString();
        assertThat(metrics)
                .contains("moe_job_step{moejob=\"progress\",namespace=\"" + NS + "\"} 120.0")
                .contains("moe_job_phase{moejob=\"progress\",namespace=\"" + NS + "\",phase=\"Running\"} 1.0")
                .contains("moe_reconcile_duration_seconds_count")
                .contains("moe_gang_restarts_total")
                .contains("moe_gpus_requested");
    }
}
