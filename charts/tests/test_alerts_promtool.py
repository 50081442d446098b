"""The chart's alerts checked and unit-tested by a real promtool (Prometheus 3.x, built from the Go module proxy by
e2e/bin/build-prometheus.sh, cached under ~/.cache/moe): the rules are taken from the PrometheusRule helm renders
(so values.yaml thresholds and the `tpl` escaping are what is tested), `promtool check rules` must accept them, and
`promtool test rules` runs charts/tests/prometheus/moe-alerts.test.yaml: a stalled job, a restart storm and a failed
job each fire their alert; a healthy job on a healthy operator fires none."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "moe-operator"
UNIT_TESTS = Path(__file__).resolve().parent / "prometheus" / "moe-alerts.test.yaml"
RULES_FILE = "moe-alerts.rules.yaml"  # the name the unit-test file's rule_files refers to


def _last_line(script: str) -> str:
    """What an ensure/build script prints last: the path of what it made (built once, then cached)."""
    out = subprocess.run(["bash", str(REPO / script)], check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


HELM = os.environ.get("HELM") or _last_line("charts/scripts/ensure-helm.sh")
PROMTOOL = os.environ.get("PROMTOOL") or str(Path(_last_line("e2e/bin/build-prometheus.sh")) / "promtool")


def rendered_groups(*sets: str) -> list[dict]:
    args = [HELM, "template", "rel", str(CHART), "--namespace", "moe-system", "--kube-version", "1.36.3"]
    args += ["--api-versions", "monitoring.coreos.com/v1"]  # the chart renders monitoring objects only where served
    for s in ["metrics.prometheusRule.enabled=true", *sets]:
        args += ["--set", s]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    rules = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "PrometheusRule"]
    assert len(rules) == 1, f"expected one PrometheusRule, got {len(rules)}"
    return rules[0]["spec"]["groups"]


def write_rules(path: Path, *sets: str) -> Path:
    """The PrometheusRule's groups as a Prometheus rule file (what the Prometheus Operator hands to Prometheus)."""
    path.write_text(yaml.safe_dump({"groups": rendered_groups(*sets)}, sort_keys=False))
    return path


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True)


def test_promtool_accepts_the_rendered_rules(tmp_path):
    for sets in [(), ("metrics.prometheusRule.stalledMinutes=30",)]:
        r = promtool("check", "rules", str(write_rules(tmp_path / RULES_FILE, *sets)))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "SUCCESS: 11 rules found" in r.stdout, r.stdout


def test_alert_unit_tests_pass(tmp_path):
    write_rules(tmp_path / RULES_FILE)
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    r = promtool("test", "rules", str(tmp_path / UNIT_TESTS.name))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout, r.stdout


def test_unit_tests_cover_every_alert_and_fire_the_three_that_matter():
    alerts = {r["alert"] for g in rendered_groups() for r in g["rules"] if "alert" in r}
    tests = {t["name"]: t for t in yaml.safe_load(UNIT_TESTS.read_text())["tests"]}
    quiet = {c["alertname"] for c in tests["healthy job fires nothing"]["alert_rule_test"] if not c["exp_alerts"]}
    assert quiet == alerts, f"the healthy test must expect silence from every alert; missing {alerts - quiet}"
    fired = {
        (name, c["alertname"]) for name, t in tests.items() for c in t.get("alert_rule_test", []) if c["exp_alerts"]
    }
    for case in [
        ("stalled job", "MoETrainingJobStalled"),
        ("restart storm", "MoETrainingJobRestartStorm"),
        ("failed job", "MoETrainingJobFailed"),
    ]:
        assert case in fired, f"{case[0]!r} must expect {case[1]} to fire"


def test_a_broken_rule_fails_the_unit_tests(tmp_path):
    """The unit tests notice a wrong rule: with the stall window widened to 60 minutes the stalled job of the test
    (frozen for 30) must no longer fire, and promtool test rules must say so."""
    write_rules(tmp_path / RULES_FILE, "metrics.prometheusRule.stalledMinutes=60")
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    r = promtool("test", "rules", str(tmp_path / UNIT_TESTS.name))
    assert r.returncode != 0
    assert "MoETrainingJobStalled" in r.stdout + r.stderr


@pytest.mark.parametrize("expr", ["moe_job_step{", "rate(moe_job_step[5m]"])
def test_promtool_refuses_an_unparsable_rule(tmp_path, expr):
    """The check is a real parser: a broken expression is refused (so a passing check means something)."""
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": expr}]}]}))
    r = promtool("check", "rules", str(f))
    assert r.returncode != 0
