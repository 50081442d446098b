"""A real Prometheus (3.x, built from the Go module proxy by e2e/bin/build-prometheus.sh) scrapes the running operator
and the real CPU trainer of a job run under it (e2e/runner/local_runner.py), loads the chart's alert rules, and then
answers every query of the chart's Grafana dashboard and every alert expression with series that carry the labels
the panels and the alerts use.

The scrape configuration is what the Prometheus Operator makes of the chart's ServiceMonitor and PodMonitor
(rendered by helm): the same path, honorLabels, port selection, target labels (namespace, pod, container, service,
endpoint) and the chart's own relabelings, applied by Prometheus to targets whose __meta_kubernetes_* labels this
harness writes from the real pods (file_sd) instead of Kubernetes service discovery: the pods' IPs are KWOK's, the
processes listen on loopback ports the runner chose (state.json metricsPort).

Scenario (one namespace): `trained` runs the real trainer (2 pods x 1 process, 2-way expert parallel) and reports
progress; `broken` runs on KWOK and fails with the trainer's config-error exit code (Failed, no restart);
`too-big` is refused by the plan engine (Invalid: a plan rejection). Suite `prometheus` in e2e/run-tests.sh."""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
import yaml
from conftest import REPO, apply, apply_file, fail_pod, kubectl, running_gang, tiny_job, wait, wait_phase
from test_contract_run import VENV_PY, WORK, LocalRunner

PROMETHEUS_PORT = int(os.environ.get("MOE_E2E_PROMETHEUS_PORT", "19090"))
OPERATOR_PORT = int(os.environ.get("MOE_E2E_OPERATOR_PORT", "18080"))
CHART = REPO / "charts" / "moe-operator"
DASHBOARDS = sorted((CHART / "dashboards").glob("*.json"))
RELEASE, RELEASE_NS = "moe-operator", "moe-system"  # as e2e/bin/operator-up.sh installs the chart's RBAC
SCRAPE_SECONDS = 1  # the chart's intervals are 30 s / 15 s; a test cannot wait for that many samples
CONFIG_ERROR = 78  # the trainer's EX_CONFIG (docs/contract.md): never retried
SAMPLES_TIMEOUT = 150  # trainer start (~15-30 s on 2 busy cores), first progress report, scrapes
BASE = f"http://127.0.0.1:{PROMETHEUS_PORT}"
LOW_MFU_THRESHOLD = yaml.safe_load((CHART / "values.yaml").read_text())["metrics"]["prometheusRule"]["lowMfuThreshold"]


