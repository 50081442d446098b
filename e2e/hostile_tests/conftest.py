"""Fixtures of the hostile suite (issue 8): the operator (e2e/bin/operator-up.sh) runs against the local control
plane; every test applies hostile jobs, and after every test the `guard` fixture proves the operator is unharmed:

- a canary (a fresh valid job) still reconciles: status written and its pod created, while the hostile objects of
  the test still exist;
- the operator process is the one the session started (same PID; a test that restarts it on purpose says so) and
  /q/health/live and /q/health/ready are UP;
- the operator's log has no OutOfMemoryError, no stopped watch ("will stop"), no "Informer startup error";
- the sentinel user objects (in namespace hostile-sentinel, named and labelled like a job's dependents so that the
  operator's informers see them) and the user objects the test registered are unchanged (resourceVersion, owner
  references, data, spec).

Then the test's objects are deleted. When the operator is down or not reconciling — or, after a failed case,
still burns CPU with no job left (a reconcile that never returns) — it is restarted once the hostile objects are
gone, so that one broken case does not fail or slow every later one."""

import json
import os
import pathlib
import sys
import time

import pytest

# Some hostile jobs are nested thousands of levels deep; Python's json decoder recurses once per level.
sys.setrecursionlimit(20_000)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
from cases import base_job  # noqa: E402
from cluster import (  # noqa: E402
    JOB_LABEL,
    JOBS,
    OPERATOR_LOG,
    cluster_and_operator_problem,
    kubectl,  # noqa: E402
    operator_health,
    operator_pid,
    process_alive,
    start_operator,
    stop_operator,
    wait,
)

CASES_NS = "hostile-cases"
CANARY_NS = "hostile-canary"
SENTINEL_NS = "hostile-sentinel"
# Deadlines (seconds): how long the operator may take to report a job / reconcile the canary. Generous for a
# shared 2-core machine; a healthy operator takes about a second.
REPORT_DEADLINE = 30
CANARY_DEADLINE = 30
# What the operator's log must never say.
FATAL_LOG_LINES = ("OutOfMemoryError", "will stop", "Informer startup error")


# ------------------------------------------------------------------------------------------------------------------
# user objects: snapshot and compare
# ------------------------------------------------------------------------------------------------------------------
USER_KINDS = (
    "configmaps,services,serviceaccounts,roles.rbac.authorization.k8s.io,"
    "rolebindings.rbac.authorization.k8s.io,secrets,pods"
)
_COMPARED = ("data", "spec", "rules", "subjects", "roleRef", "type")


def fingerprint(obj):
    """What must not change in an object we (not the operator) own."""
    m = obj["metadata"]
    return {
        "uid": m["uid"],
        "resourceVersion": m["resourceVersion"],
        "labels": m.get("labels"),
        "annotations": m.get("annotations"),
        "ownerReferences": m.get("ownerReferences"),
        "finalizers": m.get("finalizers"),
        "deletionTimestamp": m.get("deletionTimestamp"),
        **{k: obj.get(k) for k in _COMPARED},
    }


def snapshot(ns, names=None):
    """{"Kind/name": fingerprint} of the user objects in ns (only those in names, "Kind/name", when given)."""
    items = json.loads(kubectl("get", USER_KINDS, "-n", ns, "-o", "json"))["items"]
    out = {f"{o['kind']}/{o['metadata']['name']}": fingerprint(o) for o in items}
    return {k: v for k, v in out.items() if names is None or k in names}


def _short(value, limit=160):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def differences(ns, before):
    """Human-readable differences between a snapshot and the objects now."""
    now = snapshot(ns, set(before))
    out = []
    for key, was in before.items():
        if key not in now:
            out.append(f"{ns}/{key} was deleted")
            continue
        changed = [f for f in was if was[f] != now[key][f]]
        if changed:
            out.append(
                f"{ns}/{key} changed: " + ", ".join(f"{f}: {_short(was[f])} -> {_short(now[key][f])}" for f in changed)
            )
    return out


def create_user_objects(ns, objects):
    for o in objects:
        kubectl("create", "-n", ns, "-f", "-", input=o)


