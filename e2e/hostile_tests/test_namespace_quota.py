"""A namespace whose ResourceQuota refuses what the operator derives (no pods, or no room for the plan ConfigMap):
the spec is valid, only the apiserver can say no. Its 403 must become a False condition and a Warning Event naming
the refused object and the server's message ("exceeded quota"), with no pod of the job — not a silent retry loop
with stack traces in the operator's log."""

import json

import pytest
from cases import QUOTA_CASES, QUOTA_MESSAGE, REASONS, base_job
from cluster import JOB_LABEL, job, kubectl, wait, wait_or_none, warning_events
from conftest import REPORT_DEADLINE, fresh_namespace


@pytest.mark.parametrize("case", QUOTA_CASES, ids=lambda c: c.id)
def test_quota_refusal_of_a_derived_object_is_reported(case, guard):
    ns = fresh_namespace(f"hostile-{case.id}")
    guard.delete_later("namespace", None, ns)
    kubectl(
        "create",
        "-n",
        ns,
        "-f",
        "-",
        input={
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "user-quota"},
            "spec": {"hard": case.hard},
        },
    )
    # quota admission needs the quota's usage, which kube-controller-manager computes first
    wait(
        lambda: (
            json.loads(kubectl("get", "resourcequota", "user-quota", "-n", ns, "-o", "json"))
            .get("status", {})
            .get("used")
        ),
        30,
        "the quota's usage computed",
    )
    obj = base_job(case.id)
    kubectl("apply", "--server-side", "--field-manager=e2e-hostile", "-n", ns, "-f", "-", input=obj)
    ctype, reason = REASONS["derived_refused"]
    seen = {}

    def names_refused(message):
        return any(name in (message or "") for name in case.refused_objects)

    def reported():
        seen["status"] = job(ns, case.id).get("status") or {}
        return next(
            (
                c
                for c in seen["status"].get("conditions") or []
                if c.get("status") == "False"
                and ctype in ("*", c.get("type"))
                and reason in ("*", c.get("reason"))
                and names_refused(c.get("message"))
                and QUOTA_MESSAGE in (c.get("message") or "")
            ),
            None,
        )

    if not wait_or_none(reported, REPORT_DEADLINE, interval=0.5):
        conds = [
            (c.get("type"), c.get("status"), c.get("reason"), (c.get("message") or "")[:200])
            for c in seen.get("status", {}).get("conditions") or []
        ]
        pytest.fail(
            f"no False condition naming one of {case.refused_objects} and {QUOTA_MESSAGE!r} within "
            f"{REPORT_DEADLINE}s; phase {seen.get('status', {}).get('phase')}, conditions {conds}",
            pytrace=False,
        )
    events = [e for e in warning_events(ns, case.id) if names_refused(e.get("message"))]
    if not events:
        pytest.fail(f"no Warning Event naming one of {case.refused_objects}", pytrace=False)
    pods = kubectl("get", "pods", "-n", ns, "-l", f"{JOB_LABEL}={case.id}", "-o", "name").split()
    if pods:
        pytest.fail(f"pods exist although the quota refuses them: {pods}", pytrace=False)
