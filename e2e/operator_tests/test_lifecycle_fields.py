"""Operator tier: the lifecycle fields and pod overrides users expect from batch/v1 Job, JobSet and Kubeflow
(issue 13 part 3) on the real control plane: priorityClassName (a real PriorityClass, the API server's Priority
admission), CPU/memory defaults and overrides (the API server's QoS class), activeDeadlineSeconds,
ttlSecondsAfterFinished (kube-controller-manager's garbage collector takes the children) and managedBy."""

import json
import uuid

from conftest import (
    JOBS,
    KubectlError,
    apply,
    condition,
    events_of,
    job,
    kubectl,
    pods,
    running_gang,
    tiny_job,
    wait,
    wait_phase,
)

HOLD = {"e2e.moe.dev/hold": "true"}  # KWOK keeps such pods Running until deleted (e2e/README.md)


def _gone(kind, name, ns):
    return kubectl("get", kind, name, "-n", ns, "--ignore-not-found", "-o", "name").strip() == ""


def test_priority_class_resources_and_pod_overrides_reach_the_pods(ns):
    pc = f"e2e-train-{uuid.uuid4().hex[:6]}"
    kubectl("create", "priorityclass", pc, "--value=1000", "--description=e2e lifecycle fields")
    try:
        kubectl("create", "configmap", "settings", "-n", ns, "--from-literal=a=1")
        spec = {
            "placement": {"priorityClassName": pc},
            "pod": {
                "labels": {"team.example.com/owner": "research"},
                "annotations": {**HOLD, "example.com/note": "lifecycle"},
                "imagePullSecrets": [{"name": "registry-creds"}],
                "securityContext": {"runAsUser": 1000, "runAsNonRoot": True, "fsGroup": 2000},
                "volumes": [
                    {"name": "cache", "emptyDir": {"sizeLimit": "10Gi"}},
                    {"name": "cfg", "configMap": {"name": "settings"}},
                ],
            },
            "trainer": {
                "resources": {"requests": {"cpu": "3", "memory": "5Gi"}, "limits": {"memory": "6Gi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"add": ["IPC_LOCK"]}},
                "volumeMounts": [
                    {"name": "cache", "mountPath": "/mnt/cache"},
                    {"name": "cfg", "mountPath": "/etc/settings", "readOnly": True},
                ],
            },
        }
        apply(tiny_job("over", **spec), ns)
        apply(tiny_job("plain", pod={"annotations": HOLD}), ns)
        for p in running_gang(ns, "over", 2):
            s = p["spec"]
            assert s["priorityClassName"] == pc and s.get("priority") == 1000, (
                s.get("priorityClassName"),
                s.get("priority"),
            )
            c = s["containers"][0]
            assert c["resources"]["requests"] == {"cpu": "3", "memory": "5Gi", "nvidia.com/gpu": "2"}, c["resources"]
            assert c["resources"]["limits"] == {"memory": "6Gi", "nvidia.com/gpu": "2"}, c["resources"]
            assert p["status"]["qosClass"] == "Burstable"
            labels, annotations = p["metadata"]["labels"], p["metadata"]["annotations"]
            assert labels["team.example.com/owner"] == "research" and labels["training.moe.dev/job"] == "over"
            assert annotations["example.com/note"] == "lifecycle"
            assert s["imagePullSecrets"] == [{"name": "registry-creds"}]
            assert s["securityContext"] == {"runAsUser": 1000, "runAsNonRoot": True, "fsGroup": 2000}
            assert c["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"add": ["IPC_LOCK"]}}
            volumes = {v["name"]: v for v in s["volumes"]}
            assert {"plan", "dshm", "cache", "cfg"} <= set(volumes), sorted(volumes)
            assert volumes["cfg"]["configMap"]["name"] == "settings"
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert mounts["/mnt/cache"] == "cache" and mounts["/etc/settings"] == "cfg" and mounts["/etc/moe"] == "plan"
        # without spec.trainer.resources: 4 CPUs and 32Gi per GPU requested, no limits, Burstable (never BestEffort)
        for p in running_gang(ns, "plain", 2):
            r = p["spec"]["containers"][0]["resources"]
            assert r["requests"] == {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "2"}, r
            assert r["limits"] == {"nvidia.com/gpu": "2"}, r
            assert p["status"]["qosClass"] == "Burstable"
            assert p["spec"].get("priorityClassName") is None
    finally:
        kubectl("delete", "priorityclass", pc, "--ignore-not-found", check=False)


def test_active_deadline_fails_a_running_job_with_its_reason(ns):
    apply(tiny_job("late", activeDeadlineSeconds=12, pod={"annotations": HOLD}), ns)
    running_gang(ns, "late", 2)
    wait_phase(ns, "late", "Running", 30)
    wait_phase(ns, "late", "Failed", 40)
    status = job(ns, "late")["status"]
    failed = condition(status, "Failed")
    assert failed["status"] == "True" and failed["reason"] == "DeadlineExceeded", failed
    assert "spec.activeDeadlineSeconds=12" in failed["message"], failed
    assert status["activeSeconds"] >= 12 and "activeSince" not in status, status
    assert events_of(ns, "late", reason="DeadlineExceeded", type="Warning")
    # the held pods never finish by themselves: the operator stopped them, and makes no new ones
    wait(lambda: not pods(ns, "late"), 60, "the late job's pods deleted")


def test_ttl_deletes_the_finished_job_and_its_children(ns):
    apply(tiny_job("brief", ttlSecondsAfterFinished=3, pod={"annotations": {"e2e.moe.dev/run-seconds": "1"}}), ns)
    uid = wait(lambda: job(ns, "brief")["metadata"]["uid"], 10, "uid")
    wait(lambda: pods(ns, "brief"), 60, "pods of brief")
    wait(lambda: _gone(JOBS, "brief", ns), 90, "job brief deleted after ttlSecondsAfterFinished")
    ttl = [
        e
        for e in json.loads(kubectl("get", "events", "-n", ns, "-o", "json"))["items"]
        if e["involvedObject"].get("uid") == uid and e.get("reason") == "TTLExpired"
    ]
    assert ttl, "a TTLExpired Event says why the job went"
    # garbage collection follows the owner references: ConfigMap, Service, pods
    wait(lambda: _gone("configmap", "brief-plan", ns) and _gone("service", "brief", ns), 60, "children collected")
    wait(lambda: not pods(ns, "brief"), 60, "pods collected")


def test_managed_by_another_controller_gets_no_pods_and_no_status(ns):
    apply(tiny_job("remote", managedBy="kueue.x-k8s.io/multikueue"), ns)
    # a job of this operator applied after it is handled: the operator has seen both events by then
    apply(tiny_job("local", pod={"annotations": HOLD}), ns)
    running_gang(ns, "local", 2)
    wait(lambda: job(ns, "local").get("status", {}).get("phase") == "Running", 30, "local Running")
    remote = job(ns, "remote")
    assert not remote.get("status"), remote.get("status")
    assert not pods(ns, "remote")
    assert _gone("configmap", "remote-plan", ns) and _gone("service", "remote", ns)
    # immutable (CEL), like batch/v1 Job's spec.managedBy
    for patch in ({"spec": {"managedBy": "training.moe.dev/moe-operator"}}, {"spec": {"managedBy": None}}):
        try:
            kubectl("patch", JOBS, "remote", "-n", ns, "--type=merge", "-p", json.dumps(patch))
        except KubectlError as e:
            assert "spec.managedBy is immutable" in e.stderr, e.stderr
        else:
            raise AssertionError(f"{patch} was accepted")
    for patch in ({"spec": {"managedBy": "kueue.x-k8s.io/multikueue"}},):
        try:
            kubectl("patch", JOBS, "local", "-n", ns, "--type=merge", "-p", json.dumps(patch))
        except KubectlError as e:
            assert "spec.managedBy is immutable" in e.stderr, e.stderr
        else:
            raise AssertionError("setting managedBy on a running job was accepted")
    assert not job(ns, "remote").get("status")
