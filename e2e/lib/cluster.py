"""The running e2e cluster and operator, shared by the pytest tiers that drive the operator (e2e/operator_tests,
e2e/hostile_tests): bounded waits, MoETrainingJobs and their pods, and the operator process that
e2e/bin/operator-up.sh started (its PID, health endpoints and log). stdlib + kubectl only."""

import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request

E2E = pathlib.Path(__file__).resolve().parents[1]
REPO = E2E.parent
sys.path.insert(0, str(E2E / "tests"))
from kube import KubectlError, kubectl  # noqa: E402,F401  (re-exported)

WORK = pathlib.Path(os.environ.get("MOE_E2E_WORK", str(E2E / ".work")))
JOBS = "moetrainingjobs.training.moe.dev"
JOB_LABEL = "training.moe.dev/job"
OPERATOR_PORT = int(os.environ.get("MOE_E2E_OPERATOR_PORT", "18080"))
OPERATOR_LOG = WORK / "logs" / "operator.log"
OPERATOR_PID_FILE = WORK / "pids" / "operator.pid"


def wait(predicate, timeout, what, interval=0.5):
    """Polls predicate until it returns something truthy (returned) or the deadline passes (AssertionError)."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def wait_or_none(predicate, timeout, interval=0.5):
    """Like wait(), but returns None at the deadline (for tests that build their own failure message)."""
    try:
        return wait(predicate, timeout, "", interval)
    except AssertionError:
        return None


def install_crds():
    for f in sorted(REPO.glob("crds/*.y*ml")):
        kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=e2e-crd-install", "-f", str(f))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{JOBS}")


def cluster_and_operator_problem():
    """None when the apiserver answers and the operator is ready (crds/ applied first); else what is missing."""
    try:
        kubectl("get", "--raw", "/readyz")
    except (KubectlError, FileNotFoundError) as e:
        return f"no reachable kube-apiserver (e2e/bin/cluster-up.sh, export KUBECONFIG): {e}"
    install_crds()
    if operator_health("ready") != "UP":
        return "the operator is not running (e2e/bin/operator-up.sh)"
    return None


def tiny_job(name, **spec_overrides):
    """examples/tiny-cpu.yaml's spec (2 nodes × 2 GPUs, tiny-moe), with overrides merged at the top level."""
    spec = {
        "model": {"preset": "tiny-moe"},
        "parallelism": {"tensor": 2, "expert": 2},
        "resources": {"nodes": 2, "gpusPerNode": 2, "gpuProduct": "NVIDIA-H100-80GB-HBM3"},
        "training": {"seqLength": 64, "microBatchSize": 2, "globalBatchSize": 8, "steps": 20},
        "restartPolicy": {"maxRestarts": 3, "backoffSeconds": 1, "maxBackoffSeconds": 2},
    }
    for k, v in spec_overrides.items():
        spec[k] = {**spec.get(k, {}), **v} if isinstance(v, dict) else v
    return {
        "apiVersion": "training.moe.dev/v1alpha1",
        "kind": "MoETrainingJob",
        "metadata": {"name": name},
        "spec": spec,
    }


def apply(obj, ns):
    return json.loads(
        kubectl("apply", "--server-side", "--field-manager=e2e-test", "-n", ns, "-o", "json", "-f", "-", input=obj)
    )


def job(ns, name):
    return json.loads(kubectl("get", JOBS, name, "-n", ns, "-o", "json"))


def phase(ns, name):
    return job(ns, name).get("status", {}).get("phase")


def pods(ns, name, include_deleting=False):
    items = json.loads(kubectl("get", "pods", "-n", ns, "-l", f"{JOB_LABEL}={name}", "-o", "json"))["items"]
    return [p for p in items if include_deleting or not p["metadata"].get("deletionTimestamp")]


def condition(status, ctype):
    return next((c for c in status.get("conditions", []) if c["type"] == ctype), None)


def events_of(ns, name, reason=None, type=None):
    """Events recorded on the object called name in ns, of one reason and/or type when given."""
    selector = (
        f"involvedObject.name={name}" + (f",reason={reason}" if reason else "") + (f",type={type}" if type else "")
    )
    return json.loads(kubectl("get", "events", "-n", ns, "--field-selector", selector, "-o", "json"))["items"]


def warning_events(ns, name):
    """Warning Events recorded on the object called name in ns."""
    return events_of(ns, name, type="Warning")


def operator_pid():
    """PID of the operator that operator-up.sh started (None when it never started)."""
    try:
        return int(OPERATOR_PID_FILE.read_text().strip())
    except (OSError, ValueError):
        return None


def process_alive(pid):
    """Running and not a zombie (a killed operator lingers as one until reaped)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except OSError:
        return False


def operator_health(probe):
    """Status of /q/health/<probe> ("live" or "ready"): "UP", "DOWN", or None when it does not answer."""
    url = f"http://127.0.0.1:{OPERATOR_PORT}/q/health/{probe}"
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return json.load(r).get("status")
    except urllib.error.HTTPError as e:  # 503 with the same JSON body when DOWN
        try:
            return json.load(e).get("status")
        except ValueError:
            return None
    except (OSError, ValueError):
        return None


def stop_operator(timeout=30):
    """SIGTERM to the operator started by operator-up.sh, then SIGKILL if it has not exited within timeout."""
    pid = operator_pid()
    if pid is None or not process_alive(pid):
        return
    os.kill(pid, 15)
    try:
        wait(lambda: not process_alive(pid), timeout, f"operator pid {pid} to exit", interval=0.2)
    except AssertionError:
        os.kill(pid, 9)
        wait(lambda: not process_alive(pid), 10, f"operator pid {pid} to die", interval=0.2)


def start_operator(timeout=180):
    """e2e/bin/operator-up.sh (applies crds/, starts the operator, waits until it is up); returns the new PID."""
    subprocess.run([str(E2E / "bin" / "operator-up.sh")], check=True, timeout=timeout)
    return operator_pid()
