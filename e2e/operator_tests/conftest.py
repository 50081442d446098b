"""Fixtures of the operator tier: the operator (e2e/bin/operator-up.sh) runs against the local control plane
(e2e/bin/cluster-up.sh); pods "run" on KWOK's fake GPU nodes and end as e2e/kwok/stages decide. The helpers shared
with e2e/hostile_tests live in e2e/lib/cluster.py; the tests import them from here."""

import json
import os
import pathlib
import sys
import uuid

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
# The tests import the cluster helpers from here: the names this file does not use itself are re-exports.
from cluster import (  # noqa: E402
    E2E,  # noqa: F401
    JOBS,  # noqa: F401
    OPERATOR_PORT,  # noqa: F401
    REPO,  # noqa: F401
    WORK,  # noqa: F401
    KubectlError,  # noqa: F401
    apply,  # noqa: F401
    cluster_and_operator_problem,
    condition,  # noqa: F401
    events_of,  # noqa: F401
    job,  # noqa: F401
    kubectl,
    operator_health,  # noqa: F401
    phase,
    pods,
    start_operator,  # noqa: F401
    stop_operator,  # noqa: F401
    tiny_job,  # noqa: F401
    wait,
)

TRAINING_SECONDS = int(os.environ.get("MOE_KWOK_TRAINING_SECONDS", "10"))
# spec.trainer of a job whose pods KWOK keeps Running until they are failed or deleted (e2e/kwok/stages)
HELD_TRAINER = {"env": [{"name": "E2E_MOE_HOLD", "value": "true"}]}


@pytest.fixture(scope="session", autouse=True)
def operator_running():
    problem = cluster_and_operator_problem()
    if problem:
        pytest.exit(problem, returncode=2)


@pytest.fixture
def ns():
    name = f"e2e-op-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    wait(
        lambda: kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
        30,
        "default ServiceAccount",
    )
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def env_of(pod):
    """The trainer container's environment as the kubelet builds it: the data of each ConfigMap of its envFrom (read
    from the API server: it must exist), then its own env over it (valueFrom entries as None)."""
    c = pod["spec"]["containers"][0]
    env = {}
    for source in c.get("envFrom", []):
        ref = source["configMapRef"]["name"]
        cm = json.loads(kubectl("get", "configmap", ref, "-n", pod["metadata"]["namespace"], "-o", "json"))
        env.update({source.get("prefix", "") + k: v for k, v in (cm.get("data") or {}).items()})
    env.update({e["name"]: e.get("value") for e in c.get("env", [])})
    return env


def wait_phase(ns, name, want, timeout):
    return wait(lambda: phase(ns, name) == want, timeout, f"job {ns}/{name} phase {want} (now {phase(ns, name)})")


def running_gang(ns, name, n, timeout=60):
    return wait(
        lambda: (lambda ps: ps if len(ps) == n and all(p["status"].get("phase") == "Running" for p in ps) else None)(
            pods(ns, name)
        ),
        timeout,
        f"{n} Running pods of {name}",
    )


def fail_pod(ns, pod_name, code):
    """Failure injection: KWOK's moe-pod-exit stage terminates the pod with this exit code."""
    kubectl("annotate", "pod", pod_name, "-n", ns, f"e2e.moe.dev/exit-code={code}", "--overwrite")


FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"


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
    return [
        p
        for p in items
        if p["spec"].get("nodeName")
        and p["status"].get("phase") not in ("Succeeded", "Failed")
        and p["spec"]["containers"][0].get("resources", {}).get("requests", {}).get("nvidia.com/gpu")
    ]


def wait_fleet_free(timeout=120):
    """Earlier tests' namespaces are deleted asynchronously: wait until no pod holds GPUs."""
    wait(lambda: not gpu_holders(), timeout, "every GPU free (earlier tests' pods gone)")


def node_labels():
    items = json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
    return {n["metadata"]["name"]: n["metadata"].get("labels", {}) for n in items}


def node_rank(pod):
    return int(pod["metadata"]["labels"]["training.moe.dev/node-rank"])