def _last_line(script: str) -> str:
    out = subprocess.run(["bash", str(REPO / script)], check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


# ---------------------------------------------------------------------------------------------- the chart's objects
def rendered_monitoring() -> dict[str, dict]:
    helm = os.environ.get("HELM") or _last_line("charts/scripts/ensure-helm.sh")
    args = [helm, "template", RELEASE, str(CHART), "--namespace", RELEASE_NS, "--kube-version", "1.36.3"]
    args += ["--api-versions", "monitoring.coreos.com/v1"]  # the chart renders monitoring objects only where served
    for s in ("serviceMonitor", "podMonitor", "prometheusRule"):
        args += ["--set", f"metrics.{s}.enabled=true"]
    docs = [d for d in yaml.safe_load_all(subprocess.check_output(args, text=True)) if d]
    return {d["kind"]: d for d in docs if d["kind"] in ("ServiceMonitor", "PodMonitor", "PrometheusRule")}


_RELABEL_KEYS = {"sourceLabels": "source_labels", "targetLabel": "target_label"}


def relabelings(spec_relabelings: list[dict]) -> list[dict]:
    """Prometheus Operator RelabelConfig (camelCase) -> Prometheus relabel_config (snake_case)."""
    out = []
    for r in spec_relabelings or []:
        c = {_RELABEL_KEYS.get(k, k): v for k, v in r.items()}
        if "action" in c:
            c["action"] = c["action"].lower()
        out.append(c)
    return out


def standard_relabelings(port: str) -> list[dict]:
    """The target labels the Prometheus Operator gives every ServiceMonitor/PodMonitor target, and its port pick."""
    return [
        {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port, "action": "keep"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"target_label": "endpoint", "replacement": port},
    ]


def scrape_config(kind: str, obj: dict, sd: dict) -> dict:
    ep = (obj["spec"].get("endpoints") or obj["spec"].get("podMetricsEndpoints"))[0]
    md = obj["metadata"]
    return {
        "job_name": f"{kind}/{md['namespace']}/{md['name']}/0",
        "scrape_interval": f"{SCRAPE_SECONDS}s",
        "metrics_path": ep.get("path", "/metrics"),
        "honor_labels": bool(ep.get("honorLabels", False)),
        **sd,
        "relabel_configs": standard_relabelings(ep["port"])
        + [{"target_label": "job", "replacement": md["name"]}]
        + relabelings(ep.get("relabelings")),
        "metric_relabel_configs": relabelings(ep.get("metricRelabelings")),
    }


def label_selector(sel: dict) -> str:
    """A LabelSelector (matchLabels, matchExpressions) as kubectl's -l string."""
    parts = [f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items()]
    for e in sel.get("matchExpressions") or []:
        op, k = e["operator"], e["key"]
        vals = ",".join(e.get("values") or [])
        parts.append(
            {"Exists": k, "DoesNotExist": f"!{k}", "In": f"{k} in ({vals})", "NotIn": f"{k} notin ({vals})"}[op]
        )
    return ",".join(parts)


def meta_name(label: str) -> str:
    """How Kubernetes service discovery spells a label in __meta_* names."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", label)


def pod_targets(pod: dict, address: str) -> list[dict]:
    """What Kubernetes SD (role pod) would list for the pod's container ports, pointed at the local process."""
    md = pod["metadata"]
    out = []
    for c in pod["spec"]["containers"]:
        for port in c.get("ports", []):
            labels = {
                "__meta_kubernetes_namespace": md["namespace"],
                "__meta_kubernetes_pod_name": md["name"],
                "__meta_kubernetes_pod_container_name": c["name"],
                "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
                "__meta_kubernetes_pod_node_name": pod["spec"].get("nodeName", ""),
            }
            for k, v in (md.get("labels") or {}).items():
                labels[f"__meta_kubernetes_pod_label_{meta_name(k)}"] = v
            out.append({"targets": [address], "labels": labels})
    return out


# ---------------------------------------------------------------------------------------------- Prometheus' HTTP API
def api(path: str, **params) -> dict:
    url = f"{BASE}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        body = json.load(e)
    assert body.get("status") == "success", f"{path} {params}: {body.get('errorType')}: {body.get('error')}"
    return body["data"]


def query(expr: str) -> list[dict]:
    data = api("query", query=expr)
    assert data["resultType"] == "vector", (expr, data["resultType"])
    return data["result"]


def finite(series: dict) -> bool:
    return math.isfinite(float(series["value"][1]))


def selector_text(node: dict) -> str:
    ms = [f"{m['name']}{m['type']}{json.dumps(m['value'])}" for m in node["matchers"]]
    return "{" + ", ".join(ms) + "}"


def selectors_and_needed_labels(ast: dict, needed: frozenset = frozenset()):
    """(selector, labels the series of that selector must carry) for every selector of a parsed expression: the labels
    wanted at the top (a panel's legend, an alert's $labels), narrowed by aggregations and widened by `on`/`by`."""
    t = ast.get("type") if isinstance(ast, dict) else None
    if t in ("vectorSelector", "matrixSelector"):
        yield selector_text(ast), needed
    elif t == "aggregation":
        grouping = frozenset(ast["grouping"] or [])
        inner = (needed | grouping) if ast["without"] else grouping
        yield from selectors_and_needed_labels(ast["expr"], inner)
    elif t == "binaryExpr":
        m = ast.get("matching") or {}
        on = frozenset(m.get("labels") or []) if m.get("on") else frozenset()
        include = frozenset(m.get("include") or [])
        for side in ("lhs", "rhs"):
            yield from selectors_and_needed_labels(ast[side], needed | on | (include if side == "rhs" else frozenset()))
    elif t == "call":
        for a in ast["args"]:
            yield from selectors_and_needed_labels(a, needed)
    elif t in ("parenExpr", "unaryExpr", "subquery"):
        yield from selectors_and_needed_labels(ast["expr"], needed)


def check_expr(expr: str, needed: set[str], what: str) -> list[str]:
    """Problems with one query: an error, a selector that matches no series, or series without a label it needs."""
    problems = []
    try:
        ast = api("parse_query", query=expr)
    except AssertionError as e:
        return [f"{what}: {expr!r} does not parse: {e}"]
    for sel, labels in selectors_and_needed_labels(ast, frozenset(needed)):
        series = query(sel)
        if not series:
            problems.append(f"{what}: {sel} matches no series (in {expr!r})")
            continue
        missing = {lbl for s in series for lbl in labels if lbl not in s["metric"]}
        if missing:
            problems.append(f"{what}: series of {sel} lack labels {sorted(missing)} (in {expr!r})")
    return problems


# ---------------------------------------------------------------------------------------------- the scenario
@pytest.fixture(scope="module")
def scenario():
    if not VENV_PY.exists():
        pytest.fail(f"no trainer venv at {VENV_PY}: run trainer-image/scripts/ensure-venv.sh")
    prometheus_bin = pathlib.Path(os.environ.get("MOE_PROMETHEUS_BIN") or _last_line("e2e/bin/build-prometheus.sh"))
    objs = rendered_monitoring()
    home = WORK / "prometheus"
    (home / "data").mkdir(parents=True, exist_ok=True)
    rules = home / "moe-alerts.rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": objs["PrometheusRule"]["spec"]["groups"]}, sort_keys=False))
    trainers_sd = home / "trainers.json"
    trainers_sd.write_text("[]")
    operator_target = [
        {
            "targets": [f"127.0.0.1:{OPERATOR_PORT}"],
            "labels": {
                "__meta_kubernetes_namespace": RELEASE_NS,
                "__meta_kubernetes_service_name": objs["ServiceMonitor"]["metadata"]["name"],
                "__meta_kubernetes_pod_name": f"{RELEASE}-local",
                "__meta_kubernetes_pod_container_name": "operator",
                "__meta_kubernetes_pod_container_port_name": "http-metrics",
            },
        }
    ]
    config = {
        "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": f"{SCRAPE_SECONDS}s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            scrape_config("serviceMonitor", objs["ServiceMonitor"], {"static_configs": operator_target}),
            scrape_config(
                "podMonitor",
                objs["PodMonitor"],
                {"file_sd_configs": [{"files": [str(trainers_sd)], "refresh_interval": "1s"}]},
            ),
        ],
    }
    (home / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    log = open(WORK / "logs" / "prometheus.log", "a")
    prom = subprocess.Popen(
        [
            str(prometheus_bin / "prometheus"),
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            "--storage.tsdb.retention.time=1h",
            f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    (WORK / "pids" / "prometheus.pid").write_text(str(prom.pid))  # cluster-down.sh stops it if this test cannot
    ns = f"e2e-prom-{uuid.uuid4().hex[:6]}"
    runner = None
    try:

        def ready():
            assert prom.poll() is None, f"prometheus exited {prom.returncode}: see {log.name}"
            try:
                with urllib.request.urlopen(f"{BASE}/-/ready", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        wait(ready, 60, "Prometheus ready")
        kubectl("create", "namespace", ns)
        wait(lambda: kubectl("get", "sa", "default", "-n", ns, check=False).returncode == 0, 30, "default SA")

        runner = LocalRunner(ns, "trained", WORK / "contract" / f"{ns}-trained")
        apply(
            tiny_job(
                "trained",
                parallelism={"tensor": 1, "expert": 2},
                resources={"nodes": 2, "gpusPerNode": 1},
                training={"steps": 100000, "globalBatchSize": 4},
                # a CPU has no entry in the peak-FLOP/s table: name one, so MFU is a number end to end
                trainer={"env": [{"name": "MOE_PEAK_TFLOPS", "value": "1"}]},
            ),
            ns,
        )
        apply(tiny_job("broken"), ns)
        apply_file(REPO / "examples" / "invalid" / "memory-does-not-fit.yaml", ns)
        broken = running_gang(ns, "broken", 2)
        fail_pod(ns, broken[0]["metadata"]["name"], CONFIG_ERROR)
        wait_phase(ns, "broken", "Failed", 60)
        wait_phase(ns, "memory-does-not-fit", "Invalid", 60)

        selector = label_selector(objs["PodMonitor"]["spec"]["selector"])

        def write_trainer_targets():
            ports = {p["uid"]: p["metricsPort"] for p in runner.pods() if p["state"] == "running" and p["metricsPort"]}
            items = json.loads(kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json"))["items"]
            groups = [
                g
                for p in items
                if p["metadata"]["uid"] in ports
                for g in pod_targets(p, f"127.0.0.1:{ports[p['metadata']['uid']]}")
            ]
            tmp = trainers_sd.with_suffix(".tmp")
            tmp.write_text(json.dumps(groups))
            tmp.replace(trainers_sd)  # file_sd reads whole files: never a half-written one
            return len(ports)

        sel = f'namespace="{ns}", moejob="trained"'

        def sampled():
            if write_trainer_targets() < 2:
                return False
            step = query(f"moe_job_step{{{sel}}} > 0")
            ranks = query(f"moe_trainer_step{{{sel}}} > 0")
            return bool(step) and len(ranks) == 2 and bool(query("moe_plan_rejections_total"))

        try:
            wait(sampled, SAMPLES_TIMEOUT, "operator progress and both trainer pods scraped", interval=1)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{runner.tail()}") from None
        time.sleep(5 * SCRAPE_SECONDS)  # a few more samples, so rates over the last minutes have two points
        yield {"ns": ns, "job": "trained", "failed": "broken", "rules": objs["PrometheusRule"]}
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)
        if runner:
            runner.stop()
        prom.terminate()
        try:
            prom.wait(20)
        except subprocess.TimeoutExpired:
            prom.kill()
        (WORK / "pids" / "prometheus.pid").unlink(missing_ok=True)
        log.close()


def grafana_substitute(expr: str, variables: dict[str, str]) -> str:
    """Grafana's template variables in a query: the dashboard's own ($namespace, $moejob) as a single value, the
    built-in intervals as Grafana computes them for this scrape interval (4 x scrape interval)."""
    builtins = {"__rate_interval": f"{4 * SCRAPE_SECONDS}s", "__interval": f"{SCRAPE_SECONDS}s", "__range": "5m"}
    values = {**builtins, **variables}

    def sub(m):
        name = m.group(1) or m.group(2)
        assert name in values, f"unknown Grafana variable ${name} in {expr!r}"
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", sub, expr)


def legend_labels(legend: str) -> set[str]:
    return set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend or ""))


def annotation_labels(rule: dict) -> set[str]:
    return {lbl for text in (rule.get("annotations") or {}).values() for lbl in re.findall(r"\$labels\.(\w+)", text)}


# ---------------------------------------------------------------------------------------------- the tests
def test_prometheus_scrapes_the_operator_and_both_trainer_pods(scenario):
    targets = api("targets", state="active")["activeTargets"]
    by_pool = {}
    for t in targets:
        by_pool.setdefault(t["scrapePool"], []).append(t)
    assert len(by_pool) == 2, sorted(by_pool)
    for pool, ts in by_pool.items():
        assert all(t["health"] == "up" for t in ts), [(pool, t["scrapeUrl"], t["lastError"]) for t in ts]
    trainers = next(ts for pool, ts in by_pool.items() if pool.startswith("podMonitor/"))
    # the chart's PodMonitor relabeling turned the pod label into node_rank; the standard ones named the pod
    assert sorted(t["labels"]["node_rank"] for t in trainers) == ["0", "1"]
    assert {t["labels"]["namespace"] for t in trainers} == {scenario["ns"]}
    sel = f'namespace="{scenario["ns"]}", moejob="{scenario["job"]}"'
    # the operator's figure is the trainer's report: rank 0's step is never behind what the operator shows
    operator_step = float(query(f"moe_job_step{{{sel}}}")[0]["value"][1])
    rank0 = query(f'moe_trainer_step{{{sel}, rank="0"}}')
    assert rank0 and float(rank0[0]["value"][1]) >= operator_step > 0
    assert all(finite(s) and float(s["value"][1]) > 0 for s in query(f"moe_job_mfu{{{sel}}}"))


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda p: p.name)
def test_every_dashboard_query_returns_series_with_the_labels_its_panel_uses(scenario, dashboard):
    d = json.loads(dashboard.read_text())
    variables = {"namespace": scenario["ns"], "moejob": scenario["job"]}
    problems = []
    # the template variables' own queries: label_values(<selector>, <label>) must offer this job's values
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q.strip())
        assert m, f"variable {v['name']}: unsupported query {q!r}"
        series = query(grafana_substitute(m.group(1), variables))
        offered = {s["metric"].get(m.group(2)) for s in series}
        if variables[v["name"]] not in offered:
            problems.append(f"variable {v['name']}: {q!r} offers {sorted(x for x in offered if x)}")
    panels = [panel for top in d["panels"] for panel in [top, *top.get("panels", [])]]  # rows may nest panels
    queries = [(p["title"], t) for p in panels for t in p.get("targets", []) if t.get("expr")]
    assert queries, f"no queries in {dashboard.name}"
    for title, t in queries:
        expr = grafana_substitute(t["expr"], variables)
        wanted = legend_labels(t.get("legendFormat"))
        result = query(expr)
        if not result:
            problems.append(f"panel {title!r}: {expr!r} returns nothing")
        elif not any(finite(s) for s in result):
            problems.append(f"panel {title!r}: {expr!r} returns only NaN")
        for s in result:
            if wanted - set(s["metric"]):
                problems.append(f"panel {title!r}: {expr!r} series {s['metric']} lack {sorted(wanted)}")
        problems += check_expr(expr, wanted, f"panel {title!r}")
    assert not problems, "\n".join(problems)


