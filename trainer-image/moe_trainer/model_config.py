"""Model config: the Hugging Face config.json keys of a Qwen3-MoE model (plan.model, or a checkpoint's
config.json), checked before anything is built. Errors name the field, the value and the fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .exitcodes import ConfigError


@dataclass
class ModelConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    moe_intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    num_experts: int
    num_experts_per_tok: int
    norm_topk_prob: bool = True
    decoder_sparse_step: int = 1
    mlp_only_layers: list = field(default_factory=list)
    rms_norm_eps: float = 1e-6
    rope_theta: float = 1_000_000.0
    max_position_embeddings: int = 40960
    tie_word_embeddings: bool = False
    router_aux_loss_coef: float = 0.001
    hidden_act: str = "silu"
    attention_bias: bool = False
    initializer_range: float = 0.02

    @staticmethod
    def from_dict(d: dict[str, Any], where: str = "model") -> ModelConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"{where}: expected a JSON object of Hugging Face config keys, got {type(d).__name__}")
        mt = d.get("model_type", "qwen3_moe")
        if mt != "qwen3_moe":
            raise ConfigError(f"{where}.model_type={mt!r}: only 'qwen3_moe' is supported")
        g = dict(d)
        if "num_experts" not in g and "num_local_experts" in g:  # transformers 5 writes num_local_experts
            g["num_experts"] = g["num_local_experts"]
        if "rope_theta" not in g and isinstance(g.get("rope_parameters"), dict):
            rp = g["rope_parameters"]
            if rp.get("rope_type", "default") != "default":
                raise ConfigError(
                    f"{where}.rope_parameters.rope_type={rp.get('rope_type')!r}: only 'default' RoPE is supported"
                )
            g["rope_theta"] = rp.get("rope_theta", 1_000_000.0)
        if g.get("head_dim") is None and g.get("hidden_size") and g.get("num_attention_heads"):
            g["head_dim"] = g["hidden_size"] // g["num_attention_heads"]
        required = [
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "moe_intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "num_experts",
            "num_experts_per_tok",
        ]
        for k in required:
            v = g.get(k)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ConfigError(f"{where}.{k}={v!r}: must be a positive integer")
        names = set(ModelConfig.__dataclass_fields__)
        cfg = ModelConfig(**{k: v for k, v in g.items() if k in names and v is not None})
        cfg.validate(where)
        return cfg

    def validate(self, where: str = "model") -> None:
        if self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError(
                f"{where}.num_attention_heads={self.num_attention_heads} is not a multiple of "
                f"num_key_value_heads={self.num_key_value_heads}"
            )
        if self.num_experts_per_tok > self.num_experts:
            raise ConfigError(
                f"{where}.num_experts_per_tok={self.num_experts_per_tok} exceeds num_experts={self.num_experts}"
            )
        if self.head_dim % 2:
            raise ConfigError(f"{where}.head_dim={self.head_dim}: RoPE needs an even head_dim")
        if self.hidden_act != "silu":
            raise ConfigError(f"{where}.hidden_act={self.hidden_act!r}: only 'silu' (SwiGLU) is supported")
        if self.tie_word_embeddings:
            raise ConfigError(f"{where}.tie_word_embeddings=true: not supported (Qwen3-MoE uses untied embeddings)")
        if self.decoder_sparse_step < 1:
            raise ConfigError(f"{where}.decoder_sparse_step={self.decoder_sparse_step}: must be >= 1")

    def is_moe_layer(self, i: int) -> bool:
        return i not in self.mlp_only_layers and self.num_experts > 0 and (i + 1) % self.decoder_sparse_step == 0

    def to_hf_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d.update(
            model_type="qwen3_moe",
            architectures=["Qwen3MoeForCausalLM"],
            num_local_experts=self.num_experts,
            rope_parameters={"rope_type": "default", "rope_theta": self.rope_theta},
            dtype="float32",
        )
        return d

    # ---- parameter counts: the plan's "parameters" (plan-engine ParameterCount.java), checked equal by
    # tests/test_contract.py against the operator's golden plans and against the built model ----
    def _counts(self) -> dict[str, int]:
        h, d = self.hidden_size, self.head_dim
        q, kv = self.num_attention_heads * d, self.num_key_value_heads * d
        attn = 2 * h * q + 2 * h * kv + ((q + 2 * kv + h) if self.attention_bias else 0)
        one_expert = 3 * h * self.moe_intermediate_size
        c = {"total": 0, "active": 0, "matmul": 0}
        for i in range(self.num_hidden_layers):
            layer = 2 * h + attn + 2 * d  # two RMSNorms, q/k/v/o, q_norm and k_norm
            matmul = 2 * h * q + 2 * h * kv
            if self.is_moe_layer(i):
                router = h * self.num_experts
                c["total"] += layer + router + self.num_experts * one_expert
                c["active"] += layer + router + self.num_experts_per_tok * one_expert
                matmul += router + self.num_experts_per_tok * one_expert
            else:
                c["total"] += layer + 3 * h * self.intermediate_size
                c["active"] += layer + 3 * h * self.intermediate_size
                matmul += 3 * h * self.intermediate_size
            c["matmul"] += matmul
        embedding = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        c["total"] += embedding + h
        c["active"] += embedding + h
        c["matmul"] += h * self.vocab_size  # lm_head
        return c

    def total_params(self) -> int:
        """Every parameter (plan.parameters.total)."""
        return self._counts()["total"]

    def active_params_per_token(self) -> int:
        """Active parameters, the one definition (plan.parameters.activePerToken, docs/contract.md): every
        parameter one token's forward reads: all dense ones (input embedding, norms, attention, router, dense
        MLPs, lm_head) plus num_experts_per_tok experts per MoE layer."""
        return self._counts()["active"]

    def matmul_params_per_token(self) -> int:
        """The part of the active parameters that multiplies a token in a GEMM (attention projections without
        bias, router, the top-k experts or the dense MLP, lm_head): active parameters minus the input embedding
        (a lookup), the norms and the biases. 6 × this is the model FLOPs per token of metrics.flops_per_token."""
        return self._counts()["matmul"]
