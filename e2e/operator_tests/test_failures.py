"""Operator tier: failures of the cluster around a job (a node lost, the operator killed, not enough GPUs).
Jobs come from fixture files through `kubectl apply -f`."""

import json
import os
import select
import signal
import subprocess
import time

from conftest import (
    E2E,
    FIXTURES,
    JOBS,
    WORK,
    apply_file,
    condition,
    env_of,
    events_of,
    gpu_holders,
    job,
    kubectl,
    node_rank,
    pods,
    running_gang,
    wait,
    wait_fleet_free,
)


def _restore_node(node):
    """Recreate a deleted KWOK node from its saved object (kwok manages it again through its annotation)."""
    for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        node["metadata"].pop(k, None)
    node["status"] = {"capacity": node["status"]["capacity"], "allocatable": node["status"]["allocatable"]}
    node["spec"] = {}
    kubectl("create", "-f", "-", input=node)
    name = node["metadata"]["name"]
    wait(
        lambda: (
            "True"
            in kubectl(
                "get", "node", name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False
            ).stdout
        ),
        60,
        f"node {name} Ready again",
    )


def test_node_deleted_under_a_running_job_restarts_the_gang_elsewhere(ns):
    apply_file(FIXTURES / "tiny-hold.yaml", ns)
    gang = running_gang(ns, "tiny-hold", 2)
    victim = next(p for p in gang if node_rank(p) == 1)
    node_name = victim["spec"]["nodeName"]
    saved = json.loads(kubectl("get", "node", node_name, "-o", "json"))
    first_uids = {p["metadata"]["uid"] for p in gang}
    t0 = time.time()
    kubectl("delete", "node", node_name)
    try:
        # kube-controller-manager's pod GC deletes the pods bound to a node that no longer exists (after its
        # 40 s quarantine); the operator sees a rank vanish and restarts the whole gang.
        # A lost node is the cluster's doing: an infrastructure restart, which does not spend maxRestarts (a pod GC
        # deletion the operator saw only as a vanished rank is PodDeleted, counted).
        wait(lambda: job(ns, "tiny-hold").get("status", {}).get("restartAttempt") == 1, 150, "restartAttempt == 1")
        status = job(ns, "tiny-hold")["status"]
        failure = status["lastFailure"]
        assert failure["reason"] in ("NodeLost", "PodDeleted"), failure
        counted = "restarts" if failure["reason"] == "PodDeleted" else "infrastructureRestarts"
        assert status.get(counted) == 1, status
        assert failure["rank"] == 1 and failure["pod"] == "tiny-hold-node-1", failure
        new = running_gang(ns, "tiny-hold", 2, timeout=60)
        print(f"node {node_name} deleted -> gang running again after {time.time() - t0:.1f}s; failure {failure}")
        assert not first_uids & {p["metadata"]["uid"] for p in new}, "the whole gang must be recreated"
        assert node_name not in {p["spec"]["nodeName"] for p in new}
        assert {env_of(p)["MOE_RESTART_ATTEMPT"] for p in new} == {"1"}
        assert job(ns, "tiny-hold")["status"]["restartAttempt"] == 1
        events = events_of(ns, "tiny-hold", reason="GangRestart")
        assert events, "a GangRestart event is recorded"
    finally:
        if kubectl("get", "node", node_name, check=False).returncode != 0:
            _restore_node(saved)


def _operator_pid():
    return int((WORK / "pids" / "operator.pid").read_text().strip())


