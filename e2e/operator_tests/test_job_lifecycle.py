"""Operator tier: MoETrainingJob lifecycle on a real control plane (apiserver, scheduler, controller-manager,
KWOK GPU nodes). Pods complete after MOE_KWOK_TRAINING_SECONDS; failures are injected by annotating a running pod
with e2e.moe.dev/exit-code (see e2e/README.md)."""

import json

from conftest import (
    JOBS,
    REPO,
    TRAINING_SECONDS,
    apply,
    env_of,
    fail_pod,
    job,
    kubectl,
    phase,
    pods,
    running_gang,
    tiny_job,
    wait,
    wait_phase,
)


def test_job_runs_to_success_with_the_contracts_pods(ns):
    apply(tiny_job("tiny"), ns)
    gang = running_gang(ns, "tiny", 2)
    # status follows the pods through the informer: Running (or already Succeeded, which passed through Running)
    wait(lambda: phase(ns, "tiny") in ("Running", "Succeeded"), 30, "job phase Running")
    assert job(ns, "tiny")["status"].get("startTime"), "startTime is set when the whole gang runs"
    # one pod per node, all GPUs of the node, pinned to the GPU product
    assert len({p["spec"]["nodeName"] for p in gang}) == 2
    for p in gang:
        limits = p["spec"]["containers"][0]["resources"].get("limits", {})
        assert limits.get("nvidia.com/gpu") == "2", limits
        assert p["spec"].get("nodeSelector", {}).get("nvidia.com/gpu.product") == "NVIDIA-H100-80GB-HBM3"
    # torchrun-compatible env (docs/contract.md §2)
    envs = [env_of(p) for p in gang]
    assert sorted(e["NODE_RANK"] for e in envs) == ["0", "1"]
    for e in envs:
        assert e["NNODES"] == "2" and e["NPROC_PER_NODE"] == "2" and e["WORLD_SIZE"] == "4"
        assert e["MASTER_ADDR"] == f"tiny-node-0.tiny.{ns}.svc" and e["MASTER_PORT"] == "29500"
        assert e["MOE_PLAN_PATH"] == "/etc/moe/plan.json" and e["MOE_RESTART_ATTEMPT"] == "0"
    # plan ConfigMap and headless Service
    plan = json.loads(json.loads(kubectl("get", "configmap", "tiny-plan", "-n", ns, "-o", "json"))["data"]["plan.json"])
    assert plan["apiVersion"] == "training.moe.dev/plan-v1" and plan["world"]["size"] == 4
    svc = json.loads(kubectl("get", "service", "tiny", "-n", ns, "-o", "json"))
    assert svc["spec"]["clusterIP"] == "None"
    status = job(ns, "tiny")["status"]
    assert status["plan"]["worldSize"] == 4
    wait_phase(ns, "tiny", "Succeeded", TRAINING_SECONDS + 60)
    assert job(ns, "tiny")["status"].get("completionTime")


def test_deleting_the_job_garbage_collects_what_it_owns(ns):
    apply(tiny_job("gc"), ns)
    running_gang(ns, "gc", 2)
    # everything the job owns carries a controller owner reference to it (what the garbage collector follows)
    uid = job(ns, "gc")["metadata"]["uid"]
    for kind, name in (
        ("configmap", "gc-plan"),
        ("service", "gc"),
        ("serviceaccount", "gc-trainer"),
        ("role.rbac.authorization.k8s.io", "gc-trainer"),
        ("rolebinding.rbac.authorization.k8s.io", "gc-trainer"),
    ):
        refs = json.loads(kubectl("get", kind, name, "-n", ns, "-o", "json"))["metadata"]["ownerReferences"]
        assert [(r["uid"], r.get("controller")) for r in refs] == [(uid, True)], (kind, refs)
    kubectl("delete", JOBS, "gc", "-n", ns, "--wait=true")
    wait(lambda: not pods(ns, "gc", include_deleting=True), 60, "pods garbage-collected")
    wait(lambda: kubectl("get", "configmap", "gc-plan", "-n", ns, check=False).returncode != 0, 60, "plan ConfigMap GC")
    wait(lambda: kubectl("get", "service", "gc", "-n", ns, check=False).returncode != 0, 60, "Service GC")
    for kind in ("serviceaccount", "role.rbac.authorization.k8s.io", "rolebinding.rbac.authorization.k8s.io"):
        wait(lambda: kubectl("get", kind, "gc-trainer", "-n", ns, check=False).returncode != 0, 60, f"{kind} GC")  # noqa: B023


