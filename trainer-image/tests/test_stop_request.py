"""Checkpoint before stop: SIGTERM mid-run, or the operator's checkpoint request in the pod's downwardAPI
annotations file -> every rank saves the same next step and stops (EXIT_STOPPED); the resumed run continues from
that step with the losses of the uninterrupted run (no periodic checkpoint in between)."""

import json
import os
import signal
import subprocess
import textwrap
import time

import pytest
from conftest import TINY
from helpers import PY, ROOT, make_plan, torchrun, write_plan
from moe_trainer import contract
from moe_trainer.stop_request import StopRequest, read_annotation


def write_annotations(path, annotations):
    """The pod's annotations as the kubelet writes a downwardAPI file: sorted `key="value"` lines, replaced
    atomically."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write("".join(f"{k}={json.dumps(v)}\n" for k, v in sorted(annotations.items())))
    os.replace(tmp, path)


def test_the_annotations_file_reads_as_the_kubelet_writes_it(tmp_path):
    path = str(tmp_path / "annotations")
    assert read_annotation(path, contract.CHECKPOINT_REQUEST_ANNOTATION) is None  # no file yet
    progress = json.dumps({"step": 3, "loss": 10.5})
    write_annotations(path, {contract.PROGRESS_ANNOTATION: progress, "a/b": 'quote " and \\ and\nnewline'})
    assert read_annotation(path, contract.PROGRESS_ANNOTATION) == progress
    assert read_annotation(path, "a/b") == 'quote " and \\ and\nnewline'
    assert read_annotation(path, contract.CHECKPOINT_REQUEST_ANNOTATION) is None
    assert read_annotation(path, "a") is None  # a prefix of a key is not the key


def test_a_request_written_while_running_is_noticed_at_the_next_poll(tmp_path):
    path = str(tmp_path / "annotations")
    write_annotations(path, {contract.PROGRESS_ANNOTATION: "{}"})
    stop = StopRequest(signals=(), annotations_path=path)
    assert not stop.poll() and not stop.poll()
    write_annotations(path, {contract.PROGRESS_ANNOTATION: "{}", contract.CHECKPOINT_REQUEST_ANNOTATION: ""})
    assert not stop.poll(), "an empty value asks for nothing"
    write_annotations(path, {contract.CHECKPOINT_REQUEST_ANNOTATION: "2026-01-01T00:00:00Z"})
    assert stop.poll() and contract.CHECKPOINT_REQUEST_ANNOTATION in stop.reason
    os.remove(path)
    assert stop.poll(), "a request once seen stays"
    assert not StopRequest(signals=(), annotations_path="").poll(), "not watched when the path is empty"


AGREE = textwrap.dedent("""
    import os, sys, torch, torch.distributed as dist
    sys.path.insert(0, os.environ["PYTHONPATH"])
    from moe_trainer.stop_request import StopRequest
    dist.init_process_group("gloo")
    rank, work = dist.get_rank(), sys.argv[1]
    path = os.path.join(work, f"annotations-{rank}")  # each pod has its own file
    open(path, "w").close()
    stop = StopRequest(signals=(), annotations_path=path)
    for step in range(1, 50):
        if rank == 1 and step == 4:  # only rank 1's pod is annotated (so far)
            with open(path + ".tmp", "w") as f:
                f.write('training.moe.dev/checkpoint-request="now"\\n')
            os.replace(path + ".tmp", path)
        if stop.agreed(torch.device("cpu")):
            with open(os.path.join(work, f"stopped-{rank}"), "w") as f:
                f.write(f"{step} {stop.reason}")
            break
    dist.destroy_process_group()
""")


def test_the_ranks_agree_on_the_step_one_of_them_was_asked_at(tmp_path):
    script = tmp_path / "agree.py"
    script.write_text(AGREE)
    r = torchrun(2, [str(script), str(tmp_path)], timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    stopped = [(tmp_path / f"stopped-{k}").read_text().split(" ", 1) for k in (0, 1)]
    assert [step for step, _ in stopped] == ["4", "4"], stopped
    # rank 1 read the request itself; rank 0 stopped on the agreement and says whose request it followed
    assert stopped[1][1] == f"{contract.CHECKPOINT_REQUEST_ANNOTATION}=now", stopped
    assert stopped[0][1] == f"{contract.CHECKPOINT_REQUEST_ANNOTATION} on another rank", stopped


def _losses(path):
    out = {}
    with open(path) as f:
        for line in f:
            s, v = line.split()
            out[int(s)] = v
    return out


@pytest.mark.parametrize("ask", ["sigterm", "annotation"])
def test_a_stop_request_saves_at_the_next_step_and_resume_matches_the_uninterrupted_run(ask, tmp_path):
    steps = 12
    runs = {}
    for name in ("straight", "stopped"):
        d = tmp_path / name
        d.mkdir()
        # everySteps far beyond the run: only the final step (and a requested stop) checkpoint
        plan = make_plan(dict(TINY), data=2, expert=2, steps=steps, ckpt=str(d / "ckpt"), every=1000, accum=2)
        path = write_plan(d, plan)
        log = str(d / "loss.txt")
        annotations = str(d / "annotations")
        env = {"MOE_LOSS_LOG": log, contract.MOE_POD_ANNOTATIONS: annotations}
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
                if ask == "sigterm":
                    os.killpg(p.pid, signal.SIGTERM)  # what the kubelet's stop reaches: every process of the pod
                else:  # the operator's annotation, as the kubelet delivers it to the downwardAPI file
                    write_annotations(annotations, {contract.CHECKPOINT_REQUEST_ANNOTATION: "2026-01-01T00:00:00Z"})
                out, _ = p.communicate(timeout=120)
            finally:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
            assert "stopped at step" in out, out[-4000:]
            if ask == "annotation":
                os.remove(annotations)  # the next attempt's pods start without the request
            asked = "signal 15" if ask == "sigterm" else contract.CHECKPOINT_REQUEST_ANNOTATION
            assert f"on request ({asked}" in out, out[-4000:]
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
