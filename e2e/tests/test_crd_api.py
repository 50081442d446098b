"""API-server tier: the MoETrainingJob CRD on a real kube-apiserver + etcd.

- the CRD installs, is Established, has the status subresource, short name and printer columns;
- every CEL rule (x-kubernetes-validations) has a case in cel_cases.py, and each case has one object the apiserver
  accepts and one it rejects with the rule's message;
- examples/*.yaml are accepted; examples/invalid/*.yaml marked `# apiserver-rejects: <message>` are rejected
  with that message (the other invalid examples are model-dependent: the plan engine rejects them);
- server-side apply: create, update, field ownership, conflicts between managers;
- status subresource: status writes go through /status, spec changes through /status are ignored, and status
  changes through the main resource are ignored.
"""

import copy
import json
import re
import uuid

import pytest
from cel_cases import CASES, SCHEMA_CASES
from conftest import REPO
from kube import get, kubectl, merge, rejected, wait_for


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def job_with(base, patch, name):
    obj = merge(copy.deepcopy(base), patch)
    obj["metadata"] = {"name": name}
    return obj


def ssa(obj, namespace, manager="e2e-test", *extra):
    return json.loads(
        kubectl(
            "apply",
            "--server-side",
            f"--field-manager={manager}",
            "-n",
            namespace,
            "--show-managed-fields",
            "-o",
            "json",
            *extra,
            "-f",
            "-",
            input=obj,
        )
    )


# ---- CRD shape ------------------------------------------------------------------------------------------------------


def test_crd_is_established_with_status_subresource_and_names(job_crd):
    names = job_crd["spec"]["names"]
    assert names["plural"] == "moetrainingjobs"
    assert "moejob" in names.get("shortNames", [])
    versions = {v["name"]: v for v in job_crd["spec"]["versions"]}
    assert "v1alpha1" in versions and versions["v1alpha1"]["served"] and versions["v1alpha1"]["storage"]
    v = versions["v1alpha1"]
    assert "status" in v.get("subresources", {}), "the status subresource must be enabled"
    columns = [c["name"].lower() for c in v.get("additionalPrinterColumns", [])]
    assert "phase" in columns, f"printer columns: {columns}"
    conditions = {c["type"]: c["status"] for c in job_crd["status"]["conditions"]}
    assert conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"
    # a structural schema: NonStructuralSchema would be reported as a condition
    assert "NonStructuralSchema" not in conditions


def test_kubectl_explain_reads_well(job_crd, job_resource):
    def explain():  # kubectl's discovery cache may lag right after the CRD is installed
        p = kubectl("explain", f"{job_resource}.spec", check=False)
        return p.stdout if p.returncode == 0 else None

    out = wait_for(explain, timeout=30, what="kubectl explain")
    assert "FIELDS" in out
    fields = re.findall(r"^  (\w+)\s+<[^>]+>.*\n((?:    .*\n)*)", out, flags=re.M)
    assert fields, out
    undocumented = [name for name, text in fields if not text.strip()]
    assert not undocumented, f"spec fields without a description in kubectl explain: {undocumented}"


def test_kubectl_explain_describes_the_kind(job_crd):
    """`kubectl explain moetrainingjob` (and the short name) opens with what the kind is (MoETrainingJob.DESCRIPTION
    in the api module, the CRD's top-level description)."""

    def explain(name):
        p = kubectl("explain", name, check=False)
        return p.stdout if p.returncode == 0 else None

    for name in ("moetrainingjob", "moejob"):
        out = wait_for(lambda n=name: explain(n), timeout=30, what=f"kubectl explain {name}")
        description = out.split("DESCRIPTION:", 1)[1].split("FIELDS:", 1)[0]
        words = " ".join(description.split())
        assert words.startswith("A Mixture-of-Experts training job (short name moejob):"), out
        assert "plan engine" in words and "bin/moe-plan" in words, out


# ---- CEL rules ----------------------------------------------------------------------------------------------------


