"""Qwen3-MoE, free of parallelism (nanoGPT-sized on purpose).

Parameter names equal transformers' Qwen3MoeForCausalLM in-memory names (experts stored stacked:
``mlp.experts.gate_up_proj`` [E, 2I, H] and ``mlp.experts.down_proj`` [E, H, I]); checkpoint_hf.py maps
them to the per-expert names on disk. Parallelism lives in moe_trainer/parallel and only swaps in a
token dispatcher and sharded parameters; the maths here stays the same.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rope_cos_sin(seq_len: int, head_dim: int, theta: float, device, dtype):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim))
    pos = torch.arange(seq_len, dtype=torch.float32, device=device)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def _rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x, cos, sin):  # x [B, heads, S, D], cos/sin [S, D]
    return x * cos + _rotate_half(x) * sin


def _local(t: torch.Tensor) -> torch.Tensor:
    """Parameters may be DTensors after parallelisation (experts sharded on the expert mesh)."""
    return t.to_local() if hasattr(t, "to_local") else t


class Attention(nn.Module):
    """GQA with RMSNorm on q and k (per head), RoPE, SDPA. Head counts come from the projection sizes,
    so a tensor-parallel (column-sharded) q/k/v simply yields fewer local heads."""

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
        if q.dtype != v.dtype:  # autocast: norms return float32
            q, k = q.to(v.dtype), k.to(v.dtype)
        if q.shape[1] != k.shape[1]:  # GQA: expand KV heads (cheap) so every fused SDPA backend is eligible
            rep = q.shape[1] // k.shape[1]
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
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
    if (x.is_cuda and x.dtype == torch.bfloat16 and grouped_mm.enabled and hasattr(torch, "_grouped_mm")
            and x.shape[1] % 8 == 0 and w.shape[1] % 8 == 0):  # 16-byte aligned rows (kernel requirement)
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
    """SwiGLU experts as stacked tensors. forward() takes tokens already sorted by (local) expert."""

    def __init__(self, num_experts: int, h: int, i: int):
        super().__init__()
        self.gate_up_proj = nn.Parameter(torch.empty(num_experts, 2 * i, h))
        self.down_proj = nn.Parameter(torch.empty(num_experts, h, i))

    def forward(self, x: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        gu = grouped_mm(x, _local(self.gate_up_proj), counts)
        g, u = gu.chunk(2, dim=-1)
        return grouped_mm(F.silu(g) * u, _local(self.down_proj), counts)


def count_per_expert(flat_idx: torch.Tensor, num_experts: int) -> torch.Tensor:
    """Tokens per expert without a host sync (torch.bincount on CUDA reads the max back to the host)."""
    return torch.zeros(num_experts, dtype=torch.int64, device=flat_idx.device).scatter_add_(
        0, flat_idx, torch.ones_like(flat_idx))


class LocalDispatch:
    """All experts on this process: sort token copies by expert, grouped GEMM, weight and sum."""

    def __call__(self, x, weights, idx, experts: Experts, num_experts: int):
        T, k = idx.shape
        flat = idx.reshape(-1)
        order = torch.argsort(flat, stable=True)
        counts = count_per_expert(flat, num_experts)
        in_dtype = x.dtype
        if torch.is_autocast_enabled(x.device.type):  # cast before the gather: half the bytes moved
            x = x.to(torch.get_autocast_dtype(x.device.type))
        xs = x[order // k]
        ys = experts(xs, counts)
        y = torch.empty_like(ys).index_copy_(0, order, ys)  # back to (token, slot) order
        return (y.view(T, k, -1) * weights.unsqueeze(-1).to(y.dtype)).sum(1).to(in_dtype)


class Router(nn.Module):
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
        return probs, top_v.to(logits.dtype), top_i


class SparseMoeBlock(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.num_experts = cfg.num_experts
        self.gate = Router(cfg)
        self.experts = Experts(cfg.num_experts, cfg.hidden_size, cfg.moe_intermediate_size)
        self.dispatch = LocalDispatch()  # parallel/expert_parallel.py swaps in the all-to-all dispatcher
        self.last_counts = None  # tokens per expert of the last forward (for load-imbalance metrics)

    def forward(self, x):
        B, S, H = x.shape
        flat = x.reshape(-1, H)
        probs, w, idx = self.gate(flat)
        counts = count_per_expert(idx.reshape(-1), self.num_experts)
        self.last_counts = counts
        out = self.dispatch(flat, w, idx, self.experts, self.num_experts)
        # statistics for the load-balancing loss (transformers' load_balancing_loss_func, summed over layers)
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


class Qwen3MoeForCausalLM(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.model = Backbone(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None, return_logits: bool = False):
        """labels are the targets aligned with input_ids (already shifted), -100 = ignore.

        Returns dict(loss = ce + router_aux_loss_coef·aux, ce, aux, logits?)."""
        cfg = self.config
        x = self.model.embed_tokens(input_ids)
        cos, sin = rope_cos_sin(input_ids.shape[1], cfg.head_dim, cfg.rope_theta, x.device, x.dtype)
        tok_sum = prob_sum = None
        rows = 0
        for layer in self.model.layers:
            x, stats = layer(x, cos, sin)
            if stats is not None:
                c, p, n = stats
                tok_sum = c if tok_sum is None else tok_sum + c
                prob_sum = p if prob_sum is None else prob_sum + p
                rows += n
        logits = self.lm_head(self.model.norm(x))
        out = {}
        if tok_sum is not None:
            out["aux"] = cfg.num_experts * torch.sum((tok_sum / rows) * (prob_sum / rows))
        else:
            out["aux"] = logits.new_zeros(())
        if labels is not None:
            ce = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
            out["ce"] = ce
            out["loss"] = ce + cfg.router_aux_loss_coef * out["aux"]
        if return_logits:
            out["logits"] = logits
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