def settle(ns, timeout=60):
    """Waits until the user pods in ns are Running and nothing in ns changes between two looks; returns the
    snapshot (KWOK and the scheduler write a pod's status after it is created)."""

    def stable():
        pods = json.loads(kubectl("get", "pods", "-n", ns, "-o", "json"))["items"]
        if any(p["status"].get("phase") != "Running" for p in pods):
            return None
        first = snapshot(ns)
        time.sleep(1)
        second = snapshot(ns)
        return second if first == second else None

    return wait(stable, timeout, f"user objects in {ns} settled")


def user_pod(name, labels=None, annotations=None):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
        "spec": {"containers": [{"name": "app", "image": "registry.example/user-app:1"}]},
    }


def sentinel_objects():
    """A user's objects named and labelled like the dependents of a job called `sentinel` (no such job exists):
    the operator's informers (label training.moe.dev/job) see them, and it must never touch them."""
    labels = {JOB_LABEL: "sentinel", "owner": "user"}
    meta = lambda name: {"name": name, "labels": labels}  # noqa: E731
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("sentinel-plan"),
            "data": {"plan.json": '{"written": "by a user"}'},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "user-settings"}, "data": {"a": "1"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta("sentinel-secret"), "stringData": {"k": "v"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("sentinel"),
            "spec": {"selector": {"app": "user"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("sentinel-trainer")},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta("sentinel-trainer"),
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta("sentinel-trainer"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "sentinel-trainer"},
            "subjects": [{"kind": "ServiceAccount", "name": "sentinel-trainer"}],
        },
        user_pod(
            "sentinel-node-0",
            {**labels, "training.moe.dev/node-rank": "0", "training.moe.dev/attempt": "0"},
            {"e2e.moe.dev/hold": "true"},
        ),
    ]


def fresh_namespace(name):
    """Creates namespace name (deleting a leftover of an earlier run first) and waits for its default
    ServiceAccount (pods cannot be created before it exists)."""
    if kubectl("get", "namespace", name, check=False).returncode == 0:
        kubectl("delete", "namespace", name, "--timeout=120s")
    kubectl("create", "namespace", name)
    wait(
        lambda: kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
        30,
        f"default ServiceAccount in {name}",
        interval=0.2,
    )
    return name


# ------------------------------------------------------------------------------------------------------------------
# the operator process
# ------------------------------------------------------------------------------------------------------------------
class Operator:
    """The operator process of this session: its PID, health and log since a point in time."""

    def __init__(self):
        self.pid = operator_pid()
        self.log_from = 0

    def mark(self):
        """Only log lines written from now on count for the next problems()."""
        self.log_from = OPERATOR_LOG.stat().st_size if OPERATOR_LOG.exists() else 0

    def restarted_on_purpose(self):
        """A test restarted the operator (start_operator): the new process is the one to watch."""
        self.pid = operator_pid()
        self.log_from = 0

    def new_log(self):
        try:
            with open(OPERATOR_LOG, "rb") as f:
                f.seek(self.log_from)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def problems(self):
        out = []
        if operator_pid() != self.pid or not process_alive(self.pid):
            out.append(f"the operator (pid {self.pid}) is gone; pid file says {operator_pid()}")
        for probe in ("live", "ready"):
            status = operator_health(probe)
            if status != "UP":
                out.append(f"/q/health/{probe} is {status}")
        for line in self.new_log().splitlines():
            if any(s in line for s in FATAL_LOG_LINES):
                out.append(f"operator log: {line[:300]}")
        return out

    def restart(self):
        """Stops the operator (if still there) and starts a fresh one, ready within a deadline."""
        stop_operator()
        start_operator()
        wait(lambda: operator_health("ready") == "UP", 90, "the restarted operator ready", interval=0.5)
        self.restarted_on_purpose()


# ------------------------------------------------------------------------------------------------------------------
# the canary
# ------------------------------------------------------------------------------------------------------------------
class Canary:
    """A fresh valid job per check: proves the operator still plans, writes status and creates pods. The job carries
    the job label itself, so one `kubectl get` returns the job and its pods."""

    def __init__(self):
        self.n = 0
        self.name = None

    def start(self):
        self.n += 1
        self.name = f"canary-{self.n:03d}"
        obj = base_job(self.name)
        obj["metadata"]["labels"] = {JOB_LABEL: self.name}
        kubectl("apply", "--server-side", "--field-manager=e2e-hostile", "-n", CANARY_NS, "-f", "-", input=obj)

    def result(self):
        """None when the canary got a status phase and its pod within the deadline; else the problem. Deletes it."""

        def reconciled():
            items = json.loads(
                kubectl("get", f"{JOBS},pods", "-n", CANARY_NS, "-l", f"{JOB_LABEL}={self.name}", "-o", "json")
            )["items"]
            jobs = [o for o in items if o["kind"] == "MoETrainingJob"]
            return jobs and (jobs[0].get("status") or {}).get("phase") and any(o["kind"] == "Pod" for o in items)

        try:
            wait(reconciled, CANARY_DEADLINE, f"canary {self.name} reconciled (status phase and its pod)", interval=0.2)
            return None
        except AssertionError as e:
            return f"canary {CANARY_NS}/{self.name} did not reconcile: {e}"
        finally:
            kubectl("delete", JOBS, self.name, "-n", CANARY_NS, "--wait=false", check=False)

    def check(self):
        self.start()
        return self.result()


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def busy_with_nothing(pid, seconds=2.0):
    """Whether the operator keeps at least a third of a core busy while no job exists (a reconcile that never
    returns: the parameter count of a 2^31-layer model looped for ever). Only decides whether to restart the
    operator after a failed case; it asserts nothing."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before > seconds / 3


# ------------------------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def session_setup():
    problem = cluster_and_operator_problem()
    if problem:
        pytest.exit(problem, returncode=2)
    for ns in (CASES_NS, CANARY_NS, SENTINEL_NS):
        fresh_namespace(ns)
    create_user_objects(SENTINEL_NS, sentinel_objects())
    state = {"sentinels": settle(SENTINEL_NS), "operator": Operator(), "canary": Canary()}
    yield state
    for ns in (CASES_NS, CANARY_NS, SENTINEL_NS):
        kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, so that the guard knows whether the test itself failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


class Guard:
    """What a test hands to the after-case checks: objects to delete afterwards and user objects that must stay
    unchanged."""

    def __init__(self):
        self.to_delete = []  # (resource, namespace or None, name)
        self.user_objects = []  # (namespace, snapshot)

    def delete_later(self, resource, ns, name):
        self.to_delete.append((resource, ns, name))

    def unchanged(self, ns, snap):
        self.user_objects.append((ns, snap))

    def delete_all(self):
        """One kubectl delete per (resource, namespace); namespaces without waiting for their contents."""
        batches = {}
        for resource, ns, name in self.to_delete:
            batches.setdefault((resource, ns), []).append(name)
        for (resource, ns), names in batches.items():
            args = ["delete", resource, *names, "--ignore-not-found", "--timeout=60s"]
            if ns:
                args += ["-n", ns]
            if resource == "namespace":
                args += ["--wait=false"]
            kubectl(*args, check=False, timeout=90)


@pytest.fixture(autouse=True)
def guard(session_setup, request):
    operator, canary = session_setup["operator"], session_setup["canary"]
    operator.mark()
    g = Guard()
    yield g
    problems = operator.problems()
    broken = bool(problems)
    if not broken:  # a dead or blind operator cannot reconcile the canary: do not wait for it
        canary.start()
    # while the operator reconciles the canary: nothing the operator does not own has changed
    problems += differences(SENTINEL_NS, session_setup["sentinels"])
    for ns, snap in g.user_objects:
        problems += differences(ns, snap)
    if not broken:
        late = canary.result()
        if late:
            problems.append(late)
            broken = True
        problems += operator.problems()
    g.delete_all()
    test_failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    if broken or operator.problems() or (test_failed and g.to_delete and busy_with_nothing(operator.pid)):
        operator.restart()
    if problems:
        pytest.fail("after the case, the operator is not unharmed:\n  " + "\n  ".join(problems), pytrace=False)
