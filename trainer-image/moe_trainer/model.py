"""Qwen3-MoE, free of parallelism (nanoGPT-sized on purpose).

Parameter names equal transformers' Qwen3MoeForCausalLM in-memory names (experts stored stacked:
``mlp.experts.gate_up_proj`` [E, 2I, H] and ``mlp.experts.down_proj`` [E, H, I]); checkpoint_hf.py maps
them to the per-expert names on disk. Parallelism lives in moe_trainer/parallel and only swaps in a
token dispatcher and sharded parameters; the maths here stays the same.

Precision: the model computes in the dtype of its parameters (bf16 working weights on GPU, float32 in the
CPU tests); there is no autocast. What must stay float32 is float32 whatever the parameters are: the router
softmax and top-k weights, the load-balancing statistics, and the loss (log-sum-exp of the logits in
float32, kernels.py). Master weights and optimizer state live in optim.py.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .kernels import linear_cross_entropy
from .model_config import ModelConfig


class RMSNorm(nn.Module):
    """F.rms_norm: one fused kernel on CUDA (the mean of squares accumulated in float32), the same formula
    as transformers' Qwen3MoeRMSNorm."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


def rope_cos_sin(seq_len: int, head_dim: int, theta: float, device, dtype, positions: torch.Tensor | None = None):
    """cos/sin [S, D] for positions 0..seq_len-1, or for the given token positions [S] (a sequence shard
    whose tokens are not contiguous, parallel/context.py)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim))
    if positions is None:
        pos = torch.arange(seq_len, dtype=torch.float32, device=device)
    else:
        pos = positions.to(device=device, dtype=torch.float32)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def _rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x, cos, sin):  # x [B, heads, S, D], cos/sin [S, D]
    return x * cos + _rotate_half(x) * sin


def _local(t: torch.Tensor) -> torch.Tensor:
    """Parameters may be DTensors after parallelisation (experts sharded on the expert mesh). An isinstance
    test, not hasattr(t, "to_local"): under torch.compile the hasattr form let the DTensor itself reach
    torch._grouped_mm and compilation failed."""
    from torch.distributed.tensor import DTensor

    return t.to_local() if isinstance(t, DTensor) else t


def causal_attention(q, k, v):
    """Causal GQA attention over the whole sequence, q [B, Hq, S, D], k/v [B, Hkv, S, D].
    GQA native: K/V are not repeated (cuDNN and flash read the shared heads; 67 MB per layer less saved
    at seq 4096). The backend order (cuDNN first on GPU) is set once by kernels.prefer_fast_attention()."""
    return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=q.shape[1] != k.shape[1])


class Attention(nn.Module):
    """GQA with RMSNorm on q and k (per head), RoPE, SDPA. Head counts come from the projection sizes,
    so a tensor-parallel (column-sharded) q/k/v simply yields fewer local heads. ``attend`` is the
    attention of the local queries against the sequence's keys; context parallelism swaps in one that
    gathers the keys of the other sequence shards (parallel/context.py)."""

    attend = staticmethod(causal_attention)

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        h, d = cfg.hidden_size, cfg.head_dim
        self.head_dim = d
        self.q_proj = nn.Linear(h, cfg.num_attention_heads * d, bias=cfg.attention_bias)
        self.k_proj = nn.Linear(h, cfg.num_key_value_heads * d, bias=cfg.attention_bias)
        self.v_proj = nn.Linear(h, cfg.num_key_value_heads * d, bias=cfg.attention_bias)
        self.o_proj = nn.Linear(cfg.num_attention_heads * d, h, bias=cfg.attention_bias)
        self.q_norm = RMSNorm(d, cfg.rms_norm_eps)
        self.k_norm = RMSNorm(d, cfg.rms_norm_eps)

    def forward(self, x, cos, sin):
        B, S, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(B, S, -1, self.head_dim)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(B, S, -1, self.head_dim)).transpose(1, 2)
        v = self.v_proj(x).view(B, S, -1, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        o = self.attend(q, k, v)
        return self.o_proj(o.transpose(1, 2).reshape(B, S, -1))


class MLP(nn.Module):
    """Dense SwiGLU MLP, used by layers listed in mlp_only_layers."""

    def __init__(self, h: int, i: int):
        super().__init__()
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def grouped_mm(x: torch.Tensor, w: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """y[rows of group g] = x[rows of group g] @ w[g].T, rows sorted by group; w is [G, N, K].

    torch._grouped_mm (one kernel, CUTLASS on sm90) on CUDA in bf16; a per-group loop elsewhere
    (exact, used on CPU and as the float32 reference)."""
    if (
        x.is_cuda
        and x.dtype == torch.bfloat16
        and grouped_mm.enabled
        and hasattr(torch, "_grouped_mm")
        and x.shape[1] % 8 == 0
        and w.shape[1] % 8 == 0
    ):  # 16-byte aligned rows (kernel requirement)
        offs = torch.cumsum(counts, 0, dtype=torch.int32)  # offsets need no alignment for bf16
        return torch._grouped_mm(x, w.to(x.dtype).transpose(-2, -1), offs=offs)
    out = []
    for g, xs in enumerate(torch.split(x, counts.tolist())):
        if xs.shape[0]:
            out.append(xs @ w[g].to(xs.dtype).t())
    if not out:
        return x.new_zeros(0, w.shape[1]) + 0 * w.sum()
    return torch.cat(out, 0)


grouped_mm.enabled = True


class Experts(nn.Module):
    """SwiGLU experts as stacked tensors. forward() takes tokens already sorted by (local) expert.

    The router weight of each row is applied inside the activation (down(silu(g)·u·w) = w·down(silu(g)·u)),
    so the expert outputs need no separate weighting pass and are not saved for the weight's gradient."""

    def __init__(self, num_experts: int, h: int, i: int):
        super().__init__()
        self.gate_up_proj = nn.Parameter(torch.empty(num_experts, 2 * i, h))
        self.down_proj = nn.Parameter(torch.empty(num_experts, h, i))

    def forward(self, x: torch.Tensor, counts: torch.Tensor, row_weights: torch.Tensor) -> torch.Tensor:
        gu = grouped_mm(x, _local(self.gate_up_proj), counts)
        g, u = gu.chunk(2, dim=-1)
        h = F.silu(g) * u * row_weights.unsqueeze(-1).to(gu.dtype)
        return grouped_mm(h, _local(self.down_proj), counts)


