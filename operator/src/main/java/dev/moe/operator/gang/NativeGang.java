package dev.moe.operator.gang;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.MoETrainingJobStatus.GangMode;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The native gang of Kubernetes 1.36 (alpha, {@code scheduling.k8s.io/v1alpha2}): for each attempt a Workload and a
 * PodGroup {@code <job>-a<attempt>} with a gang policy of {@code minCount = nodes}, and the attempt's pods naming the
 * PodGroup in {@code spec.schedulingGroup.podGroupName}; kube-scheduler's GangScheduling plugin then waits until
 * all of them are in its queue and binds either all of them or none. Pure: (job, plan, attempt) in, objects out.
 *
 * <p>Fabric8 (7.5) has no model of this alpha API (its scheduling module stops at v1alpha1, a different shape) and
 * no {@code schedulingGroup} in PodSpec, so the objects are {@link GenericKubernetesResource}s and the pod field is
 * an additional property of the PodSpec (serialized like any other field). A typed copy of an alpha API would have
 * to follow every change of it; these few maps are the fields we set, checked by the API server's validation in
 * the e2e suite. Field names are those of k8s.io/api v0.36 scheduling/v1alpha2 and core/v1 PodSpec.
 *
 * <p>The Workload and the PodGroup are per attempt because their scheduling policy is immutable and the node count
 * may change between attempts (while suspended).
 *
 * <p>Topology: the API takes one constraint for the whole group (all its pods in one domain of a key), while the
 * job's first topology key asks that each expert-parallel group share a domain (see {@link Placement}). So the
 * PodGroup carries {@code placement.topologyKeys[0]} only when one expert group spans the whole gang: then the
 * constraint asks exactly what the pods' required podAffinity asks, and lets the scheduler choose the domain for
 * the gang as a whole instead of following its first pod. Otherwise it carries none: "the whole gang in one rack"
 * would make every gang larger than a rack unschedulable (the pods keep their per-group affinity). A constraint is
 * refused unless the apiserver has TopologyAwareWorkloadScheduling on; then the objects go without it.
 * Priority is not set: the API forbids it without the WorkloadAwarePreemption gate, and the job has no priority
 * field yet.
 */
public final class NativeGang {
    private NativeGang() {}

    public static final String GROUP = "scheduling.k8s.io";
    public static final String VERSION = "v1alpha2";
    public static final String API_VERSION = GROUP + "/" + VERSION;
    public static final String WORKLOAD_KIND = "Workload";
    public static final String POD_GROUP_KIND = "PodGroup";
    /** The Workload's single pod group template (a gang has one kind of pod). */
    public static final String TEMPLATE = "trainers";
    /** core/v1 PodSpec field (GenericWorkload gate) naming the pod's group; unknown to Fabric8 7.5. */
    public static final String POD_SCHEDULING_GROUP = "schedulingGroup";

    /** Kueue when the job names a queue, Native when the cluster serves the gang API, Fallback otherwise. */
    public static GangMode mode(Placement placement, boolean apiServed) {
        if (placement.queued()) {
            return GangMode.Kueue;
        }
        return apiServed ? GangMode.Native : GangMode.Fallback;
    }

    /** Name of the Workload and the PodGroup of one attempt (the same as the Kueue pod group's). */
    public static String name(MoETrainingJob job, int attempt) {
        return Placement.kueueGroupName(job, attempt);
    }

    /** The attempt's Workload: one gang template, controllerRef = the job. */
    public static GenericKubernetesResource workload(MoETrainingJob job, Plan plan, int attempt, boolean topology) {
        Map<String, Object> template = new LinkedHashMap<>();
        template.put("name", TEMPLATE);
        template.putAll(scheduling(job, plan, topology));
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put(
                "controllerRef",
                Map.of(
                        "apiGroup", job.getApiVersion().split("/")[0],
                        "kind", job.getKind(),
                        "name", job.getMetadata().getName()));
        spec.put("podGroupTemplates", List.of(template));
        return resource(job, WORKLOAD_KIND, attempt, spec);
    }

    /** The attempt's PodGroup: the runtime gang the pods name, made from the Workload's template. */
    public static GenericKubernetesResource podGroup(MoETrainingJob job, Plan plan, int attempt, boolean topology) {
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put(
                "podGroupTemplateRef",
                Map.of("workload", Map.of("workloadName", name(job, attempt), "podGroupTemplateName", TEMPLATE)));
        spec.putAll(scheduling(job, plan, topology));
        return resource(job, POD_GROUP_KIND, attempt, spec);
    }

    /** Whether the objects would carry a topology constraint (one expert group spans the gang; see above). */
    public static boolean hasTopology(MoETrainingJob job, Plan plan) {
        return topologyKey(job, plan) != null;
    }

    /**
     * Whether a job at this attempt can hold native gang objects of an earlier attempt: only after a restart.
     * Attempts only count up, and the objects of a deleted job of the same name carry another job uid, so the first
     * attempt has none to delete (two deletecollections fewer before a job's first gang).
     */
    public static boolean earlierAttemptsMayExist(int attempt) {
        return attempt > 0;
    }

    /** Puts the pod into the attempt's PodGroup. */
    public static Pod join(Pod pod, MoETrainingJob job, int attempt) {
        pod.getSpec().setAdditionalProperty(POD_SCHEDULING_GROUP, Map.of("podGroupName", name(job, attempt)));
        return pod;
    }

    private static Map<String, Object> scheduling(MoETrainingJob job, Plan plan, boolean topology) {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("schedulingPolicy", Map.of("gang", Map.of("minCount", plan.nodes())));
        String key = topologyKey(job, plan);
        if (topology && key != null) {
            fields.put("schedulingConstraints", Map.of("topology", List.of(Map.of("key", key))));
        }
        return fields;
    }

    private static String topologyKey(MoETrainingJob job, Plan plan) {
        var placement = job.getSpec().placement;
        if (placement == null || placement.topologyKeys == null || placement.topologyKeys.isEmpty()) {
            return null;
        }
        int span = new Placement(job, plan).expertGroupSpan();
        return span > 1 && span >= plan.nodes() ? placement.topologyKeys.get(0) : null;
    }

    private static GenericKubernetesResource resource(
            MoETrainingJob job, String kind, int attempt, Map<String, Object> spec) {
        Map<String, String> labels = new LinkedHashMap<>(GangNames.jobLabels(job));
        if (job.getMetadata().getUid() != null) {
            labels.put(GangNames.JOB_UID_LABEL, job.getMetadata().getUid());
        }
        labels.put(GangNames.ATTEMPT_LABEL, String.valueOf(attempt));
        GenericKubernetesResource r = new GenericKubernetesResource();
        r.setApiVersion(API_VERSION);
        r.setKind(kind);
        r.setMetadata(new ObjectMetaBuilder()
                .withName(name(job, attempt))
                .withNamespace(job.getMetadata().getNamespace())
                .withLabels(labels)
                .withOwnerReferences(GangPodFactory.ownerReference(job))
                .build());
        r.setAdditionalProperty("spec", spec);
        return r;
    }
}
