"""The executable contract (contract/README.md): the operator's build writes golden plan-v1 documents of example jobs
and its TrainerContract constants under contract/ (plan-engine ContractDriftTest keeps them current); here the
trainer reads the same files. A key, a default, a dtype, a count, an env name or an exit code that changes on one
side fails these tests (or the Java drift test) until the other side agrees."""

import copy
import dataclasses
import glob
import json
import os
import re

import numpy as np
import pytest
import torch
from moe_trainer import contract, exitcodes, progress
from moe_trainer import plan as plan_module
from moe_trainer.exitcodes import ConfigError
from moe_trainer.model import Qwen3MoeForCausalLM
from moe_trainer.model_config import ModelConfig
from moe_trainer.plan import ACTIVATION_CHECKPOINTING, DEFAULT_TOKEN_DTYPE, TrainingConfig, parse_plan, rank_layout

TRAINER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TRAINER)
CONTRACT = os.path.join(REPO, "contract")
PLANS = sorted(glob.glob(os.path.join(CONTRACT, "plans", "*.json")))
REGENERATE = "regenerate the Java side with the command in contract/README.md"


def _load(path):
    with open(path) as f:
        return json.load(f)


def golden(name):
    return _load(os.path.join(CONTRACT, "plans", f"{name}.json"))


CONSTANTS = _load(os.path.join(CONTRACT, "trainer-contract.json"))


def leaves(doc, prefix=""):
    """{key path: value} of a plan document; list elements of objects as name[].key (ranks), other lists as values."""
    out = {}
    for k, v in doc.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(leaves(v, path + "."))
        elif isinstance(v, list) and v and all(isinstance(e, dict) for e in v):
            for e in v:
                for kk, vv in leaves(e, path + "[].").items():
                    out.setdefault(kk, []).append(vv)
        else:
            out[path] = v
    return out


def with_local_files(doc, tmp_path, monkeypatch):
    """The plan with its pod paths replaced by local ones (a token file, a checkpoint directory); a Hugging Face
    checkpoint path is recorded instead of opened. Returns (plan document, the replaced paths)."""
    doc = copy.deepcopy(doc)
    replaced = {}
    ds = doc["training"]["dataset"]
    if ds.get("type") == "tokens":
        tokens = tmp_path / "tokens.bin"
        ids = np.arange(4 * doc["training"]["seqLength"] + 2) % doc["model"]["vocab_size"]
        ids.astype(ds.get("dtype", DEFAULT_TOKEN_DTYPE)).tofile(tokens)
        replaced["training.dataset.path"] = (ds["path"], str(tokens))
        ds["path"] = str(tokens)
    ck = doc["training"]["checkpoint"]
    if ck.get("dir"):
        replaced["training.checkpoint.dir"] = (ck["dir"], str(tmp_path))
        ck["dir"] = str(tmp_path)
    opened = []
    monkeypatch.setattr("moe_trainer.checkpoint_hf.check_hf_checkpoint", lambda path, cfg: opened.append(path))
    monkeypatch.delenv(contract.MOE_CHECKPOINT_DIR, raising=False)
    return doc, replaced, opened


