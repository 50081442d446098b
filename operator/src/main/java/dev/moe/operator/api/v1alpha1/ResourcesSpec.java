package dev.moe.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import dev.moe.plan.SpecDefaults;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;

/** GPUs of the job: one pod per node, every GPU of the node requested by that pod. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class ResourcesSpec {

    @Required
    @Min(1)
    @JsonPropertyDescription("Number of nodes (pods) in the gang.")
    public Integer nodes;

    @Min(1)
    @Default(SpecDefaults.GPUS_PER_NODE)
    @JsonPropertyDescription("GPUs per node (nvidia.com/gpu per pod; torchrun processes per pod).")
    public Integer gpusPerNode;

    @JsonPropertyDescription("GPU product label value the pods are pinned to (nvidia.com/gpu.product), e.g."
            + " NVIDIA-H100-80GB-HBM3.")
    public String gpuProduct;

    @Min(1)
    @Default(SpecDefaults.GPU_MEMORY_GIB)
    @JsonPropertyDescription("Memory of one GPU in GiB; the plan's per-GPU memory estimate must fit it.")
    public Integer gpuMemoryGiB;
}