def test_operator_killed_while_creating_the_gang_leaves_no_duplicate_ranks(ns):
    wait_fleet_free()
    watch = subprocess.Popen(
        ["kubectl", "get", "pods", "-n", ns, "-l", "training.moe.dev/job=fleet", "--watch", "-o", "name"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        apply_file(FIXTURES / "whole-fleet.yaml", ns)
        # the first pod of the gang exists: the operator is creating the rest
        ready, _, _ = select.select([watch.stdout], [], [], 120)
        assert ready and watch.stdout.readline(), "the operator created no pod of the gang within 120 s"
        os.kill(_operator_pid(), signal.SIGKILL)
    finally:
        watch.kill()
    at_kill = len(pods(ns, "fleet", include_deleting=True))
    print(f"operator killed with {at_kill} of 16 pods created")
    subprocess.run([str(E2E / "bin" / "operator-up.sh")], check=True, timeout=180)
    gang = running_gang(ns, "fleet", 16, timeout=120)
    ranks = sorted(node_rank(p) for p in pods(ns, "fleet", include_deleting=True))
    assert ranks == list(range(16)), f"each node rank exactly once, got {ranks}"
    assert len({p["spec"]["nodeName"] for p in gang}) == 16
    wait(lambda: job(ns, "fleet").get("status", {}).get("phase") == "Running", 60, "status Running")
    status = job(ns, "fleet")["status"]
    attempt = status.get("restartAttempt", 0)
    assert {p["metadata"]["labels"]["training.moe.dev/attempt"] for p in gang} == {str(attempt)}
    assert {env_of(p)["MOE_RESTART_ATTEMPT"] for p in gang} == {str(attempt)}
    assert status.get("restarts", 0) == 0, status
    assert condition(status, "GangScheduled")["status"] == "True"
    assert condition(status, "Running")["status"] == "True"
    kubectl("delete", JOBS, "fleet", "-n", ns, "--wait=false")


def test_not_enough_gpus_times_out_without_holding_a_partial_gang(ns):
    wait_fleet_free()
    apply_file(FIXTURES / "not-enough-gpus.yaml", ns)
    wait(lambda: job(ns, "too-big").get("status", {}).get("gangMode"), 30, "status.gangMode of too-big")
    if job(ns, "too-big")["status"]["gangMode"] == "Native":
        # The native gang (scheduling.k8s.io/v1alpha2, minCount 20): kube-scheduler binds none of the 20 pods, so
        # no GPU is held and the scheduling timeout (5 s) has nothing to give back: the gang keeps waiting.
        wait(lambda: len(pods(ns, "too-big")) == 20, 30, "the 20 pods created")
        wait(
            lambda: any(
                c["type"] == "PodGroupScheduled" and c["status"] == "False"
                for c in json.loads(kubectl("get", "podgroups.scheduling.k8s.io", "too-big-a0", "-n", ns, "-o", "json"))
                .get("status", {})
                .get("conditions", [])
            ),
            60,
            "kube-scheduler to find the gang unschedulable",
        )
        apply_file(FIXTURES / "tiny.yaml", ns)
        running_gang(ns, "tiny", 2, timeout=60)  # the GPUs are free for others
        st = job(ns, "too-big")["status"]
        assert not [p for p in pods(ns, "too-big") if p["spec"].get("nodeName")], "a partial gang holds GPUs"
        assert st["phase"] == "Pending" and st.get("restartAttempt", 0) == 0, st
        assert st.get("lastFailure") is None, st
        assert condition(st, "GangScheduled")["status"] == "False"
        kubectl("delete", JOBS, "too-big", "-n", ns, "--wait=false")
        return
    # 16 of 20 pods get a node, 4 stay Pending (Insufficient nvidia.com/gpu) ...
    timed_out = lambda: (  # noqa: E731
        job(ns, "too-big").get("status", {}).get("lastFailure", {}).get("reason") == "GangSchedulingTimeout"
    )  # noqa: E731
    wait(
        lambda: sum(1 for p in pods(ns, "too-big") if p["spec"].get("nodeName")) == 16 or timed_out(),
        60,
        "16 of 20 pods bound",
    )
    # the status is patched after the reconcile that creates the 20 pods
    st = wait(
        lambda: (lambda s: s if s.get("phase") else None)(job(ns, "too-big").get("status", {})), 30, "status of too-big"
    )
    assert st["phase"] in ("Pending", "Restarting"), st
    # ... and after gangSchedulingTimeoutSeconds (5 s) the partial gang is given back.
    wait(
        lambda: job(ns, "too-big")["status"].get("lastFailure", {}).get("reason") == "GangSchedulingTimeout",
        60,
        "GangSchedulingTimeout",
    )
    st = job(ns, "too-big")["status"]
    assert st["phase"] == "Restarting", st
    wait(lambda: not pods(ns, "too-big", include_deleting=True), 30, "the partial gang deleted")
    assert not [p for p in gpu_holders() if p["metadata"]["namespace"] == ns]
    running = condition(st, "Running")
    assert running["status"] == "False" and running["reason"] == "GangSchedulingTimeout", running
    assert "16 of 20" in running["message"], running
    assert condition(st, "GangScheduled")["status"] == "False"
    assert st.get("restarts", 0) == 0, "a scheduling timeout is not a training failure"
    # The GPUs are free for others meanwhile: a small job runs during the backoff.
    apply_file(FIXTURES / "tiny.yaml", ns)
    running_gang(ns, "tiny", 2, timeout=60)
    # The big job keeps retrying (past maxRestarts=1) instead of failing.
    wait(lambda: job(ns, "too-big")["status"].get("restartAttempt", 0) >= 2, 90, "a second timeout")
    st = job(ns, "too-big")["status"]
    assert st["phase"] in ("Pending", "Restarting") and st.get("restarts", 0) == 0, st
    events = events_of(ns, "too-big", reason="GangSchedulingTimeout")
    assert events and "16 of 20" in events[0]["message"], events
    kubectl("delete", JOBS, "too-big", "-n", ns, "--wait=false")
