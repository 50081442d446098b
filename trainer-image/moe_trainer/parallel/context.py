"""Context parallelism: the C ranks of a context group hold different parts of the same sequences.

Sharding (head–tail load balancing). Each sequence of S tokens is cut into 2·C chunks of L = S/(2C) tokens;
context rank r holds chunks r and 2C−1−r, so every rank has one early and one late chunk and the causal work
(query chunk i attends to i+1 key chunks) is the same on every rank: (r+1) + (2C−r) = 2C+1 chunk pairs.
Token ids, labels and RoPE positions follow the same permutation (shard_batch).

Attention. Queries stay local. K and V (with 4 KV heads against 32 query heads 1/8 of Q's size) are
all-gathered over the context group, differentiably: the backward of the gather is a reduce-scatter, so each
rank receives the gradient of its own K/V from every rank's queries. Each local query chunk i then attends to
its causal key prefix, computed as two blocks merged by their log-sum-exp: a full (unmasked) block over the
strictly earlier chunks 0..i−1 and a causal diagonal block over chunk i itself. Two plain attention calls
keep SDPA's fastest kernels on GPU (a causal mask with an offset would send it to a slower one); backward
runs each block's attention backward with the merged output and log-sum-exp, which gives the exact gradient.

Everything else in the model is token-wise and runs on the local tokens unchanged: norms, MoE routing and
experts (context ranks are more token shards to the expert mesh, which spans every rank), lm_head. What must
see the whole sequence is injected here and in train.forward_backward, never in the model code:
- the cross-entropy mean divides by the whole batch's labelled-token count (model ``num_items_in_batch``),
  so the shards' losses sum to the sequence's loss;
- the load-balancing statistics (tokens per expert, router probabilities, rows) are summed over the context
  group before the aux loss is formed (model ``router_statistics``); the sum's backward is the identity,
  because every context rank forms the same aux loss and the dense gradients are summed over the group;
- dense gradients are summed over context and averaged over data (FSDP2 over data × context with divide
  factor data, parallel/fsdp.py); expert gradients already sum every token shard's contributions on the
  expert's owner.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as funcol


# ---------------------------------------------------------------- sharding
def chunk_ids(context: int, rank: int) -> tuple[int, int]:
    """The two chunks (of 2·context) context rank `rank` holds: rank and 2·context−1−rank."""
    return rank, 2 * context - 1 - rank


def local_positions(seq_len: int, context: int, rank: int, device=None) -> torch.Tensor:
    """Sequence positions of the local tokens, in local order (chunk r, then chunk 2C−1−r)."""
    L = seq_len // (2 * context)
    return torch.cat([torch.arange(c * L, (c + 1) * L, device=device) for c in chunk_ids(context, rank)])


def shard_sequence(t: torch.Tensor, context: int, rank: int) -> torch.Tensor:
    """[B, S, ...] -> [B, S/C, ...]: the local chunks of every sequence."""
    L = t.shape[1] // (2 * context)
    return torch.cat([t[:, c * L : (c + 1) * L] for c in chunk_ids(context, rank)], dim=1)


def unshard_order(context: int) -> list[int]:
    """Gathered chunks arrive as [rank 0's two, rank 1's two, ...]; position j of this list is the gathered
    index of sequence chunk j."""
    where = {}
    for r in range(context):
        a, b = chunk_ids(context, r)
        where[a], where[b] = 2 * r, 2 * r + 1
    return [where[j] for j in range(2 * context)]


class ContextShard:
    """This rank's place in its context group; shards a batch and supplies the model's injections."""

    def __init__(self, group, context: int, rank: int):
        self.group, self.C, self.rank = group, context, rank

    def shard_batch(self, inputs: torch.Tensor, labels: torch.Tensor):
        """(inputs, labels) of whole sequences -> (local inputs, local labels, positions, labelled tokens of
        the whole batch). The count comes from the whole labels every context rank has: no communication."""
        n = (labels != -100).sum()
        return (
            shard_sequence(inputs, self.C, self.rank),
            shard_sequence(labels, self.C, self.rank),
            local_positions(inputs.shape[1], self.C, self.rank, inputs.device),
            n,
        )

    def router_statistics(self, tok_sum, prob_sum, rows):
        n = torch.tensor(float(rows), device=tok_sum.device)
        tok_sum, n = _all_reduce_no_grad(torch.cat([tok_sum.detach(), n[None]]), self.group).split([tok_sum.numel(), 1])
        return tok_sum, _SumForReplicatedLoss.apply(prob_sum, self.group), n[0]


def _all_reduce_no_grad(t: torch.Tensor, group) -> torch.Tensor:
    t = t.contiguous().clone()
    dist.all_reduce(t, group=group)
    return t


class _SumForReplicatedLoss(torch.autograd.Function):
    """Forward: sum over the group. Backward: identity — the loss built from the sum is the same on every rank
    and the gradients are summed over the group afterwards, so each rank passes back only its own share."""

    @staticmethod
    def forward(ctx, x, group):
        return _all_reduce_no_grad(x, group)

    @staticmethod
    def backward(ctx, g):
        return g, None


# ---------------------------------------------------------------- K/V all-gather
class _GatherSequence(torch.autograd.Function):
    """[B, H, S/C, D] local -> [B, H, S, D] in sequence order; backward: reduce-scatter of the gradient
    (each rank gets the sum, over every rank's queries, of its own chunks' gradient)."""

    @staticmethod
    def forward(ctx, x, group, context: int):
        ctx.group, ctx.C = group, context
        g = funcol.all_gather_tensor(x.contiguous(), 0, group)  # [C·B, H, 2L, D], rank-major
        g = g.wait() if isinstance(g, funcol.AsyncCollectiveTensor) else g
        B, H, S2, D = x.shape
        L = S2 // 2
        chunks = g.view(context, B, H, 2, L, D).permute(1, 2, 0, 3, 4, 5).reshape(B, H, 2 * context, L, D)
        return chunks[:, :, unshard_order(context)].reshape(B, H, context * S2, D)

    @staticmethod
    def backward(ctx, g):
        C = ctx.C
        B, H, S, D = g.shape
        L = S // (2 * C)
        chunks = g.reshape(B, H, 2 * C, L, D)
        inv = [0] * (2 * C)
        for j, gi in enumerate(unshard_order(C)):
            inv[gi] = j
        # back to gathered (rank-major) order, then each rank's slice summed over the group
        rank_major = chunks[:, :, inv].reshape(B, H, C, 2 * L, D).permute(2, 0, 1, 3, 4).contiguous()
        if dist.get_backend(ctx.group) == "gloo":  # gloo has no reduce-scatter: all-reduce, keep the own slice
            dist.all_reduce(rank_major, group=ctx.group)
            out = rank_major[dist.get_rank(ctx.group)]
        else:
            out = funcol.reduce_scatter_tensor(rank_major.view(C * B, H, 2 * L, D), "sum", 0, ctx.group)
            out = out.wait() if isinstance(out, funcol.AsyncCollectiveTensor) else out
        return out.contiguous(), None, None


def gather_sequence(x: torch.Tensor, group, context: int) -> torch.Tensor:
    return _GatherSequence.apply(x, group, context)


# ---------------------------------------------------------------- block attention merged by log-sum-exp
def _expand_kv(t: torch.Tensor, groups: int) -> torch.Tensor:
    return t if groups == 1 else t.repeat_interleave(groups, dim=1)


def _fold_kv(g: torch.Tensor, groups: int) -> torch.Tensor:
    if groups == 1:
        return g
    B, H, S, D = g.shape
    return g.view(B, H // groups, groups, S, D).sum(2)


def _sdpa_fwd(q, k, v, causal: bool, scale: float):
    """(out, lse [B, H, L] float32) of one attention block with the backend's own kernel."""
    if q.is_cuda:
        r = torch.ops.aten._scaled_dot_product_flash_attention(q, k, v, 0.0, causal, False, scale=scale)
        return r[0], r[1], r
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v, 0.0, causal, scale=scale)
    return out, lse, None


