"""Contract run (issue 4 item 5): the operator's pods run for real. e2e/runner/local_runner.py executes the pods of
one job (their command, env and volumes, MASTER_ADDR on loopback) as local processes running the real trainer on
CPU with the tiny model, and reports each process's exit code back through KWOK. So a job is Succeeded only
because training really finished; progress arrives through the pod annotation written with the job's own
ServiceAccount token (the per-job Role); a killed process leads to a gang restart that resumes from the checkpoint
on the job's volume and reproduces the uninterrupted run's losses; a trainer config error (exit 78) fails the job
without a restart.

Suite `contract` in e2e/run-tests.sh (needs the trainer venv: trainer-image/scripts/ensure-venv.sh)."""

import json
import math
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import JOBS, REPO, apply, env_of, events_of, job, kubectl, pods, tiny_job, wait

VENV_PY = pathlib.Path(os.environ.get("MOE_VENV", os.path.expanduser("~/.cache/moe/venv"))) / "bin" / "python"
RUNNER = REPO / "e2e" / "runner" / "local_runner.py"
WORK = pathlib.Path(os.environ.get("MOE_E2E_WORK", str(REPO / "e2e" / ".work")))
STEPS, EVERY = 40, 10
TIMEOUT = 150  # per scenario; the tiny model trains 40 steps in ~15 s on 2 busy cores, startup ~15 s per gang
# Per-step losses of the uninterrupted run (scenario 1), to compare the resumed run with.
RESULTS = {}


def contract_job(name):
    """examples/tiny-cpu.yaml (2 nodes x 2 GPUs, tiny-moe) with a checkpoint volume; rank 0 also appends each
    step's loss to a file on that volume (a container path: the runner translates it like a mount)."""
    return tiny_job(
        name,
        training={
            "steps": STEPS,
            "warmupSteps": 2,
            "learningRate": 0.001,
            "checkpoint": {"claimName": "ckpt", "everySteps": EVERY},
        },
        trainer={"env": [{"name": "MOE_LOSS_LOG", "value": "/checkpoints/losses.txt"}]},
    )


@pytest.fixture
def claims(ns):
    """claims("ckpt", ...): PVCs statically bound to PVs (no provisioner here), so the pods can be scheduled; the
    runner maps each claim to a local dir."""
    pvs = []

    def make(*names):
        for claim in names:
            pv = f"e2e-contract-{ns}-{claim}"
            pvs.append(pv)
            kubectl(
                "apply",
                "-f",
                "-",
                input=json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "List",
                        "items": [
                            {
                                "apiVersion": "v1",
                                "kind": "PersistentVolume",
                                "metadata": {"name": pv},
                                "spec": {
                                    "capacity": {"storage": "1Gi"},
                                    "accessModes": ["ReadWriteMany"],
                                    "storageClassName": "",
                                    "persistentVolumeReclaimPolicy": "Retain",
                                    "hostPath": {"path": f"/tmp/{pv}"},
                                    "claimRef": {"namespace": ns, "name": claim},
                                },
                            },
                            {
                                "apiVersion": "v1",
                                "kind": "PersistentVolumeClaim",
                                "metadata": {"name": claim, "namespace": ns},
                                "spec": {
                                    "accessModes": ["ReadWriteMany"],
                                    "storageClassName": "",
                                    "volumeName": pv,
                                    "resources": {"requests": {"storage": "1Gi"}},
                                },
                            },
                        ],
                    }
                ),
            )
        for claim in names:
            wait(
                lambda: kubectl("get", "pvc", claim, "-n", ns, "-o", "jsonpath={.status.phase}") == "Bound",  # noqa: B023
                30,
                f"PVC {claim} Bound",
            )

    yield make
    for pv in pvs:
        kubectl("delete", "pv", pv, "--wait=false", check=False)


@pytest.fixture
def checkpoint_claim(claims):
    claims("ckpt")
    return "ckpt"


