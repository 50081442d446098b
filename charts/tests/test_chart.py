"""Renders the Helm chart with helm itself and checks what users rely on: least-privilege RBAC in both
scopes, the monitoring objects behind their switches, the CRD kept equal to crds/, and alert / dashboard
queries that only name metrics the operator and the trainer really export."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "moe-operator"
HELM = (
    os.environ.get("HELM")
    or subprocess.run(
        ["bash", str(REPO / "charts/scripts/ensure-helm.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
)
MONITORING = [
    "metrics.serviceMonitor.enabled=true",
    "metrics.podMonitor.enabled=true",
    "metrics.prometheusRule.enabled=true",
    "metrics.grafanaDashboard.enabled=true",
]


# What `helm template` needs to render the Prometheus Operator's objects: the API they belong to (the chart leaves
# them out where the cluster does not serve it; helm install/upgrade ask the cluster).
MONITORING_API = ("--api-versions", "monitoring.coreos.com/v1")


def render(*sets: str, api_versions: tuple[str, ...] = ()) -> list[dict]:
    args = [HELM, "template", "rel", str(CHART), "--namespace", "moe-system", "--kube-version", "1.36.3"]
    args += api_versions
    for s in sets:
        args += ["--set", s]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def operator_rules(docs: list[dict], kind: str) -> list[dict]:
    return [r for d in by_kind(docs, kind) if d["metadata"]["name"] == "rel-moe-operator" for r in d["rules"]]


def grants(rules: list[dict], group: str, resource: str, verb: str) -> bool:
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules)


def test_lint_passes_with_everything_on():
    subprocess.run(
        [HELM, "lint", str(CHART), "--set", ",".join(MONITORING + ["metrics.forceMonitoringAPI=true"])],
        check=True,
        capture_output=True,
    )


def test_default_install_watches_all_namespaces_with_one_cluster_role():
    docs = render()
    rules = operator_rules(docs, "ClusterRole")
    assert rules, "no ClusterRole for the operator"
    assert not operator_rules(docs, "Role")
    env = {
        e["name"]: e.get("value")
        for e in by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["QUARKUS_OPERATOR_SDK_NAMESPACES"] == "JOSDK_ALL_NAMESPACES"
    # What the reconciler does, and nothing it does not.
    for group, resource, verb in [
        ("training.moe.dev", "moetrainingjobs", "watch"),
        ("training.moe.dev", "moetrainingjobs", "delete"),  # spec.ttlSecondsAfterFinished
        ("training.moe.dev", "moetrainingjobs/status", "patch"),
        ("", "pods", "create"),
        ("", "pods", "delete"),
        ("", "services", "create"),
        ("", "configmaps", "create"),
        ("", "events", "create"),
        ("rbac.authorization.k8s.io", "roles", "create"),
        ("scheduling.k8s.io", "podgroups", "create"),
        ("scheduling.k8s.io", "workloads", "create"),
        ("scheduling.k8s.io", "podgroups", "deletecollection"),
    ]:
        assert grants(rules, group, resource, verb), (group, resource, verb)
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in rules)
    # The native gang's objects are created, never changed (their scheduling policy is immutable) nor watched.
    for verb in ("update", "patch", "watch", "list"):
        assert not grants(rules, "scheduling.k8s.io", "podgroups", verb), verb
    assert not grants(rules, "", "secrets", "get"), "the operator never reads secrets"
    assert not grants(rules, "", "nodes", "get")
    binding = [d for d in by_kind(docs, "ClusterRoleBinding")][0]
    assert binding["subjects"][0] == {"kind": "ServiceAccount", "name": "rel-moe-operator", "namespace": "moe-system"}


def test_watch_namespaces_gives_roles_only_in_those_namespaces():
    docs = render("watchNamespaces={team-a,team-b}")
    assert not operator_rules(docs, "ClusterRole")
    roles = [d for d in by_kind(docs, "Role") if d["metadata"]["name"] == "rel-moe-operator"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert sorted(b["metadata"]["namespace"] for b in by_kind(docs, "RoleBinding")) == ["team-a", "team-b"]
    env = {
        e["name"]: e.get("value")
        for e in by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["QUARKUS_OPERATOR_SDK_NAMESPACES"] == "team-a,team-b"


def test_monitoring_objects_follow_their_switches():
    kinds = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    assert not kinds & {d["kind"] for d in render(api_versions=MONITORING_API)}
    docs = render(*MONITORING, api_versions=MONITORING_API)
    assert kinds <= {d["kind"] for d in docs}
    dashboards = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]
    assert dashboards and dashboards[0]["metadata"]["labels"]["grafana_dashboard"] == "1"
    json.loads(dashboards[0]["data"]["moe-training.json"])
    pm = by_kind(docs, "PodMonitor")[0]
    assert pm["spec"]["selector"]["matchExpressions"][0]["key"] == "training.moe.dev/job"
    # the job's namespace label of the operator's per-job series must survive the scrape (not exported_namespace)
    assert by_kind(docs, "ServiceMonitor")[0]["spec"]["endpoints"][0]["honorLabels"] is True


def test_monitoring_objects_only_where_the_prometheus_operator_api_is_served():
    """Enabled but the cluster has no monitoring.coreos.com/v1: left out (an install would fail on the unknown
    kinds); the dashboard is a plain ConfigMap and stays. forceMonitoringAPI renders them anyway."""
    kinds = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    without = {d["kind"] for d in render(*MONITORING)}
    assert not kinds & without and "ConfigMap" in without
    assert not kinds & {
        d["kind"] for d in render(*MONITORING, api_versions=("--api-versions", "monitoring.coreos.com/v1alpha1"))
    }
    assert kinds <= {d["kind"] for d in render(*MONITORING, api_versions=MONITORING_API)}
    assert kinds <= {d["kind"] for d in render(*MONITORING, "metrics.forceMonitoringAPI=true")}


def test_chart_crd_is_the_generated_crd():
    for generated in (REPO / "crds").glob("*.yml"):
        assert (CHART / "crds" / generated.name).read_text() == generated.read_text(), (
            f"charts/moe-operator/crds/{generated.name} drifted: cp crds/{generated.name} charts/moe-operator/crds/"
        )


# --- queries name only real metrics ---------------------------------------------------------------


def operator_metric_names() -> set[str]:
    """Micrometer names in the operator's source, as the Prometheus registry exports them."""
    names = set()
    for src in (REPO / "operator/src/main/java").rglob("*.java"):
        text = src.read_text()
        for kind, name in re.findall(r'(Gauge|Counter|Timer)\.builder\(\s*"(moe\.[a-z0-9.]+)"', text):
            base = name.replace(".", "_")
            names |= (
                {base + "_total"}
                if kind == "Counter"
                else (
                    {base + "_seconds_bucket", base + "_seconds_count", base + "_seconds_sum"}
                    if kind == "Timer"
                    else {base}
                )
            )
        # Per-job series are written at scrape time by metrics.JobSeriesCollector, under their Prometheus names.
        names |= set(re.findall(r'new Series\(\s*"(moe_[a-z0-9_]+)"', text))
        names |= set(re.findall(r'static final String PHASE = "(moe_[a-z0-9_]+)"', text))
    return names


