package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.Map;

/** NCCL settings for every pod. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class NcclSpec {
    @Size(max = SpecLimits.MAX_NCCL_SETTING_LENGTH)
    @JsonPropertyDescription("NCCL_SOCKET_IFNAME: network interfaces for bootstrap and socket transport, e.g. eth0.")
    public String socketIfname;

    @Size(max = SpecLimits.MAX_NCCL_SETTING_LENGTH)
    @JsonPropertyDescription("NCCL_IB_HCA: InfiniBand/RoCE adapters to use, e.g. mlx5_0,mlx5_1.")
    public String ibHca;

    @Size(max = SpecLimits.MAX_NCCL_EXTRA_ENV)
    @ValidationRule(
            value = "self.all(k, k.size() <= " + SpecLimits.MAX_ENV_NAME_LENGTH + " && k.matches(r'"
                    + ObjectNameRules.ENV_NAME + "') && !(k in " + WorkloadSyntax.RESERVED_ENV_CEL + "))",
            message = "nccl.extraEnv names must be environment variable names (letters, digits, '_', '-' and '.', not"
                    + " starting with a digit) other than the variables the operator sets (docs/contract.md)",
            reason = "FieldValueInvalid")
    @JsonPropertyDescription("Further NCCL_* (or TORCH_NCCL_*) variables, name to value.")
    public Map<String, @Size(max = SpecLimits.MAX_ENV_VALUE_LENGTH) String> extraEnv;
}
