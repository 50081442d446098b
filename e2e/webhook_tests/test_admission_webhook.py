"""The plan engine's admission webhook on the real API server (issue 14): the operator started by
e2e/bin/operator-up.sh serves it over HTTPS on 127.0.0.1:$MOE_E2E_WEBHOOK_PORT with a certificate from the CA that
operator-up.sh made with openssl; this suite registers the chart's own ValidatingWebhookConfiguration (rendered by
helm: its rules, sideEffects, failurePolicy), pointed at that loopback URL instead of the in-cluster Service, and
removes it afterwards (the other suites run without it, and judge invalid jobs through the reconciler).

- every examples/invalid/*.yaml is refused at `kubectl apply --dry-run=server` and at `kubectl apply`, and nothing
  is stored: by the CRD's schema/CEL when the file says `# apiserver-rejects: ...`, else by the webhook with the
  plan engine's message (field=value problem; fix [Rule]);
- the valid examples are accepted (dry-run);
- a legal but slow plan is stored with the engine's warning printed by kubectl;
- a spec update that breaks a rule is refused, a label change on the same job is not judged;
- with the webhook unreachable (failurePolicy Ignore, the chart's default) an invalid job is stored and the
  reconciler reports it Invalid; with failurePolicy Fail nothing is stored."""

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
from cluster import (
    JOBS,
    REPO,
    WORK,
    cluster_and_operator_problem,
    condition,
    job,  # noqa: E402
    kubectl,
    tiny_job,
    wait,
)

WEBHOOK_PORT = int(os.environ.get("MOE_E2E_WEBHOOK_PORT", "18443"))
REPORT_DEADLINE = 60


