"""Gangs that can never start (issue 8, deliverable 4): a checkpoint claim that does not exist, more GPUs per node
than any node has (the fake nodes have 8), an image that cannot be pulled (KWOK stage
moe-pod-image-pull-failure: images containing `e2e.invalid/`), a GPU product no node has. The reason reaches the
job's status — GangScheduled=False with the reason and the message copied from the pod's condition or container
state — and a Warning Event says it, instead of a silent "0 of N pods bound"."""

import pytest
from cases import GANG_CASES, REASONS, base_job, merge
from cluster import JOBS, job, kubectl, wait_or_none, warning_events
from conftest import CASES_NS, REPORT_DEADLINE


@pytest.mark.parametrize("case", GANG_CASES, ids=lambda c: c.id)
def test_gang_that_cannot_start_says_why(case, guard):
    obj = base_job(case.id)
    obj["spec"] = merge(obj["spec"], case.patch)
    kubectl("apply", "--server-side", "--field-manager=e2e-hostile", "-n", CASES_NS, "-f", "-", input=obj)
    guard.delete_later(JOBS, CASES_NS, case.id)
    ctype, reasons = REASONS[case.reason]
    reasons = reasons if isinstance(reasons, tuple) else (reasons,)
    seen = {}

    def said_why():
        seen["status"] = job(CASES_NS, case.id).get("status") or {}
        return next(
            (
                c
                for c in seen["status"].get("conditions") or []
                if c.get("type") == ctype
                and c.get("status") == "False"
                and c.get("reason") in reasons
                and case.mentions in (c.get("message") or "")
            ),
            None,
        )

    if not wait_or_none(said_why, REPORT_DEADLINE):
        conds = [
            (c.get("type"), c.get("status"), c.get("reason"), (c.get("message") or "")[:200])
            for c in seen.get("status", {}).get("conditions") or []
        ]
        pytest.fail(
            f"no {ctype}=False condition with reason {' or '.join(reasons)} mentioning {case.mentions!r} "
            f"within {REPORT_DEADLINE}s; phase {seen.get('status', {}).get('phase')}, conditions {conds}",
            pytrace=False,
        )
    events = [e for e in warning_events(CASES_NS, case.id) if case.mentions in (e.get("message") or "")]
    if not events:
        pytest.fail(
            f"no Warning Event mentioning {case.mentions!r}: "
            f"{[(e.get('reason'), e.get('message', '')[:200]) for e in warning_events(CASES_NS, case.id)]}",
            pytrace=False,
        )
