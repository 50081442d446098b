"""Model config (Hugging Face config.json keys) and the operator's plan (docs/contract.md section 1).

Every check here runs before torch.distributed is initialised, so a bad plan ends with exit code 78
before any collective. Errors name the field, the value and the fix.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from .exitcodes import ConfigError

log = logging.getLogger("moe_trainer.config")

PLAN_API_VERSION = "training.moe.dev/plan-v1"
#: dense bf16 peak of H100/H200 SXM, the MFU denominator of docs/anchors.md
PEAK_FLOPS_BF16 = 989e12


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
    def from_dict(d: dict[str, Any], where: str = "model") -> "ModelConfig":
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
                raise ConfigError(f"{where}.rope_parameters.rope_type={rp.get('rope_type')!r}: only 'default' RoPE is supported")
            g["rope_theta"] = rp.get("rope_theta", 1_000_000.0)
        if g.get("head_dim") is None and g.get("hidden_size") and g.get("num_attention_heads"):
            g["head_dim"] = g["hidden_size"] // g["num_attention_heads"]
        required = ["vocab_size", "hidden_size", "intermediate_size", "moe_intermediate_size", "num_hidden_layers",
                    "num_attention_heads", "num_key_value_heads", "head_dim", "num_experts", "num_experts_per_tok"]
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
            raise ConfigError(f"{where}.num_attention_heads={self.num_attention_heads} is not a multiple of "
                              f"num_key_value_heads={self.num_key_value_heads}")
        if self.num_experts_per_tok > self.num_experts:
            raise ConfigError(f"{where}.num_experts_per_tok={self.num_experts_per_tok} exceeds num_experts={self.num_experts}")
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
        d.update(model_type="qwen3_moe", architectures=["Qwen3MoeForCausalLM"], num_local_experts=self.num_experts,
                 rope_parameters={"rope_type": "default", "rope_theta": self.rope_theta}, dtype="float32")
        return d

    # ---- FLOPs (docs/anchors.md, TorchTitan convention) ----
    def active_params_per_token(self) -> int:
        """Attention projections, router, top-k experts (or dense MLP), lm_head. No input embedding, no norms."""
        h, d = self.hidden_size, self.head_dim
        attn = h * d * (self.num_attention_heads * 2 + self.num_key_value_heads * 2)
        total = 0
        for i in range(self.num_hidden_layers):
            total += attn
            if self.is_moe_layer(i):
                total += h * self.num_experts + self.num_experts_per_tok * 3 * h * self.moe_intermediate_size
            else:
                total += 3 * h * self.intermediate_size
        return total + h * self.vocab_size

    def flops_per_token(self, seq_len: int, causal: bool = False) -> float:
        attn = 12 * self.num_hidden_layers * self.num_attention_heads * self.head_dim * seq_len
        return 6 * self.active_params_per_token() + (attn / 2 if causal else attn)


@dataclass
class Parallelism:
    tensor: int = 1
    expert: int = 1
    context: int = 1
    data: int = 1
    expert_data: int = 1


@dataclass
class TrainingConfig:
    seq_length: int
    micro_batch_size: int
    global_batch_size: int
    gradient_accumulation: int
    steps: int
    learning_rate: float = 3e-4
    min_learning_rate: float = 3e-5
    warmup_steps: int = 0
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 1234
    dataset: dict = field(default_factory=lambda: {"type": "synthetic"})
    checkpoint_dir: str | None = None
    checkpoint_every: int = 0
    log_every: int = 1
    #: "off" | "selective" | "full" (parallel/activation_checkpoint.py); plan-v1 booleans map true -> full
    activation_checkpointing: str = "full"


@dataclass
class Plan:
    model: ModelConfig
    parallelism: Parallelism
    world_size: int
    nodes: int
    gpus_per_node: int
    training: TrainingConfig
    checkpoint_path: str | None
    job_namespace: str = "default"
    job_name: str = "moe"
    ranks: list = field(default_factory=list)
    raw: dict = field(default_factory=dict)


def _int(d: dict, key: str, where: str, default=None, minimum: int = 1) -> int:
    v = d.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise ConfigError(f"{where}.{key}={v!r}: must be an integer >= {minimum}")
    return v


def _num(d: dict, key: str, where: str, default=None, minimum: float = 0.0) -> float:
    v = d.get(key, default)
    if not isinstance(v, (int, float)) or isinstance(v, bool) or v < minimum:
        raise ConfigError(f"{where}.{key}={v!r}: must be a number >= {minimum}")
    return float(v)


ACTIVATION_CHECKPOINTING = ("off", "selective", "full")


def _checkpointing(d: dict, key: str, where: str) -> str:
    """Absent or true -> "full", false -> "off" (the boolean of earlier plans), or one of the mode names."""
    v = d.get(key)
    if v is None or v is True:
        return "full"
    if v is False:
        return "off"
    if v not in ACTIVATION_CHECKPOINTING:
        raise ConfigError(f"{where}.{key}={v!r}: use one of {', '.join(ACTIVATION_CHECKPOINTING)} "
                          "(or true = full, false = off)")
    return v


def parse_plan(doc: Any) -> Plan:
    if not isinstance(doc, dict):
        raise ConfigError("plan: expected a JSON object")
    api = doc.get("apiVersion")
    if api != PLAN_API_VERSION:
        raise ConfigError(f"plan.apiVersion={api!r}: this trainer reads {PLAN_API_VERSION!r}; "
                          "upgrade the trainer image or the operator so they agree")
    model = ModelConfig.from_dict(doc.get("model"), "plan.model")
    p = doc.get("parallelism") or {}
    w = doc.get("world") or {}
    t = doc.get("training") or {}
    if not isinstance(p, dict) or not isinstance(w, dict) or not isinstance(t, dict):
        raise ConfigError("plan.parallelism, plan.world and plan.training must be JSON objects")
    par = Parallelism(tensor=_int(p, "tensor", "plan.parallelism", 1), expert=_int(p, "expert", "plan.parallelism", 1),
                      context=_int(p, "context", "plan.parallelism", 1), data=_int(p, "data", "plan.parallelism", 1),
                      expert_data=_int(p, "expertData", "plan.parallelism", 0, minimum=0))
    world = _int(w, "size", "plan.world")
    nodes = _int(w, "nodes", "plan.world", 1)
    gpn = _int(w, "gpusPerNode", "plan.world", world // max(nodes, 1) or 1)
    ds = t.get("dataset") or {"type": "synthetic"}
    ck = t.get("checkpoint") or {}
    if not isinstance(ck, dict):
        raise ConfigError("plan.training.checkpoint must be an object {dir, everySteps}")
    tr = TrainingConfig(
        seq_length=_int(t, "seqLength", "plan.training"),
        micro_batch_size=_int(t, "microBatchSize", "plan.training", 1),
        global_batch_size=_int(t, "globalBatchSize", "plan.training", 0, minimum=0),
        gradient_accumulation=_int(t, "gradientAccumulation", "plan.training", 1),
        steps=_int(t, "steps", "plan.training"),
        learning_rate=_num(t, "learningRate", "plan.training", 3e-4),
        min_learning_rate=_num(t, "minLearningRate", "plan.training", 0.0),
        warmup_steps=_int(t, "warmupSteps", "plan.training", 0, minimum=0),
        weight_decay=_num(t, "weightDecay", "plan.training", 0.1),
        grad_clip=_num(t, "gradClip", "plan.training", 1.0),
        seed=_int(t, "seed", "plan.training", 1234, minimum=0),
        dataset=ds,
        checkpoint_dir=ck.get("dir") or os.environ.get("MOE_CHECKPOINT_DIR") or None,
        checkpoint_every=_int(ck, "everySteps", "plan.training.checkpoint", 0, minimum=0),
        log_every=_int(t, "logEvery", "plan.training", 1),
        activation_checkpointing=_checkpointing(t, "activationCheckpointing", "plan.training"),
    )
    if tr.global_batch_size == 0:
        tr.global_batch_size = tr.micro_batch_size * par.data * tr.gradient_accumulation
    ckp = doc.get("checkpoint") or {}
    job = doc.get("job") or {}
    plan = Plan(model=model, parallelism=par, world_size=world, nodes=nodes, gpus_per_node=gpn, training=tr,
                checkpoint_path=(ckp.get("path") if isinstance(ckp, dict) else None),
                job_namespace=job.get("namespace", "default"), job_name=job.get("name", "moe"),
                ranks=doc.get("ranks") or [], raw=doc)
    validate_plan(plan)
    return plan


def validate_plan(plan: Plan) -> None:
    """The rules of docs/contract.md section 1, re-checked. Raises ConfigError."""
    p, m, t, W = plan.parallelism, plan.model, plan.training, plan.world_size
    if p.data * p.context * p.tensor != W:
        raise ConfigError(f"plan.parallelism: data×context×tensor = {p.data}×{p.context}×{p.tensor} = "
                          f"{p.data * p.context * p.tensor} but world.size={W}; make the product equal world.size")
    if plan.nodes * plan.gpus_per_node != W:
        raise ConfigError(f"plan.world: nodes×gpusPerNode = {plan.nodes}×{plan.gpus_per_node} != size={W}")
    if W % p.expert:
        raise ConfigError(f"plan.parallelism.expert={p.expert} does not divide world.size={W}")
    if p.expert_data == 0:
        p.expert_data = W // p.expert
    if p.expert_data * p.expert != W:
        raise ConfigError(f"plan.parallelism: expertData×expert = {p.expert_data}×{p.expert} != world.size={W}")
    if m.num_experts % p.expert:
        raise ConfigError(f"plan.parallelism.expert={p.expert} does not divide model.num_experts={m.num_experts}; "
                          "choose an expert degree that divides the number of experts")
    if m.num_attention_heads % p.tensor or m.num_key_value_heads % p.tensor:
        raise ConfigError(f"plan.parallelism.tensor={p.tensor} must divide model.num_attention_heads="
                          f"{m.num_attention_heads} and model.num_key_value_heads={m.num_key_value_heads} "
                          "(KV-head replication is not implemented); lower tensor")
    if t.seq_length % (2 * p.context):  # head–tail chunks of equal length (parallel/context.py)
        raise ConfigError(f"plan.training.seqLength={t.seq_length} must be divisible by 2×context={2 * p.context}; "
                          "choose a seqLength that is a multiple of it or a smaller context")
    if t.global_batch_size != t.micro_batch_size * p.data * t.gradient_accumulation:
        raise ConfigError(f"plan.training.globalBatchSize={t.global_batch_size} != microBatchSize×data×"
                          f"gradientAccumulation = {t.micro_batch_size}×{p.data}×{t.gradient_accumulation}")
    ds = t.dataset
    if not isinstance(ds, dict) or ds.get("type") not in ("synthetic", "tokens"):
        raise ConfigError(f"plan.training.dataset={ds!r}: type must be 'synthetic' or 'tokens'")
    if ds["type"] == "tokens":
        if ds.get("dtype", "uint32") not in ("uint16", "uint32", "int32", "int64"):
            raise ConfigError(f"plan.training.dataset.dtype={ds.get('dtype')!r}: use uint16, uint32, int32 or int64")
        path = ds.get("path")
        if not path or not os.path.isfile(path):
            raise ConfigError(f"plan.training.dataset.path={path!r}: token file not found; mount the dataset volume")
    if t.checkpoint_every and not t.checkpoint_dir:
        # docs/contract.md: "dir null = no checkpoints". The operator sends everySteps (a CRD default) even for
        # jobs without a checkpoint volume, so this is the normal no-checkpoint case, not an error.
        log.info("checkpoints off: plan.training.checkpoint.dir is null (no checkpoint volume in the job)")
        t.checkpoint_every = 0
    if t.checkpoint_dir:
        parent = t.checkpoint_dir if os.path.isdir(t.checkpoint_dir) else os.path.dirname(os.path.abspath(t.checkpoint_dir))
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            raise ConfigError(f"plan.training.checkpoint.dir={t.checkpoint_dir!r}: not a writable directory")
    for i, r in enumerate(plan.ranks):
        T, C, E = p.tensor, p.context, p.expert
        want = {"rank": i, "tensor": i % T, "context": (i // T) % C, "data": i // (T * C), "expert": i % E,
                "expertData": i // E}
        for k, v in want.items():
            if k in r and r[k] != v:
                raise ConfigError(f"plan.ranks[{i}].{k}={r[k]} but the rank layout rule gives {v}")
        if "experts" in r:
            n = m.num_experts // E
            if list(r["experts"]) != [want["expert"] * n, (want["expert"] + 1) * n]:
                raise ConfigError(f"plan.ranks[{i}].experts={r['experts']} but expert rank {want['expert']} owns "
                                  f"[{want['expert'] * n}, {(want['expert'] + 1) * n})")
    if plan.checkpoint_path:
        from .checkpoint_hf import check_hf_checkpoint

        check_hf_checkpoint(plan.checkpoint_path, m)


def load_plan(path: str | None) -> Plan:
    path = path or os.environ.get("MOE_PLAN_PATH")
    if not path:
        raise ConfigError("no plan: pass --plan PATH or set MOE_PLAN_PATH")
    if not os.path.isfile(path):
        raise ConfigError(f"plan file {path!r} not found; mount the <job>-plan ConfigMap at that path")
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(f"plan file {path!r} is not valid JSON: {e}") from None
    return parse_plan(doc)


def check_env_against_plan(plan: Plan, env: dict | None = None) -> tuple[int, int, int]:
    """torchrun env (RANK, LOCAL_RANK, WORLD_SIZE) must agree with the plan. Returns (rank, local_rank, world)."""
    env = os.environ if env is None else env
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", "0"))
    except ValueError as e:
        raise ConfigError(f"torchrun env is not numeric: {e}") from None
    if world != plan.world_size:
        raise ConfigError(f"WORLD_SIZE={world} but plan.world.size={plan.world_size}; the pod env and plan disagree")
    if not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} outside [0, {world})")
    for k, v in (("MOE_TENSOR_PARALLEL", plan.parallelism.tensor), ("MOE_EXPERT_PARALLEL", plan.parallelism.expert),
                 ("MOE_CONTEXT_PARALLEL", plan.parallelism.context), ("MOE_DATA_PARALLEL", plan.parallelism.data)):
        if env.get(k) not in (None, "") and env.get(k) != str(v):
            raise ConfigError(f"{k}={env.get(k)} but the plan says {v}")
    return rank, local, world
