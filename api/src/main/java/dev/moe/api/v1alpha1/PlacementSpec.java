package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.SchemaFrom;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

/** Scheduling hints: keep expert-parallel groups inside one fast topology domain. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class PlacementSpec {
    @JsonPropertyDescription("Node label keys of topology domains, fastest first (e.g. nvidia.com/gpu.clique,"
            + " topology.kubernetes.io/rack). Pods of an expert-parallel group that spans nodes share a domain of"
            + " the first key.")
    @Size(max = SpecLimits.MAX_TOPOLOGY_KEYS)
    public List<@Size(max = ObjectNameRules.MAX_QUALIFIED_NAME_LENGTH) @Pattern(ObjectNameRules.QUALIFIED_NAME) String>
            topologyKeys;

    @JsonPropertyDescription("Kueue LocalQueue to admit the gang through (topology-aware scheduling); the"
            + " operator places pods itself when empty.")
    @Size(max = ObjectNameRules.MAX_LABEL_VALUE_LENGTH)
    @Pattern(ObjectNameRules.QUEUE_NAME)
    public String queueName;

    @JsonPropertyDescription("PriorityClass of every pod (the scheduler's preemption order, Kueue's workload"
            + " priority); the cluster's default priority when empty.")
    @Size(max = ObjectNameRules.MAX_DNS_SUBDOMAIN_LENGTH)
    @Pattern(ObjectNameRules.QUEUE_NAME)
    public String priorityClassName;

    @Size(max = SpecLimits.MAX_NODE_SELECTOR_ENTRIES)
    @ValidationRule(
            value = "self.all(k, k.size() <= " + ObjectNameRules.MAX_QUALIFIED_NAME_LENGTH + " && k.matches(r'"
                    + ObjectNameRules.QUALIFIED_NAME + "'))",
            message = "placement.nodeSelector keys must be node label keys (an optional DNS subdomain prefix and '/',"
                    + " then at most 63 letters, digits, '-', '_' or '.')",
            reason = "FieldValueInvalid")
    @JsonPropertyDescription("Extra node selector for every pod (added to the GPU product selector).")
    public Map<String, @Size(max = ObjectNameRules.MAX_LABEL_VALUE_LENGTH) @Pattern(ObjectNameRules.LABEL_VALUE) String>
            nodeSelector;

    @Size(max = SpecLimits.MAX_TOLERATIONS)
    @SchemaFrom(type = PodFieldSchemas.Toleration[].class)
    @JsonPropertyDescription("Tolerations for every pod (e.g. for tainted GPU nodes).")
    public List<Toleration> tolerations;
}
