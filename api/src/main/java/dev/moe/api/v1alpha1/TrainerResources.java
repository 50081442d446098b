package dev.moe.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Quantity;

/**
 * CPU and memory of the trainer container (spec.trainer.resources). GPUs are not here: every pod requests all the
 * GPUs of its node, spec.resources.gpusPerNode, as the plan says.
 *
 * <p>Defaults, so that a pod is never BestEffort (the first the kubelet evicts under memory pressure): a request
 * that is absent, and has no limit of the same resource, is {@link #DEFAULT_CPU_PER_GPU} CPUs and
 * {@link #DEFAULT_MEMORY_PER_GPU} of memory per GPU of the pod (8 GPUs: 32 CPUs, 256Gi). A request that is absent
 * but has a limit is the limit, as Kubernetes does. No limit is set by default (pods are Burstable): a memory
 * limit kills the trainer when the data loader's page cache grows, and a CPU limit throttles NCCL's proxy threads.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public class TrainerResources {
    /** Default CPU request per GPU of the pod: a data loader worker, the NCCL proxy and the rank itself. */
    public static final int DEFAULT_CPU_PER_GPU = 4;
    /** Default memory request per GPU of the pod, in GiB: pinned host buffers and the loader's queues. */
    public static final int DEFAULT_MEMORY_PER_GPU_GIB = 32;

    public static final String DEFAULT_MEMORY_PER_GPU = DEFAULT_MEMORY_PER_GPU_GIB + "Gi";

    @JsonPropertyDescription("Requested CPU and memory (what the scheduler reserves). Absent: "
            + DEFAULT_CPU_PER_GPU + " CPUs and " + DEFAULT_MEMORY_PER_GPU_GIB + "Gi per GPU of the pod, or the"
            + " limit when only a limit is set.")
    public CpuMemory requests;

    @JsonPropertyDescription("CPU and memory limits; none by default (Burstable pods). Each request is at most"
            + " its limit; requests equal to limits for both make the pods Guaranteed.")
    public CpuMemory limits;

    /** A CPU and a memory quantity. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static class CpuMemory {
        @JsonPropertyDescription("CPUs, e.g. 32 or 500m.")
        public Quantity cpu;

        @JsonPropertyDescription("Bytes, e.g. 256Gi.")
        public Quantity memory;
    }
}
