"""Fixtures of the API-server tier: a real kube-apiserver (KUBECONFIG from e2e/bin/cluster-up.sh), the CRDs of
crds/ applied to it, a scratch namespace per test module, and a valid base job."""

import json
import pathlib
import uuid

import pytest
from kube import KubectlError, kubectl

REPO = pathlib.Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "crds"
GROUP = "training.moe.dev"
KIND = "MoETrainingJob"


@pytest.fixture(scope="session")
def apiserver():
    try:
        kubectl("get", "--raw", "/readyz")
    except (KubectlError, FileNotFoundError) as e:
        pytest.fail(f"no reachable kube-apiserver (start one with e2e/bin/cluster-up.sh, export KUBECONFIG): {e}")


@pytest.fixture(scope="session")
def crds(apiserver):
    """Applies every CRD in crds/ (server-side) and returns {crd name: CRD object as served}."""
    files = sorted(CRD_DIR.glob("*.yaml")) + sorted(CRD_DIR.glob("*.yml"))
    if not files:
        pytest.skip("no CRD in crds/ yet")
    for f in files:
        kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=e2e-crd-install", "-f", str(f))
    out = {}
    for f in files:
        for name in kubectl("get", "-f", str(f), "-o", "name").split():
            name = name.split("/", 1)[1]
            kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")
            out[name] = json.loads(kubectl("get", "crd", name, "-o", "json"))
    return out


@pytest.fixture(scope="session")
def job_crd(crds):
    for crd in crds.values():
        if crd["spec"]["group"] == GROUP and crd["spec"]["names"]["kind"] == KIND:
            return crd
    pytest.fail(f"crds/ has no CRD of kind {KIND} in group {GROUP}: {sorted(crds)}")


@pytest.fixture(scope="session")
def job_resource(job_crd):
    return f"{job_crd['spec']['names']['plural']}.{GROUP}"


@pytest.fixture(scope="module")
def namespace(apiserver):
    ns = f"e2e-api-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", ns)
    # pods are not created here, but the default ServiceAccount marks the namespace as usable
    yield ns
    kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _load_yaml(path):
    """YAML file -> list of objects; kubectl parses it (the CRD must be installed for custom kinds)."""
    out = json.loads(kubectl("create", "--dry-run=client", "--validate=false", "-o", "json", "-f", str(path)))
    return out["items"] if out.get("kind") == "List" else [out]


@pytest.fixture(scope="session")
def load_yaml(crds):
    return _load_yaml


@pytest.fixture(scope="session")
def base_job(crds, job_crd):
    """The valid MoETrainingJob that the CEL cases patch: e2e/tests/fixtures/base-job.yaml (ours, so that the cases
    do not depend on how the examples evolve; the examples are tested on their own)."""
    for candidate in (pathlib.Path(__file__).parent / "fixtures" / "base-job.yaml",):
        if candidate.exists():
            jobs = [o for o in _load_yaml(candidate) if o.get("kind") == KIND]
            if jobs:
                job = jobs[0]
                job["metadata"] = {"name": job["metadata"]["name"]}
                return job
    pytest.fail("e2e/tests/fixtures/base-job.yaml is missing")
