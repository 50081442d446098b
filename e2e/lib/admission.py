"""What the admission suites share (e2e/webhook_tests: the chart's webhook configuration registered by hand;
e2e/chart_tests: the chart installed by helm): the engine's refusal as kubectl prints it, the examples, whether a
file's job is stored, and the cached helm binary."""

import json
import pathlib
import re
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from cluster import JOBS, REPO, kubectl  # noqa: E402

WEBHOOK_PATH = "/admission/validate-moetrainingjob"
# kubectl prints a refusal's causes: `The MoETrainingJob "<name>" is invalid:` then `* <field>: <field>=<value>
# <problem>; <fix> [<Rule>]` per engine error (a single cause on the same line; the Status message, which Go
# clients such as Argo CD show, starts with "the plan engine refuses this MoETrainingJob").
ENGINE_CAUSE = re.compile(
    r"(^\* |is invalid: )(spec|metadata)\.[A-Za-z.\[\]0-9]+: \S+=.* \[[A-Z][A-Za-z]+\]$", flags=re.M
)
# Invalid examples that the CRD's schema/CEL refuses before any webhook is called say so in a comment.
APISERVER_REJECTS = re.compile(r"^#\s*apiserver-rejects:\s*(.+?)\s*$", flags=re.M)


def helm():
    """charts/scripts/ensure-helm.sh: the helm binary built from the Go module proxy (cached)."""
    return subprocess.run(
        ["bash", str(REPO / "charts" / "scripts" / "ensure-helm.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()


def stored(path):
    """Whether the job that the file names exists (in the file's namespace)."""
    obj = json.loads(kubectl("create", "--dry-run=client", "--validate=false", "-o", "json", "-f", str(path)))
    meta = obj["metadata"]
    p = kubectl("get", JOBS, meta["name"], "-n", meta.get("namespace", "default"), check=False)
    return p.returncode == 0


def invalid_examples():
    return sorted((REPO / "examples" / "invalid").glob("*.y*ml"))


def valid_examples():
    return sorted((REPO / "examples").glob("*.y*ml"))


def assert_refused_and_not_stored(path, mode):
    """`kubectl apply` (mode "apply") or `kubectl apply --dry-run=server` (mode "dry-run") of an invalid example
    fails with the apiserver's message the file names, else with the plan engine's, and stores nothing."""
    assert not stored(path), f"{path.name}: a job of that name exists before the test"
    args = ["apply", "-f", str(path)] + (["--dry-run=server"] if mode == "dry-run" else [])
    p = kubectl(*args, check=False)
    assert p.returncode != 0, f"{path.name} was accepted: {p.stdout}"
    marker = APISERVER_REJECTS.search(path.read_text())
    if marker:
        assert marker.group(1).strip("\"'") in p.stderr, p.stderr
    else:
        # the engine's words: the field, its value, the problem and fix, and the rule id
        assert "is invalid" in p.stderr and ENGINE_CAUSE.search(p.stderr), p.stderr
    assert not stored(path), f"{path.name}: refused, yet a job was stored"
