"""Tensor parallelism for attention: q/k/v column-sharded by head, o_proj row-sharded (one all-reduce).

The attention module derives its local head count from the projection width, so the model code needs no
change. q/k RMSNorm weights are shared by all heads and stay replicated, but each tensor rank only sees
its own heads, so their gradients are summed over the tensor group (Megatron's "copy to TP region" for a
weight). Everything outside attention is replicated over the tensor group (identical tokens there)."""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
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


class HeadShardedRMSNorm(RMSNorm):
    """RMSNorm over head_dim applied to this rank's heads only; weight grads summed over the TP group."""

    tp_group = None

    def forward(self, x):
        return F.rms_norm(x, (x.shape[-1],), _SumGradOverGroup.apply(self.weight, self.tp_group), self.eps)


def apply_tensor_parallel(model, meshes) -> None:
    if meshes.tensor == 1:
        return
    tp = meshes.dense["tensor"]
    for layer in model.model.layers:
        attn = layer.self_attn
        parallelize_module(attn, tp, {"q_proj": ColwiseParallel(), "k_proj": ColwiseParallel(),
                                      "v_proj": ColwiseParallel(), "o_proj": RowwiseParallel()})
        for norm in (attn.q_norm, attn.k_norm):
            norm.__class__ = HeadShardedRMSNorm
            norm.tp_group = tp.get_group()
