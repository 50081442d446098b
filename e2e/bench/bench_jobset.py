#!/usr/bin/env python3
"""Control-plane benchmark of JobSet, the same figures as bench_gang.py measures for the operator (prints figures;
asserts nothing about time). The measuring code (pod watch, API write counters, audit log) is bench_gang.py's.

Needs a running cluster with >= 64 KWOK nodes, an apiserver audit log and the JobSet controller
(e2e/bin/jobset-up.sh); e2e/bench/fleet.sh does all of it. For each run it:
  1. `kubectl apply -f e2e/bench/jobset-512.yaml` (1 Job x 64 pods x 8 GPUs) and times apply -> all 64 pods
     created (by kube-controller-manager's Job controller), bound by kube-scheduler, Running (KWOK);
  2. counts API writes from kube-apiserver's apiserver_request_total and, from the audit log, per client (JobSet's
     controller, each kube-controller-manager controller, kube-scheduler, kwok, kubectl);
  3. failure: one pod exits 75 (the KWOK stage annotation bench_gang.py uses); times pod Failed -> the new gang
     (pods labelled jobset.sigs.k8s.io/restart-attempt=1, 2, ...) created / Running. The Job fails
     (backoffLimit 0), JobSet's failurePolicy deletes all its Jobs and recreates them (no backoff of its own);
  4. deletes the JobSet and waits until its pods are gone.

Usage: e2e/bench/bench_jobset.py [--runs 5] [--namespace bench-jobset] [--jobset e2e/bench/jobset-512.yaml]
                                 [--json FILE]
Env: KUBECONFIG, MOE_E2E_WORK (admin cert for /metrics, audit log), MOE_E2E_APISERVER_PORT.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time

import bench_gang as bg

JOBSETS = "jobsets.jobset.x-k8s.io"
RESTART_ATTEMPT = r"jobset\.sigs\.k8s\.io/restart-attempt"


def client_of(user_agent):
    """bench_gang.client_of, with kube-controller-manager split by controller (the last part of its user agent,
    e.g. job-controller, generic-garbage-collector): the Job controller does most of JobSet's pod work."""
    c = bg.client_of(user_agent)
    if c == "kube-controller-manager" and "/" in (user_agent or ""):
        return "kcm:" + user_agent.rsplit("/", 1)[1]
    return c


def kcm(counter):
    """Sum of the kube-controller-manager entries of a by-client Counter."""
    return sum(n for c, n in counter.items() if c.startswith("kcm:") or c == "kube-controller-manager")


def victim_of(watch, prefix):
    """The attempt-0 pod whose name starts with prefix (an Indexed Job's pods are <job>-<index>-<random>)."""
    names = [p["name"] for p in watch.of_attempt(0) if p["name"].startswith(prefix)]
    if len(names) != 1:
        raise RuntimeError(f"expected one pod named {prefix}*: {names}")
    return names[0]