# What the trainer makes of each key the operator writes: key path -> f(parsed plan, document).
READ = {
    "apiVersion": lambda p, d: plan_module.PLAN_API_VERSION,
    "job.namespace": lambda p, d: p.job_namespace,
    "job.name": lambda p, d: p.job_name,
    "checkpoint": lambda p, d: None if p.checkpoint_path is None else {"path": p.checkpoint_path},
    "checkpoint.path": lambda p, d: p.checkpoint_path,
    "parallelism.tensor": lambda p, d: p.parallelism.tensor,
    "parallelism.expert": lambda p, d: p.parallelism.expert,
    "parallelism.context": lambda p, d: p.parallelism.context,
    "parallelism.data": lambda p, d: p.parallelism.data,
    "parallelism.expertData": lambda p, d: p.parallelism.expert_data,
    "world.size": lambda p, d: p.world_size,
    "world.nodes": lambda p, d: p.nodes,
    "world.gpusPerNode": lambda p, d: p.gpus_per_node,
    "training.seqLength": lambda p, d: p.training.seq_length,
    "training.microBatchSize": lambda p, d: p.training.micro_batch_size,
    "training.activationCheckpointing": lambda p, d: p.training.activation_checkpointing,
    "training.globalBatchSize": lambda p, d: p.training.global_batch_size,
    "training.gradientAccumulation": lambda p, d: p.training.gradient_accumulation,
    "training.steps": lambda p, d: p.training.steps,
    "training.learningRate": lambda p, d: p.training.learning_rate,
    "training.minLearningRate": lambda p, d: p.training.min_learning_rate,
    "training.warmupSteps": lambda p, d: p.training.warmup_steps,
    "training.weightDecay": lambda p, d: p.training.weight_decay,
    "training.gradClip": lambda p, d: p.training.grad_clip,
    "training.seed": lambda p, d: p.training.seed,
    "training.logEvery": lambda p, d: p.training.log_every,
    "training.dataset.type": lambda p, d: p.training.dataset["type"],
    "training.dataset.path": lambda p, d: p.training.dataset["path"],
    "training.dataset.dtype": lambda p, d: p.training.dataset.get("dtype", DEFAULT_TOKEN_DTYPE),
    "training.checkpoint.dir": lambda p, d: p.training.checkpoint_dir,
    # no checkpoint directory = no checkpoints, whatever everySteps says
    "training.checkpoint.everySteps": lambda p, d: (
        p.training.checkpoint_every if p.training.checkpoint_dir else d["training"]["checkpoint"]["everySteps"]
    ),
    "parameters.total": lambda p, d: p.model.total_params(),
    "parameters.activePerToken": lambda p, d: p.model.active_params_per_token(),
    **{
        f"ranks[].{k}": (
            lambda k: (
                lambda p, d: [
                    rank_layout(i, p.parallelism, p.gpus_per_node, p.model.num_experts)[k]  # noqa: B023
                    for i in range(p.world_size)
                ]
            )
        )(k)
        for k in ("rank", "node", "localRank", "data", "context", "tensor", "expertData", "expert", "experts")
    },
    "model.model_type": lambda p, d: "qwen3_moe",
    **{
        f"model.{f.name}": (lambda n: lambda p, d: getattr(p.model, n))(f.name) for f in dataclasses.fields(ModelConfig)
    },
}
#: Keys the operator writes for people and tools, which the trainer does not need.
NOT_READ = {
    "memory.perGpuBytes",
    "memory.gpuBytes",
    "memory.breakdown.weights",
    "memory.breakdown.gradients",
    "memory.breakdown.optimizer",
    "memory.breakdown.activations",
    "memory.breakdown.headroom",
    "warnings",
}


def test_the_golden_files_are_there():
    names = {os.path.basename(p) for p in PLANS}
    assert {"defaults.json", "tiny-cpu.json", "ep-tp.json", "inline-config.json", "all-training-fields.json"} <= names


@pytest.mark.parametrize("path", PLANS, ids=[os.path.basename(p) for p in PLANS])
def test_the_trainer_reads_every_key_of_the_operators_plan_as_the_operator_meant_it(path, tmp_path, monkeypatch):
    raw = _load(path)
    doc, replaced, opened = with_local_files(raw, tmp_path, monkeypatch)
    p = parse_plan(doc)
    keys = leaves(raw)
    unknown = sorted(set(keys) - set(READ) - NOT_READ)
    assert not unknown, (
        f"the operator writes {unknown}, which the trainer neither reads (tests/test_contract.py "
        "READ, moe_trainer/plan.py) nor lists as not needed (NOT_READ)"
    )
    for key, want in keys.items():
        if key in NOT_READ:
            continue
        got = READ[key](p, raw)
        if key in replaced:  # a pod path: the trainer reads the (local) path it was given
            assert got == replaced[key][1], key
            continue
        if isinstance(want, float) or isinstance(got, float):
            assert got == pytest.approx(want, rel=1e-12) and type(got) is float, (key, got, want)
        else:
            assert got == want and type(got) is type(want), (key, got, want)
    if raw["checkpoint"]:
        assert opened == [raw["checkpoint"]["path"]]  # the Hugging Face checkpoint is checked before training


@pytest.mark.parametrize("path", PLANS, ids=[os.path.basename(p) for p in PLANS])
def test_parameter_counts_and_ranks_agree_with_the_built_model(path):
    doc = golden(os.path.basename(path)[:-5])
    cfg = ModelConfig.from_dict(doc["model"])
    with torch.device("meta"):
        model = Qwen3MoeForCausalLM(cfg)
    assert sum(p.numel() for p in model.parameters()) == doc["parameters"]["total"] == cfg.total_params()
    assert cfg.active_params_per_token() == doc["parameters"]["activePerToken"]
    assert len(doc["ranks"]) == doc["world"]["size"]
    per_rank = cfg.num_experts // doc["parallelism"]["expert"]
    assert all(r["experts"][1] - r["experts"][0] == per_rank for r in doc["ranks"])


