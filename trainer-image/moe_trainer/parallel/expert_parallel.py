"""Expert parallelism: each expert rank owns numExperts/E experts; tokens travel by all-to-all.

Dispatch sends each routed token copy only to the rank that owns its expert (not every hidden state to
every rank, as transformers' EP does with an all-reduce):
  1. sort the T·k (token, slot) copies by expert id (stable argsort) and count them;
  2. exchange the per-expert counts (a small all-to-all) -> split sizes: the dispatch's one host sync;
  3. all-to-all of the sorted copies (working dtype, bf16 on GPU) and of their router weights (float32);
  4. regroup what arrived by local expert and run one grouped GEMM per projection, the router weight
     applied inside the activation as on one GPU (model.Experts);
  5. all-to-all back, then back to token order summing the k copies (model.Routing).
The all-to-alls are torch's functional collectives, so an activation-checkpointing recompute finds their
outputs saved and never sends again (parallel/activation_checkpoint.py).
Expert weights are DTensors sharded (Shard(0)) over the "expert" dimension of the expert mesh and, when
expertData > 1, further sharded by FSDP2 over "expertData" (parallel/fsdp.py), so DCP checkpoints and
optimizer states are correct; forward uses the local shard.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as funcol
from torch import nn
from torch.distributed.tensor import Shard, distribute_tensor

from ..metrics import ALL_TO_ALL_TIMER
from ..model import Routing, gather_rows, inverse_permutation, sum_rows
from ..optim import grad_of
from .fsdp import shards_experts


def _a2a(x: torch.Tensor, out_splits, in_splits, group) -> torch.Tensor:
    t0 = ALL_TO_ALL_TIMER.start(x.device)
    out = funcol.all_to_all_single(x.contiguous(), out_splits, in_splits, group)
    out = out.wait() if isinstance(out, funcol.AsyncCollectiveTensor) else out
    ALL_TO_ALL_TIMER.stop(x.device, t0)
    return out


# Why a hand-written autograd Function and not torch.distributed.nn.functional.all_to_all_single: that built-in
# does uneven splits and is differentiable, but it runs the in-place c10d collective into a preallocated output,
# not the functional op (_c10d_functional.all_to_all_single) that activation_checkpoint.py's policy recognises
# and saves, so under checkpointing every recompute would send the tokens again, and it is opaque to the timer
# below (the backward all-to-all would go unmeasured). funcol.all_to_all_single_autograd keeps the functional op
# and is the candidate replacement; it is not yet checked here under NCCL + torch.compile + checkpointing.
class _AllToAll(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, out_splits, in_splits, group):
        ctx.splits, ctx.group = (out_splits, in_splits), group
        return _a2a(x, out_splits, in_splits, group)

    @staticmethod
    def backward(ctx, g):
        out_splits, in_splits = ctx.splits
        return _a2a(g, in_splits, out_splits, ctx.group), None, None, None


class AllToAllDispatch:
    def __init__(self, group, ep_size: int):
        self.group, self.ep = group, ep_size

    @torch.compiler.disable  # split sizes must reach the host: the compiled layer breaks its graph here
    def _splits(self, counts: torch.Tensor):
        ep, n_local = self.ep, counts.numel() // self.ep
        recv_counts = _a2a(counts, None, None, self.group)  # [source rank, local expert] of what I receive
        # the only host sync of the dispatch: the all-to-all needs its split sizes on the host
        splits = torch.stack([counts.view(ep, n_local).sum(1), recv_counts.view(ep, n_local).sum(1)]).tolist()
        return recv_counts, splits[0], splits[1]

    def __call__(self, x, weights, idx, counts, experts, num_experts: int):
        # four all-to-alls in this order (activation_checkpoint.py keeps the first three): counts, tokens,
        # router weights, expert outputs back
        ep, n_local = self.ep, num_experts // self.ep
        r = Routing(idx)
        recv_counts, send_splits, recv_splits = self._splits(counts)
        xr = _AllToAll.apply(r.gather(x), recv_splits, send_splits, self.group)
        wr = _AllToAll.apply(r.sort(weights), recv_splits, send_splits, self.group)

        # rows arrived grouped by (source rank, local expert); regroup by local expert
        rc = recv_counts.view(ep, n_local)
        expert_of_row = torch.repeat_interleave(
            torch.arange(n_local, device=x.device).repeat(ep), rc.reshape(-1), output_size=xr.shape[0]
        )
        perm = torch.argsort(expert_of_row, stable=True)
        perm_inv = inverse_permutation(perm)
        ys = experts(gather_rows(xr, perm, perm_inv), rc.sum(0), wr[perm])
        yr = _AllToAll.apply(sum_rows(ys, perm, perm_inv), send_splits, recv_splits, self.group)
        return r.combine(yr)


def apply_expert_parallel(model, meshes) -> None:
    """Shard expert weights over the expert mesh (call on the meta-device model) and install the
    all-to-all dispatcher when the expert degree is > 1."""
    ep_mesh = meshes.expert["expert"]  # 1-D, so FSDP2 can add expertData on top (2-D, like FSDP over TP)
    for block in model.moe_blocks():
        for name in ("gate_up_proj", "down_proj"):
            p = getattr(block.experts, name)
            setattr(block.experts, name, nn.Parameter(distribute_tensor(p.data, ep_mesh, [Shard(0)])))
        if meshes.ep > 1:
            block.dispatch = AllToAllDispatch(meshes.expert.get_group("expert"), meshes.ep)


@torch.no_grad()
def reduce_expert_gradients(model, meshes) -> None:
    """Expert-data-parallel reduction. Each expert's grad on its owner already sums the contributions of
    every token copy routed to it in its EP group; summing over expertData and dividing by the number of
    dense replicas of a batch (data × tensor; each tensor rank dispatches its own copy of the tokens)
    gives the gradient of the mean loss, the same as the dense parameters get from FSDP."""
    if shards_experts(model, meshes):  # FSDP2 over expertData already reduced and divided
        return
    from torch.distributed.tensor import DTensor

    grads = [
        g.to_local() if isinstance(g, DTensor) else g
        for g in (grad_of(p) for p in model.expert_parameters())
        if g is not None
    ]
    if not grads:
        return
    if meshes.edp > 1:
        group = meshes.expert.get_group("expertData")
        for g in grads:  # one collective per tensor: bounded extra memory
            dist.all_reduce(g, group=group)
    div = meshes.data * meshes.tensor
    if div != 1:
        torch._foreach_div_(grads, float(div))
