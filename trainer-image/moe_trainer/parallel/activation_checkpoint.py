"""Activation memory per decoder layer, a plan choice (training.activationCheckpointing):

- ``none``: autograd (or, under torch.compile, the partitioner) keeps what backward needs;
- ``selective``: the outputs of the expensive ops are kept — dense GEMMs (q/k/v/o projections, router,
  dense MLP), attention, the experts' gate/up grouped GEMM and every all-to-all — and the cheap rest
  (norms, RoPE, SwiGLU, routing permutations and sums) is recomputed in backward;
- ``full``: only each layer's input (and its all-to-all outputs) is kept; the layer is recomputed.

In every mode the dispatch all-to-all outputs (counts, tokens, router weights) are saved, so a recompute never
re-sends tokens; the all-to-all returning the expert outputs is neither saved nor re-sent, because the recompute
stops after the experts' last GEMM (model._SumRows keeps no saved tensors) and backward never reads its output.
The context-parallel K/V all-gather is kept in every mode too (a recompute never gathers again).
The dispatch's split sizes are read back from the device once more in a recompute (a sync, no communication).
Implemented with torch.utils.checkpoint (non-reentrant, so recompute stops as soon as backward has what it
needs) and a selective-checkpoint policy; the layer's forward is wrapped in place, so parameter names (DCP,
the Hugging Face mapping) do not change, and it composes with per-layer torch.compile and FSDP2. The maths is
identical in every mode (checked bit-exact on CPU).
"""

from __future__ import annotations

import functools

import torch
from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts

from ..plan import activation_checkpointing_mode

_aten = torch.ops.aten


def _ops(*names):
    out = set()
    for n in names:
        pkt, _, overload = n.partition(".")
        op = getattr(_aten, pkt, None)
        if op is not None and hasattr(op, overload or "default"):
            out.add(getattr(op, overload or "default"))
    return out


#: all-to-all (expert_parallel.AllToAllDispatch issues per layer, in this order: counts, tokens, router weights,
#: then the expert outputs back; the first DISPATCH_ALL_TO_ALLS of each group are kept)
ALL_TO_ALL = set()
if hasattr(torch.ops, "_c10d_functional"):
    ALL_TO_ALL.add(torch.ops._c10d_functional.all_to_all_single.default)
ALL_TO_ALLS_PER_LAYER, DISPATCH_ALL_TO_ALLS = 4, 3
#: the context-parallel K/V all-gather (parallel/context.py): always kept, a recompute never gathers again
ALL_GATHER = set()
if hasattr(torch.ops, "_c10d_functional"):
    ALL_GATHER.add(torch.ops._c10d_functional.all_gather_into_tensor.default)
#: expensive compute kept by "selective"; _grouped_mm is handled apart (only the gate/up projection)
SELECTIVE_SAVE = _ops(
    "mm",
    "addmm",
    "bmm",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_mm",
)
GROUPED_MM = _ops("_grouped_mm")


def _policy(selective: bool):
    """A fresh policy per checkpointed call. Each MoE layer runs two grouped GEMMs in a fixed order, gate/up
    then down: the gate/up output is what SwiGLU's backward reads; the down output only feeds the sum back to
    token order and no backward reads it, so "selective" keeps the first of each pair only (keeping the down
    output too would cost 2·k·hidden bytes per token, more than everything else kept). The recompute still
    re-runs the down GEMM, because autograd saves its inputs after running it (≈ 6% more FLOPs per layer).
    Forward and recompute count separately and see the same sequence."""
    seen = {False: 0, True: 0}
    sent = {False: 0, True: 0}

    def policy(ctx, op, *args, **kwargs):
        if op in ALL_GATHER:
            return CheckpointPolicy.MUST_SAVE
        if op in ALL_TO_ALL:
            sent[ctx.is_recompute] += 1
            if (sent[ctx.is_recompute] - 1) % ALL_TO_ALLS_PER_LAYER < DISPATCH_ALL_TO_ALLS:
                return CheckpointPolicy.MUST_SAVE
            return CheckpointPolicy.PREFER_RECOMPUTE
        if selective:
            if op in SELECTIVE_SAVE:
                return CheckpointPolicy.MUST_SAVE
            if op in GROUPED_MM:
                seen[ctx.is_recompute] += 1
                if seen[ctx.is_recompute] % 2 == 1:
                    return CheckpointPolicy.MUST_SAVE
        return CheckpointPolicy.PREFER_RECOMPUTE

    return policy


def _contexts(selective: bool):
    return create_selective_checkpoint_contexts(_policy(selective))


def apply_activation_checkpointing(model, mode: str = "full", all_to_all: bool = True, all_gather: bool = False) -> int:
    """Wrap every decoder layer's forward; returns the number of checkpointed layers. all_to_all: the layers
    communicate (expert parallelism); all_gather: they gather K/V (context parallelism). Full checkpointing
    without either needs no policy: the policy is a Python dispatch mode seeing every op, host time in an eager
    step (eager, micro-batch 1, 8 layers: full with the policy took 79 ms per step more than none, where the
    recompute itself is ≈ 30 ms); compiled layers trace it once."""
    mode = activation_checkpointing_mode(mode)
    if mode == "none":
        return 0
    # no context_fn at all without a policy (Dynamo refuses an explicit noop_context_fn)
    policy = (
        {}
        if mode == "full" and not (all_to_all or all_gather)
        else {"context_fn": functools.partial(_contexts, mode == "selective")}
    )
    for layer in model.model.layers:
        inner = layer.forward

        def forward(*args, _inner=inner, **kwargs):
            return checkpoint(_inner, *args, use_reentrant=False, **policy, **kwargs)

        layer.forward = forward
    return len(model.model.layers)
