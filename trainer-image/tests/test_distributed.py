"""EP-only, TP-only and EP+TP+DP plans on 2 and 4 gloo processes give the loss and (gathered) gradients
of one process on the same global batch, in float32."""
import json
import os

import pytest
import torch
from helpers import make_plan, torchrun, write_plan

from moe_trainer.checkpoint_hf import load_hf_into
from moe_trainer.config import ModelConfig
from moe_trainer.data import BatchSource
from moe_trainer.model import Qwen3MoeForCausalLM

PLANS = {  # name: (data, tensor, expert)
    "ep2": (2, 1, 2),
    "tp2": (1, 2, 1),
    "dp2_tp2_ep2": (2, 2, 2),
    "dp4_ep4": (4, 1, 4),
}


def reference(hf_dir, plan):
    with open(os.path.join(hf_dir, "config.json")) as f:
        cfg = ModelConfig.from_dict(json.load(f))
    m = Qwen3MoeForCausalLM(cfg)
    load_hf_into(m, hf_dir)
    t, D = plan["training"], plan["parallelism"]["data"]
    acc = t["gradientAccumulation"]
    data = BatchSource(t["dataset"], cfg.vocab_size, t["seqLength"], t["microBatchSize"], acc, D, t["seed"])
    total = 0.0
    for d in range(D):
        for micro in range(acc):
            x, y = data.batch(0, micro, d, "cpu")
            loss = m(x, y)["loss"] / (acc * D)
            loss.backward()
            total += loss.item()
    grads = {n: p.grad for n, p in m.named_parameters()}
    norm = torch.sqrt(sum(g.pow(2).sum() for g in grads.values())).item()
    return total, norm, grads


@pytest.mark.parametrize("name", list(PLANS))
def test_parallel_matches_single_process(name, hf_tiny_dir, tmp_path):
    data, tensor, expert = PLANS[name]
    with open(os.path.join(hf_tiny_dir, "config.json")) as f:
        model = json.load(f)
    plan = make_plan(model, data=data, tensor=tensor, expert=expert, checkpoint_path=hf_tiny_dir)
    out = str(tmp_path / "out.pt")
    r = torchrun(data * tensor, ["tests/dist_worker.py", write_plan(tmp_path, plan), out])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    got = torch.load(out)
    loss, norm, grads = reference(hf_tiny_dir, plan)
    assert abs(got["loss"] - loss) / abs(loss) < 1e-5, (got["loss"], loss)
    assert set(got["grads"]) == set(grads)
    errs = {n: ((got["grads"][n] - g).norm() / g.norm().clamp(min=1e-12)).item() for n, g in grads.items()}
    bad = {n: e for n, e in errs.items() if not e < 1e-4}
    assert not bad, f"relative gradient errors: {bad}"
    assert abs(got["norm"] - norm) / norm < 1e-5, (got["norm"], norm)


@pytest.mark.parametrize("data,expert", [(1, 1), (2, 2)])
def test_activation_checkpointing_is_exact(data, expert, hf_tiny_dir, tmp_path):
    """Per-layer activation checkpointing re-runs each decoder layer in backward (routing, all-to-all,
    experts); loss and every gradient equal the run without it (float32, gloo)."""
    with open(os.path.join(hf_tiny_dir, "config.json")) as f:
        model = json.load(f)
    got = {}
    for ac in (True, False):
        plan = make_plan(model, data=data, expert=expert, checkpoint_path=hf_tiny_dir, activationCheckpointing=ac)
        out = str(tmp_path / f"out_{ac}.pt")
        r = torchrun(data, ["tests/dist_worker.py", write_plan(tmp_path, plan, f"plan_{ac}.json"), out])
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
        got[ac] = torch.load(out)
        assert got[ac]["checkpointed_layers"] == (model["num_hidden_layers"] if ac else 0)
    on, off = got[True], got[False]
    assert on["loss"] == off["loss"], (on["loss"], off["loss"])
    assert set(on["grads"]) == set(off["grads"])
    diff = {n: (on["grads"][n] - g).abs().max().item() for n, g in off["grads"].items()}
    assert all(d == 0.0 for d in diff.values()), {n: d for n, d in diff.items() if d}
