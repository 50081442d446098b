"""FSDP2 (fully_shard):
- non-expert parameters over the dense "data" dimension (mean over data ranks), or with context parallelism
  over data × context (flattened "dataContext"): context ranks hold different tokens of the same sequences
  and their losses are shares of one loss (parallel/context.py), so the gradient is summed over context and
  averaged over data (divide factor = data);
- expert weights over "expertData" when it is > 1: they are already EP-sharded on the expert mesh, FSDP2
  shards them further (2-D, like FSDP over TP) so a large expertData does not replicate every expert's
  weights, gradients and optimizer state. Their reduce-scatter sums over expertData and divides by
  data × tensor (see expert_parallel.reduce_expert_gradients for why).
Parameters FSDP2 shards stay float32 (they are the master weights, optim.py) and are all-gathered in bf16 for
compute on GPU (param_dtype), with float32 gradient reduction (reduce_dtype); the others are bf16 in the model
with the master in the optimizer."""

from __future__ import annotations

import torch
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard


def _shards_dense(meshes) -> bool:
    return meshes.data * meshes.context > 1


def _dense_mesh(meshes):
    return meshes.dense["dataContext"] if meshes.context > 1 else meshes.dense["data"]


def shards_experts(model, meshes) -> bool:
    return meshes.edp > 1 and bool(model.moe_blocks())


def fsdp_managed_parameters(model, meshes) -> set:
    """The parameters apply_fsdp will shard (before it runs): the one place for that rule."""
    experts = set(model.expert_parameters())
    managed = set(experts) if shards_experts(model, meshes) else set()
    if _shards_dense(meshes):
        managed |= {p for p in model.parameters() if p not in experts}
    return managed


def apply_fsdp(model, meshes, param_dtype=None) -> bool:
    mp = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=torch.float32)
    experts_sharded = shards_experts(model, meshes)
    if experts_sharded:
        emesh = meshes.expert["expertData"]
        for block in model.moe_blocks():
            fully_shard(block.experts, mesh=emesh, mp_policy=mp)
            block.experts.set_gradient_divide_factor(float(meshes.data * meshes.tensor))
            if emesh.device_type != "cuda":  # NCCL pre-multiplied sum is CUDA-only; sum, then divide
                block.experts.set_force_sum_reduction_for_comms(True)
    if _shards_dense(meshes):
        mesh = _dense_mesh(meshes)
        # experts under their own FSDP module are skipped by the parents; otherwise ignore them explicitly
        experts = set() if experts_sharded else set(model.expert_parameters())
        dense_modules = []
        for layer in model.model.layers:
            ignored = {p for p in layer.parameters() if p in experts}
            fully_shard(layer, mesh=mesh, mp_policy=mp, ignored_params=ignored or None)
            dense_modules.append(layer)
        fully_shard(model, mesh=mesh, mp_policy=mp, ignored_params=experts or None)
        dense_modules.append(model)
        if meshes.context > 1:  # sum over context, mean over data
            for m in dense_modules:
                m.set_gradient_divide_factor(float(meshes.data))
                if mesh.device_type != "cuda":
                    m.set_force_sum_reduction_for_comms(True)
    return _shards_dense(meshes) or experts_sharded


def set_gradient_sync(model, enabled: bool) -> None:
    """Skip gradient reduction on accumulation micro-batches (every FSDP module, root or not)."""
    for m in model.modules():
        if isinstance(m, FSDPModule):
            m.set_requires_gradient_sync(enabled, recurse=False)
