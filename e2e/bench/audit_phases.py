#!/usr/bin/env python3
"""Where a gang start's time goes, from the kube-apiserver audit log (benchmark tool; prints figures, asserts nothing).

For every start in the log (kubectl creating a MoETrainingJob or a JobSet), the seconds from that create to the first
and the last of each kind of pod write that follows it in the same namespace:
  created    the 64 pod creates (the operator, or kube-controller-manager's Job controller for JobSet)
  nominated  kube-scheduler's pod status patches before the bindings (a gang member waiting at Permit gets a
             nominated node; bare pods get none)
  bound      kube-scheduler's pods/binding creates
  running    KWOK's pod status writes (the pods Running)
taken from each write's stageTimestamp (when the API server answered). The first `--pods` of each kind after a create
belong to that start (a benchmark run injects its failure only after the whole gang is Running). Then the medians per
controller (the namespace: bench for the operator, bench-jobset for JobSet).

--chunk N: one row per N consecutive starts of a namespace instead of one per namespace (fleet.sh --baseline-app
  starts the baseline and this build in turn, each for its bench_gang.py runs plus the warm-up: --chunk 4 for --runs 3).

Usage: e2e/bench/audit_phases.py [--pods 64] [--chunk N] AUDIT_LOG
  (fleet.sh writes $MOE_E2E_WORK/logs/audit.log per cluster; it is removed when the next cluster starts, so run
  this before, or point MOE_E2E_WORK elsewhere per run)
"""

import argparse
import collections
import datetime
import json
import statistics
import sys

STARTS = {"moetrainingjobs", "jobsets"}
PHASES = ("created", "nominated", "bound", "running")


def seconds(ts):
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def phase_of(ev, ref):
    """The phase a pod write belongs to, or None."""
    ua = (ev.get("userAgent") or "").lower()
    what = ref.get("resource"), ref.get("subresource"), ev.get("verb")
    if what == ("pods", None, "create"):
        return "created"
    if what == ("pods", "binding", "create"):
        return "bound"
    if what[:2] == ("pods", "status") and what[2] in ("patch", "update"):
        if "kube-scheduler" in ua:
            return "nominated"
        if "kwok" in ua:
            return "running"
    return None


def read_starts(path, pods):
    """[(namespace, {phase: [offsets]})] in log order."""
    starts, open_by_ns = [], {}
    with open(path, "rb") as f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("stage") != "ResponseComplete" or not str(
                ev.get("responseStatus", {}).get("code", "")
            ).startswith("2"):
                continue
            ref = ev.get("objectRef", {})
            ns = ref.get("namespace")
            t = seconds(ev["stageTimestamp"])
            if ref.get("resource") in STARTS and ev.get("verb") == "create" and not ref.get("subresource"):
                start = (ns, t, collections.defaultdict(list))
                starts.append(start)
                open_by_ns[ns] = start
                continue
            phase = phase_of(ev, ref)
            start = open_by_ns.get(ns)
            if phase and start and len(start[2][phase]) < pods:
                if phase == "nominated" and len(start[2]["bound"]) >= pods:
                    continue
                start[2][phase].append(t - start[1])
    return [(ns, phases) for ns, _, phases in starts]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=0, help="one row per CHUNK consecutive starts of a namespace")
    ap.add_argument("audit_log")
    args = ap.parse_args()
    by_ns = collections.defaultdict(list)
    seen = collections.Counter()
    for ns, phases in read_starts(args.audit_log, args.pods):
        key = f"{ns} #{seen[ns] // args.chunk + 1}" if args.chunk > 0 else ns
        seen[ns] += 1
        by_ns[key].append(phases)
    print(f"seconds after the create, median over the starts (first / last write of each kind); {args.pods} pods")
    print(f"| namespace | starts | {' | '.join(PHASES)} |")
    print(f"| --- | --- |{' --- |' * len(PHASES)}")
    for ns, runs in by_ns.items():
        cells = []
        for p in PHASES:
            firsts = [r[p][0] for r in runs if r[p]]
            lasts = [r[p][-1] for r in runs if r[p]]
            counts = [len(r[p]) for r in runs]
            if not firsts:
                cells.append("none")
                continue
            n = statistics.median(counts)
            cells.append(f"{statistics.median(firsts):.2f} / {statistics.median(lasts):.2f} ({n:g})")
        print(f"| {ns} | {len(runs)} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
