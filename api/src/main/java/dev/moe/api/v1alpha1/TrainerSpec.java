package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.SchemaFrom;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.EnvVar;
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
}