def test_retriable_failure_restarts_the_whole_gang(ns):
    apply(tiny_job("retry"), ns)
    gang = running_gang(ns, "retry", 2)
    first = {p["metadata"]["uid"] for p in gang}
    fail_pod(ns, gang[1]["metadata"]["name"], 75)
    wait(lambda: job(ns, "retry").get("status", {}).get("restarts") == 1, 60, "status.restarts == 1")
    failure = job(ns, "retry")["status"]["lastFailure"]
    assert failure["exitCode"] == 75, failure
    new = running_gang(ns, "retry", 2)
    assert not first & {p["metadata"]["uid"] for p in new}, "every pod of the gang must be recreated"
    assert {env_of(p)["MOE_RESTART_ATTEMPT"] for p in new} == {"1"}
    wait_phase(ns, "retry", "Succeeded", TRAINING_SECONDS + 60)


def test_config_error_exit_code_fails_the_job_without_restart(ns):
    apply(tiny_job("cfgerr"), ns)
    gang = running_gang(ns, "cfgerr", 2)
    fail_pod(ns, gang[0]["metadata"]["name"], 78)
    wait_phase(ns, "cfgerr", "Failed", 60)
    status = job(ns, "cfgerr")["status"]
    assert status.get("restarts", 0) == 0 and status["lastFailure"]["exitCode"] == 78, status


def test_configured_non_retryable_exit_code_fails_the_job(ns):
    apply(tiny_job("nonretry", restartPolicy={"nonRetryableExitCodes": [42]}), ns)
    gang = running_gang(ns, "nonretry", 2)
    fail_pod(ns, gang[0]["metadata"]["name"], 42)
    wait_phase(ns, "nonretry", "Failed", 60)
    assert job(ns, "nonretry")["status"].get("restarts", 0) == 0


def test_job_fails_after_max_restarts(ns):
    apply(tiny_job("exhaust", restartPolicy={"maxRestarts": 1}), ns)
    gang = running_gang(ns, "exhaust", 2)
    fail_pod(ns, gang[0]["metadata"]["name"], 1)
    wait(lambda: job(ns, "exhaust").get("status", {}).get("restarts") == 1, 60, "first restart")
    gang = running_gang(ns, "exhaust", 2)
    fail_pod(ns, gang[0]["metadata"]["name"], 1)
    wait_phase(ns, "exhaust", "Failed", 60)
    assert job(ns, "exhaust")["status"]["restarts"] == 1


def test_suspend_deletes_pods_and_resume_recreates_them(ns):
    apply(tiny_job("pause"), ns)
    running_gang(ns, "pause", 2)
    kubectl("patch", JOBS, "pause", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}')
    wait(lambda: not pods(ns, "pause", include_deleting=True), 60, "pods deleted on suspend")
    wait_phase(ns, "pause", "Suspended", 30)
    kubectl("patch", JOBS, "pause", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":false}}')
    running_gang(ns, "pause", 2)


def test_invalid_plan_is_reported_in_status_and_creates_no_pods(ns):
    path = REPO / "examples" / "invalid" / "tensor-not-dividing-heads.yaml"
    kubectl("apply", "-n", ns, "-f", str(path))
    name = "tensor-not-dividing-heads"
    wait_phase(ns, name, "Invalid", 60)
    conditions = {c["type"]: c for c in job(ns, name)["status"].get("conditions", [])}
    assert conditions["PlanValid"]["status"] == "False"
    assert "tensor" in conditions["PlanValid"]["message"]
    assert not pods(ns, name)
