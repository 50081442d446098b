"""Regional torch.compile: each decoder layer is compiled in place (``module.compile()``, so parameter names
do not change), after activation checkpointing and before FSDP2, as TorchTitan does. The layers share one
graph (same code, same shapes; parameters are graph inputs), so compilation is paid once per run (≈ 15–30 s
at Qwen3-30B-A3B shapes). Inside a layer Inductor fuses the norms, RoPE, SwiGLU with the router weight and
the routing permutations around the cuDNN attention and the grouped GEMMs. With expert parallelism the
all-to-all's split sizes need the host, so the graph breaks there and the pieces around it are compiled.
GPU only (kernels.compile_enabled); MOE_COMPILE=0 runs eagerly."""

from __future__ import annotations

import torch


def apply_compile(model) -> int:
    layers = list(model.model.layers)
    # one cache entry per distinct layer kind is enough, but never let a deep model fall back to eager
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 2 * len(layers))
    torch._dynamo.config.accumulated_cache_size_limit = max(
        torch._dynamo.config.accumulated_cache_size_limit, 4 * len(layers)
    )
    for layer in layers:
        layer.compile(dynamic=False)
    return len(layers)
