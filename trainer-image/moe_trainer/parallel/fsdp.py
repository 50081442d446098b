"""FSDP2 over the dense "data" dimension for every non-expert parameter (experts are ignored here:
they are sharded by expert parallelism and reduced over expertData by expert_parallel.py)."""
from __future__ import annotations

import torch
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard


def apply_fsdp(model, meshes, param_dtype=None) -> bool:
    if meshes.data == 1:
        return False
    mesh = meshes.dense["data"]
    mp = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=torch.float32)
    experts = set(model.expert_parameters())
    for layer in model.model.layers:
        ignored = {p for p in layer.parameters() if p in experts}
        fully_shard(layer, mesh=mesh, mp_policy=mp, ignored_params=ignored or None)
    fully_shard(model, mesh=mesh, mp_policy=mp, ignored_params=experts or None)
    return True


def set_gradient_sync(model, enabled: bool) -> None:
    if hasattr(model, "set_requires_gradient_sync"):
        model.set_requires_gradient_sync(enabled)
