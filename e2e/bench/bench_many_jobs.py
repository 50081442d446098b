#!/usr/bin/env python3
"""Operator memory with many jobs held (prints figures; asserts nothing about time or memory).

Target (bench/results.md): 1,000 jobs held with < 300 MiB operator memory; no reconcile loop.

What it holds: N small jobs that really run (not suspended ones), so that every informer cache of the operator is
filled the way a fleet fills it: each job is tiny-moe on 1 node x 1 GPU, kept Running by KWOK (E2E_MOE_HOLD), and
owns 1 pod + the plan and trainer-env ConfigMaps + headless Service + trainer ServiceAccount/Role/RoleBinding. N jobs =
N job objects + 7 N cached dependents (1,000 jobs: 8,000 objects). Needs N GPUs of KWOK nodes (8 per node:
MOE_E2E_NODES=128 for 1,000).

Steps: create the jobs (kubectl create, batches of 100) -> wait until every job's status.phase is Running ->
wait until the operator is idle (its reconcile count stops moving for --settle seconds) -> memory: VmRSS of the
operator process, JVM heap used before and after a full GC (jcmd GC.heap_info; jcmd GC.run), /q/metrics
jvm_memory_used_bytes by area -> resourceVersions of every job and dependent, --idle seconds of quiet, again
(and the operator's reconciles meanwhile) -> with --restart-operator: restarts the operator (a full resync
reconciles every job once), waits for >= N reconciles, and compares resourceVersions with the first snapshot
(a no-op reconcile must write nothing) and measures memory again.

Usage: e2e/bench/bench_many_jobs.py [--jobs 1000] [--namespace many] [--settle 20] [--idle 60] [--restart-operator]
Env: KUBECONFIG, MOE_E2E_WORK (operator pid file), MOE_E2E_OPERATOR_PORT, JAVA_HOME (jcmd).
Cluster: MOE_E2E_NODES=128 e2e/bin/cluster-up.sh && e2e/bin/operator-up.sh (see e2e/README.md).
"""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import time

E2E = pathlib.Path(__file__).resolve().parents[1]
WORK = pathlib.Path(os.environ.get("MOE_E2E_WORK", str(E2E / ".work")))
OPERATOR = f"http://127.0.0.1:{os.environ.get('MOE_E2E_OPERATOR_PORT', '18080')}"
JCMD = os.path.join(os.environ["JAVA_HOME"], "bin", "jcmd") if os.environ.get("JAVA_HOME") else "jcmd"
DEPENDENTS = [
    "configmaps",
    "services",
    "serviceaccounts",
    "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "pods",
]
JOB_TEMPLATE = """apiVersion: training.moe.dev/v1alpha1
kind: MoETrainingJob
metadata:
  name: {name}
  namespace: {ns}
spec:
  model:
    preset: tiny-moe
  parallelism:
    tensor: 1
    expert: 1
  resources:
    nodes: 1
    gpusPerNode: 1
    gpuMemoryGiB: 80
  training:
    seqLength: 64
    microBatchSize: 2
    globalBatchSize: 8
    steps: 20
    dataset:
      type: synthetic
  trainer:
    env:
      - name: E2E_MOE_HOLD
        value: "true"
"""


def log(msg):
    print(f"[many {time.strftime('%H:%M:%S', time.gmtime())}] {msg}", flush=True)


def kubectl(*args, input=None, check=True, timeout=600):
    p = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {p.stderr.strip()[:2000]}")
    return p.stdout


def metrics():
    p = subprocess.run(["curl", "-fsS", "--max-time", "30", f"{OPERATOR}/q/metrics"], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else ""


def reconcile_count():
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics().splitlines()
            if line.startswith("moe_reconcile_duration_seconds_count")
        )
    )


def operator_pid():
    return int((WORK / "pids" / "operator.pid").read_text().strip())


def phases(ns):
    out = kubectl("get", "moetrainingjobs", "-n", ns, "-o", 'jsonpath={range .items[*]}{.status.phase}{"\\n"}{end}')
    counts = {}
    for p in out.splitlines():
        counts[p or "<none>"] = counts.get(p or "<none>", 0) + 1
    return counts


def resource_versions(ns):
    rv = {}
    for kind in ["moetrainingjobs"] + DEPENDENTS:
        sel = [] if kind == "moetrainingjobs" else ["-l", "training.moe.dev/job"]
        items = json.loads(kubectl("get", kind, "-n", ns, *sel, "-o", "json"))["items"]
        for it in items:
            rv[f"{it['kind']}/{it['metadata']['name']}"] = it["metadata"]["resourceVersion"]
    return rv


def memory(pid, gc):
    """VmRSS (MiB), heap used (MiB, jcmd GC.heap_info) and jvm_memory_used_bytes by area (MiB)."""
    if gc:
        subprocess.run([JCMD, str(pid), "GC.run"], capture_output=True, text=True, timeout=120)
    rss = None
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    info = subprocess.run([JCMD, str(pid), "GC.heap_info"], capture_output=True, text=True, timeout=120).stdout
    # G1 prints one "garbage-first heap total ..K, used ..K" line; Serial one per generation (def new, tenured).
    spaces = re.findall(r"(?:heap|generation)\s+total (\d+)K, used (\d+)K", info)
    heap_committed = sum(int(t) for t, _ in spaces) / 1024 if spaces else None
    heap_used = sum(int(u) for _, u in spaces) / 1024 if spaces else None
    areas = {}
    for line in metrics().splitlines():
        mm = re.match(r"^jvm_memory_used_bytes\{([^}]*)\} ([0-9.eE+]+)$", line)
        if mm:
            area = dict(re.findall(r'(\w+)="([^"]*)"', mm.group(1))).get("area", "?")
            areas[area] = areas.get(area, 0.0) + float(mm.group(2)) / 2**20
    return {
        "rss_mib": rss,
        "heap_used_mib": heap_used,
        "heap_committed_mib": heap_committed,
        "jvm_used_mib": {k: round(v, 1) for k, v in areas.items()},
        "gc_first": gc,
        "heap_info": " ".join(info.split())[:600],
    }


