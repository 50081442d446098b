#!/usr/bin/env python3
"""Control-plane benchmark of the operator (prints figures; asserts nothing about time).

Needs a running cluster with >= 64 KWOK nodes (MOE_E2E_NODES=64 e2e/bin/cluster-up.sh) and the operator
(e2e/bin/operator-up.sh); e2e/bench/run.sh does all of it. For each run it:
  1. `kubectl apply -f e2e/bench/job-512.yaml` (64 nodes x 8 GPUs) and times apply -> all 64 pods created,
     bound by kube-scheduler, Running (KWOK), and the job's status.phase Running;
  2. counts API writes (POST/PUT/PATCH/DELETE) from kube-apiserver's apiserver_request_total (difference
     before/after, by resource) and, when the apiserver writes an audit log (run.sh turns it on), per client
     (user agent: the operator, kube-scheduler, kwok, kubectl);
  3. no-op reconcile: touches a pod (an event for the job) and checks that the job's and its dependents'
     resourceVersions stay the same and that the operator writes nothing;
  4. failure: one pod exits 75 (KWOK stage annotation); times pod Failed -> new gang created / Running
     (restartPolicy.backoffSeconds 1);
  5. deletes the job and waits until its pods are gone.
Pod times come from one `kubectl get pods --watch` stream, stamped on arrival.

Usage: e2e/bench/bench_gang.py [--runs 5] [--namespace bench] [--job e2e/bench/job-512.yaml] [--nodes N]
  --job e2e/bench/job-4096.yaml with MOE_E2E_NODES=512 e2e/bench/run.sh measures the 4,096-GPU job; --nodes N
  applies the job with spec.resources.nodes = N instead of the file's (the fleet must have N nodes).
Env: KUBECONFIG, MOE_E2E_WORK (admin cert for /metrics, audit log), MOE_E2E_APISERVER_PORT, MOE_E2E_OPERATOR_PORT.
"""

import argparse
import collections
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import threading
import time

E2E = pathlib.Path(__file__).resolve().parents[1]
REPO = E2E.parent
WORK = pathlib.Path(os.environ.get("MOE_E2E_WORK", str(E2E / ".work")))
APISERVER = f"https://127.0.0.1:{os.environ.get('MOE_E2E_APISERVER_PORT', '16443')}"
OPERATOR = f"http://127.0.0.1:{os.environ.get('MOE_E2E_OPERATOR_PORT', '18080')}"
JOBS = "moetrainingjobs.training.moe.dev"
WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE")
AUDIT_LOG = WORK / "logs" / "audit.log"


def kubectl(*args, input=None, check=True):
    p = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


def curl(url, admin=True):
    cmd = ["curl", "-fsS", "--max-time", "20"]
    if admin:
        pki = WORK / "pki"
        cmd += ["--cacert", str(pki / "ca.crt"), "--cert", str(pki / "admin.crt"), "--key", str(pki / "admin.key")]
    return subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout


METRIC = re.compile(r"^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$")


def api_writes():
    """apiserver_request_total of write verbs, by (verb, group, resource, subresource)."""
    out = collections.Counter()
    for line in curl(f"{APISERVER}/metrics").splitlines():
        m = METRIC.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels.get("verb") in WRITE_VERBS:
            key = (labels["verb"], labels.get("group", ""), labels["resource"], labels.get("subresource", ""))
            out[key] += int(float(m.group(2)))
    return out


def audit_offset():
    return AUDIT_LOG.stat().st_size if AUDIT_LOG.exists() else None


def client_of(user_agent):
    ua = (user_agent or "").lower()
    for name in ("kube-scheduler", "kube-controller-manager", "kwok", "kubectl", "fabric8"):
        if name in ua:
            return "operator" if name == "fabric8" else name
    return ua.split("/")[0] or "?"