def chart_webhook_configuration(name, failure_policy="Ignore", port=WEBHOOK_PORT):
    """The chart's ValidatingWebhookConfiguration, with clientConfig pointed at the operator process."""
    rendered = subprocess.run(
        [
            helm(),
            "template",
            "moe-operator",
            str(REPO / "charts" / "moe-operator"),
            "--namespace",
            "moe-system",
            "--kube-version",
            os.environ.get("K8S_VERSION", "v1.34.0").lstrip("v"),
            "--set",
            f"webhook.failurePolicy={failure_policy}",
            "--show-only",
            "templates/webhook.yaml",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    out = kubectl("create", "--dry-run=client", "-o", "json", "-f", "-", input=rendered)
    items, decoder, i = [], json.JSONDecoder(), 0
    while i < len(out):  # one JSON document per object, one after the other
        if out[i].isspace():
            i += 1
            continue
        obj, i = decoder.raw_decode(out, i)
        items += obj["items"] if obj.get("kind") == "List" else [obj]
    vwc = next(o for o in items if o["kind"] == "ValidatingWebhookConfiguration")
    vwc["metadata"] = {"name": name}
    ca = (WORK / "webhook-tls" / "ca.crt").read_bytes()
    for hook in vwc["webhooks"]:
        hook["clientConfig"] = {
            "url": f"https://127.0.0.1:{port}{WEBHOOK_PATH}",
            "caBundle": base64.b64encode(ca).decode(),
        }
    return vwc


def register(vwc):
    kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=e2e-webhook", "-f", "-", input=vwc)


def wait_until_judging(ns):
    """A new webhook configuration reaches the API server's admission chain within a second or so: probe with a
    dry-run of an invalid job until it is refused by the engine."""
    probe = tiny_job("probe", parallelism={"expert": 3})

    def refused():
        p = kubectl("apply", "--dry-run=server", "-n", ns, "-f", "-", input=probe, check=False)
        return p.returncode != 0 and "[ExpertDividesWorld]" in p.stderr

    wait(refused, 30, "the webhook to judge jobs", interval=0.5)


def wait_until_unreachable_is_used(ns, expect_refused):
    probe = tiny_job("probe-unreachable", parallelism={"expert": 3})

    def switched():
        p = kubectl("apply", "--dry-run=server", "-n", ns, "-f", "-", input=probe, check=False)
        if expect_refused:
            return p.returncode != 0 and "failed calling webhook" in p.stderr
        return p.returncode == 0

    wait(switched, 30, "the API server to use the unreachable webhook", interval=0.5)


@pytest.fixture(scope="module")
def ns():
    problem = cluster_and_operator_problem()
    if problem:
        pytest.fail(problem)
    name = f"e2e-webhook-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def webhook(ns):
    name = f"moe-e2e-{uuid.uuid4().hex[:6]}"
    try:
        register(chart_webhook_configuration(name))
        wait_until_judging(ns)
        yield name
    finally:  # never leave it registered: the later suites run without the webhook
        kubectl("delete", "validatingwebhookconfiguration", name, "--ignore-not-found", check=False)


@pytest.mark.parametrize("path", invalid_examples(), ids=lambda p: p.name)
@pytest.mark.parametrize("mode", ["dry-run", "apply"])
def test_every_invalid_example_is_refused_and_nothing_is_stored(webhook, path, mode):
    assert_refused_and_not_stored(path, mode)


def test_memory_that_does_not_fit_names_the_nearest_plans_that_fit(webhook):
    p = kubectl("apply", "--dry-run=server", "-f", str(REPO / "examples/invalid/memory-does-not-fit.yaml"), check=False)
    assert p.returncode != 0
    assert "[MemoryExceeded]" in p.stderr and "* spec: Nearest plans that fit: " in p.stderr, p.stderr


@pytest.mark.parametrize("path", valid_examples(), ids=lambda p: p.name)
def test_valid_examples_are_accepted(webhook, path):
    kubectl("apply", "--dry-run=server", "-f", str(path))


def test_a_slow_plan_is_stored_with_the_engines_warning(webhook, ns):
    slow = tiny_job("slow-plan", parallelism={"tensor": 1, "expert": 4}, suspend=True)
    p = kubectl("apply", "-n", ns, "-f", "-", input=slow, check=False)
    assert p.returncode == 0, p.stderr
    assert "Warning: expert-parallel groups span 2 nodes" in p.stderr, p.stderr
    assert job(ns, "slow-plan")["spec"]["parallelism"]["expert"] == 4


def test_a_spec_update_that_breaks_a_rule_is_refused_a_label_is_not_judged(webhook, ns):
    kubectl("apply", "-n", ns, "-f", "-", input=tiny_job("update-me", suspend=True))
    broken = tiny_job("update-me", suspend=True, parallelism={"expert": 3})
    p = kubectl("apply", "-n", ns, "-f", "-", input=broken, check=False)
    assert p.returncode != 0 and "* spec.parallelism.expert: spec.parallelism.expert=3 " in p.stderr, p.stderr
    assert job(ns, "update-me")["spec"]["parallelism"]["expert"] == 2
    kubectl("label", JOBS, "update-me", "-n", ns, "team=a")
    assert job(ns, "update-me")["metadata"]["labels"]["team"] == "a"


def test_webhook_unreachable_the_reconciler_still_reports_invalid(webhook, ns):
    """failurePolicy Ignore (the chart's default) with nothing listening: the job is stored and judged by the
    reconciler; failurePolicy Fail: refused, nothing stored. The suite's webhook is put back afterwards."""
    closed_port = WEBHOOK_PORT + 1  # nothing of ours listens there (env.sh: one port per server)
    try:
        register(chart_webhook_configuration(webhook, failure_policy="Fail", port=closed_port))
        wait_until_unreachable_is_used(ns, expect_refused=True)
        p = kubectl("apply", "-n", ns, "-f", "-", input=tiny_job("down-fail", parallelism={"expert": 3}), check=False)
        assert p.returncode != 0 and "failed calling webhook" in p.stderr, p.stderr
        assert kubectl("get", JOBS, "down-fail", "-n", ns, check=False).returncode != 0

        register(chart_webhook_configuration(webhook, failure_policy="Ignore", port=closed_port))
        wait_until_unreachable_is_used(ns, expect_refused=False)
        kubectl("apply", "-n", ns, "-f", "-", input=tiny_job("down-ignore", parallelism={"expert": 3}))

        def invalid():
            status = job(ns, "down-ignore").get("status", {})
            return status if status.get("phase") == "Invalid" else None

        status = wait(invalid, REPORT_DEADLINE, "the reconciler to report the job Invalid")
        assert "spec.parallelism.expert=3" in condition(status, "PlanValid")["message"]
    finally:
        register(chart_webhook_configuration(webhook))
        wait_until_judging(ns)
