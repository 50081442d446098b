"""The operator's gangs under a real Kueue (issue 13): quota admission all or nothing, topology-aware placement
of expert groups, preemption by a higher-priority workload, and who times out a gang that does not get ready.
Each test has its own ClusterQueue (conftest.queue); pods "run" on KWOK's fake 8-GPU nodes."""

import json
import time

from conftest import (
    CLIQUE,
    HIGH_PRIORITY,
    RACK,
    admitted,
    apply,
    bound,
    condition,
    events_of,
    gated,
    job,
    job_pods,
    kubectl,
    phase,
    queued_job,
    wait,
    workload_of,
)

HOLD = {"name": "E2E_MOE_HOLD", "value": "true"}  # KWOK keeps the pods Running (e2e/kwok/stages)


def nodes_by_name():
    return {
        n["metadata"]["name"]: n["metadata"]["labels"]
        for n in json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
    }


def test_quota_admits_one_gang_whole_and_the_other_waits_unbound(queue):
    ns = queue(24)  # one 16-GPU gang fits, two do not
    apply(queued_job("first", trainer={"env": [HOLD]}), ns)
    wait(lambda: phase(ns, "first") == "Running", 90, "first Running")
    assert admitted(workload_of(ns, "first-a0"))
    apply(queued_job("second"), ns)
    second = wait(lambda: len(job_pods(ns, "second")) == 2 and job_pods(ns, "second"), 30, "second's 2 pods")
    # Kueue's webhook gated every pod of the group; none is bound while the first gang holds the quota.
    assert all(gated(p) for p in second), [p["spec"].get("schedulingGates") for p in second]
    assert all(p["metadata"]["labels"].get("kueue.x-k8s.io/managed") == "true" for p in second)
    waiting = wait(
        lambda: (
            (c := condition(job(ns, "second").get("status", {}), "GangScheduled"))
            and c["reason"] == "AwaitingKueueAdmission"
            and c
        ),
        30,
        "second waits for admission",
    )
    assert waiting["message"].startswith("0 of 2 pods bound; ") and "LocalQueue q" in waiting["message"], waiting
    assert not admitted(wait(lambda: workload_of(ns, "second-a0"), 30, "second's Workload"))
    ev = events_of(ns, "second", reason="AwaitingKueueAdmission")
    assert ev and all(e["type"] == "Normal" for e in ev), ev
    for _ in range(6):  # a few looks while the first gang runs: never a partial (or any) bind
        assert not any(bound(p) for p in job_pods(ns, "second")), job_pods(ns, "second")
        time.sleep(0.5)
    assert phase(ns, "first") == "Running"
    # The first gang finishes (exit 0 on every rank): its quota comes back, the second is admitted whole.
    for p in job_pods(ns, "first"):
        kubectl("annotate", "pod", p["metadata"]["name"], "-n", ns, "e2e.moe.dev/exit-code=0")
    wait(lambda: phase(ns, "first") == "Succeeded", 60, "first Succeeded")
    wait(lambda: phase(ns, "second") in ("Running", "Succeeded"), 90, "second starts once the first finished")
    assert admitted(workload_of(ns, "second-a0"))
    assert job(ns, "second")["status"]["restarts"] == 0


def test_expert_groups_land_in_one_rack_by_kueue_topology(queue):
    ns = queue(64)
    # Rack 0 (= clique-0) loses a node to a pod outside Kueue (no queue label): no 4-node slice fits there.
    blocker = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "blocker", "annotations": {"e2e.moe.dev/hold": "true"}},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": "gpu-node-01"},
            "containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"nvidia.com/gpu": "8"}}}],
        },
    }
    apply(blocker, ns)
    wait(
        lambda: (
            json.loads(kubectl("get", "pod", "blocker", "-n", ns, "-o", "json"))["status"].get("phase") == "Running"
        ),
        30,
        "blocker Running",
    )
    # Qwen3-30B-A3B, 8 nodes x 8 GPUs, expert 32: two expert groups of 4 consecutive node ranks, each required in
    # one clique (placement.topologyKeys[0], the fastest domain); the whole gang preferred in one rack (the last
    # key). topologyKeys go fastest first, i.e. the Topology's levels bottom up: Kueue refuses a slice topology
    # above the preferred one.
    j = queued_job(
        "ep",
        nodes=8,
        model={"preset": "qwen3-30b-a3b"},
        parallelism={"tensor": 2, "expert": 32},
        training={"seqLength": 4096, "microBatchSize": 1, "globalBatchSize": 64, "steps": 1000},
        trainer={"env": [HOLD]},
        placement={"topologyKeys": [CLIQUE, RACK], "queueName": "q"},
    )
    apply(j, ns)
    wait(lambda: phase(ns, "ep") == "Running", 120, "ep Running")
    w = workload_of(ns, "ep-a0")
    ps = w["spec"]["podSets"]
    assert len(ps) == 1 and ps[0]["count"] == 8, ps  # one pod set: every rank has the same shape
    tr = ps[0]["topologyRequest"]
    assert tr["podSetSliceRequiredTopology"] == CLIQUE and tr["podSetSliceSize"] == 4, tr
    assert tr["preferred"] == RACK, tr
    assignment = w["status"]["admission"]["podSetAssignments"][0].get("topologyAssignment")
    assert assignment, w["status"]["admission"]  # Kueue, not the default scheduler, chose the nodes
    labels = nodes_by_name()
    pods = {int(p["metadata"]["labels"]["training.moe.dev/node-rank"]): p for p in job_pods(ns, "ep")}
    assert sorted(pods) == list(range(8))
    hosts = [pods[r]["spec"]["nodeName"] for r in range(8)]
    assert len(set(hosts)) == 8, hosts  # one pod per node
    for group in (0, 1):
        ranks = range(4 * group, 4 * group + 4)
        cliques = {labels[pods[r]["spec"]["nodeName"]][CLIQUE] for r in ranks}
        assert len(cliques) == 1, f"expert group {group} (ranks {list(ranks)}) spans cliques {cliques}: {hosts}"
        assert {pods[r]["metadata"]["labels"]["training.moe.dev/expert-group"] for r in ranks} == {str(group)}
    assert "clique-0" not in {labels[h][CLIQUE] for h in hosts}, hosts  # 3 free nodes there: no slice fits
    # Kueue's ungater pinned each pod to its assigned domain.
    assert all(
        RACK in p["spec"].get("nodeSelector", {}) or "kubernetes.io/hostname" in p["spec"].get("nodeSelector", {})
        for p in pods.values()
    ), [p["spec"].get("nodeSelector") for p in pods.values()]


