"""Operator tier: the operator restarted (an upgrade, a node drain) while jobs run. The new process reconciles every
stored job at once, while Quarkus is still starting; what it records then must reach /q/metrics like anything
recorded later: the reconcile count, and the per-job series the Grafana dashboard and the alerts read (JobMetrics,
which writes to Quarkus's Prometheus registry itself: the composite registry over it had no registry under it yet
and dropped what the resync recorded)."""

import re
import urllib.request

from conftest import (
    HELD_TRAINER,
    OPERATOR_PORT,
    apply,
    operator_health,
    running_gang,
    start_operator,
    stop_operator,
    tiny_job,
    wait,
)

RECONCILES = re.compile(r'^moe_reconcile_duration_seconds_count\{result="success",?\} (\S+)$', re.M)


def scrape():
    with urllib.request.urlopen(f"http://127.0.0.1:{OPERATOR_PORT}/q/metrics", timeout=5) as r:
        return r.read().decode()


def test_a_restarted_operator_counts_its_resync_and_serves_every_running_jobs_series(ns):
    names = [f"resync-{i}" for i in range(3)]
    for name in names:
        apply(tiny_job(name, trainer=HELD_TRAINER), ns)
    for name in names:
        running_gang(ns, name, tiny_job(name)["spec"]["resources"]["nodes"])

    stop_operator()
    start_operator()
    wait(lambda: operator_health("ready") == "UP", 90, "the restarted operator ready")

    def running_series(text, name):
        labels = f'moejob="{re.escape(name)}",namespace="{re.escape(ns)}",phase="Running",?'
        return re.search(rf"^moe_job_phase\{{{labels}\}} 1\.0$", text, re.M) is not None

    def all_seen():
        text = scrape()
        m = RECONCILES.search(text)
        counted = float(m.group(1)) if m else 0
        return counted >= len(names) and all(running_series(text, n) for n in names)

    # Nothing about the jobs changes after the restart, so the resync's reconciles are the only ones there are.
    wait(all_seen, 60, "the resync's reconciles counted and every running job's series served")