def one_run(i, ns, jobset_file, name, job, pods, log):
    selector = f"jobset.sigs.k8s.io/jobset-name={name}"
    watch = bg.PodWatch(ns, name, selector=selector, attempt_label=RESTART_ATTEMPT)
    time.sleep(0.5)  # the watch is established before the apply
    m0, a0 = bg.api_writes(), bg.audit_offset()
    t0 = time.monotonic()
    bg.kubectl("apply", "-n", ns, "-f", str(jobset_file))
    t_apply = time.monotonic() - t0
    t_running = watch.wait(lambda: watch.all_at(0, pods, "running"), 300, f"{pods} pods Running") - t0
    t_created = watch.all_at(0, pods, "seen") - t0
    t_bound = watch.all_at(0, pods, "bound") - t0
    # With feature gate WorkloadWithJob (fleet.sh --job-gang) the Job controller puts its pods in a PodGroup.
    groups = bg.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "jsonpath={.items[*].spec.schedulingGroup}")
    in_pod_group = groups.count("podGroupName")
    time.sleep(3)  # let the last status updates / events land
    create_writes = bg.delta(bg.api_writes(), m0)
    create_audit = bg.audit_writes(a0, client=client_of)

    # Failure -> whole JobSet restarted (restart-attempt 1).
    m2, a3 = bg.api_writes(), bg.audit_offset()
    victim = victim_of(watch, f"{name}-{job}-0-7-")  # Job <jobset>-<replicatedJob>-0, completion index 7
    bg.kubectl("annotate", "pod", victim, "-n", ns, "e2e.moe.dev/exit-code=75", "--overwrite")
    t_fail = watch.wait(
        lambda: next((p.get("failed") for p in watch.of_attempt(0) if p["name"] == victim and "failed" in p), None),
        60,
        "victim Failed",
    )
    try:
        t_rec_created = watch.wait(lambda: watch.all_at(1, pods, "seen"), 180, "new gang created") - t_fail
        t_rec_running = watch.wait(lambda: watch.all_at(1, pods, "running"), 180, "new gang Running") - t_fail
    except TimeoutError:
        seen = {a: len(watch.of_attempt(a)) for a in range(3)}
        listed = bg.kubectl("get", "pods", "-n", ns, "-l", selector, "-L", RESTART_ATTEMPT.replace("\\", ""))
        log(f"timed out: pods per attempt in the watch {seen} (watch alive: {watch.proc.poll() is None}); now:")
        log(listed)
        raise
    time.sleep(3)
    restart_writes = bg.delta(bg.api_writes(), m2)
    restart_audit = bg.audit_writes(a3, client=client_of)

    bg.kubectl("delete", JOBSETS, name, "-n", ns, "--wait=true", "--timeout=120s")
    watch.wait(lambda: not bg.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "name"), 180, "pods deleted")
    watch.stop()
    res = {
        "apply_s": t_apply,
        "created_s": t_created,
        "bound_s": t_bound,
        "running_s": t_running,
        "pods_in_pod_group": in_pod_group,
        "create_writes_total": sum(create_writes.values()),
        "create_writes_jobset": create_audit[0].get("jobset", 0) if create_audit else None,
        "create_writes_kcm": kcm(create_audit[0]) if create_audit else None,
        "create_audit": dict(create_audit[0]) if create_audit else None,
        "fail_to_created_s": t_rec_created,
        "fail_to_running_s": t_rec_running,
        "restart_writes_total": sum(restart_writes.values()),
        "restart_writes_jobset": restart_audit[0].get("jobset", 0) if restart_audit else None,
        "restart_writes_kcm": kcm(restart_audit[0]) if restart_audit else None,
        "restart_audit": dict(restart_audit[0]) if restart_audit else None,
    }
    log(
        f"run {i}: apply->created {t_created:.2f}s, bound {t_bound:.2f}s, Running {t_running:.2f}s "
        f"({in_pod_group} pods in a PodGroup); "
        f"writes {res['create_writes_total']} (jobset {res['create_writes_jobset']}, "
        f"controller-manager {res['create_writes_kcm']}; {res['create_audit']}); "
        f"failure -> created {t_rec_created:.2f}s, Running {t_rec_running:.2f}s; "
        f"restart writes {res['restart_writes_total']} (jobset {res['restart_writes_jobset']}, "
        f"controller-manager {res['restart_writes_kcm']})"
    )
    if i == 0:
        log(f"  writes by resource (create): {bg.fmt_writes(create_writes)}")
        for what, audit in (("create", create_audit), ("restart", restart_audit)):
            if audit:
                by = sorted(audit[1].items(), key=lambda kv: -kv[1])
                log(f"  writes by client ({what}): " + ", ".join(f"{c} {v} {r}={n}" for (c, v, r), n in by))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="runs before the counted ones, left out of the summary")
    ap.add_argument("--namespace", default="bench-jobset")
    ap.add_argument("--jobset", default=str(bg.E2E / "bench" / "jobset-512.yaml"))
    ap.add_argument("--json", help="also write the per-run results here")
    args = ap.parse_args()
    log = lambda s: print(s, flush=True)  # noqa: E731
    jobset_file = pathlib.Path(args.jobset)
    spec = json.loads(bg.kubectl("create", "--dry-run=client", "-o", "json", "-f", str(jobset_file)))
    name = spec["metadata"]["name"]
    rjobs = spec["spec"]["replicatedJobs"]
    pods = sum(r.get("replicas", 1) * r["template"]["spec"]["parallelism"] for r in rjobs)
    fleet = len(json.loads(bg.kubectl("get", "nodes", "-o", "json"))["items"])
    if fleet < pods:
        sys.exit(f"the cluster has {fleet} nodes; {name} needs {pods} (MOE_E2E_NODES={pods} e2e/bin/cluster-up.sh)")
    if bg.kubectl("get", "namespace", args.namespace, check=False) == "":
        bg.kubectl("create", "namespace", args.namespace)
    deadline = time.time() + 60
    while subprocess.run(["kubectl", "get", "sa", "default", "-n", args.namespace], capture_output=True).returncode:
        if time.time() > deadline:
            sys.exit("no default ServiceAccount in the bench namespace")
        time.sleep(0.5)
    log(
        f"benchmark: JobSet {name} ({len(rjobs)} ReplicatedJob, {pods} pods) on {fleet} KWOK nodes, {args.runs} runs; "
        f"audit log: {'yes' if bg.AUDIT_LOG.exists() else 'no (writes per client unavailable)'}"
    )
    run = lambda i: one_run(i, args.namespace, jobset_file, name, rjobs[0]["name"], pods, log)  # noqa: E731
    results = bg.measured_runs(run, args.runs, args.warmup, log)
    bg.log_summary(
        results,
        (
            ("created_s", "apply -> all pods created"),
            ("bound_s", "apply -> all pods bound"),
            ("running_s", "apply -> all pods Running"),
            ("fail_to_created_s", "pod Failed -> new gang created"),
            ("fail_to_running_s", "pod Failed -> new gang Running"),
        ),
        (
            ("create_writes_jobset", "JobSet controller API writes per job (create)"),
            ("create_writes_kcm", "controller-manager API writes (create)"),
            ("create_writes_total", "all API writes per job (create)"),
            ("restart_writes_jobset", "JobSet controller API writes per restart"),
            ("restart_writes_kcm", "controller-manager API writes per restart"),
            ("restart_writes_total", "all API writes per restart"),
        ),
        pods,
        log,
    )
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
