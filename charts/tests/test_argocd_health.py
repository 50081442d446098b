"""The chart's Argo CD health check (charts/moe-operator/argocd/health.lua, also in docs/argocd.md) run by a real
Lua interpreter (lupa, installed by charts/scripts/ensure-lupa.sh). Argo CD runs the script with the object as the
global `obj` and reads the returned table's status and message.

- argocd_statuses/recorded/<phase>.json: a job's status of every phase the operator writes, RECORDED from the e2e
  cluster by e2e/chart_tests/test_argocd_statuses.py (re-record: MOE_E2E_RECORD_ARGOCD=1 MOE_E2E_SUITES=chart
  bash e2e/run-tests.sh); the health Argo CD must show follows from the phase (docs/argocd.md's table), the message
  from the status; every field in them must exist in the CRD's status schema (so they stay current with it);
- argocd_statuses/*.json: the two cases a live job does not hold still for (no status yet, a status of an older
  generation), hand-written with the health they must give."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "charts" / "moe-operator" / "argocd" / "health.lua"
STATUSES = sorted((Path(__file__).parent / "argocd_statuses").glob("*.json"))
RECORDED = sorted((Path(__file__).parent / "argocd_statuses" / "recorded").glob("*.json"))
CRD = REPO / "crds" / "moetrainingjobs.training.moe.dev-v1.yml"
# docs/argocd.md's table: the health of each phase
PHASE_HEALTH = {
    "Pending": "Progressing",
    "Running": "Healthy",
    "Restarting": "Progressing",
    "Suspended": "Suspended",
    "Succeeded": "Healthy",
    "Failed": "Degraded",
    "Invalid": "Degraded",
}
PHASES = list(PHASE_HEALTH)

sys.path.insert(
    0,
    subprocess.run(["bash", str(REPO / "charts/scripts/ensure-lupa.sh")], check=True, capture_output=True, text=True)
    .stdout.strip()
    .splitlines()[-1],
)
import lupa  # noqa: E402


def health(obj):
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    # Argo CD hands the object to the script as a Lua table (arrays 1-based); lupa's table_from does the same
    to_lua = lambda v: (  # noqa: E731
        lua.table_from({k: to_lua(x) for k, x in v.items()})
        if isinstance(v, dict)
        else (lua.table_from([to_lua(x) for x in v]) if isinstance(v, list) else v)
    )
    lua.globals().obj = to_lua(obj)
    result = lua.execute(SCRIPT.read_text())
    return {"status": result["status"], "message": result["message"]}


def recorded_status(path):
    return json.loads(path.read_text())["object"]


def condition(status, ctype):
    return next((c for c in status.get("conditions", []) if c["type"] == ctype), {})


def test_every_phase_has_a_recorded_status():
    recorded = {recorded_status(p)["status"]["phase"] for p in RECORDED}
    assert set(PHASES) <= recorded, f"phases without a recorded status: {set(PHASES) - recorded}"


def expected_message(status):
    """What of the status the message must carry, by phase (the reason Argo CD shows in its UI)."""
    phase = status["phase"]
    if phase == "Pending":
        return next(
            (c["message"] for t in ("GangScheduled", "Running", "PlanValid") if (c := condition(status, t))
             and c["status"] != "True" and c.get("message")),
            "Gang pending",
        )  # fmt: skip
    if phase in ("Restarting", "Failed"):
        return status["lastFailure"]["reason"]
    if phase == "Invalid":
        return condition(status, "PlanValid")["message"]
    return {"Running": "Training", "Suspended": "Suspended", "Succeeded": "Training completed"}[phase]


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_health_of_a_status_recorded_from_the_cluster(path):
    obj = recorded_status(path)
    got = health(obj)
    assert got["status"] == PHASE_HEALTH[obj["status"]["phase"]], got
    assert expected_message(obj["status"]) in got["message"], got


def schema_paths(schema, path=""):
    """Every field path the schema allows ([] for list items, {} for map values; * below preserve-unknown)."""
    yield path
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        yield path + ".*"
    for name, sub in schema.get("properties", {}).items():
        yield from schema_paths(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from schema_paths(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from schema_paths(schema["additionalProperties"], f"{path}{{}}")


def value_paths(value, schema_allows, path=""):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}{{}}" if f"{path}{{}}" in schema_allows else f"{path}.{k}"
            yield from value_paths(v, schema_allows, sub)
    elif isinstance(value, list):
        for v in value:
            yield from value_paths(v, schema_allows, f"{path}[]")


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
def test_recorded_status_fits_the_crds_status_schema(path):
    """A recorded field the CRD no longer has means the fixtures are stale (or the operator writes a field the API
    server prunes): record them again."""
    import yaml

    crd = yaml.safe_load(CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
    allowed = set(schema_paths(version["schema"]["openAPIV3Schema"]["properties"]["status"], ".status"))
    open_ended = {p[:-2] for p in allowed if p.endswith(".*")}
    status = recorded_status(path)["status"]
    unknown = [
        p
        for p in value_paths(status, allowed, ".status")
        if p not in allowed and not any(p.startswith(o + ".") or p.startswith(o + "[") for o in open_ended)
    ]
    assert not unknown, f"{path.name}: fields the CRD's status schema does not have: {unknown}"


def test_the_script_handles_every_phase_of_the_crd():
    crd = (REPO / "crds" / "moetrainingjobs.training.moe.dev-v1.yml").read_text()
    assert all(re.search(rf"\b{p}\b", crd) for p in PHASES)
    for p in PHASES:
        assert f'phase == "{p}"' in SCRIPT.read_text(), p


@pytest.mark.parametrize("path", STATUSES, ids=lambda p: p.stem)
def test_health_of_a_recorded_status(path):
    case = json.loads(path.read_text())
    got = health(case["object"])
    assert got["status"] == case["expect"]["status"], got
    assert case["expect"]["messageContains"] in got["message"], got


def test_an_unknown_phase_is_unknown_not_healthy():
    got = health({"metadata": {"generation": 1}, "status": {"phase": "Exploded", "observedGeneration": 1}})
    assert got["status"] == "Unknown"


def test_docs_ship_the_same_script():
    doc = (REPO / "docs" / "argocd.md").read_text()
    body = "\n".join("    " + line if line else "" for line in SCRIPT.read_text().splitlines())
    assert body in doc, "docs/argocd.md must carry charts/moe-operator/argocd/health.lua verbatim (indented)"