def _sdpa_bwd(do, q, k, v, out, lse, causal: bool, scale: float, fwd_extra):
    if q.is_cuda:
        _, _, cq, ck, mq, mk, seed, offset, _ = fwd_extra
        return torch.ops.aten._scaled_dot_product_flash_attention_backward(
            do, q, k, v, out, lse, cq, ck, mq, mk, 0.0, causal, seed, offset, scale=scale
        )
    return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(
        do, q, k, v, out, lse, 0.0, causal, scale=scale
    )


class _PrefixAttention(torch.autograd.Function):
    """Attention of one query chunk q [B, Hq, L, D] against keys [B, Hkv, P+L, D], P earlier keys (all
    visible) followed by the L keys of the chunk itself (causal): out = merge(full block, diagonal block)."""

    @staticmethod
    def forward(ctx, q, k, v, prefix: int):
        groups = q.shape[1] // k.shape[1]
        scale = q.shape[-1] ** -0.5
        kx, vx = _expand_kv(k, groups), _expand_kv(v, groups)
        kd, vd = kx[:, :, prefix:].contiguous(), vx[:, :, prefix:].contiguous()
        out, lse, extra_d = _sdpa_fwd(q, kd, vd, True, scale)
        extra_p = None
        if prefix:
            kp, vp = kx[:, :, :prefix].contiguous(), vx[:, :, :prefix].contiguous()
            out_p, lse_p, extra_p = _sdpa_fwd(q, kp, vp, False, scale)
            lse_new = torch.logaddexp(lse, lse_p)
            out = (
                out.float() * torch.exp(lse - lse_new).unsqueeze(-1)
                + out_p.float() * torch.exp(lse_p - lse_new).unsqueeze(-1)
            ).to(q.dtype)
            lse = lse_new
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.prefix, ctx.groups, ctx.scale, ctx.extra = prefix, groups, scale, (extra_d, extra_p)
        return out

    @staticmethod
    def backward(ctx, do):
        q, k, v, out, lse = ctx.saved_tensors
        prefix, groups, scale = ctx.prefix, ctx.groups, ctx.scale
        extra_d, extra_p = ctx.extra
        do = do.contiguous()
        kx, vx = _expand_kv(k, groups), _expand_kv(v, groups)
        kd, vd = kx[:, :, prefix:].contiguous(), vx[:, :, prefix:].contiguous()
        dq, dkd, dvd = _sdpa_bwd(do, q, kd, vd, out, lse, True, scale, extra_d)
        if prefix:
            kp, vp = kx[:, :, :prefix].contiguous(), vx[:, :, :prefix].contiguous()
            dq_p, dkp, dvp = _sdpa_bwd(do, q, kp, vp, out, lse, False, scale, extra_p)
            dq = dq + dq_p
            dk, dv = torch.cat([dkp, dkd], 2), torch.cat([dvp, dvd], 2)
        else:
            dk, dv = dkd, dvd
        return dq, _fold_kv(dk, groups), _fold_kv(dv, groups), None


