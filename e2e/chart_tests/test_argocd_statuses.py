"""Statuses of every phase, recorded from the live cluster for the Argo CD health check's tests (issue 14).

Drives one job into each phase the operator writes on the real control plane (pods on KWOK's fake GPU nodes) and
saves the job's `.status`, as the API server returns it, to $MOE_E2E_WORK/argocd-statuses/<phase>.json; with
MOE_E2E_RECORD_ARGOCD=1 also to charts/tests/argocd_statuses/recorded/, which charts/tests/test_argocd_health.py
runs the Lua script on (commit them). Re-record after a status change:

    MOE_E2E_RECORD_ARGOCD=1 MOE_E2E_SUITES=chart bash e2e/run-tests.sh

- Pending: a GPU product no node has (GangScheduled=False, NoNodeFits);
- Running: pods held Running (E2E_MOE_HOLD);
- Restarting: a held pod fails with a retriable code, within a long backoff;
- Suspended: spec.suspend;
- Succeeded: KWOK completes the pods;
- Failed: a held pod fails with 78 (configuration error, no restart);
- Invalid: a plan the engine refuses (no webhook is registered while this file runs: it sorts before
  test_helm_install.py, and the webhook suite removes its own).
Without recording, each live status is compared with the committed one of its phase by its top-level fields, so
a status that gained or lost a field fails here until the fixtures are recorded again."""

import json
import os
import pathlib
import sys
import uuid

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
from cluster import (  # noqa: E402
    JOBS,
    REPO,
    WORK,
    apply,
    cluster_and_operator_problem,
    condition,
    job,
    kubectl,
    pods,
    tiny_job,
    wait,
)

RECORDED = REPO / "charts" / "tests" / "argocd_statuses" / "recorded"
OUT = WORK / "argocd-statuses"
RECORD = os.environ.get("MOE_E2E_RECORD_ARGOCD") == "1"
TRAINING_SECONDS = int(os.environ.get("MOE_KWOK_TRAINING_SECONDS", "10"))
HOLD = {"env": [{"name": "E2E_MOE_HOLD", "value": "1"}]}
# A recorded fixture names the job's namespace "default": the test namespace is random.
FIXTURE_NAMESPACE = "default"


def status_when(ns, name, predicate, timeout, what):
    def probe():
        st = job(ns, name).get("status") or {}
        return st if predicate(st) else None

    return wait(probe, timeout, f"{name}: {what}")


def running_pods(ns, name, n=2, timeout=60):
    def probe():
        ps = pods(ns, name)
        return ps if len(ps) == n and all(p["status"].get("phase") == "Running" for p in ps) else None

    return wait(probe, timeout, f"{n} Running pods of {name}")


def fail(ns, pod, code):
    kubectl("annotate", "pod", pod["metadata"]["name"], "-n", ns, f"e2e.moe.dev/exit-code={code}", "--overwrite")


def pending(ns):
    apply(tiny_job("rec-pending", resources={"gpuProduct": "NVIDIA-A100-SXM4-80GB"}), ns)
    return "rec-pending", status_when(
        ns,
        "rec-pending",
        lambda st: (
            st.get("phase") == "Pending" and (condition(st, "GangScheduled") or {}).get("reason") == "NoNodeFits"
        ),
        60,
        "Pending with GangScheduled=False, NoNodeFits",
    )


def running(ns):
    apply(tiny_job("rec-running", trainer=HOLD), ns)
    running_pods(ns, "rec-running")
    return "rec-running", status_when(ns, "rec-running", lambda st: st.get("phase") == "Running", 60, "Running")


def restarting(ns):
    policy = {"maxRestarts": 3, "backoffSeconds": 120, "maxBackoffSeconds": 120}
    apply(tiny_job("rec-restarting", trainer=HOLD, restartPolicy=policy), ns)
    fail(ns, running_pods(ns, "rec-restarting")[1], 75)
    return "rec-restarting", status_when(
        ns,
        "rec-restarting",
        lambda st: st.get("phase") == "Restarting" and st.get("lastFailure"),
        60,
        "Restarting with lastFailure",
    )


def suspended(ns):
    apply(tiny_job("rec-suspended", suspend=True), ns)
    return "rec-suspended", status_when(ns, "rec-suspended", lambda st: st.get("phase") == "Suspended", 60, "Suspended")


def succeeded(ns):
    apply(tiny_job("rec-succeeded"), ns)
    return "rec-succeeded", status_when(
        ns, "rec-succeeded", lambda st: st.get("phase") == "Succeeded", TRAINING_SECONDS + 90, "Succeeded"
    )


def failed(ns):
    apply(tiny_job("rec-failed", trainer=HOLD), ns)
    fail(ns, running_pods(ns, "rec-failed")[0], 78)
    return "rec-failed", status_when(
        ns, "rec-failed", lambda st: st.get("phase") == "Failed" and st.get("lastFailure"), 60, "Failed"
    )


def invalid(ns):
    apply(tiny_job("rec-invalid", parallelism={"expert": 3}), ns)
    return "rec-invalid", status_when(
        ns, "rec-invalid", lambda st: st.get("phase") == "Invalid" and condition(st, "PlanValid"), 60, "Invalid"
    )


PHASES = {
    "Pending": pending,
    "Running": running,
    "Restarting": restarting,
    "Suspended": suspended,
    "Succeeded": succeeded,
    "Failed": failed,
    "Invalid": invalid,
}


@pytest.fixture(scope="module")
def ns():
    problem = cluster_and_operator_problem()
    if problem:
        pytest.fail(problem)
    name = f"e2e-argocd-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def fixture_of(ns, name, status):
    obj = job(ns, name)
    record = {
        "recordedBy": "e2e/chart_tests/test_argocd_statuses.py (the e2e cluster; see its docstring)",
        "object": {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "metadata": {"name": name, "namespace": ns, "generation": obj["metadata"]["generation"]},
            "status": status,
        },
    }
    # the random test namespace appears in messages too (pod and Service names)
    return json.loads(json.dumps(record).replace(ns, FIXTURE_NAMESPACE))


@pytest.mark.parametrize("phase", list(PHASES))
def test_record_the_status_of_each_phase(ns, phase):
    name, status = PHASES[phase](ns)
    assert status["phase"] == phase
    assert status.get("observedGeneration") == job(ns, name)["metadata"]["generation"]
    record = fixture_of(ns, name, status)
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{phase.lower()}.json").write_text(text)
    committed = RECORDED / f"{phase.lower()}.json"
    if RECORD:
        RECORDED.mkdir(parents=True, exist_ok=True)
        committed.write_text(text)
    else:
        assert committed.exists(), f"no recorded {phase} status: MOE_E2E_RECORD_ARGOCD=1 (this file's docstring)"
        was = json.loads(committed.read_text())["object"]["status"]
        assert sorted(was) == sorted(status), (
            f"the {phase} status's fields changed ({sorted(status)} now, {sorted(was)} recorded): record again"
            f" (MOE_E2E_RECORD_ARGOCD=1), the live one is in {OUT}"
        )
    # free the fake GPUs for the next phases and suites
    kubectl("delete", JOBS, name, "-n", ns, "--wait=false")