def audit_writes(since, client=client_of):
    """Writes per client (user agent, named by `client`) in the audit log after byte offset `since`; None without
    an audit log."""
    if since is None or not AUDIT_LOG.exists():
        return None
    by_client = collections.Counter()
    by_what = collections.Counter()
    with open(AUDIT_LOG, "rb") as f:
        f.seek(since)
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("stage") != "ResponseComplete":
                continue
            c = client(ev.get("userAgent"))
            ref = ev.get("objectRef", {})
            by_client[c] += 1
            by_what[
                (
                    c,
                    ev.get("verb"),
                    ref.get("resource", "") + ("/" + ref["subresource"] if ref.get("subresource") else ""),
                )
            ] += 1
    return by_client, by_what


def status_patches(audit):
    """The operator's `patch moetrainingjobs/status` in an audit_writes() result; None without an audit log."""
    return audit[1].get(("operator", "patch", "moetrainingjobs/status"), 0) if audit else None


def reconcile_count():
    try:
        text = curl(f"{OPERATOR}/q/metrics", admin=False)
    except subprocess.CalledProcessError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith("moe_reconcile_duration_seconds_count"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


class PodWatch:
    """One `kubectl get pods --watch` stream; keeps each pod's latest state and when each state was first seen."""

    FMT = (
        "jsonpath={.metadata.name}|{.metadata.uid}|{.metadata.labels.training\\.moe\\.dev/attempt}|"
        '{.spec.nodeName}|{.status.phase}|{.metadata.deletionTimestamp}{"\\n"}'
    )

    def __init__(self, ns, job, selector=None, attempt_label=r"training\.moe\.dev/attempt"):
        """selector / attempt_label: other pods than the operator's (bench_jobset.py: JobSet's restart-attempt)."""
        fmt = self.FMT.replace(r"training\.moe\.dev/attempt", attempt_label)
        self.lock = threading.Lock()
        self.pods = {}  # uid -> dict(name, attempt, node, phase, deleting, seen, bound, running, failed)
        self.gone = set()
        self.cmd = [
            "kubectl",
            "get",
            "pods",
            "-n",
            ns,
            "-l",
            selector or f"training.moe.dev/job={job}",
            "--watch",
            "--output-watch-events=false",
            "-o",
            fmt,
        ]
        self.stopped = False
        self.restarts = 0
        self.proc = self._start()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _start(self):
        return subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def _read(self):
        while not self.stopped:
            self._read_stream()
            if not self.stopped:
                # The watch ended (the apiserver closed it, or kubectl lost the connection on a loaded machine):
                # start another; its initial list brings every pod's current state.
                self.restarts += 1
                self.proc = self._start()

    def _read_stream(self):
        for line in self.proc.stdout:
            now = time.monotonic()
            parts = line.rstrip("\n").split("|")
            if len(parts) != 6:
                continue
            name, uid, attempt, node, phase, deleting = parts
            with self.lock:
                p = self.pods.setdefault(uid, {"name": name, "attempt": attempt, "seen": now})
                p.update(node=node, phase=phase, deleting=bool(deleting))
                if node and "bound" not in p:
                    p["bound"] = now
                if phase == "Running" and "running" not in p:
                    p["running"] = now
                if phase == "Failed" and "failed" not in p:
                    p["failed"] = now

    def of_attempt(self, attempt):
        """The attempt's pods, the newest incarnation of each name only: a pod deleted and created again under its
        name (kwok v0.8.0 can delete a new pod by the name of the old one it was finishing; the operator then
        creates the rank again) leaves its first uid behind without a deletion event in this stream."""
        with self.lock:
            newest = {}
            for p in self.pods.values():
                if p["attempt"] == str(attempt) and (p["name"] not in newest or p["seen"] >= newest[p["name"]]["seen"]):
                    newest[p["name"]] = p
            return [dict(p) for p in newest.values()]

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = predicate()
            if v:
                return v
            time.sleep(0.05)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}")

    def all_at(self, attempt, n, key):
        """Time at which all n pods of the attempt had reached `key` (seen/bound/running), or None."""
        ps = self.of_attempt(attempt)
        if len(ps) < n or any(key not in p for p in ps):
            return None
        return max(p[key] for p in sorted(ps, key=lambda p: p[key])[:n])

    def stop(self):
        self.stopped = True
        self.proc.kill()