def test_every_alert_evaluates_on_series_with_the_labels_it_uses(scenario):
    rules = [r for g in scenario["rules"]["spec"]["groups"] for r in g["rules"] if "alert" in r]
    problems = []
    for r in rules:
        query(r["expr"])  # evaluates without an error
        problems += check_expr(r["expr"], annotation_labels(r), f"alert {r['alert']}")
    assert not problems, "\n".join(problems)
    # Prometheus itself loaded and evaluates the rendered rules without an error
    loaded = [r for g in api("rules")["groups"] for r in g["rules"]]
    assert {r["name"] for r in loaded} == {r["alert"] for r in rules}
    assert all(r["health"] == "ok" for r in loaded), [(r["name"], r.get("lastError")) for r in loaded]
    # the failed job is the one alert that holds now: pending for its `for`, with the labels the annotations name
    failed = query(f'ALERTS{{alertname="MoETrainingJobFailed", namespace="{scenario["ns"]}"}}')
    assert [s["metric"]["moejob"] for s in failed] == [scenario["failed"]], failed
    # the trained job is healthy: nothing holds for it but, on a CPU against the nominal 1 TFLOP/s peak, maybe low MFU,
    # and that exactly when its MFU is below the chart's threshold
    sel = f'namespace="{scenario["ns"]}", moejob="{scenario["job"]}"'
    holding = {s["metric"]["alertname"] for s in query(f"ALERTS{{{sel}}}")}
    low = bool(query(f"moe_job_mfu{{{sel}}} < {LOW_MFU_THRESHOLD}"))
    assert holding == ({"MoETrainingJobLowMFU"} if low else set()), (holding, query(f"moe_job_mfu{{{sel}}}"))
    assert not query('ALERTS{alertname=~"MoEOperator.*"}'), "the operator is scraped and healthy"
