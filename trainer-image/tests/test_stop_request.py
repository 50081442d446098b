"""Checkpoint before stop: SIGTERM mid-run -> every rank saves the same next step and stops; the resumed run
continues from that step with the losses of the uninterrupted run (no periodic checkpoint in between)."""

import os
import signal
import subprocess
import time

from conftest import TINY
from helpers import PY, ROOT, make_plan, torchrun, write_plan


def _losses(path):
    out = {}
    with open(path) as f:
        for line in f:
            s, v = line.split()
            out[int(s)] = v
    return out


def test_sigterm_saves_at_the_next_step_and_resume_matches_the_uninterrupted_run(tmp_path):
    steps = 12
    runs = {}
    for name in ("straight", "stopped"):
        d = tmp_path / name
        d.mkdir()
        # everySteps far beyond the run: only the final step (and a requested stop) checkpoint
        plan = make_plan(dict(TINY), data=2, expert=2, steps=steps, ckpt=str(d / "ckpt"), every=1000, accum=2)
        path = write_plan(d, plan)
        log = str(d / "loss.txt")
        env = {"MOE_LOSS_LOG": log}
        if name == "stopped":
            e = dict(os.environ, MOE_DEVICE="cpu", OMP_NUM_THREADS="1", PYTHONPATH=ROOT, PYTHONUNBUFFERED="1", **env)
            p = subprocess.Popen(
                [
                    PY,
                    "-m",
                    "torch.distributed.run",
                    "--standalone",
                    "--nproc-per-node=2",
                    "-m",
                    "moe_trainer.train",
                    "--plan",
                    path,
                ],
                env=e,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            try:
                deadline = time.monotonic() + 240
                while not (os.path.exists(log) and len(_losses(log)) >= 3):
                    assert p.poll() is None and time.monotonic() < deadline, "the run ended before step 3"
                    time.sleep(0.05)
                seen = max(_losses(log))
                os.killpg(p.pid, signal.SIGTERM)  # what the kubelet's stop reaches: every process of the pod
                out, _ = p.communicate(timeout=120)
            finally:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
            assert "stopped at step" in out, out[-4000:]
            saved = sorted(x for x in os.listdir(d / "ckpt") if x.startswith("step-"))
            assert len(saved) == 1, saved
            at = int(saved[0].split("-")[1])
            assert seen <= at < steps, (seen, at)
            assert (d / "ckpt" / "latest").read_text().strip() == saved[0]
            assert max(_losses(log)) == at, "no step past the checkpoint ran"
        r = torchrun(2, ["-m", "moe_trainer.train", "--plan", path], env=env)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        runs[name] = _losses(log)
    assert f"at step {at}" in r.stdout + r.stderr
    assert runs["stopped"] == runs["straight"], runs
