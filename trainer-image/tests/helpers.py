import json
import os
import subprocess
import sys

from conftest import ROOT

PY = sys.executable


def make_plan(
    model: dict,
    data=1,
    tensor=1,
    expert=1,
    seq=16,
    mbs=2,
    accum=2,
    steps=4,
    ckpt=None,
    every=0,
    checkpoint_path=None,
    dataset=None,
    context=1,
    **training,
):
    world = data * context * tensor
    t = {
        "seqLength": seq,
        "microBatchSize": mbs,
        "globalBatchSize": mbs * data * accum,
        "gradientAccumulation": accum,
        "steps": steps,
        "learningRate": 1e-3,
        "minLearningRate": 1e-4,
        "warmupSteps": 2,
        "weightDecay": 0.1,
        "gradClip": 1.0,
        "seed": 7,
        "dataset": dataset or {"type": "synthetic"},
        "checkpoint": {"dir": ckpt, "everySteps": every},
    }
    t.update(training)
    return {
        "apiVersion": "training.moe.dev/plan-v1",
        "job": {"namespace": "default", "name": "test"},
        "model": model,
        "checkpoint": {"path": checkpoint_path} if checkpoint_path else None,
        "parallelism": {
            "tensor": tensor,
            "expert": expert,
            "context": context,
            "data": data,
            "expertData": world // expert,
        },
        "world": {"size": world, "nodes": 1, "gpusPerNode": world},
        "training": t,
    }


def write_plan(tmp_path, plan, name="plan.json"):
    p = os.path.join(str(tmp_path), name)
    with open(p, "w") as f:
        json.dump(plan, f)
    return p


def torchrun(nproc, args, env=None, timeout=300):
    e = dict(os.environ)
    e.update({"MOE_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1"})
    e.update(env or {})
    cmd = [PY, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"] + args
    return subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