def trainer_metric_names() -> set[str]:
    tree = ast.parse((REPO / "trainer-image/moe_trainer/metrics.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "_GAUGES":
            return {"moe_trainer_" + k.value for k in node.value.keys}
    raise AssertionError("no _GAUGES in trainer metrics")


def queried_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\b(moe_[a-z0-9_]+)", expr))


def all_queries() -> list[str]:
    docs = render(*MONITORING, api_versions=MONITORING_API)
    exprs = [r["expr"] for d in by_kind(docs, "PrometheusRule") for g in d["spec"]["groups"] for r in g["rules"]]
    dash = json.loads((CHART / "dashboards/moe-training.json").read_text())
    exprs += [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in dash["templating"]["list"] if v["type"] == "query"]
    return exprs


def test_alerts_and_dashboard_only_query_exported_metrics():
    known = operator_metric_names() | trainer_metric_names()
    assert "moe_job_step" in known and "moe_trainer_mfu" in known
    exprs = all_queries()
    assert len(exprs) > 10
    unknown = {m for e in exprs for m in queried_metrics(e)} - known
    assert not unknown, f"queries name metrics nobody exports: {sorted(unknown)}"


def test_queries_filter_on_labels_the_metrics_carry():
    """Per-job series are labelled {namespace, moejob} by the operator and {moejob, rank} by the trainer (never
    "job": Prometheus owns that label for the scrape job and would rename ours)."""
    operator_src = "\n".join(p.read_text() for p in (REPO / "operator/src/main/java").rglob("*.java"))
    trainer_src = (REPO / "trainer-image/moe_trainer/metrics.py").read_text()
    assert '"moejob"' in operator_src and '"moejob"' in trainer_src
    used = {label for e in all_queries() for label in re.findall(r"(\w+)\s*=~?\s*\"", e)}
    used |= {
        label for e in all_queries() for label in re.findall(r"by \(([\w, ]+)\)", e) for label in label.split(", ")
    }
    assert "job" not in used
    assert used <= {"namespace", "moejob", "phase", "reason", "rule", "result", "le", "rank"}, used


# ---- admission webhook ----------------------------------------------------------------------------------------


def webhook_objects(*sets: str) -> tuple[dict, list[dict]]:
    docs = render(*sets)
    vwcs = by_kind(docs, "ValidatingWebhookConfiguration")
    assert len(vwcs) == 1, [d["kind"] for d in docs]
    return vwcs[0], docs


def test_webhook_judges_creates_and_updates_of_jobs_not_their_status():
    vwc, docs = webhook_objects()
    (hook,) = vwc["webhooks"]
    assert hook["sideEffects"] == "None", "dry-run requests are only sent to webhooks without side effects"
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["failurePolicy"] == "Ignore"
    (rule,) = hook["rules"]
    assert rule["apiGroups"] == ["training.moe.dev"] and rule["resources"] == ["moetrainingjobs"]
    assert sorted(rule["operations"]) == ["CREATE", "UPDATE"]
    svc = hook["clientConfig"]["service"]
    assert svc["path"] == "/admission/validate-moetrainingjob"
    (service,) = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == svc["name"]]
    assert service["metadata"]["namespace"] == svc["namespace"] == "moe-system"
    container = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] == "https-webhook" and ports["https-webhook"] == 8443
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MOE_WEBHOOK_PORT"] == "8443"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert env["MOE_WEBHOOK_TLS_CERT"].startswith("/etc/moe/webhook-tls/") and "/etc/moe/webhook-tls" in mounts


