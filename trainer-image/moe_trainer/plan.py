"""The operator's plan (docs/contract.md section 1); the model part is model_config.ModelConfig.

Every check here runs before torch.distributed is initialised, so a bad plan ends with exit code 78
before any collective. Errors name the field, the value and the fix.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from . import contract
from .exitcodes import ConfigError
from .model_config import ModelConfig

log = logging.getLogger("moe_trainer.plan")

PLAN_API_VERSION = contract.PLAN_API_VERSION


@dataclass
class Parallelism:
    tensor: int = 1
    expert: int = 1
    context: int = 1
    data: int = 1
    expert_data: int = 1


@dataclass
class TrainingConfig:
    """plan.training. The defaults are what the trainer assumes for a key the plan leaves out, and equal the
    operator's CRD defaults (TrainingSpec): tests/test_contract.py strips each key from contract/plans/defaults.json
    and checks this class gives back the operator's value. seqLength and steps have no default: the operator
    always writes them."""

    seq_length: int
    steps: int
    micro_batch_size: int = 1
    #: 0 = microBatchSize × data × gradientAccumulation
    global_batch_size: int = 0
    gradient_accumulation: int = 1
    learning_rate: float = 3e-4
    min_learning_rate: float = 3e-5
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 1234
    dataset: dict = field(default_factory=lambda: {"type": "synthetic"})
    checkpoint_dir: str | None = None
    #: checkpoint.everySteps; no checkpoints without a checkpoint.dir whatever this says
    checkpoint_every: int = 200
    log_every: int = 1
    #: one of ACTIVATION_CHECKPOINTING
    activation_checkpointing: str = "full"


#: TrainingConfig's defaults by field name: the one place parse_plan takes them from
_TRAINING_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainingConfig)}
DEFAULT_TOKEN_DTYPE = "uint32"


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


#: what a decoder layer keeps for backward (parallel/activation_checkpoint.py), most memory first; the names of
#: the CRD field training.activationCheckpointing
ACTIVATION_CHECKPOINTING = ("none", "selective", "full")


def activation_checkpointing_mode(value) -> str:
    """A plan value -> mode name: absent or true -> "full", false -> "none" (the booleans of plans before the
    three modes), "off" -> "none" (the trainer's earlier name), or a mode name. ValueError otherwise."""
    if value is None or value is True:
        return "full"
    if value is False or value == "off":
        return "none"
    if value not in ACTIVATION_CHECKPOINTING:
        raise ValueError(f"{value!r}: use one of {', '.join(ACTIVATION_CHECKPOINTING)}")
    return value


def _checkpointing(d: dict, key: str, where: str) -> str:
    try:
        return activation_checkpointing_mode(d.get(key))
    except ValueError as e:
        raise ConfigError(f"{where}.{key}={e}") from None


def parse_plan(doc: Any) -> Plan:
    if not isinstance(doc, dict):
        raise ConfigError("plan: expected a JSON object")
    api = doc.get("apiVersion")
    if api != PLAN_API_VERSION:
        raise ConfigError(
            f"plan.apiVersion={api!r}: this trainer reads {PLAN_API_VERSION!r}; "
            "upgrade the trainer image or the operator so they agree"
        )
    model = ModelConfig.from_dict(doc.get("model"), "plan.model")
    p = doc.get("parallelism") or {}
    w = doc.get("world") or {}
    t = doc.get("training") or {}
    if not isinstance(p, dict) or not isinstance(w, dict) or not isinstance(t, dict):
        raise ConfigError("plan.parallelism, plan.world and plan.training must be JSON objects")
    par = Parallelism(
        tensor=_int(p, "tensor", "plan.parallelism", 1),
        expert=_int(p, "expert", "plan.parallelism", 1),
        context=_int(p, "context", "plan.parallelism", 1),
        data=_int(p, "data", "plan.parallelism", 1),
        expert_data=_int(p, "expertData", "plan.parallelism", 0, minimum=0),
    )
    world = _int(w, "size", "plan.world")
    nodes = _int(w, "nodes", "plan.world", 1)
    gpn = _int(w, "gpusPerNode", "plan.world", world // max(nodes, 1) or 1)
    ds = t.get("dataset") or {"type": contract.DATASET_TYPES[0]}
    ck = t.get("checkpoint") or {}
    if not isinstance(ck, dict):
        raise ConfigError("plan.training.checkpoint must be an object {dir, everySteps}")
    d = _TRAINING_DEFAULTS
    tr = TrainingConfig(
        seq_length=_int(t, "seqLength", "plan.training"),
        micro_batch_size=_int(t, "microBatchSize", "plan.training", d["micro_batch_size"]),
        global_batch_size=_int(t, "globalBatchSize", "plan.training", d["global_batch_size"], minimum=0),
        gradient_accumulation=_int(t, "gradientAccumulation", "plan.training", d["gradient_accumulation"]),
        steps=_int(t, "steps", "plan.training"),
        learning_rate=_num(t, "learningRate", "plan.training", d["learning_rate"]),
        min_learning_rate=_num(t, "minLearningRate", "plan.training", d["min_learning_rate"]),
        warmup_steps=_int(t, "warmupSteps", "plan.training", d["warmup_steps"], minimum=0),
        weight_decay=_num(t, "weightDecay", "plan.training", d["weight_decay"]),
        grad_clip=_num(t, "gradClip", "plan.training", d["grad_clip"]),
        seed=_int(t, "seed", "plan.training", d["seed"], minimum=0),
        dataset=ds,
        checkpoint_dir=ck.get("dir") or os.environ.get(contract.MOE_CHECKPOINT_DIR) or None,
        checkpoint_every=_int(ck, "everySteps", "plan.training.checkpoint", d["checkpoint_every"], minimum=0),
        log_every=_int(t, "logEvery", "plan.training", d["log_every"]),
        activation_checkpointing=_checkpointing(t, "activationCheckpointing", "plan.training"),
    )
    if tr.global_batch_size == 0:
        tr.global_batch_size = tr.micro_batch_size * par.data * tr.gradient_accumulation
    ckp = doc.get("checkpoint") or {}
    job = doc.get("job") or {}
    plan = Plan(
        model=model,
        parallelism=par,
        world_size=world,
        nodes=nodes,
        gpus_per_node=gpn,
        training=tr,
        checkpoint_path=(ckp.get("path") if isinstance(ckp, dict) else None),
        job_namespace=job.get("namespace", "default"),
        job_name=job.get("name", "moe"),
        ranks=doc.get("ranks") or [],
        raw=doc,
    )
    validate_plan(plan)
    return plan


def rank_layout(rank: int, p: Parallelism, gpus_per_node: int, num_experts: int) -> dict:
    """The coordinates of a global rank (docs/contract.md section 1, the plan's ranks[]): dense mesh (data,
    context, tensor) with tensor innermost, expert mesh (expertData, expert) with expert innermost, and the
    half-open range of expert ids its expert rank owns."""
    T, C, E = p.tensor, p.context, p.expert
    n = num_experts // E
    return {
        "rank": rank,
        "node": rank // gpus_per_node,
        "localRank": rank % gpus_per_node,
        "tensor": rank % T,
        "context": (rank // T) % C,
        "data": rank // (T * C),
        "expert": rank % E,
        "expertData": rank // E,
        "experts": [rank % E * n, (rank % E + 1) * n],
    }


def validate_plan(plan: Plan) -> None:
    """The rules of docs/contract.md section 1, re-checked. Raises ConfigError."""
    p, m, t, W = plan.parallelism, plan.model, plan.training, plan.world_size
    if p.data * p.context * p.tensor != W:
        raise ConfigError(
            f"plan.parallelism: data×context×tensor = {p.data}×{p.context}×{p.tensor} = "
            f"{p.data * p.context * p.tensor} but world.size={W}; make the product equal world.size"
        )
    if plan.nodes * plan.gpus_per_node != W:
        raise ConfigError(f"plan.world: nodes×gpusPerNode = {plan.nodes}×{plan.gpus_per_node} != size={W}")
    if W % p.expert:
        raise ConfigError(f"plan.parallelism.expert={p.expert} does not divide world.size={W}")
    if p.expert_data == 0:
        p.expert_data = W // p.expert
    if p.expert_data * p.expert != W:
        raise ConfigError(f"plan.parallelism: expertData×expert = {p.expert_data}×{p.expert} != world.size={W}")
    if m.num_experts % p.expert:
        raise ConfigError(
            f"plan.parallelism.expert={p.expert} does not divide model.num_experts={m.num_experts}; "
            "choose an expert degree that divides the number of experts"
        )
    if m.num_attention_heads % p.tensor or m.num_key_value_heads % p.tensor:
        raise ConfigError(
            f"plan.parallelism.tensor={p.tensor} must divide model.num_attention_heads="
            f"{m.num_attention_heads} and model.num_key_value_heads={m.num_key_value_heads} "
            "(KV-head replication is not implemented); lower tensor"
        )
    if t.seq_length % (2 * p.context):  # head–tail chunks of equal length (parallel/context.py)
        raise ConfigError(
            f"plan.training.seqLength={t.seq_length} must be divisible by 2×context={2 * p.context}; "
            "choose a seqLength that is a multiple of it or a smaller context"
        )
    if t.global_batch_size != t.micro_batch_size * p.data * t.gradient_accumulation:
        raise ConfigError(
            f"plan.training.globalBatchSize={t.global_batch_size} != microBatchSize×data×"
            f"gradientAccumulation = {t.micro_batch_size}×{p.data}×{t.gradient_accumulation}"
        )
    ds = t.dataset
    if not isinstance(ds, dict) or ds.get("type") not in contract.DATASET_TYPES:
        raise ConfigError(f"plan.training.dataset={ds!r}: type must be one of {', '.join(contract.DATASET_TYPES)}")
    if ds["type"] == "tokens":
        if ds.get("dtype", DEFAULT_TOKEN_DTYPE) not in contract.TOKEN_DTYPES:
            raise ConfigError(
                f"plan.training.dataset.dtype={ds.get('dtype')!r}: use "
                f"{' or '.join(contract.TOKEN_DTYPES)} "
                "(token ids are unsigned; write the file with one of these numpy dtypes)"
            )
        path = ds.get("path")
        if not path or not os.path.isfile(path):
            raise ConfigError(f"plan.training.dataset.path={path!r}: token file not found; mount the dataset volume")
    if t.checkpoint_every and not t.checkpoint_dir:
        # docs/contract.md: "dir null = no checkpoints". The operator sends everySteps (a CRD default) even for
        # jobs without a checkpoint volume, so this is the normal no-checkpoint case, not an error.
        log.info("checkpoints off: plan.training.checkpoint.dir is null (no checkpoint volume in the job)")
        t.checkpoint_every = 0
    if t.checkpoint_dir:
        parent = (
            t.checkpoint_dir if os.path.isdir(t.checkpoint_dir) else os.path.dirname(os.path.abspath(t.checkpoint_dir))
        )
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            raise ConfigError(f"plan.training.checkpoint.dir={t.checkpoint_dir!r}: not a writable directory")
    for i, r in enumerate(plan.ranks):
        want = rank_layout(i, p, plan.gpus_per_node, m.num_experts)
        for k, v in want.items():
            if k in r and (list(r[k]) if k == "experts" else r[k]) != v:
                raise ConfigError(f"plan.ranks[{i}].{k}={r[k]} but the rank layout rule gives {v}")
    if plan.checkpoint_path:
        from .checkpoint_hf import check_hf_checkpoint

        check_hf_checkpoint(plan.checkpoint_path, m)


def load_plan(path: str | None) -> Plan:
    path = path or os.environ.get(contract.MOE_PLAN_PATH)
    if not path:
        raise ConfigError(f"no plan: pass --plan PATH or set {contract.MOE_PLAN_PATH}")
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
        world = int(env.get(contract.WORLD_SIZE, "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", "0"))
    except ValueError as e:
        raise ConfigError(f"torchrun env is not numeric: {e}") from None
    if world != plan.world_size:
        raise ConfigError(
            f"{contract.WORLD_SIZE}={world} but plan.world.size={plan.world_size}; the pod env and plan disagree"
        )
    if not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} outside [0, {world})")
    p = plan.parallelism
    for k, v in (
        (contract.MOE_TENSOR_PARALLEL, p.tensor),
        (contract.MOE_EXPERT_PARALLEL, p.expert),
        (contract.MOE_CONTEXT_PARALLEL, p.context),
        (contract.MOE_DATA_PARALLEL, p.data),
    ):
        if env.get(k) not in (None, "") and env.get(k) != str(v):
            raise ConfigError(f"{k}={env.get(k)} but the plan says {v}")
    return rank, local, world
