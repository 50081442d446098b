"""Stored before the bounds: a job written while the CRD had no maximums (an older CRD) holds a value the
operator's types cannot hold. Made here by applying crds/ with every integer maximum and CEL rule stripped,
creating the job with resources.nodes: 3000000000, and re-applying the real CRD (the apiserver never re-validates
stored objects). The operator keeps reconciling the other jobs, reports this one (phase Invalid, PlanValid=False
ValueTooLarge naming spec.resources.nodes and its value: the operator reads the stored number without narrowing
it, so the user is told the bound, not merely that the spec is unreadable), and keeps doing so after a restart — no
crash loop."""

import json

import pytest
from cases import REASONS, base_job
from cluster import JOBS, REPO, install_crds, job, kubectl, operator_health, process_alive, wait, wait_or_none
from conftest import CASES_NS, REPORT_DEADLINE

NAME = "stored-before-bounds"


def strip_bounds(node):
    """The schema without integer maximums and without CEL rules (an older, laxer CRD)."""
    if isinstance(node, dict):
        return {
            k: strip_bounds(v)
            for k, v in node.items()
            if k not in ("maximum", "exclusiveMaximum", "x-kubernetes-validations")
        }
    if isinstance(node, list):
        return [strip_bounds(v) for v in node]
    return node


def lax_crd():
    crd_file = next(REPO.glob("crds/moetrainingjobs.*.y*ml"))
    crd = json.loads(kubectl("create", "--dry-run=client", "-o", "json", "-f", str(crd_file)))
    crd["spec"]["versions"] = [{**v, "schema": strip_bounds(v["schema"])} for v in crd["spec"]["versions"]]
    return crd


def reported_unreadable():
    ctype, reason = REASONS["value_too_large"]
    s = job(CASES_NS, NAME).get("status") or {}
    c = next((c for c in s.get("conditions") or [] if c.get("type") == ctype), {})
    ok = (
        s.get("phase") == "Invalid"
        and c.get("status") == "False"
        and c.get("reason") == reason
        and "spec.resources.nodes=3000000000" in (c.get("message") or "")
    )
    return ok or None


def test_job_stored_before_the_crd_had_bounds(guard, session_setup):
    bad = base_job(NAME)
    bad["spec"]["resources"]["nodes"] = 3_000_000_000
    try:
        kubectl(
            "apply", "--server-side", "--force-conflicts", "--field-manager=e2e-crd-install", "-f", "-", input=lax_crd()
        )
        kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{JOBS}")
        guard.delete_later(JOBS, CASES_NS, NAME)
        # the apiserver swaps the validator asynchronously after the CRD update: retry until it takes the job
        wait(
            lambda: (
                kubectl(
                    "apply",
                    "--server-side",
                    "--field-manager=e2e-hostile",
                    "-n",
                    CASES_NS,
                    "-f",
                    "-",
                    input=bad,
                    check=False,
                ).returncode
                == 0
            ),
            30,
            "the lax CRD to accept the job",
        )
    finally:
        install_crds()
    stored = job(CASES_NS, NAME)["spec"]["resources"]["nodes"]
    assert stored == 3_000_000_000, f"the job was not stored with nodes 3000000000 (got {stored})"
    ctype, reason = REASONS["value_too_large"]
    if not wait_or_none(reported_unreadable, REPORT_DEADLINE):
        pytest.fail(
            f"not reported within {REPORT_DEADLINE}s as phase Invalid, {ctype}=False/{reason} naming "
            f"spec.resources.nodes=3000000000: status {job(CASES_NS, NAME).get('status')}",
            pytrace=False,
        )
    other = session_setup["canary"].check()
    assert other is None, f"with the unreadable job stored: {other}"

    # the operator restarts (an upgrade, a node drain): no crash loop, the job is still reported, others run
    operator = session_setup["operator"]
    operator.restart()
    pid = operator.pid
    other = session_setup["canary"].check()
    assert other is None, f"after an operator restart with the unreadable job stored: {other}"
    assert process_alive(pid) and operator_health("live") == "UP" and operator_health("ready") == "UP", (
        "the restarted operator did not stay up"
    )
    wait(reported_unreadable, REPORT_DEADLINE, "the job still reported after the restart", interval=0.5)