def histogram(pid, top):
    """The `top` classes with the most bytes among live objects (jcmd GC.class_histogram runs a full GC first)."""
    out = subprocess.run([JCMD, str(pid), "GC.class_histogram"], capture_output=True, text=True, timeout=300).stdout
    lines = [line for line in out.splitlines() if re.match(r"^\s*(\d+:|Total)", line)]
    return "\n".join(lines[:top] + lines[-1:])


def wait_idle(settle, timeout=900):
    """Until the reconcile count has not moved for `settle` seconds."""
    deadline = time.time() + timeout
    last, since = reconcile_count(), time.time()
    while time.time() < deadline:
        time.sleep(2)
        now = reconcile_count()
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= settle:
            return now
    raise RuntimeError("operator never went idle")


def wait_running(ns, n, timeout):
    deadline = time.time() + timeout
    while True:
        counts = phases(ns)
        if counts.get("Running", 0) == n:
            return counts
        if time.time() > deadline:
            raise RuntimeError(f"not all {n} jobs Running after {timeout}s: {counts}")
        time.sleep(5)


def restart_operator():
    pid = operator_pid()
    os.kill(pid, 15)
    for _ in range(120):
        if not pathlib.Path(f"/proc/{pid}").exists() or "Z" in pathlib.Path(f"/proc/{pid}/stat").read_text().split()[2]:
            break
        time.sleep(0.5)
    subprocess.run([str(E2E / "bin" / "operator-up.sh")], check=True)


def diff(a, b):
    changed = sorted(k for k in a if k in b and a[k] != b[k])
    return changed, sorted(set(a) ^ set(b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--namespace", default="many")
    ap.add_argument("--settle", type=int, default=20, help="seconds without a reconcile that count as idle")
    ap.add_argument("--idle", type=int, default=60, help="seconds between the two resourceVersion snapshots")
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--restart-operator", action="store_true")
    ap.add_argument("--histogram", type=int, default=0, help="print the N largest classes of the heap once idle")
    args = ap.parse_args()
    ns, n = args.namespace, args.jobs
    kubectl("create", "namespace", ns, check=False)
    pid = operator_pid()
    log(f"operator pid {pid}; before any job: {json.dumps(memory(pid, gc=True))}")
    t0 = time.time()
    for start in range(0, n, 100):
        docs = "---\n".join(JOB_TEMPLATE.format(name=f"many-{i:04d}", ns=ns) for i in range(start, min(n, start + 100)))
        kubectl("create", "-f", "-", input=docs)
    log(f"{n} jobs created in {time.time() - t0:.1f}s")
    counts = wait_running(ns, n, args.timeout)
    log(f"all {n} jobs Running {time.time() - t0:.1f}s after the first create: {counts}")
    reconciles = wait_idle(args.settle)
    log(f"operator idle ({args.settle}s without a reconcile); reconciles so far {reconciles}")
    objects = resource_versions(ns)
    kinds = {}
    for k in objects:
        kinds[k.split("/")[0]] = kinds.get(k.split("/")[0], 0) + 1
    log(f"objects held: {len(objects)} {kinds}")
    m_before = memory(pid, gc=False)
    m_after = memory(pid, gc=True)
    log(f"memory (no GC first): {json.dumps(m_before)}")
    log(f"memory (after jcmd GC.run): {json.dumps(m_after)}")
    if args.histogram:
        log(f"heap histogram (live objects, largest {args.histogram} classes):\n{histogram(pid, args.histogram)}")
    rv1 = objects
    r1 = reconcile_count()
    time.sleep(args.idle)
    rv2 = resource_versions(ns)
    r2 = reconcile_count()
    changed, added = diff(rv1, rv2)
    log(
        f"idle {args.idle}s: reconciles {r2 - r1}, resourceVersions changed {len(changed)} {changed[:10]}, "
        f"objects added/removed {len(added)} {added[:10]}"
    )
    if args.restart_operator:
        r0 = time.time()
        restart_operator()
        pid = operator_pid()
        deadline = time.time() + args.timeout
        while reconcile_count() < n and time.time() < deadline:
            time.sleep(2)
        log(f"operator restarted: {reconcile_count()} reconciles {time.time() - r0:.1f}s after the restart")
        wait_idle(args.settle)
        rv3 = resource_versions(ns)
        changed, added = diff(rv1, rv3)
        log(
            f"after the full resync: resourceVersions changed {len(changed)} {changed[:10]}, "
            f"objects added/removed {len(added)} {added[:10]}"
        )
        log(f"memory after the resync (after jcmd GC.run): {json.dumps(memory(pid, gc=True))}")
    log("done")


if __name__ == "__main__":
    sys.exit(main())
