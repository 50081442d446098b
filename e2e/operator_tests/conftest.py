"""Fixtures of the operator tier: the operator (e2e/bin/operator-up.sh) runs against the local control plane
(e2e/bin/cluster-up.sh); pods "run" on KWOK's fake GPU nodes and end as e2e/kwok/stages decide."""
import json
import os
import pathlib
import sys
import time
import uuid

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from kube import KubectlError, kubectl  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
JOBS = "moetrainingjobs.training.moe.dev"
TRAINING_SECONDS = int(os.environ.get("MOE_KWOK_TRAINING_SECONDS", "10"))


@pytest.fixture(scope="session", autouse=True)
def operator_running():
    try:
        kubectl("get", "--raw", "/readyz")
    except (KubectlError, FileNotFoundError) as e:
        pytest.exit(f"no reachable kube-apiserver (e2e/bin/cluster-up.sh, export KUBECONFIG): {e}", returncode=2)
    for f in sorted(REPO.glob("crds/*.y*ml")):
        kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=e2e-crd-install", "-f", str(f))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{JOBS}")
    port = os.environ.get("MOE_E2E_OPERATOR_PORT", "18080")
    if os.system(f"curl -fsS --max-time 2 http://127.0.0.1:{port}/q/health/ready >/dev/null 2>&1") != 0:
        pytest.exit("the operator is not running (e2e/bin/operator-up.sh)", returncode=2)


@pytest.fixture
def ns():
    name = f"e2e-op-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    wait(lambda: kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
         30, "default ServiceAccount")
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def wait(predicate, timeout, what, interval=0.5):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


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
    return {"apiVersion": "training.moe.dev/v1alpha1", "kind": "MoETrainingJob",
            "metadata": {"name": name}, "spec": spec}


def apply(obj, ns):
    return json.loads(kubectl("apply", "--server-side", "--field-manager=e2e-test", "-n", ns, "-o", "json",
                              "-f", "-", input=obj))


def job(ns, name):
    return json.loads(kubectl("get", JOBS, name, "-n", ns, "-o", "json"))


def phase(ns, name):
    return job(ns, name).get("status", {}).get("phase")


def pods(ns, name, include_deleting=False):
    items = json.loads(kubectl("get", "pods", "-n", ns, "-l", f"training.moe.dev/job={name}", "-o", "json"))["items"]
    return [p for p in items if include_deleting or not p["metadata"].get("deletionTimestamp")]


def env_of(pod):
    c = pod["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def wait_phase(ns, name, want, timeout):
    return wait(lambda: phase(ns, name) == want, timeout, f"job {ns}/{name} phase {want} (now {phase(ns, name)})")


def running_gang(ns, name, n, timeout=60):
    return wait(lambda: (lambda ps: ps if len(ps) == n and all(p["status"].get("phase") == "Running" for p in ps)
                         else None)(pods(ns, name)), timeout, f"{n} Running pods of {name}")


def fail_pod(ns, pod_name, code):
    """Failure injection: KWOK's moe-pod-exit stage terminates the pod with this exit code."""
    kubectl("annotate", "pod", pod_name, "-n", ns, f"e2e.moe.dev/exit-code={code}", "--overwrite")


FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
E2E = REPO / "e2e"
WORK = pathlib.Path(os.environ.get("MOE_E2E_WORK", str(REPO / "e2e" / ".work")))


def apply_file(path, ns):
    """kubectl apply -f FILE into the test namespace (fixtures carry no namespace)."""
    return kubectl("apply", "-n", ns, "-f", str(path))


def hold(ns, pod_names):
    """Keep pods Running (KWOK completes the operator's pods after MOE_KWOK_TRAINING_SECONDS otherwise)."""
    for n in pod_names:
        kubectl("annotate", "pod", n, "-n", ns, "e2e.moe.dev/hold=true", "--overwrite", check=False)


def gpu_holders():
    """Pods in any namespace that are bound to a node and not finished: they hold the node's GPUs."""
    items = json.loads(kubectl("get", "pods", "-A", "-o", "json"))["items"]
    return [p for p in items if p["spec"].get("nodeName") and p["status"].get("phase") not in ("Succeeded", "Failed")
            and p["spec"]["containers"][0].get("resources", {}).get("requests", {}).get("nvidia.com/gpu")]


def wait_fleet_free(timeout=120):
    """Earlier tests' namespaces are deleted asynchronously: wait until no pod holds GPUs."""
    wait(lambda: not gpu_holders(), timeout, "every GPU free (earlier tests' pods gone)")


def node_labels():
    items = json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
    return {n["metadata"]["name"]: n["metadata"].get("labels", {}) for n in items}


def condition(status, ctype):
    return next((c for c in status.get("conditions", []) if c["type"] == ctype), None)


def node_rank(pod):
    return int(pod["metadata"]["labels"]["training.moe.dev/node-rank"])
