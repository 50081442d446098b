#!/usr/bin/env python3
"""CPU seconds of the local cluster's processes, and of the operator's threads by name (benchmark helper).

  cpu_ticks.py snapshot PIDS_DIR > before.json     # utime + stime of every process in PIDS_DIR/*.pid,
                                                   # and of each thread of the operator (pids/operator.pid)
  cpu_ticks.py diff before.json after.json         # one line per process, then the operator's thread groups

Threads are grouped by their name without its trailing number ("vert.x-eventloop-thread-3" and "-0" are one
group; the JVM gives each Java thread its name, cut to 15 characters, as the Linux thread name), so the JIT
compiler, the garbage collector, the Vert.x event loops that read the watch streams and the reconciler threads
show apart: where the operator's CPU goes without a profiler.
"""

import json
import os
import re
import sys


def ticks(stat_path):
    with open(stat_path) as f:
        stat = f.read()
    # The name, field 2, is in parentheses and may hold spaces: count the fields after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)


def thread_group(name):
    return re.sub(r"[-#_ ]?\d+$", "", name.strip()) or name.strip()


def snapshot(pids_dir):
    procs, threads = {}, {}
    for entry in sorted(os.listdir(pids_dir)):
        if not entry.endswith(".pid"):
            continue
        name = entry[: -len(".pid")]
        try:
            with open(os.path.join(pids_dir, entry)) as f:
                pid = f.read().strip()
            procs[name] = ticks(f"/proc/{pid}/stat")
        except (OSError, ValueError):
            continue
        if name == "operator":
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    with open(f"/proc/{pid}/task/{tid}/comm") as f:
                        comm = f.read()
                    threads[tid] = [comm.strip(), ticks(f"/proc/{pid}/task/{tid}/stat")]
                except OSError:
                    continue  # the thread ended meanwhile
    return {"processes": procs, "operator_threads": threads}


def diff(before, after, hz):
    procs = ", ".join(
        f"{k} {(v - before['processes'][k]) / hz:.2f}"
        for k, v in sorted(after["processes"].items())
        if k in before["processes"]
    )
    groups = {}
    for tid, (name, t) in after["operator_threads"].items():
        start = before["operator_threads"].get(tid, [name, 0])[1]  # a thread started meanwhile: all its CPU
        groups[thread_group(name)] = groups.get(thread_group(name), 0) + t - start
    top = sorted(((v, k) for k, v in groups.items() if v > 0), reverse=True)
    threads = ", ".join(f"{k} {v / hz:.2f}" for v, k in top[:8])
    return procs, threads


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "snapshot":
        json.dump(snapshot(sys.argv[2]), sys.stdout)
    elif len(sys.argv) == 4 and sys.argv[1] == "diff":
        with open(sys.argv[2]) as b, open(sys.argv[3]) as a:
            procs, threads = diff(json.load(b), json.load(a), os.sysconf("SC_CLK_TCK"))
        print(f"CPU seconds: {procs}")
        print(f"  operator threads: {threads}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
