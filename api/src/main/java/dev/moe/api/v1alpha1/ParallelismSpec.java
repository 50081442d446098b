package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;

/**
 * Parallel degrees. Dense mesh (data, context, tensor), tensor innermost; expert mesh (expertData, expert),
 * expert innermost, folded over the same ranks.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class ParallelismSpec {

    @LimitReason("tensor parallelism stays inside one node of at most " + SpecLimits.MAX_GPUS_PER_NODE + " GPUs")
    @Min(1)
    @Max(SpecLimits.MAX_TENSOR)
    @Default("1")
    @JsonPropertyDescription("Tensor-parallel degree (attention heads split across GPUs of one node). Must divide"
            + " resources.gpusPerNode and the model's attention and key/value heads.")
    public Integer tensor = 1;

    @LimitReason("every expert rank owns at least one of at most " + SpecLimits.MAX_EXPERTS + " experts")
    @Min(1)
    @Max(SpecLimits.MAX_EXPERT)
    @Default("1")
    @JsonPropertyDescription("Expert-parallel degree: each expert rank owns numExperts/expert experts. Must divide"
            + " the model's numExperts and the world size.")
    public Integer expert = 1;

    @LimitReason("a job has at most " + SpecLimits.MAX_WORLD + " GPUs")
    @Min(1)
    @Max(SpecLimits.MAX_WORLD)
    @Default("1")
    @JsonPropertyDescription("Context-parallel degree: each sequence is split into 2 × context chunks, context"
            + " rank r holding chunks r and 2·context−1−r (causal work balanced); attention all-gathers K/V over the"
            + " context group. training.seqLength must be divisible by 2 × context; keep context × tensor dividing"
            + " resources.gpusPerNode so the group stays inside one node.")
    public Integer context = 1;

    @LimitReason("a job has at most " + SpecLimits.MAX_WORLD + " GPUs")
    @Min(1)
    @Max(SpecLimits.MAX_WORLD)
    @JsonPropertyDescription("Data-parallel degree. Derived as world / (context × tensor) when left out.")
    public Integer data;
}
