package dev.moe.operator.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.Map;

/** NCCL settings for every pod. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class NcclSpec {
    @JsonPropertyDescription("NCCL_SOCKET_IFNAME: network interfaces for bootstrap and socket transport, e.g. eth0.")
    public String socketIfname;

    @JsonPropertyDescription("NCCL_IB_HCA: InfiniBand/RoCE adapters to use, e.g. mlx5_0,mlx5_1.")
    public String ibHca;

    @JsonPropertyDescription("Further NCCL_* (or TORCH_NCCL_*) variables, name to value.")
    public Map<String, String> extraEnv;
}
