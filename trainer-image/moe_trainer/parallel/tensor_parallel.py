"""Tensor parallelism for attention: q/k/v column-sharded by head, o_proj row-sharded (one all-reduce).

The attention module derives its local head count from the projection width, so the model code needs no
change. q/k RMSNorm weights are shared by all heads and stay replicated, but each tensor rank only sees
its own heads, so their gradients are summed over the tensor group (Megatron's "copy to TP region" for a
weight). Everything outside attention is replicated over the tensor group (identical tokens there)."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

from ..model import RMSNorm


class _SumGradOverGroup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, group):
        ctx.group = group
        return w.view_as(w)

    @staticmethod
    def backward(ctx, g):
        g = g.contiguous()
        dist.all_reduce(g, group=ctx.group)
        return g, None


class HeadShardedRMSNorm(nn.Module):
    """q_norm / k_norm under tensor parallelism: RMSNorm over head_dim applied to this rank's heads only. The weight
    (shared by all heads) is replicated over the tensor group, and each rank's gradient covers only its heads, so
    the gradient is summed over the group in backward. Built from the model's RMSNorm at parallelisation time and
    put in its place: it holds the same Parameter, so names (``q_norm.weight``), initialisation and checkpoints do
    not change."""

    def __init__(self, norm: RMSNorm, tp_group):
        super().__init__()
        self.weight = norm.weight
        self.eps = norm.eps
        self.tp_group = tp_group

    def forward(self, x):
        return F.rms_norm(x, (x.shape[-1],), _SumGradOverGroup.apply(self.weight, self.tp_group), self.eps)


def apply_tensor_parallel(model, meshes) -> None:
    if meshes.tensor == 1:
        return
    tp = meshes.dense["tensor"]
    for layer in model.model.layers:
        attn = layer.self_attn
        parallelize_module(
            attn,
            tp,
            {
                "q_proj": ColwiseParallel(),
                "k_proj": ColwiseParallel(),
                "v_proj": ColwiseParallel(),
                "o_proj": RowwiseParallel(),
            },
        )
        attn.q_norm = HeadShardedRMSNorm(attn.q_norm, tp.get_group())
        attn.k_norm = HeadShardedRMSNorm(attn.k_norm, tp.get_group())