def cel_rules(schema, path=""):
    """Yields (path, validation) for every x-kubernetes-validations entry of an OpenAPI v3 schema."""
    for v in schema.get("x-kubernetes-validations", []):
        yield path, v
    for name, sub in schema.get("properties", {}).items():
        yield from cel_rules(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from cel_rules(schema["items"], f"{path}[*]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from cel_rules(schema["additionalProperties"], f"{path}{{*}}")


@pytest.fixture(scope="module")
def rules(job_crd):
    schema = next(v for v in job_crd["spec"]["versions"] if v["name"] == "v1alpha1")["schema"]["openAPIV3Schema"]
    return {(path, v["rule"]): v for path, v in cel_rules(schema)}


def norm(rule):
    return " ".join(rule.split())


def find_rule(rules, case):
    for (path, rule), v in rules.items():
        if path == case.path and norm(rule) == norm(case.rule):
            return v
    return None


def test_crd_has_cel_rules(rules):
    assert rules, "the CRD carries no x-kubernetes-validations: static rules belong in the CRD as CEL"


def test_every_cel_rule_has_a_case(rules):
    covered = {(c.path, norm(c.rule)) for c in CASES}
    missing = [f"{path}: {rule}" for (path, rule) in rules if (path, norm(rule)) not in covered]
    assert not missing, "CEL rules without a test case in e2e/tests/cel_cases.py:\n  " + "\n  ".join(missing)


def test_every_case_matches_a_rule_of_the_crd(rules):
    stale = [f"{c.path}: {c.rule}" for c in CASES if find_rule(rules, c) is None]
    assert not stale, "cases in e2e/tests/cel_cases.py whose rule is no longer in the CRD:\n  " + "\n  ".join(stale)


def expected_message(case, rule):
    return case.message or rule.get("message") or pytest.fail(f"rule {case.rule} has no message; give the case one")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_cel_rule_accepts_a_valid_object(case, rules, base_job, namespace):
    if find_rule(rules, case) is None:
        pytest.fail(f"rule not in the CRD: {case.path}: {case.rule}")
    name = case.ok_name or unique("cel-ok")
    if case.update:  # transition rule: create `before`, then update with `ok`
        ssa(job_with(base_job, case.before, name), namespace)
    created = ssa(job_with(base_job, merge(case.before or {}, case.ok) if case.update else case.ok, name), namespace)
    assert created["metadata"]["name"] == name


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_cel_rule_rejects_an_invalid_object_with_its_message(case, rules, base_job, namespace):
    rule = find_rule(rules, case)
    if rule is None:
        pytest.fail(f"rule not in the CRD: {case.path}: {case.rule}")
    name = case.bad_name or unique("cel-bad")
    if case.update:
        ssa(job_with(base_job, case.before, name), namespace)
        bad = job_with(base_job, merge(case.before or {}, case.bad), name)
    else:
        bad = job_with(base_job, case.bad, name)
    err = rejected(ssa, bad, namespace)
    assert expected_message(case, rule) in err, f"expected message {expected_message(case, rule)!r}, got: {err}"
    assert "Invalid value" in err or "Forbidden" in err or "Required value" in err or "Unsupported value" in err, err


@pytest.mark.parametrize("case", SCHEMA_CASES, ids=lambda c: c.id)
def test_schema_bound_rejects_an_invalid_object(case, base_job, namespace):
    """The OpenAPI bounds (maximum, pattern, maxLength, maxItems, maxProperties, enum; docs/limits.md): the
    apiserver refuses the object at apply time, naming the field."""
    err = rejected(ssa, job_with(base_job, case.bad, unique("schema-bad")), namespace)
    assert case.expect in err, f"expected {case.expect!r}, got: {err}"


def test_a_job_at_the_limits_is_accepted(base_job, namespace):
    """The limits are inclusive: the largest values the CRD admits are admitted (with derived data)."""
    at_limits = {
        "spec": {
            "resources": {"nodes": 512, "gpusPerNode": 16, "gpuMemoryGiB": 1024},
            "parallelism": {"tensor": 16, "expert": 1024, "data": None},
            "training": {
                "seqLength": 4096,
                "microBatchSize": 1024,
                "globalBatchSize": 16777216,
                "steps": 100000000,
                "warmupSteps": 100000000,
                "seed": 9007199254740991,
                "learningRate": 1.0,
                "checkpoint": {"claimName": "c" * 253, "everySteps": 100000000},
            },
            "restartPolicy": {
                "maxRestarts": 1000,
                "backoffSeconds": 86400,
                "maxBackoffSeconds": 86400,
                "gangSchedulingTimeoutSeconds": 604800,
                "nonRetryableExitCodes": list(range(1, 33)),
                "maxInfrastructureRestarts": 1000,
                "progressDeadlineSeconds": 86400,
                "progressStartupGraceSeconds": 86400,
                "rules": [
                    {
                        "reasons": ["OOMKilled"] * 32,
                        "exitCodes": list(range(224, 256)),
                        "terminationReasons": ["r" * 128] * 32,
                        "messageContains": "m" * 256,
                        "action": "FailJob",
                    }
                ]
                * 32,
            },
            "trainer": {
                "image": "r/" + "i" * 510,
                "args": ["a" * 4096] * 128,
                "env": [{"name": f"V{i}", "value": "v" * 4096} for i in range(64)],
            },
            "placement": {"topologyKeys": ["t" * 253 + "/" + "k" * 63] * 8, "queueName": "q" * 63},
        }
    }
    created = ssa(job_with(base_job, at_limits, "l" * 51), namespace)
    assert created["spec"]["resources"]["nodes"] == 512


# ---- examples -------------------------------------------------------------------------------------------------------


def example_files(sub=""):
    d = REPO / "examples" / sub if sub else REPO / "examples"
    return sorted(p for p in d.glob("*.y*ml")) if d.is_dir() else []


@pytest.mark.parametrize("path", example_files() or [None], ids=lambda p: p.name if p else "none")
def test_examples_are_accepted(path, crds):
    if path is None:
        pytest.skip("no examples/*.yaml")
    kubectl("apply", "--dry-run=server", "--server-side", "--field-manager=e2e-examples", "-f", str(path))


APISERVER_REJECTS = re.compile(r"^#\s*apiserver-rejects:\s*(.+?)\s*$", flags=re.M)


def apiserver_invalid_examples():
    """examples/invalid/*.yaml that carry `# apiserver-rejects: <message>` (the CRD's schema/CEL rejects them).
    The others are model-dependent (plan engine: status Invalid, bin/moe-plan) and are tested there."""
    return [p for p in example_files("invalid") if APISERVER_REJECTS.search(p.read_text())]


@pytest.mark.parametrize("path", apiserver_invalid_examples() or [None], ids=lambda p: p.name if p else "none")
def test_invalid_examples_are_rejected_by_the_apiserver(path, crds):
    if path is None:
        pytest.skip("no examples/invalid/*.yaml marked `# apiserver-rejects: <message>`")
    expect = APISERVER_REJECTS.search(path.read_text()).group(1).strip("\"'")
    err = rejected(
        kubectl, "apply", "--dry-run=server", "--server-side", "--field-manager=e2e-examples", "-f", str(path)
    )
    assert expect in err, f"{path.name}: expected {expect!r} in: {err}"


# ---- server-side apply --------------------------------------------------------------------------------------------


def test_server_side_apply_creates_and_records_the_field_manager(base_job, namespace, job_resource):
    name = unique("ssa")
    created = ssa(job_with(base_job, {}, name), namespace, manager="e2e-gitops")
    assert created["metadata"]["generation"] == 1
    managers = {(m["manager"], m["operation"]) for m in created["metadata"]["managedFields"]}
    assert ("e2e-gitops", "Apply") in managers, managers
    # the same apply again is a no-op: generation stays
    again = ssa(job_with(base_job, {}, name), namespace, manager="e2e-gitops")
    assert again["metadata"]["generation"] == 1
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_server_side_apply_updates_the_spec(base_job, namespace):
    name = unique("ssa-upd")
    ssa(job_with(base_job, {}, name), namespace)
    updated = ssa(
        job_with(base_job, {"metadata": {"labels": {"team": "moe"}}, "spec": {"suspend": True}}, name), namespace
    )
    assert updated["spec"].get("suspend") is True
    assert updated["metadata"]["generation"] == 2


def test_server_side_apply_conflict_between_managers(base_job, namespace):
    name = unique("ssa-conflict")
    ssa(job_with(base_job, {"spec": {"suspend": False}}, name), namespace, manager="owner-a")
    err = rejected(ssa, job_with(base_job, {"spec": {"suspend": True}}, name), namespace, "owner-b")
    assert "conflict" in err.lower() and "owner-a" in err, err
    forced = ssa(job_with(base_job, {"spec": {"suspend": True}}, name), namespace, "owner-b", "--force-conflicts")
    assert forced["spec"]["suspend"] is True


# ---- status subresource -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def status_phase(job_crd):
    """A phase value that the status schema accepts (its enum's 'Running' if there is one)."""
    schema = next(v for v in job_crd["spec"]["versions"] if v["name"] == "v1alpha1")["schema"]["openAPIV3Schema"]
    phase = schema.get("properties", {}).get("status", {}).get("properties", {}).get("phase", {})
    enum = phase.get("enum") or []
    return "Running" if not enum or "Running" in enum else enum[0]


def test_status_is_written_through_the_status_subresource(base_job, namespace, job_resource, status_phase):
    name = unique("status")
    ssa(job_with(base_job, {}, name), namespace)
    kubectl(
        "patch",
        job_resource,
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"phase": status_phase, "observedGeneration": 1}}),
    )
    job = get(job_resource, name, namespace)
    assert job["status"]["phase"] == status_phase
    assert job["metadata"]["generation"] == 1, "a status write must not bump the generation"