# plan key -> TrainingConfig field, for the defaults check
TRAINING_FIELDS = {
    "microBatchSize": "micro_batch_size",
    "globalBatchSize": "global_batch_size",
    "gradientAccumulation": "gradient_accumulation",
    "learningRate": "learning_rate",
    "minLearningRate": "min_learning_rate",
    "warmupSteps": "warmup_steps",
    "weightDecay": "weight_decay",
    "gradClip": "grad_clip",
    "seed": "seed",
    "logEvery": "log_every",
}
REQUIRED_TRAINING = ("seqLength", "steps")


@pytest.mark.parametrize("key", sorted(TRAINING_FIELDS))
def test_a_key_left_out_of_the_plan_means_the_operators_default(key):
    """contract/plans/defaults.json is a job that sets nothing optional: each training value in it is the CRD's
    default. The trainer, given the same plan without that key, must arrive at the same value."""
    doc = golden("defaults")
    want = doc["training"][key]
    stripped = copy.deepcopy(doc)
    del stripped["training"][key]
    got = getattr(parse_plan(stripped).training, TRAINING_FIELDS[key])
    assert got == want, (
        f"plan.training.{key}: the operator's default is {want!r}, the trainer assumes {got!r} when "
        "the key is absent; make moe_trainer/plan.py TrainingConfig agree with the CRD (TrainingSpec)"
    )


def test_activation_checkpointing_is_always_a_mode_name_and_absent_means_full():
    """The CRD field has no default: the plan engine writes the mode it chose (the fastest that fits), so every
    golden plan names one the trainer reads as itself. Absent is a plan of an operator before the three modes,
    whose default was true: full."""
    for path in PLANS:
        doc = _load(path)
        mode = doc["training"]["activationCheckpointing"]
        assert mode in ACTIVATION_CHECKPOINTING, (path, mode)
    assert parse_plan(golden("defaults")).training.activation_checkpointing == "none"  # tiny: everything fits
    stripped = copy.deepcopy(golden("defaults"))
    del stripped["training"]["activationCheckpointing"]
    assert parse_plan(stripped).training.activation_checkpointing == "full"


def test_defaults_the_operator_always_writes_agree_too():
    d = {f.name: f.default for f in dataclasses.fields(TrainingConfig)}
    assert d["seq_length"] is d["steps"] is dataclasses.MISSING  # the operator always writes them
    assert d["checkpoint_every"] == golden("defaults")["training"]["checkpoint"]["everySteps"]
    assert golden("defaults")["training"]["dataset"] == TrainingConfig(seq_length=1, steps=1).dataset
    assert golden("ep-tp")["training"]["dataset"]["dtype"] == DEFAULT_TOKEN_DTYPE  # a token file of the default dtype
    stripped = copy.deepcopy(golden("defaults"))
    for k in ("tensor", "expert", "context"):
        assert stripped["parallelism"].pop(k) == 1
    par = parse_plan(stripped).parallelism
    assert (par.tensor, par.expert, par.context) == (1, 1, 1)


@pytest.mark.parametrize("key", REQUIRED_TRAINING)
def test_keys_without_a_trainer_default_are_required(key):
    doc = golden("defaults")
    del doc["training"][key]
    with pytest.raises(ConfigError, match=f"plan.training.{key}=None"):
        parse_plan(doc)


def test_dataset_kinds_and_token_dtypes_are_the_operators():
    assert list(contract.DATASET_TYPES) == CONSTANTS["datasetTypes"]
    assert list(contract.TOKEN_DTYPES) == CONSTANTS["tokenDtypes"]
    assert contract.PLAN_API_VERSION == CONSTANTS["planApiVersion"]
    for dtype in ("int32", "int64", "uint8", "float32"):
        doc = golden("all-training-fields")
        doc["training"]["dataset"]["dtype"] = dtype
        with pytest.raises(ConfigError, match=f"plan.training.dataset.dtype='{dtype}': use uint16 or uint32"):
            parse_plan(doc)


@pytest.mark.parametrize("dtype", ["uint16", "uint32"])
def test_a_token_file_of_each_dtype_reads_back_the_same_ids(dtype, tmp_path):
    from moe_trainer.data import BatchSource

    path = tmp_path / "tokens.bin"
    np.arange(200, dtype=dtype).tofile(path)
    b = BatchSource({"type": "tokens", "path": str(path), "dtype": dtype}, 256, 16, 1, 1, 1, 0)
    x, y = b.batch(0, 0, 0, "cpu")
    assert torch.equal(x[0, 1:], y[0, :-1]) and int(x[0, 1] - x[0, 0]) == 1