def count_per_expert(flat_idx: torch.Tensor, num_experts: int) -> torch.Tensor:
    """Tokens per expert without a host sync (torch.bincount on CUDA reads the max back to the host)."""
    return torch.zeros(num_experts, dtype=torch.int64, device=flat_idx.device).scatter_add_(
        0, flat_idx, torch.ones_like(flat_idx)
    )


def inverse_permutation(order: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(order).scatter_(0, order, torch.arange(order.numel(), device=order.device))


# The routing index tensors (a few bytes per token) are kept on ctx by reference, not through
# save_for_backward: they are not activations worth recomputing, and with nothing saved at the very end of a
# layer an activation-checkpointing recompute stops after the experts' last GEMM, before the sum back to token
# order and, under expert parallelism, before the all-to-all that returns the expert outputs (which is then
# neither kept nor sent again; parallel/activation_checkpoint.py).
class _GatherRows(torch.autograd.Function):
    """rows[p] = x[src[p]], where each source row appears exactly k times (a token's k routed copies,
    src = order // k). Backward sums each token's k copies as a gather (grad[t] = Σ_j g[inv[t·k + j]]) rather
    than an index_add: no atomics, so the sum is deterministic on GPU and one fused kernel under compile."""

    @staticmethod
    def forward(ctx, x, src, inv, k):
        ctx.src, ctx.inv, ctx.k = src, inv, k
        return x[src]

    @staticmethod
    def backward(ctx, g):
        return g[ctx.inv].view(-1, ctx.k, g.shape[-1]).sum(1), None, None, None


class _SumRows(torch.autograd.Function):
    """The inverse of _GatherRows: out[t] = Σ_j rows[inv[t·k + j]] (back to token order, the k copies summed
    in float32 by .sum); backward gathers."""

    @staticmethod
    def forward(ctx, rows, src, inv, k):
        ctx.src = src
        return rows[inv].view(-1, k, rows.shape[-1]).sum(1)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.src], None, None, None


