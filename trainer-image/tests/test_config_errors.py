"""Bad plans and configs exit with 78 and a message naming the field, before any collective."""

import copy
import os
import subprocess
import sys
import time

import pytest
import torch.distributed as dist
from conftest import ROOT, TINY
from helpers import make_plan, write_plan
from moe_trainer.exitcodes import EXIT_CONFIG
from moe_trainer.train import main


def _plan(**kw):
    return make_plan(copy.deepcopy(TINY), **kw)


def _bad_cases(tmp_path, hf_tiny_dir):
    cases = {}
    p = _plan(data=2)
    p["apiVersion"] = "training.moe.dev/plan-v0"
    cases["apiVersion"] = (p, "plan.apiVersion")
    p = _plan(data=4, expert=4)
    p["model"]["num_experts"] = 6
    cases["experts"] = (p, "does not divide model.num_experts=6")
    cases["kv_heads"] = (_plan(data=1, tensor=4), "plan.parallelism.tensor=4")
    p = _plan(data=1)
    p["parallelism"].update(context=2, data=1, expertData=2)
    p["world"].update(size=2, gpusPerNode=2)
    p["training"]["seqLength"] = 18
    cases["context"] = (p, "plan.training.seqLength=18 must be divisible by 2×context=4")
    cases["ckpt_missing"] = (_plan(data=2, checkpoint_path=str(tmp_path / "nope")), "directory not found")
    p = _plan(data=2, checkpoint_path=hf_tiny_dir)
    p["model"]["moe_intermediate_size"] = 48
    cases["ckpt_shape"] = (p, "has shape")
    cases["dataset"] = (
        _plan(data=2, dataset={"type": "tokens", "path": str(tmp_path / "x.bin")}),
        "token file not found",
    )
    p = _plan(data=2)
    p["training"]["globalBatchSize"] = 3
    cases["batch"] = (p, "globalBatchSize=3")
    p = _plan(data=2)
    p["world"]["size"] = 3
    cases["world"] = (p, "world.size=3")
    cases["checkpointing"] = (
        _plan(data=2, activationCheckpointing="partial"),
        "plan.training.activationCheckpointing='partial': use one of none, selective, full",
    )
    return cases


@pytest.mark.parametrize(
    "case",
    [
        "apiVersion",
        "experts",
        "kv_heads",
        "context",
        "ckpt_missing",
        "ckpt_shape",
        "dataset",
        "batch",
        "world",
        "checkpointing",
    ],
)
def test_bad_plan_exits_78_before_any_collective(case, tmp_path, hf_tiny_dir, monkeypatch, capsys):
    plan, msg = _bad_cases(tmp_path, hf_tiny_dir)[case]
    path = write_plan(tmp_path, plan)
    monkeypatch.setenv("WORLD_SIZE", str(plan["world"]["size"]))
    monkeypatch.setenv("RANK", "0")
    assert main(["--plan", path]) == EXIT_CONFIG
    assert not dist.is_initialized()
    out = capsys.readouterr().out
    assert msg in out and "exit 78" in out, out


def test_env_disagreeing_with_plan(tmp_path, monkeypatch, capsys):
    path = write_plan(tmp_path, _plan(data=2))
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert main(["--plan", path]) == EXIT_CONFIG
    assert "WORLD_SIZE=4" in capsys.readouterr().out
    assert main(["--plan", str(tmp_path / "missing.json")]) == EXIT_CONFIG


def test_process_exit_code_and_preflight(tmp_path):
    """A real process with a 2-rank env and no peer: it would hang in init if it reached a collective."""
    p = _plan(data=2)
    p["parallelism"]["tensor"] = 2
    path = write_plan(tmp_path, p)
    env = dict(
        os.environ,
        PYTHONPATH=ROOT,
        WORLD_SIZE="2",
        RANK="0",
        LOCAL_RANK="0",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT="1",
        MOE_DEVICE="cpu",
    )
    t0 = time.time()
    r = subprocess.run(
        [sys.executable, "-m", "moe_trainer.train", "--plan", path],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == EXIT_CONFIG, r.stdout + r.stderr
    assert "data×context×tensor" in r.stdout and time.time() - t0 < 60
    r = subprocess.run(
        [sys.executable, "-m", "moe_trainer.preflight", "--plan", path],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == EXIT_CONFIG and "configuration error" in r.stderr


def test_no_checkpoint_volume_means_no_checkpoints(monkeypatch):
    """docs/contract.md: checkpoint.dir null = no checkpoints. The operator still sends everySteps (a CRD
    default), so a job without a checkpoint volume must train, not exit 78."""
    from moe_trainer.plan import parse_plan, validate_plan

    monkeypatch.delenv("MOE_CHECKPOINT_DIR", raising=False)
    plan = parse_plan(_plan(data=2, ckpt=None, every=200))
    validate_plan(plan)
    assert plan.training.checkpoint_dir is None
    assert plan.training.checkpoint_every == 0