def _backend_supports(q: torch.Tensor) -> bool:
    if q.is_cuda:
        return q.dtype in (torch.float16, torch.bfloat16)
    return q.dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def prefix_attention(q, k, v, prefix: int):
    """One local query chunk against its causal key prefix (see _PrefixAttention); a masked SDPA call where
    the block kernels cannot run (float32 on GPU)."""
    if _backend_supports(q):
        return _PrefixAttention.apply(q, k, v, prefix)
    L, P = q.shape[2], k.shape[2]
    mask = torch.ones(L, P, dtype=torch.bool, device=q.device).tril(P - L)
    return torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, enable_gqa=q.shape[1] != k.shape[1]
    )


class ContextParallelAttention:
    """The model's ``Attention.attend`` under context parallelism: local q [B, Hq, 2L, D] (chunks r and
    2C−1−r), local k/v [B, Hkv, 2L, D]; returns the local output [B, Hq, 2L, D]."""

    def __init__(self, shard: ContextShard):
        self.group, self.C, self.rank = shard.group, shard.C, shard.rank

    # Eager inside a compiled layer (the graph breaks around attention, as at the EP dispatch's split sizes):
    # the gather, the block kernels' private ops and the log-sum-exp merge are checked on CPU/gloo and the
    # block kernels on one GPU (tests/gpu/kernel_check.py), not yet traced by Dynamo on several GPUs.
    @torch.compiler.disable
    def __call__(self, q, k, v):
        kg, vg = gather_sequence(k, self.group, self.C), gather_sequence(v, self.group, self.C)
        L = q.shape[2] // 2
        outs = []
        for j, c in enumerate(chunk_ids(self.C, self.rank)):
            qc = q[:, :, j * L : (j + 1) * L]
            outs.append(prefix_attention(qc, kg[:, :, : (c + 1) * L], vg[:, :, : (c + 1) * L], c * L))
        return torch.cat(outs, 2)


def apply_context_parallel(model, meshes) -> ContextShard | None:
    """Install the context-parallel attention and router-statistics sum; returns the shard (for the batch)
    or None when context is 1."""
    if meshes.context == 1:
        return None
    cp = meshes.dense["context"]
    shard = ContextShard(cp.get_group(), meshes.context, cp.get_local_rank())
    attend = ContextParallelAttention(shard)
    for layer in model.model.layers:
        layer.self_attn.attend = attend
    model.router_statistics = shard.router_statistics
    return shard