def gather_rows(x, src, inv, k: int = 1):
    return _GatherRows.apply(x, src, inv, k)


def sum_rows(rows, src, inv, k: int = 1):
    return _SumRows.apply(rows, src, inv, k)


class Routing:
    """A (token, slot) -> expert assignment sorted by expert: order[p] is the flat (token·k + slot) index of
    sorted row p, src[p] its token, inv the inverse of order."""

    def __init__(self, idx: torch.Tensor):
        self.k = idx.shape[1]
        self.order = torch.argsort(idx.reshape(-1), stable=True)
        self.inv = inverse_permutation(self.order)
        self.src = self.order // self.k

    def gather(self, x):  # [T, H] -> [T·k, H], rows sorted by expert
        return gather_rows(x, self.src, self.inv, self.k)

    def combine(self, rows):  # [T·k, H] sorted by expert -> [T, H], the k slots summed
        return sum_rows(rows, self.src, self.inv, self.k)

    def sort(self, per_slot):  # [T, k] -> [T·k] in expert order
        return per_slot.reshape(-1)[self.order]


class LocalDispatch:
    """All experts on this process: sort token copies by expert, grouped GEMM (router weights applied in
    the activation), back to token order summing the k copies."""

    def __call__(self, x, weights, idx, counts, experts: Experts, num_experts: int):
        r = Routing(idx)
        return r.combine(experts(r.gather(x), counts, r.sort(weights)))