def test_the_shared_names_and_numbers_are_the_operators():
    java = CONSTANTS["trainerContract"]
    shared = {
        k: v
        for k, v in vars(contract).items()
        if re.fullmatch(r"[A-Z][A-Z0-9_]+", k)
        and k not in ("PLAN_API_VERSION", "DATASET_TYPES", "TOKEN_DTYPES", "TRAINER_ENV")
    }
    missing = sorted(k for k in shared if k not in java)
    assert not missing, f"moe_trainer/contract.py names {missing}, which the operator's TrainerContract lacks"
    for k, v in shared.items():
        assert v == java[k], f"contract.{k}={v!r} but TrainerContract.{k}={java[k]!r}; {REGENERATE} or fix contract.py"
    assert exitcodes.EXIT_CONFIG == java["EXIT_CONFIG_ERROR"] == 78
    assert exitcodes.EXIT_TEMPFAIL == java["EXIT_RETRIABLE"] == 75
    assert progress.ANNOTATION == java["PROGRESS_ANNOTATION"]
    # the operator's env names and the trainer's own knobs do not overlap
    assert not set(contract.TRAINER_ENV) & {v for v in java.values() if isinstance(v, str)}
    # the entrypoint's default plan path is the operator's mount
    with open(os.path.join(TRAINER, "bin", "moe-train")) as f:
        assert f"${{MOE_PLAN_PATH:-{java['PLAN_PATH']}}}" in f.read()
    with open(os.path.join(TRAINER, "Dockerfile")) as f:
        assert f"MOE_PLAN_PATH={java['PLAN_PATH']}" in f.read()


def test_the_trainer_reads_the_operators_env_names_only_through_contract_py():
    """Every env variable name literal in moe_trainer/ is a trainer-only knob (contract.TRAINER_ENV); the operator's
    names are read through contract.py, so renaming one there (and in TrainerContract) renames it everywhere."""
    java_names = {v for v in CONSTANTS["trainerContract"].values() if isinstance(v, str) and v.isupper()}
    env_literal = re.compile(r"""(?:environ|env)(?:\.get|\.setdefault)?[(\[]\s*["']([A-Z][A-Z0-9_]*)["']""")
    found = {}
    for path in glob.glob(os.path.join(TRAINER, "moe_trainer", "**", "*.py"), recursive=True):
        if os.path.basename(path) == "contract.py":
            continue
        with open(path) as f:
            for name in env_literal.findall(f.read()):
                found.setdefault(name, os.path.relpath(path, TRAINER))
    assert found, "the scan found no env reads at all: the pattern is broken"
    operator = {k: v for k, v in found.items() if k in java_names}
    assert not operator, f"operator env names as literals (use moe_trainer.contract): {operator}"
    unknown = {k: v for k, v in found.items() if k not in contract.TRAINER_ENV and k != "PYTORCH_CUDA_ALLOC_CONF"}
    assert not unknown, f"env variables the trainer reads but contract.TRAINER_ENV does not document: {unknown}"


def test_docs_contract_lists_every_key_of_the_plan_with_its_default():
    """docs/contract.md's key table has one row per key the operator writes (no more, no fewer) and, for the
    training keys, the default the CRD gives them."""
    with open(os.path.join(REPO, "docs", "contract.md")) as f:
        text = f.read()
    # the key table of section 1 only (other sections have tables of paths and names in the same shape)
    text = text[text.index("### Every key") : text.index("## 2. Pod environment")]
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]*) \| ([^|]*) \|", text, re.M)
    documented = {k: d.strip() for k, _, d in rows}
    written = set()
    for path in PLANS:
        written |= set(leaves(_load(path)))
    assert sorted(written - set(documented)) == [], "keys the operator writes that docs/contract.md does not list"
    assert sorted(set(documented) - written) == [], "keys docs/contract.md lists that no golden plan has"
    defaults = leaves(golden("defaults"))
    derived = {"globalBatchSize", "gradientAccumulation", "activationCheckpointing"}
    for key in (f"training.{k}" for k in sorted(set(TRAINING_FIELDS) - derived)):
        want = defaults[key]
        shown = documented[key]
        assert shown == f"`{json.dumps(want)}`", f"docs/contract.md gives {key} the default {shown}, the CRD {want!r}"
    for key in REQUIRED_TRAINING:
        assert documented[f"training.{key}"].startswith("required"), key
