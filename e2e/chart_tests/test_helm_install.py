"""The Helm chart installed by helm into the e2e cluster's real kube-apiserver (issue 14).

The operator itself is the local process that e2e/bin/operator-up.sh runs, so the chart is installed the way a user
runs the operator outside the cluster: `replicas=0` (the Deployment exists, scaled down) and `webhook.url` pointing
the ValidatingWebhookConfiguration at the process's loopback HTTPS port. The operator is restarted to serve the
certificate the chart generated (MOE_E2E_WEBHOOK_TLS_DIR), so the caBundle under test is the chart's own.

In file order (one release shared by the module):
- install: NOTES, the monitoring objects left out (this cluster has no monitoring.coreos.com/v1), every object of
  the manifest stored with the release's labels, the CRD established and equal to the chart's copy, the RBAC
  least privilege as the API server's authorizer answers it (`kubectl auth can-i --as` the chart's ServiceAccount),
  the webhook's caBundle verifying the served certificate;
- every examples/invalid file refused at `kubectl apply` and at `--dry-run=server` with nothing stored, through the
  chart's webhook (the only one registered during this suite), the valid examples accepted;
- upgrade to watched namespaces: ClusterRole/Binding replaced by a Role/Binding there, the webhook judges only that
  namespace and still answers (the upgrade kept the certificate it found);
- uninstall: nothing of the release is left but the CRD (Helm keeps crds/).
The suite puts the operator back on its own certificate afterwards."""

import base64
import json
import os
import pathlib
import subprocess
import sys
import uuid

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
from admission import (  # noqa: E402
    WEBHOOK_PATH,
    assert_refused_and_not_stored,
    helm,
    invalid_examples,
    valid_examples,
)
from cluster import (  # noqa: E402
    JOBS,
    REPO,
    WORK,
    cluster_and_operator_problem,
    kubectl,
    stop_operator,
    tiny_job,
    wait,
)

CHART = REPO / "charts" / "moe-operator"
RELEASE = "e2e"
NAMESPACE = f"moe-chart-{uuid.uuid4().hex[:6]}"
FULLNAME = "e2e-moe-operator"
SERVICE_ACCOUNT = f"system:serviceaccount:{NAMESPACE}:{FULLNAME}"
WEBHOOK_PORT = int(os.environ.get("MOE_E2E_WEBHOOK_PORT", "18443"))
URL = f"https://127.0.0.1:{WEBHOOK_PORT}{WEBHOOK_PATH}"
CHART_TLS = WORK / "chart-webhook-tls"
HELM_TIMEOUT = "90s"  # helm's own bound on --wait; the subprocess gets a little more
INSTANCE = f"app.kubernetes.io/instance={RELEASE}"


def run_helm(*args):
    p = subprocess.run([helm(), *args], capture_output=True, text=True, timeout=150)
    assert p.returncode == 0, f"helm {' '.join(args)}: {p.stderr}"
    return p.stdout


def objects(text):
    """The objects of a multi-document YAML text, parsed by kubectl (stdlib + kubectl only)."""
    out = kubectl("create", "--dry-run=client", "--validate=false", "-o", "json", "-f", "-", input=text)
    items, decoder, i = [], json.JSONDecoder(), 0
    while i < len(out):
        if out[i].isspace():
            i += 1
            continue
        obj, i = decoder.raw_decode(out, i)
        items += obj["items"] if obj.get("kind") == "List" else [obj]
    return items


def manifest():
    return objects(run_helm("get", "manifest", RELEASE, "-n", NAMESPACE))