class Router(nn.Module):
    """Router logits from a GEMM in the working dtype, softmax, top-k and normalisation in float32."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(cfg.num_experts, cfg.hidden_size))
        self.top_k, self.norm_topk_prob = cfg.num_experts_per_tok, cfg.norm_topk_prob

    def forward(self, x):
        logits = F.linear(x, self.weight)
        probs = torch.softmax(logits, dim=-1, dtype=torch.float32)
        top_v, top_i = torch.topk(probs, self.top_k, dim=-1)
        if self.norm_topk_prob:
            top_v = top_v / top_v.sum(dim=-1, keepdim=True)
        return probs, top_v, top_i


class SparseMoeBlock(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.num_experts = cfg.num_experts
        self.gate = Router(cfg)
        self.experts = Experts(cfg.num_experts, cfg.hidden_size, cfg.moe_intermediate_size)
        self.dispatch = LocalDispatch()  # parallel/expert_parallel.py swaps in the all-to-all dispatcher

    def forward(self, x):
        B, S, H = x.shape
        flat = x.reshape(-1, H)
        probs, w, idx = self.gate(flat)
        counts = count_per_expert(idx.reshape(-1), self.num_experts)
        out = self.dispatch(flat, w, idx, counts, self.experts, self.num_experts)
        # statistics for the load-balancing loss (transformers' load_balancing_loss_func, summed over layers) and
        # the load-imbalance metric; returned, never stored on the module: a compiled, checkpointed layer must
        # have no side effects (one graph-breaks torch.compile out of the whole checkpointed region)
        stats = (counts.float(), probs.sum(0), flat.shape[0])
        return out.view(B, S, H), stats


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig, idx: int):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.is_moe = cfg.is_moe_layer(idx)
        self.mlp = SparseMoeBlock(cfg) if self.is_moe else MLP(cfg.hidden_size, cfg.intermediate_size)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        if self.is_moe:
            m, stats = self.mlp(self.post_attention_layernorm(x))
        else:
            m, stats = self.mlp(self.post_attention_layernorm(x)), None
        return x + m, stats


class Backbone(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(cfg, i) for i in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


def _same_statistics(tok_sum, prob_sum, rows):
    return tok_sum, prob_sum, rows


class Qwen3MoeForCausalLM(nn.Module):
    #: (tokens per expert, router probabilities summed, rows) of this forward -> those of the whole batch the
    #: load-balancing loss is defined over; context parallelism sums them over the sequence shards
    router_statistics = staticmethod(_same_statistics)

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.model = Backbone(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def forward(
        self,
        input_ids: torch.Tensor,
        labels: torch.Tensor | None = None,
        return_logits: bool = False,
        positions: torch.Tensor | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
    ):
        """labels are the targets aligned with input_ids (already shifted), -100 = ignore. positions: the
        sequence position of each token column (default 0..S-1). num_items_in_batch: the number of labelled
        tokens the cross-entropy mean divides by (default: those in ``labels``; a sequence shard passes the
        whole sequence's count, so the shards' losses sum to the sequence's loss).

        Returns dict(loss = ce + router_aux_loss_coef·aux, ce, aux, logits?)."""
        cfg = self.config
        x = self.model.embed_tokens(input_ids)
        cos, sin = rope_cos_sin(input_ids.shape[1], cfg.head_dim, cfg.rope_theta, x.device, x.dtype, positions)
        tok_sum = prob_sum = None
        rows = 0
        counts = []
        for layer in self.model.layers:
            x, stats = layer(x, cos, sin)
            if stats is not None:
                c, p, n = stats
                counts.append(c.detach())
                tok_sum = c if tok_sum is None else tok_sum + c
                prob_sum = p if prob_sum is None else prob_sum + p
                rows += n
        h = self.model.norm(x)
        out = {"expert_counts": torch.stack(counts) if counts else None}  # [MoE layers, experts] of this forward
        if tok_sum is not None:
            tok_sum, prob_sum, rows = self.router_statistics(tok_sum, prob_sum, rows)
            out["aux"] = cfg.num_experts * torch.sum((tok_sum / rows) * (prob_sum / rows))
        else:
            out["aux"] = h.new_zeros((), dtype=torch.float32)
        if return_logits:  # tests and tools: the full logits, loss from their float32 copy
            logits = self.lm_head(h)
            out["logits"] = logits
            if labels is not None:
                ce = F.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="sum"
                )
                n = (labels != -100).sum() if num_items_in_batch is None else num_items_in_batch
                out["ce"] = ce / torch.as_tensor(n, device=ce.device).clamp(min=1)
        elif labels is not None:  # training: lm_head + cross-entropy by chunks of tokens, no [tokens × vocab] copy
            out["ce"] = linear_cross_entropy(
                h.reshape(-1, h.shape[-1]), self.lm_head.weight, labels.reshape(-1), num_items=num_items_in_batch
            )
        if labels is not None:
            out["loss"] = out["ce"] + cfg.router_aux_loss_coef * out["aux"]
        return out

    def moe_blocks(self):
        return [l.mlp for l in self.model.layers if l.is_moe]

    def expert_parameters(self):
        return [p for b in self.moe_blocks() for p in b.experts.parameters()]


@torch.no_grad()
def init_full_tensor(name: str, shape, cfg: ModelConfig, seed: int, device) -> torch.Tensor:
    """Deterministic random init of one full (unsharded) parameter, the same on every rank.

    Norm weights 1, everything else N(0, initializer_range) like transformers' _init_weights."""
    if name.endswith("norm.weight"):
        return torch.ones(shape, device=device)
    import zlib

    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63))
    return torch.randn(shape, generator=g, device=device) * cfg.initializer_range
