"""Checkpoint, crash, resume: the loss sequence after resume equals the uninterrupted run."""

import json
import os

import pytest
from conftest import TINY
from helpers import make_plan, torchrun, write_plan


def _losses(path):
    out = {}
    with open(path) as f:
        for line in f:
            s, v = line.split()
            out[int(s)] = v  # last occurrence wins (the resumed run)
    return out


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_checkpoint_kill_resume(precision, tmp_path):
    """bf16: bf16 working weights with float32 masters (the GPU path, here on CPU); the checkpoint holds the
    masters, so resuming restores the exact state and the loss sequence is the same."""
    model = dict(TINY)
    runs = {}
    for name in ("straight", "crashed"):
        d = tmp_path / name
        d.mkdir()
        plan = make_plan(model, data=2, expert=2, steps=6, ckpt=str(d / "ckpt"), every=2, accum=2)
        path = write_plan(d, plan)
        log = str(d / "loss.txt")
        if name == "crashed":
            r = torchrun(
                2,
                ["-m", "moe_trainer.train", "--plan", path],
                env={"MOE_LOSS_LOG": log, "MOE_TEST_FAIL_AT_STEP": "3", "MOE_PRECISION": precision},
            )
            assert r.returncode != 0
            assert "exitcode  : 75" in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]
            assert sorted(os.listdir(d / "ckpt")) == ["latest", "step-00000002"]
            assert set(_losses(log)) == {1, 2, 3}
        r = torchrun(
            2,
            ["-m", "moe_trainer.train", "--plan", path],
            env={
                "MOE_LOSS_LOG": log,
                "MOE_PROGRESS": f"file:{d / 'progress.json'}",
                "MOE_EXPORT_HF_DIR": str(d / "export"),
                "MOE_PRECISION": precision,
            },
        )
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        runs[name] = _losses(log)
        prog = json.loads((d / "progress.json").read_text())
        assert prog["step"] == 6 and prog["lastCheckpointStep"] == 6
    assert "resumed from" in r.stdout
    # the trained, EP-sharded weights export to transformers' layout and load there
    import torch
    from transformers import Qwen3MoeForCausalLM

    hf = Qwen3MoeForCausalLM.from_pretrained(str(tmp_path / "crashed" / "export"), dtype=torch.float32)
    assert torch.isfinite(hf(input_ids=torch.arange(8)[None]).logits).all()
    # the export holds float32 masters: with bf16 training they carry more bits than a bf16 copy would
    w = hf.model.layers[0].self_attn.q_proj.weight
    assert not torch.equal(w, w.bfloat16().float())
    assert runs["crashed"] == runs["straight"], runs
    assert len(runs["straight"]) == 6 and float(runs["straight"][6]) < float(runs["straight"][1])


def test_context_parallel_trains_like_one_process_and_resumes_across_context_degrees(tmp_path):
    """The real entrypoint at context=2 gives the losses of one process on the same batches; a checkpoint
    written at context=2 resumes at context=1, and one written at context=1 resumes at context=2, each
    continuing that same loss sequence (the DCP checkpoint does not depend on how a sequence was split)."""
    model = dict(TINY)

    def run(name, context, ckpt, fail_at=None):
        d = tmp_path / name
        d.mkdir(exist_ok=True)
        plan = make_plan(model, context=context, steps=4, ckpt=str(ckpt), every=2, accum=2)
        log = str(tmp_path / f"{ckpt.name}.loss.txt")
        env = {"MOE_LOSS_LOG": log, "MOE_PRECISION": "fp32"}
        if fail_at is not None:
            env["MOE_TEST_FAIL_AT_STEP"] = str(fail_at)
        r = torchrun(context, ["-m", "moe_trainer.train", "--plan", write_plan(d, plan)], env=env)
        assert (r.returncode != 0) == (fail_at is not None), (r.stdout + r.stderr)[-4000:]
        return _losses(log), r.stdout

    straight, _ = run("straight", 1, tmp_path / "c1")
    c2_to_c1, _ = run("cp2_first", 2, tmp_path / "c2c1", fail_at=2)
    assert set(c2_to_c1) == {1, 2}
    c2_to_c1, out = run("cp1_after", 1, tmp_path / "c2c1")
    assert "resumed from" in out and "at step 2" in out
    c1_to_c2, _ = run("cp1_first", 1, tmp_path / "c1c2", fail_at=2)
    c1_to_c2, out = run("cp2_after", 2, tmp_path / "c1c2")
    assert "resumed from" in out and "at step 2" in out
    assert len(set(straight.values())) == 4, straight  # the weights really change from step to step
    for name, got in (("context 2 -> 1", c2_to_c1), ("context 1 -> 2", c1_to_c2)):
        assert set(got) == set(straight), (name, got)
        rel = {s: abs(float(got[s]) - float(straight[s])) / abs(float(straight[s])) for s in straight}
        assert all(e < 1e-5 for e in rel.values()), (name, rel, got, straight)
