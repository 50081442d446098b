"""Operator tier, issue 12: what a failure does (restartPolicy.rules, the infrastructure budget), stall detection,
and the evidence a failed pod leaves. Pods run on KWOK nodes; evictions go through the real Eviction API, exit
codes and termination states through the moe-pod-exit stage (e2e/kwok/stages), progress reports are the pod
annotation rank 0's trainer writes (docs/contract.md section 4), written here the same way."""

import json
import threading
import time

from conftest import HELD_TRAINER, apply, condition, events_of, job, kubectl, pods, running_gang, tiny_job, wait


def held_job(name, **restart_policy):
    return tiny_job(
        name,
        trainer=HELD_TRAINER,
        restartPolicy={"maxRestarts": 3, "backoffSeconds": 1, "maxBackoffSeconds": 1, **restart_policy},
    )


def evict(ns, pod):
    """The Eviction API, as kubectl drain and the cluster autoscaler use it: the API server marks the pod
    DisruptionTarget=True (EvictionByEvictionAPI) and deletes it."""
    kubectl(
        "create",
        "--raw",
        f"/api/v1/namespaces/{ns}/pods/{pod}/eviction",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": ns}}),
    )


def report(ns, pod, step):
    """Rank 0's progress report (what the trainer patches onto its own pod)."""
    value = json.dumps(
        {"step": step, "loss": 3.0 - step * 0.01, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    )
    kubectl("annotate", "pod", pod, "-n", ns, f"training.moe.dev/progress={value}", "--overwrite", check=False)


def status(ns, name):
    return job(ns, name).get("status", {})


def test_six_evictions_with_max_restarts_five_keep_the_job_running(ns):
    apply(held_job("evicted", maxRestarts=5), ns)
    for i in range(6):
        gang = running_gang(ns, "evicted", 2, timeout=90)
        wait(lambda: status(ns, "evicted").get("phase") == "Running", 30, "job Running")
        assert {p["metadata"]["labels"]["training.moe.dev/attempt"] for p in gang} == {str(i)}
        evict(ns, f"evicted-node-{i % 2}")
        wait(
            lambda: status(ns, "evicted").get("infrastructureRestarts") == i + 1,  # noqa: B023
            60,
            f"infrastructureRestarts == {i + 1} (now {status(ns, 'evicted')})",
        )
    running_gang(ns, "evicted", 2, timeout=90)
    wait(lambda: status(ns, "evicted").get("phase") == "Running", 30, "job Running after six evictions")
    st = status(ns, "evicted")
    assert st["infrastructureRestarts"] == 6 and st.get("restarts", 0) == 0, st
    assert st["restartAttempt"] == 6, st
    assert [r["reason"] for r in st["restartHistory"]] == ["Evicted"] * 6, st["restartHistory"]
    assert {r["action"] for r in st["restartHistory"]} == {"RestartGangUncounted"}, st["restartHistory"]
    events = events_of(ns, "evicted", reason="GangRestart")
    assert any("infrastructure restart 6 of 50" in e["message"] for e in events), [e["message"] for e in events]


def test_an_oom_killed_rule_fails_the_job_at_once(ns):
    apply(held_job("oom", rules=[{"reasons": ["OOMKilled"], "action": "FailJob"}]), ns)
    running_gang(ns, "oom", 2)
    log = "step 3 loss 2.98\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
    kubectl(
        "annotate",
        "pod",
        "oom-node-1",
        "-n",
        ns,
        "e2e.moe.dev/exit-code=137",
        "e2e.moe.dev/termination-reason=OOMKilled",
        f"e2e.moe.dev/termination-message={log}",
    )
    wait(lambda: status(ns, "oom").get("phase") == "Failed", 60, "job Failed")
    st = status(ns, "oom")
    assert st.get("restarts", 0) == 0 and st.get("restartAttempt", 0) == 0, st
    failure = st["lastFailure"]
    assert (failure["reason"], failure["pod"], failure["exitCode"], failure["action"]) == (
        "OOMKilled",
        "oom-node-1",
        137,
        "FailJob",
    ), failure
    # the failing pod's last log lines are kept
    assert failure["message"].endswith(log), failure
    failed = condition(st, "Failed")
    assert failed["reason"] == "FailureRuleMatched" and "restartPolicy.rules[0]" in failed["message"], failed
    # the rest of the gang is stopped, the failed pod kept for its logs
    wait(lambda: [p["metadata"]["name"] for p in pods(ns, "oom")] == ["oom-node-1"], 30, "only the failed pod left")


def test_without_a_rule_an_exit_keeps_its_last_lines_in_status_and_event(ns):
    apply(held_job("evidence"), ns)
    running_gang(ns, "evidence", 2)
    log = "step 9 loss 2.71\nRuntimeError: NCCL communicator was aborted on rank 3"
    kubectl(
        "annotate",
        "pod",
        "evidence-node-0",
        "-n",
        ns,
        "e2e.moe.dev/exit-code=1",
        f"e2e.moe.dev/termination-message={log}",
    )
    wait(lambda: status(ns, "evidence").get("restarts") == 1, 60, "restarts == 1")
    st = status(ns, "evidence")
    assert st["lastFailure"]["message"].endswith(log), st["lastFailure"]
    assert st["restartHistory"][0]["message"].endswith(log) and st["restartHistory"][0]["action"] == "RestartGang"
    events = events_of(ns, "evidence", reason="GangRestart")
    assert any("NCCL communicator was aborted" in e["message"] for e in events), [e["message"] for e in events]


def test_frozen_progress_is_stalled_after_the_deadline_and_a_healthy_job_never(ns):
    # The deadline is the shortest the CRD takes (two of the trainer's 10 s report intervals); the harness reports
    # every second (plus a kubectl call on a busy machine).
    # The startup grace must outlast the harness reaching the first report (both gangs starting), or the first
    # restart is a startup-grace one.
    deadline = {"progressDeadlineSeconds": 20, "progressStartupGraceSeconds": 30}
    apply(held_job("frozen", **deadline), ns)
    apply(held_job("healthy", **deadline), ns)
    running_gang(ns, "frozen", 2)
    running_gang(ns, "healthy", 2)
    stop = threading.Event()

    def keep_reporting():
        step = 0
        while not stop.is_set():
            step += 1
            report(ns, "healthy-node-0", step)
            stop.wait(1.0)

    reporter = threading.Thread(target=keep_reporting, daemon=True)
    reporter.start()
    try:
        # after the operator has seen the gang running (a report before that belongs to no attempt's clock)
        wait(lambda: status(ns, "frozen").get("phase") == "Running", 30, "frozen job Running")
        report(ns, "frozen-node-0", 1)  # one step, then nothing: a hung collective
        wait(
            lambda: status(ns, "frozen").get("lastFailure", {}).get("reason") == "Stalled",
            60,
            "frozen job restarted with reason Stalled",
        )
        st = status(ns, "frozen")
        assert st["restarts"] == 1, st
        assert "no new step from global rank 0 for 20s" in st["lastFailure"]["message"], st["lastFailure"]
        events = events_of(ns, "frozen", reason="GangRestart")
        assert any("stalled" in e["message"] for e in events), [e["message"] for e in events]
        # the next attempt starts; it reports nothing either, so after its startup grace it is Stalled again
        wait(lambda: status(ns, "frozen").get("restarts") == 2, 90, "second Stalled restart (startup grace)")
        assert "within 30s of the gang running" in status(ns, "frozen")["lastFailure"]["message"]
        # meanwhile the job that kept reporting was never touched
        healthy = status(ns, "healthy")
        assert healthy["phase"] == "Running" and healthy.get("restarts", 0) == 0, healthy
        assert "lastFailure" not in healthy, healthy
        assert healthy["progress"]["step"] >= 3, healthy["progress"]
        assert healthy["progress"]["percentDone"] > 0 and healthy["progress"].get("estimatedCompletionTime")
    finally:
        stop.set()
        reporter.join(5)
    kubectl("delete", "moetrainingjobs.training.moe.dev", "frozen", "healthy", "-n", ns, "--wait=false")


def test_a_node_where_the_job_failed_twice_is_avoided_by_the_next_attempt(ns):
    """Three labelled nodes for a two-node gang (one to spare). The third is cordoned while the pod on the first
    fails twice (so that the first is used by both attempts); then the next attempt must go to the other two."""
    bad, good, third = "gpu-node-13", "gpu-node-14", "gpu-node-15"
    pool = f"e2e.moe.dev/pool-{ns}"
    for n in (bad, good, third):
        kubectl("label", "node", n, f"{pool}=yes", "--overwrite")
    kubectl("cordon", third)
    try:
        spec = held_job("badnode", maxRestarts=5)
        spec["spec"]["placement"] = {"nodeSelector": {pool: "yes"}}
        apply(spec, ns)
        for attempt in (0, 1):
            gang = running_gang(ns, "badnode", 2, timeout=90)
            assert {p["spec"]["nodeName"] for p in gang} == {bad, good}, [p["spec"]["nodeName"] for p in gang]
            on_bad = next(p for p in gang if p["spec"]["nodeName"] == bad)
            assert on_bad["metadata"]["labels"]["training.moe.dev/attempt"] == str(attempt)
            if attempt == 1:
                kubectl("uncordon", third)
            kubectl("annotate", "pod", on_bad["metadata"]["name"], "-n", ns, "e2e.moe.dev/exit-code=1")
            wait(lambda: status(ns, "badnode").get("restarts") == attempt + 1, 60, f"restart {attempt + 1}")  # noqa: B023
        st = status(ns, "badnode")
        assert st["excludedNodes"] == [bad], st
        assert {n["node"]: n["failures"] for n in st["nodeFailures"]} == {bad: 2}, st["nodeFailures"]
        assert st["lastFailure"]["node"] == bad, st["lastFailure"]
        events = events_of(ns, "badnode", reason="NodeExcluded")
        assert events and bad in events[0]["message"], events
        gang = wait(
            lambda: (
                lambda ps: (
                    ps
                    if len(ps) == 2
                    and all(
                        p["metadata"]["labels"]["training.moe.dev/attempt"] == "2"
                        and p["status"].get("phase") == "Running"
                        for p in ps
                    )
                    else None
                )
            )(pods(ns, "badnode")),
            90,
            "attempt 2 running",
        )
        assert {p["spec"]["nodeName"] for p in gang} == {good, third}, [p["spec"]["nodeName"] for p in gang]
        terms = gang[0]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms["nodeSelectorTerms"] == [
            {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": [bad]}]}
        ], terms
    finally:
        kubectl("delete", "moetrainingjobs.training.moe.dev", "badnode", "-n", ns, "--wait=false", check=False)
        kubectl("uncordon", third, check=False)
        for n in (bad, good, third):
            kubectl("label", "node", n, f"{pool}-", check=False)