def delta(after, before):
    d = collections.Counter(after)
    d.subtract(before)
    return {k: v for k, v in d.items() if v}


def job_obj(ns, name):
    return json.loads(kubectl("get", JOBS, name, "-n", ns, "-o", "json"))


def versions(ns, name):
    """resourceVersions of the job and everything it owns except pods."""
    rv = {"job": job_obj(ns, name)["metadata"]["resourceVersion"]}
    for kind in (
        "configmap",
        "service",
        "serviceaccount",
        "role.rbac.authorization.k8s.io",
        "rolebinding.rbac.authorization.k8s.io",
    ):
        items = json.loads(kubectl("get", kind, "-n", ns, "-l", f"training.moe.dev/job={name}", "-o", "json"))["items"]
        for it in items:
            rv[f"{kind.split('.')[0]}/{it['metadata']['name']}"] = it["metadata"]["resourceVersion"]
    return rv


def fmt_writes(d):
    by = collections.Counter()
    for (verb, group, resource, sub), n in d.items():
        by[f"{verb} {group + '/' if group else ''}{resource}{'/' + sub if sub else ''}"] += n
    return ", ".join(f"{k}={v}" for k, v in sorted(by.items(), key=lambda kv: -kv[1]))


def one_run(i, ns, job_json, name, nodes, log):
    watch = PodWatch(ns, name)
    time.sleep(0.5)  # the watch is established before the apply
    m0, a0, r0 = api_writes(), audit_offset(), reconcile_count()
    t0 = time.monotonic()
    kubectl("apply", "-n", ns, "-f", "-", input=job_json)
    t_apply = time.monotonic() - t0
    t_running = watch.wait(lambda: watch.all_at(0, nodes, "running"), 300, f"{nodes} pods Running") - t0
    t_created = watch.all_at(0, nodes, "seen") - t0
    t_bound = watch.all_at(0, nodes, "bound") - t0
    deadline = time.monotonic() + 60
    while job_obj(ns, name).get("status", {}).get("phase") != "Running":
        if time.monotonic() > deadline:
            raise TimeoutError("job status not Running")
        time.sleep(0.1)
    t_status = time.monotonic() - t0
    gang_mode = job_obj(ns, name).get("status", {}).get("gangMode")
    time.sleep(3)  # let the last status patch / events land
    m1 = api_writes()
    create_writes = delta(m1, m0)
    create_audit = audit_writes(a0)
    r1 = reconcile_count()

    # No-op reconcile: an event for the job (a pod annotation) must not change anything.
    rv_before = versions(ns, name)
    a2 = audit_offset()
    r2 = reconcile_count()
    kubectl("annotate", "pod", f"{name}-node-3", "-n", ns, f"bench.moe.dev/touch={i}", "--overwrite")
    time.sleep(5)
    rv_after = versions(ns, name)
    noop_audit = audit_writes(a2)
    r3 = reconcile_count()
    noop_operator_writes = noop_audit[0].get("operator", 0) if noop_audit else None

    # Failure -> gang recreated.
    m2, a3 = api_writes(), audit_offset()
    victim = f"{name}-node-7"
    kubectl("annotate", "pod", victim, "-n", ns, "e2e.moe.dev/exit-code=75", "--overwrite")
    t_fail = watch.wait(
        lambda: next((p.get("failed") for p in watch.of_attempt(0) if p["name"] == victim and "failed" in p), None),
        60,
        "victim Failed",
    )
    slow = max(120, nodes)  # seconds: bounds that grow with the gang (512 pods take longer to delete and bind)
    t_rec_created = watch.wait(lambda: watch.all_at(1, nodes, "seen"), slow, "new gang created") - t_fail
    t_rec_running = watch.wait(lambda: watch.all_at(1, nodes, "running"), slow, "new gang Running") - t_fail
    time.sleep(3)
    restart_writes = delta(api_writes(), m2)
    restart_audit = audit_writes(a3)

    kubectl("delete", JOBS, name, "-n", ns, "--wait=true", f"--timeout={slow}s")
    watch.wait(
        lambda: not kubectl("get", "pods", "-n", ns, "-l", f"training.moe.dev/job={name}", "-o", "name"),
        max(180, 2 * nodes),
        "pods garbage-collected",
    )
    watch.stop()
    res = {
        "apply_s": t_apply,
        "created_s": t_created,
        "bound_s": t_bound,
        "running_s": t_running,
        "status_s": t_status,
        "gang_mode": gang_mode,
        "create_writes_total": sum(create_writes.values()),
        "create_writes_operator": create_audit[0].get("operator") if create_audit else None,
        "create_audit": dict(create_audit[0]) if create_audit else None,
        "reconciles_create": (r1 - r0) if r0 is not None and r1 is not None else None,
        "noop_rv_stable": rv_before == rv_after,
        "noop_rv_changed": {k: (rv_before.get(k), v) for k, v in rv_after.items() if rv_before.get(k) != v},
        "noop_reconciles": (r3 - r2) if r2 is not None and r3 is not None else None,
        "noop_operator_writes": noop_operator_writes,
        "fail_to_created_s": t_rec_created,
        "fail_to_running_s": t_rec_running,
        "restart_writes_total": sum(restart_writes.values()),
        "restart_writes_operator": restart_audit[0].get("operator") if restart_audit else None,
        "restart_audit": dict(restart_audit[0]) if restart_audit else None,
        "create_status_patches_operator": status_patches(create_audit),
        "restart_status_patches_operator": status_patches(restart_audit),
        "watch_restarts": watch.restarts,
    }
    log(
        f"run {i}: apply->created {t_created:.2f}s, bound {t_bound:.2f}s, Running {t_running:.2f}s, "
        f"status Running {t_status:.2f}s (gangMode {gang_mode}); writes {res['create_writes_total']} "
        f"(operator {res['create_writes_operator']}; {res['create_audit']}); "
        f"no-op: rv stable {res['noop_rv_stable']}, reconciles {res['noop_reconciles']}, operator writes "
        f"{noop_operator_writes}; failure -> created {t_rec_created:.2f}s, Running {t_rec_running:.2f}s; "
        f"restart writes {res['restart_writes_total']} (operator {res['restart_writes_operator']}); "
        f"pod watch restarted {watch.restarts}x"
    )
    if i == 0:
        log(f"  writes by resource (create): {fmt_writes(create_writes)}")
        if create_audit:
            log(
                "  writes by client (create): "
                + ", ".join(
                    f"{c} {v} {r}={n}" for (c, v, r), n in sorted(create_audit[1].items(), key=lambda kv: -kv[1])
                )
            )
        if restart_audit:
            log(
                "  writes by client (restart): "
                + ", ".join(
                    f"{c} {v} {r}={n}" for (c, v, r), n in sorted(restart_audit[1].items(), key=lambda kv: -kv[1])
                )
            )
    return res


