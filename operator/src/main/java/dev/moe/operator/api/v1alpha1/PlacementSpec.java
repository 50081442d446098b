package dev.moe.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
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
    public List<String> topologyKeys;

    @JsonPropertyDescription("Kueue LocalQueue to admit the gang through (topology-aware scheduling); the"
            + " operator places pods itself when empty.")
    public String queueName;

    @JsonPropertyDescription("Extra node selector for every pod (added to the GPU product selector).")
    public Map<String, String> nodeSelector;

    @JsonPropertyDescription("Tolerations for every pod (e.g. for tainted GPU nodes).")
    public List<Toleration> tolerations;
}
