"""Status garbage: a user who may write the status subresource (kubectl edit --subresource=status, a buggy tool)
writes nonsense into a running job's status. Values the schema can refuse are refused with the field named;
the rest must not stop the operator: it keeps reconciling that job (a spec change is observed, its running pod
is left alone) and every other one (the guard's canary)."""

import json

import pytest
from cases import REFUSED, STATUS_CASES, base_job
from cluster import JOB_LABEL, JOBS, condition, job, kubectl, wait, wait_or_none
from conftest import CASES_NS, REPORT_DEADLINE


def running_job(name, guard):
    obj = base_job(name)
    obj["spec"]["trainer"] = {"env": [{"name": "E2E_MOE_HOLD", "value": "1"}]}  # KWOK keeps the pod Running
    kubectl("apply", "--server-side", "--field-manager=e2e-hostile", "-n", CASES_NS, "-f", "-", input=obj)
    guard.delete_later(JOBS, CASES_NS, name)

    def running():
        pods = json.loads(kubectl("get", "pods", "-n", CASES_NS, "-l", f"{JOB_LABEL}={name}", "-o", "json"))["items"]
        return (
            job(CASES_NS, name).get("status", {}).get("phase") == "Running"
            and len(pods) == 1
            and pods[0]["metadata"]["uid"]
        )

    return wait(running, REPORT_DEADLINE, f"{name} Running", interval=0.3)


@pytest.mark.parametrize("case", STATUS_CASES, ids=lambda c: c.id)
def test_status_garbage(case, guard):
    name = case.id
    pod_uid = running_job(name, guard)
    p = kubectl(
        "patch",
        JOBS,
        name,
        "-n",
        CASES_NS,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": case.status}),
        check=False,
    )
    if case.outcome == REFUSED:
        if p.returncode == 0:
            pytest.fail(f"the status write was accepted; expected the schema to refuse {case.field}", pytrace=False)
        if case.field not in p.stderr:
            pytest.fail(f"refused, but the message does not name {case.field}: {p.stderr[:600]}", pytrace=False)
        return
    if p.returncode != 0:
        pytest.fail(f"the status write was refused: {p.stderr[:600]}", pytrace=False)
    # the job is still reconciled: a spec change is observed
    generation = json.loads(
        kubectl(
            "patch",
            JOBS,
            name,
            "-n",
            CASES_NS,
            "--type=merge",
            "-o",
            "json",
            "-p",
            json.dumps({"spec": {"training": {"steps": 21}}}),
        )
    )["metadata"]["generation"]

    def observed():
        s = job(CASES_NS, name).get("status") or {}
        plan_valid = condition(s, "PlanValid") or {}
        return s.get("observedGeneration") == generation and plan_valid.get("status") == "True" and s

    if not wait_or_none(observed, REPORT_DEADLINE, interval=0.3):
        pytest.fail(
            f"after the status write the operator no longer reconciles {name}: generation {generation}, "
            f"status {job(CASES_NS, name).get('status')}"[:1500],
            pytrace=False,
        )
    pods = json.loads(kubectl("get", "pods", "-n", CASES_NS, "-l", f"{JOB_LABEL}={name}", "-o", "json"))["items"]
    uids = [p["metadata"]["uid"] for p in pods if not p["metadata"].get("deletionTimestamp")]
    if uids != [pod_uid]:
        pytest.fail(f"the running pod was replaced after a status write (was {pod_uid}, now {uids})", pytrace=False)
