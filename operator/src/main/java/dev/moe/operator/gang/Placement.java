package dev.moe.operator.gang;

import dev.moe.api.v1alpha1.MoETrainingJob;
import dev.moe.api.v1alpha1.PlacementSpec;
import dev.moe.plan.Plan;
import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.AffinityBuilder;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirementBuilder;
import io.fabric8.kubernetes.api.model.PodAffinityTerm;
import io.fabric8.kubernetes.api.model.PodAffinityTermBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.api.model.WeightedPodAffinityTerm;
import io.fabric8.kubernetes.api.model.WeightedPodAffinityTermBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where a job's pods go, in one place: node selector and tolerations, one pod per node, expert-parallel groups
 * inside one topology domain, the order in which the gang is created, and the Kueue pod group that replaces our
 * affinity when the job names a queue. Pure: (job, plan) in, pod fields out.
 *
 * <p>Expert groups: when an expert-parallel group spans nodes ({@code expert > gpusPerNode}), consecutive node
 * ranks form a group ({@link #expertGroup}); the group's pods are required to share a domain of the first
 * topology key, so its all-to-all stays on the fastest links, and the remaining keys are preferred for the whole
 * gang. Such a gang is created group by group ({@link #createWaves}): every pod of group g is in the scheduler's
 * queue before the first pod of group g+1, so the scheduler places a whole group before the next can take nodes in
 * its domain (created all at once, two groups could each take half a rack and neither fit).
 */
public final class Placement {
    public static final String GPU_RESOURCE = "nvidia.com/gpu";
    public static final String GPU_PRODUCT_LABEL = "nvidia.com/gpu.product";
    public static final String HOSTNAME_KEY = "kubernetes.io/hostname";

    public static final String KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name";
    public static final String KUEUE_GROUP_LABEL = "kueue.x-k8s.io/pod-group-name";
    public static final String KUEUE_GROUP_COUNT_ANNOTATION = "kueue.x-k8s.io/pod-group-total-count";
    public static final String KUEUE_INDEX_LABEL_ANNOTATION = "kueue.x-k8s.io/pod-group-pod-index-label";
    /**
     * "false" on every pod: the group is never refilled. Every attempt of the gang is a new pod group; without it,
     * Kueue keeps a failed pod's finalizer and the group's quota "waiting for replacement pods" that never come.
     */
    public static final String KUEUE_RETRIABLE_IN_GROUP = "kueue.x-k8s.io/retriable-in-group";

    public static final String KUEUE_PREFERRED_TOPOLOGY = "kueue.x-k8s.io/podset-preferred-topology";
    public static final String KUEUE_SLICE_REQUIRED_TOPOLOGY = "kueue.x-k8s.io/podset-slice-required-topology";
    public static final String KUEUE_SLICE_SIZE = "kueue.x-k8s.io/podset-slice-size";
    /**
     * The pod condition Kueue sets (True) on each pod of a pod group it stops, just before deleting the pod; its
     * reason is {@link #KUEUE_EVICTED_PREFIX} + the Workload's Evicted reason when the workload was evicted.
     */
    /** Kueue's scheduling gates (kueue.x-k8s.io/admission, kueue.x-k8s.io/topology) start with this. */
    public static final String KUEUE_GATE_PREFIX = "kueue.x-k8s.io/";

    public static final String KUEUE_TERMINATION_TARGET = "TerminationTarget";

    public static final String KUEUE_EVICTED_PREFIX = "WorkloadEvictedDueTo";
    /** Evicted reasons of a Kueue Workload (kueue.x-k8s.io/v1beta2 WorkloadEvictedBy*) that the operator tells apart. */
    public static final String KUEUE_EVICTED_BY_PREEMPTION = KUEUE_EVICTED_PREFIX + "Preempted";

    public static final String KUEUE_EVICTED_BY_PODS_READY_TIMEOUT = KUEUE_EVICTED_PREFIX + "PodsReadyTimeout";

    private final MoETrainingJob job;
    private final Plan plan;
    private final PlacementSpec spec;
    private final List<String> keys;
    private final String queue;

    public Placement(MoETrainingJob job, Plan plan) {
        this.job = job;
        this.plan = plan;
        this.spec = job.getSpec().placement != null ? job.getSpec().placement : new PlacementSpec();
        this.keys = spec.topologyKeys != null ? spec.topologyKeys : List.of();
        this.queue = spec.queueName == null || spec.queueName.isBlank() ? null : spec.queueName;
    }

    /** Whether a Kueue queue admits the gang (then Kueue places it, and the operator's scheduling timeout is off). */
    public boolean queued() {
        return queue != null;
    }

    /** Nodes spanned by one expert-parallel group (1 when groups lie inside a node). */
    public int expertGroupSpan() {
        return plan.expert() > plan.gpusPerNode() ? plan.expert() / plan.gpusPerNode() : 1;
    }

    /** Expert-parallel group of a node rank: consecutive node ranks share a group. */
    public int expertGroup(int nodeRank) {
        return nodeRank / expertGroupSpan();
    }

    /** Whether a group's pods are required to share a topology domain (so the gang is created group by group). */
    boolean groupsSpanNodes() {
        return queue == null && !keys.isEmpty() && expertGroupSpan() > 1;
    }

    /**
     * The ranks to create, in waves that are created one after another: one wave per expert group when groups span
     * nodes (required podAffinity), otherwise a single wave.
     */
    public List<List<Integer>> createWaves(List<Integer> ranks) {
        if (!groupsSpanNodes()) {
            return ranks.isEmpty() ? List.of() : List.of(List.copyOf(ranks));
        }
        Map<Integer, List<Integer>> byGroup = new TreeMap<>();
        ranks.forEach(r ->
                byGroup.computeIfAbsent(expertGroup(r), g -> new ArrayList<>()).add(r));
        return List.copyOf(byGroup.values());
    }

    /** Kueue pod group of one attempt of the gang. */
    public static String kueueGroupName(MoETrainingJob job, int attempt) {
        return job.getMetadata().getName() + "-a" + attempt;
    }

    /** Placement labels of a pod: its expert group, and the Kueue queue and pod group when queued. */
    public Map<String, String> labels(int nodeRank, int attempt) {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put(GangNames.EXPERT_GROUP_LABEL, String.valueOf(expertGroup(nodeRank)));
        if (queue != null) {
            labels.put(KUEUE_QUEUE_LABEL, queue);
            labels.put(KUEUE_GROUP_LABEL, kueueGroupName(job, attempt));
        }
        return labels;
    }

    /** Kueue's pod-group and topology annotations when queued (none otherwise). */
    public Map<String, String> annotations() {
        Map<String, String> annotations = new LinkedHashMap<>();
        if (queue == null) {
            return annotations;
        }
        annotations.put(KUEUE_GROUP_COUNT_ANNOTATION, String.valueOf(plan.nodes()));
        annotations.put(KUEUE_INDEX_LABEL_ANNOTATION, GangNames.NODE_RANK_LABEL);
        annotations.put(KUEUE_RETRIABLE_IN_GROUP, "false");
        if (!keys.isEmpty()) {
            if (expertGroupSpan() > 1) {
                annotations.put(KUEUE_SLICE_REQUIRED_TOPOLOGY, keys.get(0));
                annotations.put(KUEUE_SLICE_SIZE, String.valueOf(expertGroupSpan()));
            }
            annotations.put(KUEUE_PREFERRED_TOPOLOGY, keys.get(keys.size() - 1));
        }
        return annotations;
    }

    /** The GPU product label plus spec.placement.nodeSelector. */
    public Map<String, String> nodeSelector() {
        Map<String, String> nodeSelector = new TreeMap<>();
        if (spec.nodeSelector != null) {
            nodeSelector.putAll(spec.nodeSelector);
        }
        var resources = job.getSpec().resources;
        if (resources != null && resources.gpuProduct != null && !resources.gpuProduct.isBlank()) {
            nodeSelector.put(GPU_PRODUCT_LABEL, resources.gpuProduct);
        }
        return nodeSelector;
    }

    /** spec.placement.tolerations, plus the GPU taint's unless the job tolerates it already. */
    public List<Toleration> tolerations() {
        List<Toleration> tolerations = new ArrayList<>();
        if (spec.tolerations != null) {
            tolerations.addAll(spec.tolerations);
        }
        if (tolerations.stream().noneMatch(t -> GPU_RESOURCE.equals(t.getKey()))) {
            tolerations.add(new TolerationBuilder()
                    .withKey(GPU_RESOURCE)
                    .withOperator("Exists")
                    .withEffect("NoSchedule")
                    .build());
        }
        return tolerations;
    }

    /** The pod's affinity: none when queued (Kueue places the group), else see the class comment. */
    public Affinity affinity(int nodeRank) {
        if (queue != null) {
            return null;
        }
        String jobName = job.getMetadata().getName();
        // One pod per node: never two ranks of the job on one node.
        PodAffinityTerm onePerNode = new PodAffinityTermBuilder()
                .withLabelSelector(new LabelSelectorBuilder()
                        .addToMatchLabels(GangNames.JOB_LABEL, jobName)
                        .build())
                .withTopologyKey(HOSTNAME_KEY)
                .build();
        AffinityBuilder b = new AffinityBuilder()
                .withNewPodAntiAffinity()
                .withRequiredDuringSchedulingIgnoredDuringExecution(onePerNode)
                .endPodAntiAffinity();
        List<String> excluded = job.getStatus() != null ? job.getStatus().excludedNodes : null;
        if (excluded != null && !excluded.isEmpty()) {
            // Nodes this job failed on (BadNodes): by name, one requirement per node (a metadata.name field
            // requirement takes one value); the requirements of one term all apply.
            List<NodeSelectorRequirement> notOn = excluded.stream()
                    .filter(n -> n != null && !n.isEmpty())
                    .map(n -> new NodeSelectorRequirementBuilder()
                            .withKey("metadata.name")
                            .withOperator("NotIn")
                            .withValues(n)
                            .build())
                    .toList();
            b.withNewNodeAffinity()
                    .withNewRequiredDuringSchedulingIgnoredDuringExecution()
                    .addNewNodeSelectorTerm()
                    .withMatchFields(notOn)
                    .endNodeSelectorTerm()
                    .endRequiredDuringSchedulingIgnoredDuringExecution()
                    .endNodeAffinity();
        }
        if (keys.isEmpty()) {
            return b.build();
        }
        List<PodAffinityTerm> required = new ArrayList<>();
        List<WeightedPodAffinityTerm> preferred = new ArrayList<>();
        int first = 0;
        if (groupsSpanNodes()) {
            // The expert-parallel group's all-to-all must stay inside the fastest domain.
            required.add(new PodAffinityTermBuilder()
                    .withLabelSelector(new LabelSelectorBuilder()
                            .addToMatchLabels(GangNames.JOB_LABEL, jobName)
                            .addToMatchLabels(GangNames.EXPERT_GROUP_LABEL, String.valueOf(expertGroup(nodeRank)))
                            .build())
                    .withTopologyKey(keys.get(0))
                    .build());
            first = 1;
        }
        // The rest of the gang as close as possible: fastest domain first.
        int weight = 100;
        for (int i = first; i < keys.size(); i++) {
            preferred.add(new WeightedPodAffinityTermBuilder()
                    .withWeight(Math.max(weight, 1))
                    .withNewPodAffinityTerm()
                    .withLabelSelector(new LabelSelectorBuilder()
                            .addToMatchLabels(GangNames.JOB_LABEL, jobName)
                            .build())
                    .withTopologyKey(keys.get(i))
                    .endPodAffinityTerm()
                    .build());
            weight /= 2;
        }
        return b.withNewPodAffinity()
                .withRequiredDuringSchedulingIgnoredDuringExecution(required.isEmpty() ? null : required)
                .withPreferredDuringSchedulingIgnoredDuringExecution(preferred.isEmpty() ? null : preferred)
                .endPodAffinity()
                .build();
    }
}
