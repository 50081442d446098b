package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** GPUs of the job: one pod per node, every GPU of the node requested by that pod. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
        value = "!has(self.gpusPerNode) || self.nodes * self.gpusPerNode <= " + SpecLimits.MAX_WORLD,
        message = "resources.nodes × resources.gpusPerNode must be at most " + SpecLimits.MAX_WORLD + " GPUs: the plan"
                + " document lists every rank and must fit a 1 MiB ConfigMap (docs/limits.md)",
        reason = "FieldValueInvalid")
@JsonIgnoreProperties(ignoreUnknown = true)
public class ResourcesSpec {

    @Required
    @LimitReason("one pod per node, each named, created and watched by the operator")
    @Min(1)
    @Max(SpecLimits.MAX_NODES)
    @JsonPropertyDescription(
            "Number of nodes (pods) in the gang; nodes × gpusPerNode is at most " + SpecLimits.MAX_WORLD + ".")
    public Integer nodes;

    @LimitReason("the largest GPU servers have " + SpecLimits.MAX_GPUS_PER_NODE + " GPUs")
    @Min(1)
    @Max(SpecLimits.MAX_GPUS_PER_NODE)
    @Default("8")
    @JsonPropertyDescription("GPUs per node (nvidia.com/gpu per pod; torchrun processes per pod).")
    public Integer gpusPerNode = 8;

    @Size(max = ObjectNameRules.MAX_LABEL_VALUE_LENGTH)
    @Pattern(ObjectNameRules.LABEL_VALUE)
    @JsonPropertyDescription(
            "GPU product label value the pods are pinned to (nvidia.com/gpu.product), e.g." + " NVIDIA-H100-80GB-HBM3.")
    public String gpuProduct;

    @LimitReason("no accelerator has more than " + SpecLimits.MAX_GPU_MEMORY_GIB + " GiB")
    @Min(1)
    @Max(SpecLimits.MAX_GPU_MEMORY_GIB)
    @Default("80")
    @JsonPropertyDescription("Memory of one GPU in GiB; the plan's per-GPU memory estimate must fit it.")
    public Integer gpuMemoryGiB = 80;
}
