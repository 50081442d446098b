package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.SchemaFrom;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.util.List;

/** The trainer container of every pod. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class TrainerSpec {
    @Size(max = SpecLimits.MAX_IMAGE_LENGTH)
    @Pattern(ObjectNameRules.IMAGE)
    @JsonPropertyDescription("Trainer image; the operator's configured trainer image when empty.")
    public String image;

    @JsonPropertyDescription("Entrypoint; the image's (moe-train, which runs torchrun) when empty.")
    @Size(max = SpecLimits.MAX_COMMAND_ITEMS)
    public List<@Size(max = SpecLimits.MAX_ARG_LENGTH) String> command;

    @JsonPropertyDescription("Arguments to the entrypoint.")
    @Size(max = SpecLimits.MAX_ARGS)
    public List<@Size(max = SpecLimits.MAX_ARG_LENGTH) String> args;

    @Size(max = SpecLimits.MAX_ENV)
    @SchemaFrom(type = PodFieldSchemas.EnvVar[].class)
    @JsonPropertyDescription("Extra environment variables for the trainer container (not the operator's own:"
            + " docs/contract.md section 2).")
    public List<EnvVar> env;

    @JsonPropertyDescription("CPU and memory of the trainer container (the GPUs are spec.resources'). By default"
            + " each pod requests " + TrainerResources.DEFAULT_CPU_PER_GPU + " CPUs and "
            + TrainerResources.DEFAULT_MEMORY_PER_GPU_GIB + "Gi of memory per GPU, with no limits (Burstable).")
    public TrainerResources resources;

    @SchemaFrom(type = PodFieldSchemas.SecurityContext.class)
    @JsonPropertyDescription("Security context of the trainer container (user, capabilities, privilege).")
    public SecurityContext securityContext;

    @Size(max = SpecLimits.MAX_EXTRA_VOLUMES)
    @SchemaFrom(type = PodFieldSchemas.VolumeMount[].class)
    @JsonPropertyDescription("Extra mounts of volumes of spec.pod.volumes. Not at, over or inside the operator's"
            + " mounts (/etc/moe, /dev/shm, /checkpoints, /data and the model claim's directory).")
    public List<VolumeMount> volumeMounts;
}