class LocalRunner:
    def __init__(self, ns, name, work, grace=None):
        self.ns, self.name, self.work = ns, name, pathlib.Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.out = self.work / "runner.log"
        with open(self.out, "w") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(RUNNER),
                    "-n",
                    ns,
                    "--job",
                    name,
                    "--work",
                    str(work),
                    "--python",
                    str(VENV_PY),
                    "--timeout",
                    str(TIMEOUT + 60),
                    *(["--grace", str(grace)] if grace else []),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait(lambda: self.state().get("ready") or self.proc.poll() is not None, 60, "runner ready")
        assert self.proc.poll() is None, self.tail()

    def state(self):
        try:
            return json.loads((self.work / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def pods(self, attempt=None):
        return [p for p in self.state().get("pods", []) if attempt is None or p["attempt"] == attempt]

    def log(self, pod, attempt):
        p = self.work / "logs" / f"{pod}-a{attempt}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def pvc(self, claim):
        return self.work / "pvc" / claim

    def tail(self, n=4000):
        text = self.out.read_text(errors="replace")[-n:]
        for f in sorted((self.work / "logs").glob("*.log")):
            text += f"\n--- {f.name}\n" + f.read_text(errors="replace")[-n:]
        return text

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def runner(ns):
    """Starts the local runner for one job; its work dir (logs, volumes, state.json) is
    $MOE_E2E_WORK/contract/<namespace>-<job>, next to the cluster's logs."""
    if not VENV_PY.exists():
        pytest.fail(f"no trainer venv at {VENV_PY}: run trainer-image/scripts/ensure-venv.sh")
    started = []

    def start(name, grace=None):
        r = LocalRunner(ns, name, WORK / "contract" / f"{ns}-{name}", grace)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


def wait_job(r, name, phase, timeout=TIMEOUT):
    def done():
        st = job(r.ns, name).get("status", {})
        if st.get("phase") == "Failed" and phase != "Failed":
            raise AssertionError(f"job Failed: {st.get('lastFailure')}\n{r.tail()}")
        return st.get("phase") == phase

    try:
        wait(done, timeout, f"job {name} {phase}", interval=1)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{r.tail()}") from None
    return job(r.ns, name)["status"]


def losses(path):
    """step -> loss from MOE_LOSS_LOG (the last occurrence wins: a resumed gang repeats steps)."""
    out = {}
    for line in path.read_text().splitlines():
        s, v = line.split()
        out[int(s)] = float(v)
    return out


def test_job_succeeds_because_training_really_finished(ns, checkpoint_claim, runner):
    r = runner("contract")
    t0 = time.time()
    apply(contract_job("contract"), ns)
    status = wait_job(r, "contract", "Succeeded")
    elapsed = time.time() - t0

    # the real trainer ran every rank: 2 pods x 2 local processes, all exited 0, under the operator's env
    ran = r.pods(attempt=0)
    assert sorted(p["name"] for p in ran) == ["contract-node-0", "contract-node-1"], ran
    assert all(p["exitCode"] == 0 for p in ran), ran
    for p in pods(ns, "contract"):
        term = p["status"]["containerStatuses"][0]["state"]["terminated"]
        assert term["exitCode"] == 0 and p["status"]["phase"] == "Succeeded", p["status"]
    log0 = r.log("contract-node-0", 0)
    assert f"step {STEPS}/{STEPS}" in log0 and f"training finished at step {STEPS}" in log0, r.tail()
    assert "world 4: data 2 × context 1 × tensor 2; expert 2 × expertData 2; device cpu" in log0, log0[-3000:]

    # real losses: one per step, finite, and the model learned something
    ls = losses(r.pvc("ckpt") / "losses.txt")
    assert sorted(ls) == list(range(1, STEPS + 1)), ls
    assert all(math.isfinite(v) for v in ls.values()), ls
    assert min(ls[s] for s in range(STEPS - 4, STEPS + 1)) < ls[1], ls
    RESULTS["losses"] = ls

    # checkpoints on the job's volume
    assert (r.pvc("ckpt") / "latest").read_text().strip() == f"step-{STEPS:08d}"

    # progress came through the pod annotation, patched with the job's ServiceAccount (per-job Role)
    assert status["progress"]["step"] == STEPS, status
    assert status["progress"]["lastCheckpointStep"] == STEPS, status
    assert abs(status["progress"]["loss"] - ls[STEPS]) < 1e-4, (status["progress"], ls[STEPS])
    node0 = next(p for p in pods(ns, "contract") if p["metadata"]["name"] == "contract-node-0")
    assert json.loads(node0["metadata"]["annotations"]["training.moe.dev/progress"])["step"] == STEPS
    sa = f"system:serviceaccount:{ns}:contract-trainer"
    can = lambda verb, res: kubectl("auth", "can-i", verb, res, "-n", ns, "--as", sa, check=False).stdout.strip()  # noqa: E731
    assert can("patch", "pods/contract-node-0") == "yes"
    assert can("patch", "pods/someone-else") == "no" and can("get", "secrets") == "no"
    print(f"\ncontract run: Succeeded {elapsed:.0f} s after apply, loss {ls[1]:.4f} -> {ls[STEPS]:.4f}")


def test_context_parallel_job_trains_like_the_tensor_parallel_one(ns, checkpoint_claim, runner):
    """context 2 × expert 2 (data 2) under the operator: the plan carries the context coordinate, every rank trains
    on its half of each sequence, and the loss sequence is scenario 1's (tensor 2 × expert 2, data 2: the same
    model, batches and schedule), because context parallelism computes the unsharded model's loss."""
    spec = contract_job("ctx")
    spec["spec"]["parallelism"] = {"tensor": 1, "expert": 2, "context": 2}
    r = runner("ctx")
    apply(spec, ns)
    status = wait_job(r, "ctx", "Succeeded")
    assert status["progress"]["step"] == STEPS, status
    log0 = r.log("ctx-node-0", 0)
    assert "world 4: data 2 × context 2 × tensor 1; expert 2 × expertData 2; device cpu" in log0, log0[-3000:]
    plan = json.loads(kubectl("get", "configmap", "ctx-plan", "-n", ns, "-o", "json"))["data"]["plan.json"]
    ranks = json.loads(plan)["ranks"]
    assert [(x["data"], x["context"], x["tensor"]) for x in ranks] == [(0, 0, 0), (0, 1, 0), (1, 0, 0), (1, 1, 0)]
    ls = losses(r.pvc("ckpt") / "losses.txt")
    assert sorted(ls) == list(range(1, STEPS + 1)), ls
    ref = RESULTS.get("losses")
    if ref is None:
        pytest.skip("scenario 1 did not run in this session: nothing to compare the losses with")
    rel = {s: abs(ls[s] - ref[s]) / abs(ref[s]) for s in ref}
    assert max(rel.values()) < 1e-3, rel


def test_the_example_job_as_shipped_trains_to_completion(ns, runner):
    """examples/tiny-cpu.yaml exactly as a user applies it (no checkpoint volume: the CRD's everySteps default
    reaches the trainer with checkpoint.dir null, which must mean "no checkpoints", not a config error)."""
    example = json.loads(
        kubectl("create", "--dry-run=client", "-o", "json", "-f", str(REPO / "examples" / "tiny-cpu.yaml"))
    )
    example["metadata"].pop("namespace", None)
    name = example["metadata"]["name"]
    r = runner(name)
    apply(example, ns)
    status = wait_job(r, name, "Succeeded")
    steps = example["spec"]["training"]["steps"]
    assert status["progress"]["step"] == steps, status
    assert status.get("restarts", 0) == 0, status
    assert f"training finished at step {steps}" in r.log(f"{name}-node-0", 0), r.tail()


def test_killed_trainer_process_restarts_the_gang_which_resumes_from_the_checkpoint(ns, checkpoint_claim, runner):
    r = runner("crash")
    t0 = time.time()
    apply(contract_job("crash"), ns)
    latest = r.pvc("ckpt") / "latest"
    try:
        wait(lambda: latest.exists(), TIMEOUT, "the first checkpoint", interval=0.1)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{r.tail()}") from None
    victim = next(p for p in r.pods(attempt=0) if p["name"] == "crash-node-1")
    saved = int(latest.read_text().strip().split("-")[1])
    os.kill(victim["pid"], signal.SIGKILL)  # the pod's main process (torchrun agent): like an OOM-killed container
    assert saved < STEPS, "training finished before the kill; make the job longer"

    # the operator sees exit 137 on node rank 1 and restarts the whole gang once
    wait(lambda: job(ns, "crash").get("status", {}).get("restarts") == 1, 60, "status.restarts == 1")
    status = wait_job(r, "crash", "Succeeded")
    elapsed = time.time() - t0
    assert status["restarts"] == 1, status
    failure = status["lastFailure"]
    assert (failure["pod"], failure["rank"], failure["exitCode"]) == ("crash-node-1", 1, 137), failure

    # the new gang is attempt 1 and resumed from the checkpoint of attempt 0
    assert {env_of(p)["MOE_RESTART_ATTEMPT"] for p in pods(ns, "crash")} == {"1"}
    assert {p["metadata"]["labels"]["training.moe.dev/attempt"] for p in pods(ns, "crash")} == {"1"}
    assert all(p["exitCode"] == 0 for p in r.pods(attempt=1)), r.pods()
    log1 = r.log("crash-node-0", 1)
    resumed = [line for line in log1.splitlines() if "resumed from" in line]
    assert resumed and "(attempt 1)" in resumed[0], log1[-3000:]
    step = int(resumed[0].split(" at step ")[1].split()[0])
    # a periodic checkpoint, or a later one the surviving ranks wrote at a step boundary on SIGTERM (stop_request.py)
    assert saved <= step < STEPS, resumed
    assert f"step-{step:08d}" in resumed[0]
    assert f"step {step + 1}/{STEPS}" in log1 and f"step {step}/{STEPS}" not in log1, "must not redo saved steps"
    assert f"training finished at step {STEPS}" in log1
    assert status["progress"]["step"] == STEPS, status

    # resume reproduces the uninterrupted run: same loss at every step (data order is a function of the step)
    ls = losses(r.pvc("ckpt") / "losses.txt")
    assert sorted(ls) == list(range(1, STEPS + 1)), ls
    if "losses" in RESULTS:
        assert ls == RESULTS["losses"], {s: (ls[s], RESULTS["losses"][s]) for s in ls if ls[s] != RESULTS["losses"][s]}
    print(f"\ncontract run with a kill: resumed at step {step}, Succeeded {elapsed:.0f} s after apply")


def test_trainer_config_error_exit_78_fails_the_job_without_restart(ns, claims, runner):
    """A token file missing from the dataset volume: the trainer exits 78 before any collective, moe-train passes
    78 through torchrun, and the operator fails the job without a restart (docs/contract.md section 3)."""
    claims("ckpt", "corpus")
    r = runner("cfgerr")
    spec = contract_job("cfgerr")
    spec["spec"]["training"]["dataset"] = {"type": "tokens", "claimName": "corpus", "path": "/data/tokens.bin"}
    apply(spec, ns)
    status = wait_job(r, "cfgerr", "Failed")
    assert status.get("restarts", 0) == 0, status
    failure = status["lastFailure"]
    assert failure["exitCode"] == 78 and failure["pod"] == f"cfgerr-node-{failure['rank']}", failure
    assert {p["exitCode"] for p in r.pods(attempt=0) if p["name"] == failure["pod"]} == {78}, r.pods()
    log = r.log(failure["pod"], 0)
    assert "configuration error (exit 78" in log and "token file not found" in log, log[-3000:]
    # The evidence outlives the pods: the failed container's last log lines (terminationMessagePolicy
    # FallbackToLogsOnError, the runner acting as the kubelet) are in lastFailure.message and the Failed Event.
    assert "token file not found" in failure.get("message", ""), failure
    events = events_of(ns, "cfgerr", reason="Failed")
    assert any("token file not found" in e["message"] for e in events), [e["message"] for e in events]
    assert not r.pods(attempt=1), "no second gang"


def condition(status, type_):
    return next((c for c in status.get("conditions", []) if c["type"] == type_), {})


def test_suspend_checkpoints_at_the_next_step_and_resume_continues_with_the_same_losses(ns, checkpoint_claim, runner):
    """suspend: true at step >= 7 with everySteps 1000: the operator asks for a checkpoint (pod annotation
    training.moe.dev/checkpoint-request, which the runner delivers into the pods' downwardAPI annotations file as a
    kubelet does), the trainers agree on the next step, save it and exit 143; the operator sees the checkpoint in
    status.progress.lastCheckpointStep and only then deletes the pods (a 2 s grace period: SIGTERM could not save
    it in time, and the trainer's log says it stopped on the annotation). Resuming recreates the gang, which
    continues from that checkpoint with the uninterrupted run's losses."""
    r = runner("pause", grace=2)
    spec = contract_job("pause")
    spec["spec"]["training"]["checkpoint"]["everySteps"] = 1000
    apply(spec, ns)
    loss_file = r.pvc("ckpt") / "losses.txt"
    try:
        wait(lambda: loss_file.exists() and max(losses(loss_file), default=0) >= 7, TIMEOUT, "step 7", interval=0.1)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{r.tail()}") from None
    seen = max(losses(loss_file))
    kubectl("patch", JOBS, "pause", "-n", ns, "--type=merge", "-p", json.dumps({"spec": {"suspend": True}}))
    status = wait_job(r, "pause", "Suspended", timeout=90)
    wait(
        lambda: (
            not pods(ns, "pause", include_deleting=True) and not [p for p in r.pods() if p.get("state") == "running"]
        ),
        60,
        "the pods and their processes gone",
    )
    latest = (r.pvc("ckpt") / "latest").read_text().strip()
    at = int(latest.split("-")[1])
    assert seen <= at < STEPS, (seen, latest)
    log0 = r.log("pause-node-0", 0)
    assert f"stopped at step {at} on request (training.moe.dev/checkpoint-request=" in log0, r.tail()
    assert max(losses(loss_file)) == at, "no step past the checkpoint ran"
    # the operator deleted the pods once the checkpoint was reported, not before: rank 0 had reported it
    stop = condition(status, "StopCheckpoint")
    assert (stop.get("status"), stop.get("reason")) == ("True", "CheckpointSaved"), status
    assert status["progress"]["lastCheckpointStep"] == at and "stopCheckpoint" not in status, status
    assert "lastFailure" not in status and status.get("restarts", 0) == 0, status
    saved = events_of(ns, "pause", reason="CheckpointSaved")
    assert any(f"checkpoint at step {at} saved" in e["message"] for e in saved), [e["message"] for e in saved]
    assert events_of(ns, "pause", reason="CheckpointRequested"), "the request is an Event too"

    kubectl("patch", JOBS, "pause", "-n", ns, "--type=merge", "-p", json.dumps({"spec": {"suspend": False}}))
    status = wait_job(r, "pause", "Succeeded")
    assert status.get("restarts", 0) == 0, status
    log = r.log("pause-node-0", 0)
    assert f"at step {at} (attempt 0)" in log and f"step {at + 1}/{STEPS}" in log, log[-3000:]
    ls = losses(loss_file)
    assert sorted(ls) == list(range(1, STEPS + 1)), ls
    if "losses" in RESULTS:
        assert ls == RESULTS["losses"], {s: (ls[s], RESULTS["losses"][s]) for s in ls if ls[s] != RESULTS["losses"][s]}
    print(f"\nsuspended at step {seen}, checkpoint at step {at} on the operator's request, resumed to Succeeded")


def test_suspend_of_a_trainer_that_ignores_the_request_stops_the_pods_after_the_timeout(ns, checkpoint_claim, runner):
    """The same suspend with a trainer that does not watch its annotations file (MOE_POD_ANNOTATIONS set empty in
    spec.trainer.env): the operator asks, nobody answers, and after checkpoint.stopTimeoutSeconds (5) it deletes
    the pods anyway: StopCheckpoint=False reason CheckpointTimeout and a Warning Event; the trainer kept training
    meanwhile and still saves on SIGTERM within the grace period."""
    r = runner("deaf", grace=30)
    spec = contract_job("deaf")
    spec["spec"]["training"]["checkpoint"].update({"everySteps": 1000, "stopTimeoutSeconds": 5})
    spec["spec"]["trainer"]["env"].append({"name": "MOE_POD_ANNOTATIONS", "value": ""})
    apply(spec, ns)
    loss_file = r.pvc("ckpt") / "losses.txt"
    try:
        wait(lambda: loss_file.exists() and max(losses(loss_file), default=0) >= 3, TIMEOUT, "step 3", interval=0.1)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{r.tail()}") from None
    kubectl("patch", JOBS, "deaf", "-n", ns, "--type=merge", "-p", json.dumps({"spec": {"suspend": True}}))
    status = wait_job(r, "deaf", "Suspended", timeout=90)
    stop = condition(status, "StopCheckpoint")
    assert (stop.get("status"), stop.get("reason")) == ("False", "CheckpointTimeout"), status
    assert "within 5s" in stop.get("message", ""), stop
    requested = events_of(ns, "deaf", reason="CheckpointRequested")
    timed_out = events_of(ns, "deaf", reason="CheckpointTimeout", type="Warning")
    assert requested and timed_out, (requested, timed_out)
    wait(
        lambda: (
            not pods(ns, "deaf", include_deleting=True) and not [p for p in r.pods() if p.get("state") == "running"]
        ),
        60,
        "the pods and their processes gone",
    )
    log0 = r.log("deaf-node-0", 0)
    assert "checkpoint-request" not in log0, "the trainer never saw the request"
    # the SIGTERM path, after the operator's wait; the kubelet's signal may reach the other pod's ranks first
    assert re.search(r"on request \(signal 15( on another rank)?\)", log0), log0[-3000:]
    # the pods ran through the wait: the trainer's SIGTERM checkpoint is past the step reported when it was asked
    asked_after = int(re.search(r"after step (\d+)", requested[0]["message"]).group(1))
    at = int((r.pvc("ckpt") / "latest").read_text().strip().split("-")[1])
    assert at > asked_after, (at, requested[0]["message"])