def test_webhook_failure_policy_is_the_users_choice():
    vwc, _ = webhook_objects("webhook.failurePolicy=Fail", "webhook.timeoutSeconds=3")
    assert vwc["webhooks"][0]["failurePolicy"] == "Fail" and vwc["webhooks"][0]["timeoutSeconds"] == 3


def test_webhook_certificate_is_signed_by_the_ca_bundle_for_the_service_name(tmp_path):
    import base64

    vwc, docs = webhook_objects()
    (secret,) = [s for s in by_kind(docs, "Secret") if s["metadata"]["name"] == "rel-moe-operator-webhook-tls"]
    ca = tmp_path / "ca.crt"
    ca.write_bytes(base64.b64decode(vwc["webhooks"][0]["clientConfig"]["caBundle"]))
    crt = tmp_path / "tls.crt"
    crt.write_bytes(base64.b64decode(secret["data"]["tls.crt"]))
    subprocess.run(["openssl", "verify", "-CAfile", str(ca), str(crt)], check=True, capture_output=True)
    text = subprocess.run(
        ["openssl", "x509", "-in", str(crt), "-noout", "-ext", "subjectAltName"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "DNS:rel-moe-operator-webhook.moe-system.svc" in text


def test_webhook_with_cert_manager_makes_a_certificate_and_asks_for_ca_injection():
    vwc, docs = webhook_objects("webhook.certManager.enabled=true")
    assert "caBundle" not in vwc["webhooks"][0]["clientConfig"]
    assert vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == "moe-system/rel-moe-operator-webhook"
    (cert,) = by_kind(docs, "Certificate")
    assert cert["spec"]["secretName"] == "rel-moe-operator-webhook-tls"
    assert not [s for s in by_kind(docs, "Secret") if s["metadata"]["name"] == "rel-moe-operator-webhook-tls"]


def test_webhook_for_an_operator_outside_the_cluster_calls_its_url_with_a_certificate_for_that_host(tmp_path):
    """replicas 0 + webhook.url: what the e2e chart suite installs (the operator runs as a local process)."""
    import base64

    url = "https://127.0.0.1:18643/admission/validate-moetrainingjob"
    vwc, docs = webhook_objects("replicas=0", f"webhook.url={url}")
    config = vwc["webhooks"][0]["clientConfig"]
    assert config["url"] == url and "service" not in config
    assert by_kind(docs, "Deployment")[0]["spec"]["replicas"] == 0
    (secret,) = [s for s in by_kind(docs, "Secret") if s["metadata"]["name"] == "rel-moe-operator-webhook-tls"]
    crt = tmp_path / "tls.crt"
    crt.write_bytes(base64.b64decode(secret["data"]["tls.crt"]))
    san = subprocess.run(
        ["openssl", "x509", "-in", str(crt), "-noout", "-ext", "subjectAltName"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "IP Address:127.0.0.1" in san and "DNS:rel-moe-operator-webhook.moe-system.svc" in san
    _, docs = webhook_objects("webhook.url=https://operator.example.com:8443/admission/validate-moetrainingjob")
    (secret,) = [s for s in by_kind(docs, "Secret") if s["metadata"]["name"] == "rel-moe-operator-webhook-tls"]
    assert secret["metadata"]["annotations"]["training.moe.dev/webhook-cert-names"].endswith(",operator.example.com")
    assert by_kind(docs, "Deployment")[0]["spec"]["replicas"] == 1


def test_webhook_off_renders_no_webhook_objects():
    docs = render("webhook.enabled=false")
    assert not by_kind(docs, "ValidatingWebhookConfiguration")
    container = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert "MOE_WEBHOOK_PORT" not in {e["name"] for e in container["env"]}


def test_webhook_in_watched_namespaces_only():
    vwc, _ = webhook_objects("watchNamespaces={team-a,team-b}")
    sel = vwc["webhooks"][0]["namespaceSelector"]["matchExpressions"][0]
    assert sel["key"] == "kubernetes.io/metadata.name" and sel["values"] == ["team-a", "team-b"]


# ---- values.schema.json ---------------------------------------------------------------------------------------


def helm_template_error(*sets: str) -> str:
    args = [HELM, "template", "rel", str(CHART), "--namespace", "moe-system", "--kube-version", "1.36.3"]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, text=True)
    assert p.returncode != 0, f"helm accepted {sets}"
    return p.stderr


@pytest.mark.parametrize(
    "sets",
    [
        (),
        tuple(MONITORING),
        ("webhook.enabled=false",),
        ("webhook.certManager.enabled=true",),
        ("watchNamespaces={team-a,team-b}", "webhook.failurePolicy=Fail"),
        ("serviceAccount.create=false",),
        ("replicas=0", "webhook.url=https://127.0.0.1:8443/admission/validate-moetrainingjob"),
    ],
    ids=["defaults", "monitoring", "no-webhook", "cert-manager", "namespaces-fail", "no-sa", "outside-operator"],
)
def test_main_value_combinations_lint_and_render(sets):
    subprocess.run(
        [HELM, "lint", str(CHART), "--kube-version", "1.36.3"] + [a for s in sets for a in ("--set", s)],
        check=True,
        capture_output=True,
    )
    assert render(*sets)


@pytest.mark.parametrize(
    "sets, words",
    [
        (("webhook.failurePolicy=Sometimes",), "/webhook/failurePolicy"),
        (("webhok.enabled=true",), "'webhok' not allowed"),
        (("metrics.port=0",), "/metrics/port"),
        (("watchNamespaces={Team_A}",), "/watchNamespaces/0"),
        (("logLevel=LOUD",), "/logLevel"),
        (("replicas=2",), "/replicas"),
        (("webhook.url=http://127.0.0.1:8443/admission/validate-moetrainingjob",), "/webhook/url"),
    ],
    ids=["failure-policy", "misspelt-key", "port", "namespace-name", "log-level", "two-replicas", "plain-http-url"],
)
def test_schema_refuses_values_that_would_render_a_broken_install(sets, words):
    assert words in helm_template_error(*sets)


# The JVM around the heap (metaspace, code cache, threads, GC, Vert.x/Netty buffers) measured with 1,000 running
# jobs (bench/results.md, "Operator memory with 1,000 jobs after trimming the caches"): the memory limit must leave
# at least this much beside the largest heap the JVM options allow, or the process outgrows the limit (OOM kill).
JVM_NON_HEAP_MIB = 200


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity) / 2**20


def operator_env(*sets: str) -> tuple[dict, dict]:
    (deployment,) = by_kind(render(*sets), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in container["env"]}, container


def operator_jvm(*sets: str) -> tuple[str, float]:
    env, container = operator_env(*sets)
    return env["JAVA_TOOL_OPTIONS"], mebibytes(container["resources"]["limits"]["memory"])


def test_malloc_arenas_are_bounded_by_default_and_can_be_left_to_glibc():
    env, _ = operator_env()
    assert env["MALLOC_ARENA_MAX"] == "2"
    env, _ = operator_env("mallocArenaMax=0")
    assert "MALLOC_ARENA_MAX" not in env
    assert "mallocArenaMax" in helm_template_error("mallocArenaMax=-1")


@pytest.mark.parametrize("limit", ["512Mi", "1Gi", "2Gi"])
def test_jvm_heap_leaves_the_measured_non_heap_room_under_the_memory_limit(limit):
    options, limit_mib = operator_jvm(f"resources.limits.memory={limit}")
    share = re.search(r"-XX:MaxRAMPercentage=([0-9.]+)", options)
    assert share, f"JAVA_TOOL_OPTIONS sets no heap share of the memory limit: {options}"
    assert "-Xmx" not in options and "-XX:MaxRAM=" not in options, "the heap must follow the limit, not a constant"
    heap_mib = limit_mib * float(share.group(1)) / 100
    assert limit_mib - heap_mib >= JVM_NON_HEAP_MIB, (limit, heap_mib)
    # Named, so that the footprint does not depend on what the JVM picks for the node it lands on.
    assert "-XX:+UseSerialGC" in options
    assert "-XX:+ExitOnOutOfMemoryError" in options and "-Xss8m" in options
    # C1 only: C2's warm-up took half the operator's CPU per gang start (bench/results.md)
    assert "-XX:TieredStopAtLevel=1" in options