def test_spec_change_through_status_subresource_is_ignored(base_job, namespace, job_resource, status_phase):
    name = unique("status-spec")
    before = ssa(job_with(base_job, {"spec": {"suspend": False}}, name), namespace)
    kubectl(
        "patch",
        job_resource,
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"suspend": True}, "status": {"phase": status_phase}}),
    )
    job = get(job_resource, name, namespace)
    assert job["spec"] == before["spec"], "spec must not change through /status"
    assert job["metadata"]["generation"] == before["metadata"]["generation"]
    assert job["status"]["phase"] == status_phase


def test_status_change_through_main_resource_is_ignored(base_job, namespace, job_resource, status_phase):
    name = unique("main-status")
    ssa(job_with(base_job, {}, name), namespace)
    kubectl(
        "patch",
        job_resource,
        name,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"status": {"phase": status_phase}}),
    )
    job = get(job_resource, name, namespace)
    assert job.get("status", {}).get("phase") != status_phase, "status must only change through /status"


def test_printer_columns_in_kubectl_get(base_job, namespace, job_resource):
    name = unique("columns")
    ssa(job_with(base_job, {}, name), namespace)
    out = kubectl("get", "moejob", name, "-n", namespace)
    header = out.splitlines()[0]
    assert "NAME" in header and "PHASE" in header.upper(), out
