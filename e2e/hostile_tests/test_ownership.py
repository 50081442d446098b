"""Never adopt (data loss): the namespace already holds a user's objects with the names the operator derives for
job `victim` (ConfigMaps victim-plan and victim-trainer-env, Service victim, ServiceAccount/Role/RoleBinding
victim-trainer, Pod victim-node-0). The job reports the conflict (DependentsReady=False/ObjectNotOwned naming the
object, a Warning Event), creates no pod, and every user object stays byte-for-byte the same — also after the job is
deleted, so garbage collection cannot take them."""

import json

import pytest
from cases import OWNERSHIP_CASES, REASONS, VICTIM, base_job
from cluster import JOBS, job, kubectl, wait, wait_or_none, warning_events
from conftest import REPORT_DEADLINE, create_user_objects, differences, fresh_namespace, settle


def _fail(message):
    pytest.fail(message, pytrace=False)


@pytest.mark.parametrize("case_id", list(OWNERSHIP_CASES), ids=str)
def test_user_objects_with_derived_names_are_never_adopted(case_id, guard):
    ns = fresh_namespace(f"hostile-{case_id}")
    guard.delete_later("namespace", None, ns)
    objects = OWNERSHIP_CASES[case_id]
    create_user_objects(ns, objects)
    before = settle(ns)
    keys = {f"{o['kind']}/{o['metadata']['name']}" for o in objects}
    before = {k: v for k, v in before.items() if k in keys}
    guard.unchanged(ns, before)
    user_pods = {o["metadata"]["name"] for o in objects if o["kind"] == "Pod"}

    victim = base_job(VICTIM)
    victim["spec"]["resources"]["nodes"] = 2  # victim-node-1 must not be created either
    victim["spec"]["training"]["globalBatchSize"] = 2
    kubectl("apply", "--server-side", "--field-manager=e2e-hostile", "-n", ns, "-f", "-", input=victim)
    ctype, reason = REASONS["not_owned"]
    seen = {}

    def conflict_reported():
        seen["status"] = job(ns, VICTIM).get("status") or {}
        for c in seen["status"].get("conditions") or []:
            msg = c.get("message") or ""
            if (
                c.get("type") == ctype
                and c.get("status") == "False"
                and any(o["metadata"]["name"] in msg and o["kind"].lower() in msg.lower() for o in objects)
            ):
                return c
        return None

    cond = wait_or_none(conflict_reported, REPORT_DEADLINE, interval=0.3)
    if not cond:
        problems = differences(ns, before)
        _fail(
            f"no {ctype}=False condition naming the user's object within {REPORT_DEADLINE}s; "
            f"status {json.dumps(seen.get('status'))[:800]}" + (f"; and {problems}" if problems else "")
        )
    problems = []
    if cond.get("reason") != reason:
        problems.append(f"{ctype} reason {cond.get('reason')!r}, want {reason!r}")
    events = [
        e for e in warning_events(ns, VICTIM) if any(o["metadata"]["name"] in (e.get("message") or "") for o in objects)
    ]
    if not events:
        problems.append("no Warning Event naming the user's object")
    pods = json.loads(kubectl("get", "pods", "-n", ns, "-o", "json"))["items"]
    created = [p["metadata"]["name"] for p in pods if p["metadata"]["name"] not in user_pods]
    if created:
        problems.append(f"pods were created although the job cannot own its dependents: {created}")
    problems += differences(ns, before)

    kubectl("delete", JOBS, VICTIM, "-n", ns, "--timeout=60s")
    wait(lambda: kubectl("get", JOBS, VICTIM, "-n", ns, check=False).returncode != 0, 60, "the job gone")
    # Without an owner reference the garbage collector has nothing to follow; an added one would show here.
    problems += [f"after the job was deleted: {d}" for d in differences(ns, before)]
    if problems:
        _fail("\n".join(problems))
