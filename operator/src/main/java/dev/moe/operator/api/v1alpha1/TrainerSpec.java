package dev.moe.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.EnvVar;
import java.util.List;

/** The trainer container of every pod. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class TrainerSpec {
    @JsonPropertyDescription("Trainer image; the operator's configured trainer image when empty.")
    public String image;

    @JsonPropertyDescription("Entrypoint; the image's (moe-train, which runs torchrun) when empty.")
    public List<String> command;

    @JsonPropertyDescription("Arguments to the entrypoint.")
    public List<String> args;

    @JsonPropertyDescription("Extra environment variables for the trainer container.")
    public List<EnvVar> env;
}