def live(obj):
    """The stored object for a manifest object (None when absent)."""
    ns = ["-n", obj["metadata"]["namespace"]] if obj["metadata"].get("namespace") else []
    kind = f"{obj['kind'].lower()}.{obj['apiVersion'].split('/')[0]}" if "/" in obj["apiVersion"] else obj["kind"]
    p = kubectl("get", kind, obj["metadata"]["name"], *ns, "-o", "json", check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


def can_i(verb, resource, namespace=None, subresource=None):
    args = ["auth", "can-i", verb, resource, f"--as={SERVICE_ACCOUNT}"]
    args += ["-n", namespace] if namespace else ["--all-namespaces"]
    args += [f"--subresource={subresource}"] if subresource else []
    p = kubectl(*args, check=False)
    assert p.stdout.strip() in ("yes", "no"), p.stderr
    return p.stdout.strip() == "yes"


def restart_operator(tls_dir=None):
    """Restarts the operator process (operator-up.sh), serving the pair in tls_dir (default: its own)."""
    stop_operator()
    env = dict(os.environ)
    env.pop("MOE_E2E_WEBHOOK_TLS_DIR", None)
    if tls_dir:
        env["MOE_E2E_WEBHOOK_TLS_DIR"] = str(tls_dir)
    subprocess.run([str(REPO / "e2e" / "bin" / "operator-up.sh")], check=True, timeout=180, env=env)


def engine_judges(ns):
    probe = tiny_job(f"probe-{uuid.uuid4().hex[:4]}", parallelism={"expert": 3})
    p = kubectl("apply", "--dry-run=server", "-n", ns, "-f", "-", input=probe, check=False)
    return p.returncode != 0 and "[ExpertDividesWorld]" in p.stderr


def secret_pair():
    secret = json.loads(kubectl("get", "secret", f"{FULLNAME}-webhook-tls", "-n", NAMESPACE, "-o", "json"))
    return {k: base64.b64decode(v) for k, v in secret["data"].items()}


def vwc():
    return json.loads(kubectl("get", "validatingwebhookconfiguration", FULLNAME, "-o", "json"))


@pytest.fixture(scope="module")
def release():
    problem = cluster_and_operator_problem()
    if problem:
        pytest.fail(problem)
    for cfg in json.loads(kubectl("get", "validatingwebhookconfigurations", "-o", "json"))["items"]:
        assert not any("moetrainingjobs" in str(h.get("rules")) for h in cfg["webhooks"]), (
            f"another webhook judges jobs already: {cfg['metadata']['name']}"
        )
    notes = None
    try:
        notes = run_helm(
            "install", RELEASE, str(CHART), "-n", NAMESPACE, "--create-namespace",
            "--set", "replicas=0", "--set", f"webhook.url={URL}",
            "--set", "metrics.podMonitor.enabled=true", "--set", "metrics.serviceMonitor.enabled=true",
            "--wait", "--timeout", HELM_TIMEOUT,
        )  # fmt: skip
        pair = secret_pair()
        CHART_TLS.mkdir(parents=True, exist_ok=True)
        for name in ("tls.crt", "tls.key", "ca.crt"):
            (CHART_TLS / name).write_bytes(pair[name])
        restart_operator(CHART_TLS)
        wait(lambda: engine_judges("default"), 30, "the chart's webhook to judge jobs")
        yield notes
    finally:
        subprocess.run([helm(), "uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", HELM_TIMEOUT],
                       capture_output=True, timeout=150)  # fmt: skip
        kubectl("delete", "namespace", NAMESPACE, "--wait=false", "--ignore-not-found", check=False)
        restart_operator()


def test_install_notes_and_no_monitoring_objects_without_the_prometheus_operator_api(release):
    assert "were NOT installed" in release and "monitoring.coreos.com/v1" in release, release
    assert "Deployment scaled to 0" in release and URL in release, release
    kinds = {o["kind"] for o in manifest()}
    assert not kinds & {"ServiceMonitor", "PodMonitor", "PrometheusRule"}, kinds


def test_every_object_of_the_release_is_stored_with_the_releases_labels(release):
    docs = manifest()
    kinds = sorted(o["kind"] for o in docs)
    for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment", "Secret"):
        assert kind in kinds, kinds
    assert "ValidatingWebhookConfiguration" in kinds
    for obj in docs:
        stored = live(obj)
        assert stored, f"{obj['kind']} {obj['metadata']['name']} is in the manifest but not in the cluster"
        labels = stored["metadata"].get("labels", {})
        assert (
            labels.get("app.kubernetes.io/managed-by") == "Helm" and labels.get("app.kubernetes.io/instance") == RELEASE
        )
        assert stored["metadata"]["annotations"]["meta.helm.sh/release-name"] == RELEASE
        if obj["kind"] in ("ClusterRole", "Role"):
            assert stored["rules"] == obj["rules"], obj["metadata"]["name"]


def test_crd_is_established_and_is_the_charts_copy(release):
    (chart_crd,) = objects((CHART / "crds" / "moetrainingjobs.training.moe.dev-v1.yml").read_text())
    crd = json.loads(kubectl("get", "crd", JOBS, "-o", "json"))
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"
    assert crd["spec"]["names"] == {**crd["spec"]["names"], **chart_crd["spec"]["names"]}
    served = {v["name"]: v["schema"] for v in crd["spec"]["versions"]}
    assert served == {v["name"]: v["schema"] for v in chart_crd["spec"]["versions"]}


def test_deployment_service_and_service_account_as_the_values_ask(release):
    dep = json.loads(kubectl("get", "deployment", FULLNAME, "-n", NAMESPACE, "-o", "json"))
    assert dep["spec"]["replicas"] == 0 and dep["status"].get("replicas", 0) == 0
    pod = dep["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == FULLNAME
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {e["name"] for e in container["env"]} >= {"MOE_WEBHOOK_TLS_CERT", "QUARKUS_OPERATOR_SDK_NAMESPACES"}
    kubectl("get", "serviceaccount", FULLNAME, "-n", NAMESPACE)
    webhook_svc = json.loads(kubectl("get", "service", f"{FULLNAME}-webhook", "-n", NAMESPACE, "-o", "json"))
    assert webhook_svc["spec"]["ports"][0]["port"] == 443
    assert webhook_svc["spec"]["ports"][0]["targetPort"] == "https-webhook"
    assert webhook_svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    metrics_svc = json.loads(kubectl("get", "service", f"{FULLNAME}-metrics", "-n", NAMESPACE, "-o", "json"))
    assert metrics_svc["spec"]["ports"][0]["targetPort"] == "http-metrics"


# What the reconciler does (charts/moe-operator/templates/rbac.yaml says why each is there) ...
ALLOWED = [
    ("watch", "moetrainingjobs.training.moe.dev", None),
    ("patch", "moetrainingjobs.training.moe.dev", "status"),
    ("delete", "moetrainingjobs.training.moe.dev", None),  # spec.ttlSecondsAfterFinished
    ("create", "pods", None),
    ("deletecollection", "pods", None),
    ("create", "services", None),
    ("create", "configmaps", None),
    ("create", "serviceaccounts", None),
    ("create", "roles.rbac.authorization.k8s.io", None),
    ("create", "rolebindings.rbac.authorization.k8s.io", None),
    ("create", "events", None),
    ("get", "namespaces", None),
    ("list", "nodes", None),
]
# ... and nothing else: it never edits a user's job, reads secrets, execs into pods or changes the cluster.
DENIED = [
    ("update", "moetrainingjobs.training.moe.dev", None),
    ("patch", "moetrainingjobs.training.moe.dev", None),
    ("create", "moetrainingjobs.training.moe.dev", None),
    ("get", "secrets", None),
    ("list", "secrets", None),
    ("create", "pods", "exec"),
    ("delete", "services", None),
    ("delete", "configmaps", None),
    ("create", "clusterroles.rbac.authorization.k8s.io", None),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", None),
    ("patch", "nodes", None),
    ("delete", "namespaces", None),
    ("update", "customresourcedefinitions.apiextensions.k8s.io", None),
    ("patch", "validatingwebhookconfigurations.admissionregistration.k8s.io", None),
    ("create", "deployments.apps", None),
]


@pytest.mark.parametrize("verb, resource, sub", ALLOWED, ids=lambda v: v if isinstance(v, str) else "")
def test_the_operators_service_account_may_do_what_the_reconciler_does(release, verb, resource, sub):
    assert can_i(verb, resource, "default", sub) if resource not in ("namespaces", "nodes") else can_i(verb, resource)


@pytest.mark.parametrize("verb, resource, sub", DENIED, ids=lambda v: v if isinstance(v, str) else "")
def test_the_operators_service_account_may_do_nothing_else(release, verb, resource, sub):
    assert not can_i(verb, resource, "default", sub)


def test_webhook_is_registered_with_the_charts_ca_and_the_url(release, tmp_path):
    (hook,) = vwc()["webhooks"]
    assert hook["clientConfig"]["url"] == URL and "service" not in hook["clientConfig"]
    assert hook["sideEffects"] == "None" and hook["failurePolicy"] == "Ignore"
    ca = base64.b64decode(hook["clientConfig"]["caBundle"])
    pair = secret_pair()
    assert ca == pair["ca.crt"], "the caBundle is not the CA in the chart's Secret"
    (tmp_path / "ca.crt").write_bytes(ca)
    # the certificate the operator serves right now, as the API server sees it
    served = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{WEBHOOK_PORT}", "-CAfile", str(tmp_path / "ca.crt"),
         "-verify_return_error", "-verify_ip", "127.0.0.1"],
        input="", capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert served.returncode == 0 and "Verify return code: 0 (ok)" in served.stdout, served.stdout + served.stderr


@pytest.mark.parametrize("path", invalid_examples(), ids=lambda p: p.name)
@pytest.mark.parametrize("mode", ["dry-run", "apply"])
def test_every_invalid_example_is_refused_and_nothing_is_stored(release, path, mode):
    assert_refused_and_not_stored(path, mode)


@pytest.mark.parametrize("path", valid_examples(), ids=lambda p: p.name)
def test_valid_examples_are_accepted(release, path):
    kubectl("apply", "--dry-run=server", "-f", str(path))


def test_upgrade_to_watched_namespaces_replaces_the_cluster_role_and_keeps_the_webhook_working(release):
    team = f"{NAMESPACE}-team"
    kubectl("create", "namespace", team)
    try:
        ca_before = vwc()["webhooks"][0]["clientConfig"]["caBundle"]
        run_helm("upgrade", RELEASE, str(CHART), "-n", NAMESPACE, "--reuse-values",
                 "--set", f"watchNamespaces={{{team}}}", "--wait", "--timeout", HELM_TIMEOUT)  # fmt: skip
        kinds = {(o["kind"], o["metadata"].get("namespace")) for o in manifest()}
        assert ("Role", team) in kinds and ("RoleBinding", team) in kinds
        assert kubectl("get", "clusterrole", FULLNAME, check=False).returncode != 0, "the ClusterRole was left behind"
        assert kubectl("get", "clusterrolebinding", FULLNAME, check=False).returncode != 0
        assert can_i("create", "pods", team) and not can_i("create", "pods", "default")
        assert not can_i("list", "nodes")
        (hook,) = vwc()["webhooks"]
        assert hook["namespaceSelector"]["matchExpressions"][0]["values"] == [team]
        assert hook["clientConfig"]["caBundle"] == ca_before, "the upgrade made a new CA: the running webhook breaks"
        # still judged where watched (the operator was not restarted), no longer judged elsewhere
        wait(lambda: engine_judges(team), 30, "the webhook to judge jobs in the watched namespace")
        wait(lambda: not engine_judges("default"), 30, "the webhook to leave other namespaces alone")
    finally:
        kubectl("delete", "namespace", team, "--wait=false", check=False)


def test_uninstall_leaves_nothing_of_the_release_but_the_crd(release):
    docs = manifest()
    run_helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", HELM_TIMEOUT)
    assert [f"{o['kind']}/{o['metadata']['name']}" for o in docs if live(o)] == []
    kinds = "all,serviceaccounts,secrets,configmaps,roles,rolebindings,clusterroles,clusterrolebindings"
    kinds += ",validatingwebhookconfigurations"

    def nothing_labelled():  # a ReplicaSet of the Deployment goes with the garbage collector, a moment later
        out = kubectl("get", kinds, "-A", "-l", INSTANCE, "-o", "name")
        return not out.strip() or None

    wait(nothing_labelled, 60, f"no object labelled {INSTANCE}")
    releases = kubectl("get", "secrets", "-n", NAMESPACE, "-l", f"owner=helm,name={RELEASE}", "-o", "name")
    assert not releases.strip(), releases
    crd = json.loads(kubectl("get", "crd", JOBS, "-o", "json"))
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"
