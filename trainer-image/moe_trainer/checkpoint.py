"""Training checkpoints with torch.distributed.checkpoint (sharded, every rank writes its shards).

Atomic: DCP writes into <dir>/step-NNNNNNNN.tmp; after a barrier rank 0 renames it to step-NNNNNNNN
and then rewrites <dir>/latest (write + rename). A crash mid-save leaves only a .tmp that is ignored.
The data order is a pure function of the step (data.py), so the step is all the loop state we need.
What is saved is float32 only: the master weights (not the bf16 working copies) and the AdamW moments
(optim.AdamW.fp32_state), in get_state_dict's layout, so a resume restores exactly the state it left.
"""

from __future__ import annotations

import json
import logging
import os
import shutil

import torch.distributed as dist
import torch.distributed.checkpoint as dcp

log = logging.getLogger("moe_trainer.checkpoint")


def _barrier():
    if dist.is_initialized():
        dist.barrier()


def latest_step_dir(ckpt_dir: str | None) -> str | None:
    if not ckpt_dir:
        return None
    p = os.path.join(ckpt_dir, "latest")
    if not os.path.isfile(p):
        return None
    with open(p) as f:
        name = f.read().strip()
    d = os.path.join(ckpt_dir, name)
    return d if os.path.isfile(os.path.join(d, "trainer.json")) else None


def save(ckpt_dir: str, step: int, model, optimizer, rank: int, keep: int = 2) -> None:
    name = f"step-{step:08d}"
    final, tmp = os.path.join(ckpt_dir, name), os.path.join(ckpt_dir, name + ".tmp")
    if rank == 0:
        os.makedirs(ckpt_dir, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    _barrier()
    dcp.save(optimizer.fp32_state(model), checkpoint_id=tmp)
    _barrier()
    if rank == 0:
        with open(os.path.join(tmp, "trainer.json"), "w") as f:
            json.dump({"step": step}, f)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        with open(os.path.join(ckpt_dir, "latest.tmp"), "w") as f:
            f.write(name)
        os.replace(os.path.join(ckpt_dir, "latest.tmp"), os.path.join(ckpt_dir, "latest"))
        old = sorted(d for d in os.listdir(ckpt_dir) if d.startswith("step-") and not d.endswith(".tmp"))
        for d in old[:-keep]:
            shutil.rmtree(os.path.join(ckpt_dir, d), ignore_errors=True)
    _barrier()
    log.info("checkpoint step %d written to %s", step, final)


def load(path: str, model, optimizer) -> int:
    dcp.load(optimizer.fp32_state(model), checkpoint_id=path)  # in place into masters, moments and steps
    optimizer.masters_loaded()
    with open(os.path.join(path, "trainer.json")) as f:
        return int(json.load(f)["step"])
