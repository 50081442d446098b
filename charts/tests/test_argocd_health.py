"""The chart's Argo CD health check (charts/moe-operator/argocd/health.lua, also in docs/argocd.md) run by a real
Lua interpreter (lupa, installed by charts/scripts/ensure-lupa.sh) on a status of every phase the operator writes
(argocd_statuses/*.json: the object and the health Argo CD must show; written from the status types and the
operator's condition reasons, not captured from a live cluster). Argo CD runs the script with the object as
the global `obj` and reads the returned table's status and message."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "charts" / "moe-operator" / "argocd" / "health.lua"
STATUSES = sorted((Path(__file__).parent / "argocd_statuses").glob("*.json"))
PHASES = ["Pending", "Running", "Restarting", "Suspended", "Succeeded", "Failed", "Invalid"]

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


def test_every_phase_has_a_recorded_status():
    recorded = {json.loads(p.read_text())["object"].get("status", {}).get("phase") for p in STATUSES}
    assert set(PHASES) <= recorded, f"phases without a status in argocd_statuses/: {set(PHASES) - recorded}"


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
