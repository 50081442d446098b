"""Hostile jobs (cases.py), each refused at `kubectl apply` with the field named, or accepted and reported in
status and in a Warning Event with the field and value named and no pod created. The guard fixture (conftest.py)
checks after every group that the operator is unharmed."""

import json

import pytest
from cases import GROUPS, REASONS, REFUSED
from cluster import JOB_LABEL, JOBS, job, kubectl, wait_or_none, warning_events
from conftest import CASES_NS, REPORT_DEADLINE


def check(ok, message):
    """assert without pytest's rewriting: the message alone says what is wrong (failures are collected per group)."""
    if not ok:
        raise AssertionError(message)


def _summary(status):
    conds = "; ".join(
        f"{c.get('type')}={c.get('status')}/{c.get('reason')}: {str(c.get('message'))[:200]}"
        for c in status.get("conditions") or []
    )
    return f"phase={status.get('phase')} conditions=[{conds}]"


def _matches(want, got):
    return want == "*" or got == want or (isinstance(want, tuple) and got in want)


def assert_reported(ns, name, field, value, reason_key):
    """Within the deadline: a False condition (of the expected type and reason) naming field and value, phase
    Invalid when the plan is the problem, a Warning Event naming the field, and no pod of the job."""
    ctype, reason = REASONS[reason_key]
    seen = {}

    def reported():
        obj = job(ns, name)
        seen["status"] = obj.get("status") or {}
        for c in seen["status"].get("conditions") or []:
            msg = c.get("message") or ""
            if (
                c.get("status") == "False"
                and _matches(ctype, c.get("type"))
                and field in msg
                and (value is None or value in msg)
            ):
                return obj, c
        return None

    found = wait_or_none(reported, REPORT_DEADLINE, interval=0.3)
    if not found:
        raise AssertionError(
            f"not reported within {REPORT_DEADLINE}s: no False {ctype} condition naming {field!r}"
            + (f" and {value!r}" if value else "")
            + f"; status: {_summary(seen.get('status', {}))}"
        )
    obj, cond = found
    check(_matches(reason, cond.get("reason")), f"{cond['type']} reason {cond.get('reason')!r}, want {reason!r}")
    if cond["type"] == "PlanValid":
        check(obj["status"].get("phase") == "Invalid", f"phase is not Invalid: {_summary(obj['status'])}")
    if not wait_or_none(
        lambda: [e for e in warning_events(ns, name) if field in (e.get("message") or "")],
        REPORT_DEADLINE,
        interval=0.3,
    ):
        raise AssertionError(
            f"no Warning Event on {name} naming {field!r}: "
            f"{[(e.get('reason'), e.get('message', '')[:200]) for e in warning_events(ns, name)]}"
        )
    uid = obj["metadata"]["uid"]
    items = json.loads(kubectl("get", "pods", "-n", ns, "-o", "json"))["items"]
    mine = [
        p["metadata"]["name"]
        for p in items
        if p["metadata"].get("labels", {}).get(JOB_LABEL) == name
        or any(o.get("uid") == uid for o in p["metadata"].get("ownerReferences") or [])
    ]
    check(not mine, f"pods were created for a job that cannot run: {mine}")


def run_case(case, guard):
    p = kubectl(
        "apply",
        "--server-side",
        "--field-manager=e2e-hostile",
        "-n",
        CASES_NS,
        "-f",
        "-",
        input=case.manifest(),
        check=False,
        timeout=120,
    )
    if p.returncode == 0:
        guard.delete_later(JOBS, CASES_NS, case.job_name)
    message = (p.stderr or "").strip()
    if case.outcome == REFUSED:
        check(
            p.returncode != 0, "accepted; expected kubectl apply to refuse it" + (f" ({case.why})" if case.why else "")
        )
        check(case.field in message, f"refused, but the message does not name {case.field!r}: {message[:600]}")
    else:
        check(p.returncode == 0, f"refused at apply; expected accepted and reported in status: {message[:600]}")
        assert_reported(CASES_NS, case.job_name, case.field, case.value, case.reason)


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.id)
def test_hostile_job(group, guard):
    failures = []
    for case in group.cases:
        try:
            run_case(case, guard)
        except AssertionError as e:
            failures.append(f"{case.id} [{case.klass}, expected {case.outcome}]: {e}")
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)