def test_preempted_by_higher_priority_restarts_uncounted_and_resumes(queue):
    ns = queue(16)
    j = queued_job("low", trainer={"env": [HOLD]})
    apply(j, ns)
    wait(lambda: phase(ns, "low") == "Running", 90, "low Running")
    # A higher-priority pod in the same queue needs 8 of the 16 GPUs the gang holds: Kueue evicts the gang.
    high = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "high",
            "labels": {"kueue.x-k8s.io/queue-name": "q", "kueue.x-k8s.io/priority-class": HIGH_PRIORITY},
            "annotations": {"e2e.moe.dev/run-seconds": "6"},
        },
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"nvidia.com/gpu": "8"}}}],
        },
    }
    apply(high, ns)
    s = wait(lambda: (job(ns, "low")["status"].get("restartHistory") or [None])[-1], 60, "low stopped")
    assert s["reason"] == "Preempted", s
    assert "preempted by Kueue" in s["message"], s
    # The new attempt waits in the queue, unbound, while the high-priority pod runs.
    st = job(ns, "low")["status"]
    assert st["restarts"] == 0 and st["infrastructureRestarts"] == 1, st
    a1 = wait(lambda: len(job_pods(ns, "low", attempt=1)) == 2 and job_pods(ns, "low", attempt=1), 30, "attempt 1 pods")
    high_pod = json.loads(kubectl("get", "pod", "high", "-n", ns, "-o", "json"))
    if high_pod["status"].get("phase") == "Running":
        assert not any(bound(p) for p in a1), [p["spec"].get("nodeName") for p in a1]
    wait(
        lambda: json.loads(kubectl("get", "pod", "high", "-n", ns, "-o", "json"))["status"].get("phase") == "Succeeded",
        60,
        "high finished",
    )
    wait(
        lambda: phase(ns, "low") == "Running" and len(job_pods(ns, "low", attempt=1)) == 2,
        90,
        "low resumes as attempt 1",
    )
    st = job(ns, "low")["status"]
    assert st["restarts"] == 0 and st["infrastructureRestarts"] == 1 and st["restartAttempt"] == 1, st
    assert admitted(workload_of(ns, "low-a1"))
    assert events_of(ns, "low", reason="GangRestart")


def test_kueue_waitforpodsready_times_out_the_gang_not_the_operator(queue):
    ns = queue(16)
    # The image never pulls: the admitted gang is bound but never ready. The operator's own scheduling timeout
    # (5 s) is off under a queue; Kueue's waitForPodsReady (kueue-up.sh: 20 s from admission) evicts it.
    j = queued_job(
        "stuck",
        trainer={"image": "e2e.invalid/trainer:0"},
        restartPolicy={
            "gangSchedulingTimeoutSeconds": 5,
            "maxRestarts": 3,
            "backoffSeconds": 1,
            "maxBackoffSeconds": 2,
        },
    )
    apply(j, ns)
    wait(lambda: len([p for p in job_pods(ns, "stuck") if bound(p)]) == 2, 60, "gang admitted and bound")
    wait(
        lambda: (condition(job(ns, "stuck").get("status", {}), "Running") or {}).get("reason") == "ImagePullFailed",
        30,
        "ImagePullFailed reported",
    )
    time.sleep(7)  # past the operator's 5 s: it must not have restarted the gang itself
    st = job(ns, "stuck")["status"]
    assert st.get("restartAttempt", 0) == 0 and not st.get("restartHistory"), st
    r = wait(lambda: (job(ns, "stuck")["status"].get("restartHistory") or [None])[0], 60, "Kueue evicts the gang")
    assert r["reason"] == "GangSchedulingTimeout" and "waitForPodsReady" in r["message"], r
    st = job(ns, "stuck")["status"]
    assert st["restarts"] == 0 and st.get("infrastructureRestarts", 0) == 0, st
    # The next attempt queues again as a new pod group.
    wait(lambda: workload_of(ns, "stuck-a1"), 30, "attempt 1's Workload")
    a1 = wait(lambda: len(job_pods(ns, "stuck", attempt=1)) == 2 and job_pods(ns, "stuck", attempt=1), 30, "attempt 1")
    assert {p["metadata"]["labels"]["kueue.x-k8s.io/pod-group-name"] for p in a1} == {"stuck-a1"}
