#!/usr/bin/env python3
"""Side-by-side table of e2e/bench/fleet.sh: reads DIR/<mode>-{jobset,operator,meta}.json (the --json output of
bench_jobset.py and bench_gang.py, 5 runs each) and prints one Markdown table, medians [min-max] of the runs after
the warm-up; writes one row per controller and mode to DIR/rows.jsonl (for bench/results.jsonl).

Usage: e2e/bench/fleet_table.py DIR MODE...   (MODE: default, tuned; one column per DIR/<mode>-operator*.json)
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROWS = (  # key, label, is a time
    ("created_s", "apply → all 64 pods created", True),
    ("bound_s", "apply → all pods bound", True),
    ("running_s", "apply → all pods Running", True),
    ("pods_in_pod_group", "JobSet's pods in a PodGroup (fleet.sh --job-gang)", False),
    ("fail_to_created_s", "pod Failed → new gang created", True),
    ("fail_to_running_s", "pod Failed → new gang Running", True),
    ("fail_to_running_less_backoff_s", "… less the operator's 1 s backoff", True),
    ("create_writes_total", "API writes per job (create), all clients", False),
    ("create_writes_self", "… by the controller (JobSet / operator)", False),
    ("create_writes_kcm", "… by kube-controller-manager", False),
    ("restart_writes_total", "API writes per restart, all clients", False),
    ("restart_writes_self", "… by the controller (JobSet / operator)", False),
    ("restart_writes_kcm", "… by kube-controller-manager", False),
)
OPERATOR_BACKOFF_S = 1.0  # job-512.yaml restartPolicy.backoffSeconds


def kcm(audit):
    return sum(n for c, n in (audit or {}).items() if c.startswith("kcm:") or c == "kube-controller-manager")


def normalise(run, controller):
    """The fields of ROWS from one run of either benchmark."""
    r = dict(run)
    self_key = "jobset" if controller == "jobset" else "operator"
    r["create_writes_self"] = (r.get("create_audit") or {}).get(self_key, 0)
    r["restart_writes_self"] = (r.get("restart_audit") or {}).get(self_key, 0)
    r["create_writes_kcm"] = kcm(r.get("create_audit"))
    r["restart_writes_kcm"] = kcm(r.get("restart_audit"))
    backoff = OPERATOR_BACKOFF_S if controller == "operator" else 0.0
    r["fail_to_running_less_backoff_s"] = r["fail_to_running_s"] - backoff
    return r


def stats(runs, key):
    v = [r[key] for r in runs if r.get(key) is not None]
    return (statistics.median(v), min(v), max(v)) if v else None


def cell(s, is_time):
    if s is None:
        return "n/a"
    med, lo, hi = s
    return f"{med:.2f} s [{lo:.2f}–{hi:.2f}]" if is_time else f"{med:g} [{lo:g}–{hi:g}]"


def main(argv):
    out, modes = pathlib.Path(argv[1]), argv[2:]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cols, rows_out = [], []
    for mode in modes:
        meta = json.loads((out / f"{mode}-meta.json").read_text())
        # this checkout's operator, or with fleet.sh --baseline-app the rounds of both builds
        operators = sorted(p.stem[len(mode) + 1 :] for p in out.glob(f"{mode}-operator*.json"))
        for run_name in ["jobset", *operators]:
            controller = "jobset" if run_name == "jobset" else "operator"
            every = json.loads((out / f"{mode}-{run_name}.json").read_text())
            runs = [normalise(r, controller) for r in every if not r.get("warmup")]
            name = "JobSet v0.12.0" if controller == "jobset" else run_name
            if controller == "jobset" and meta.get("job_gang"):
                name += " with the Job controller's gang"
            limits = "controller-manager and scheduler tuned" if meta["kcm_args"] else "default rate limits"
            cols.append((f"{name}, {limits}", runs))
            row = {
                "bench": "fleet-64-nodes",
                "controller": controller,
                "build": run_name,
                "kcm": mode,
                "kcm_args": meta["kcm_args"],
                "scheduler_args": meta.get("scheduler_args", ""),
                "job_gang": meta.get("job_gang", False),
                "runs": len(runs),
                "commit": commit,
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "load_start": meta.get("load_start"),
                "load_end": meta.get("load_end"),
                "command": os.environ.get("MOE_FLEET_COMMAND", "bash e2e/bench/fleet.sh"),
            }
            for key, _, _ in ROWS:
                s = stats(runs, key)
                row[key + "_median"] = s[0] if s else None
                row[key + "_range"] = [s[1], s[2]] if s else None
            rows_out.append(row)
    print(f"| measure ({len(cols[0][1])} runs each, median [min–max]) | " + " | ".join(c for c, _ in cols) + " |")
    print("| --- |" + " --- |" * len(cols))
    for key, label, is_time in ROWS:
        print(f"| {label} | " + " | ".join(cell(stats(runs, key), is_time) for _, runs in cols) + " |")
    with open(out / "rows.jsonl", "w") as f:
        for row in rows_out:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(sys.argv)