def measured_runs(one_run, runs, warmup, log):
    """`warmup` + `runs` runs of one_run(i); the first `warmup` are marked {"warmup": true} and left out of the
    summaries. The first gang on a fresh cluster pays for cold caches in every component (the operator's JIT,
    kube-scheduler's and KWOK's first pods), so bench_jobset.py warms JobSet up the same way."""
    results = []
    for i in range(warmup + runs):
        if i < warmup:
            log(f"(run {i} is a warm-up run, not counted)")
        results.append(one_run(i) | {"warmup": i < warmup})
    return results


def log_summary(results, times, counts, pods, log):
    """Medians [min-max] of the counted runs: `times` (key, label) in seconds, `counts` (key, label) as numbers,
    writes also per pod."""
    counted = [r for r in results if not r.get("warmup")]

    def vals(key):
        return [r[key] for r in counted if r.get(key) is not None]

    warm = len(results) - len(counted)
    log("")
    log(f"SUMMARY ({len(counted)} runs after {warm} warm-up, median [min-max])")
    for key, label in times:
        v = vals(key)
        log(f"  {label:45s} {statistics.median(v):.2f} s [{min(v):.2f}-{max(v):.2f}]" if v else f"  {label:45s} n/a")
    for key, label in counts:
        v = vals(key)
        if not v:
            log(f"  {label:45s} n/a")
            continue
        med = statistics.median(v)
        per_pod = f" ({med / pods:.2f} per pod)" if "writes" in key and "noop" not in key else ""
        log(f"  {label:45s} {med:g} [{min(v):g}-{max(v):g}]{per_pod}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="runs before the counted ones, left out of the summary")
    ap.add_argument("--namespace", default="bench")
    ap.add_argument("--job", default=str(E2E / "bench" / "job-512.yaml"))
    ap.add_argument("--nodes", type=int, help="override the job's spec.resources.nodes")
    ap.add_argument("--json", help="also write the per-run results here")
    args = ap.parse_args()
    log = lambda s: print(s, flush=True)  # noqa: E731
    job_file = pathlib.Path(args.job)
    spec = json.loads(kubectl("create", "--dry-run=client", "-o", "json", "-f", str(job_file)))
    spec["metadata"].pop("namespace", None)  # the client's dry run fills in its own; the job goes to --namespace
    if args.nodes:
        spec["spec"]["resources"]["nodes"] = args.nodes
    name, nodes = spec["metadata"]["name"], spec["spec"]["resources"]["nodes"]
    gpus = nodes * spec["spec"]["resources"]["gpusPerNode"]
    fleet = len(json.loads(kubectl("get", "nodes", "-o", "json"))["items"])
    if fleet < nodes:
        sys.exit(f"the cluster has {fleet} nodes; {name} needs {nodes} (MOE_E2E_NODES={nodes} e2e/bin/cluster-up.sh)")
    if kubectl("get", "namespace", args.namespace, check=False) == "":
        kubectl("create", "namespace", args.namespace)
    deadline = time.time() + 60
    while (
        subprocess.run(
            ["kubectl", "get", "serviceaccount", "default", "-n", args.namespace], capture_output=True
        ).returncode
        != 0
    ):
        if time.time() > deadline:
            sys.exit("no default ServiceAccount in the bench namespace")
        time.sleep(0.5)
    log(
        f"benchmark: {name} ({nodes} nodes x {gpus // nodes} GPUs = {gpus} GPUs) on {fleet} KWOK nodes, "
        f"{args.runs} runs; audit log: {'yes' if AUDIT_LOG.exists() else 'no (writes per client unavailable)'}"
    )
    job_json = json.dumps(spec)
    run = lambda i: one_run(i, args.namespace, job_json, name, nodes, log)  # noqa: E731
    results = measured_runs(run, args.runs, args.warmup, log)
    log_summary(
        results,
        (
            ("created_s", "apply -> all pods created"),
            ("bound_s", "apply -> all pods bound"),
            ("running_s", "apply -> all pods Running"),
            ("status_s", "apply -> job status Running"),
            ("fail_to_created_s", "pod Failed -> new gang created"),
            ("fail_to_running_s", "pod Failed -> new gang Running (backoff 1 s)"),
        ),
        (
            ("create_writes_operator", "operator API writes per job (create)"),
            ("create_writes_total", "all API writes per job (create)"),
            ("restart_writes_operator", "operator API writes per gang restart"),
            ("restart_writes_total", "all API writes per gang restart"),
            ("create_status_patches_operator", "operator status patches per gang start"),
            ("restart_status_patches_operator", "operator status patches per gang restart"),
            ("noop_operator_writes", "operator writes on a no-op reconcile"),
            ("noop_reconciles", "reconciles triggered by the no-op event"),
        ),
        nodes,
        log,
    )
    counted = [r for r in results if not r["warmup"]]
    log(f"  {'status.gangMode':45s} {sorted({str(r['gang_mode']) for r in counted})}")
    log(f"  {'no-op: resourceVersions stable':45s} {sum(r['noop_rv_stable'] for r in counted)}/{len(counted)} runs")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
