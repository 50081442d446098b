"""Fixtures of the kueue tier: a real Kueue manager (e2e/bin/kueue-up.sh, a local process with its webhooks on
loopback) admits the operator's gangs as Kueue pod groups. The session installs one ResourceFlavor over the fake
GPU nodes with a Topology (rack, clique, host: the labels cluster-up.sh gives the KWOK nodes) and a
WorkloadPriorityClass; each test gets its own namespace (labelled for Kueue's pod integration), ClusterQueue with
its GPU quota, and LocalQueue "q"."""

import json
import pathlib
import sys
import uuid

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
from cluster import (  # noqa: E402
    JOB_LABEL,
    apply,  # noqa: F401
    cluster_and_operator_problem,
    condition,  # noqa: F401
    events_of,  # noqa: F401
    job,  # noqa: F401
    kubectl,
    phase,  # noqa: F401
    pods,  # noqa: F401
    tiny_job,  # noqa: F401
    wait,
)

KUEUE = "kueue.x-k8s.io/v1beta2"
NS_LABEL = "moe.dev/e2e-kueue"  # kueue-up.sh's managedJobsNamespaceSelector and pod webhook namespaceSelector
FLAVOR = "e2e-gpu"
TOPOLOGY = "e2e-racks"
RACK = "topology.kubernetes.io/rack"
CLIQUE = "nvidia.com/gpu.clique"
HOST = "kubernetes.io/hostname"
HIGH_PRIORITY = "e2e-high"
ADMISSION_GATE = "kueue.x-k8s.io/admission"


def kapply(obj, ns=None):
    args = ["apply", "--server-side", "--field-manager=e2e-kueue", "-o", "json", "-f", "-"]
    return json.loads(kubectl(*args, *(["-n", ns] if ns else []), input=obj))


@pytest.fixture(scope="session", autouse=True)
def kueue_running():
    problem = cluster_and_operator_problem()
    if problem:
        pytest.exit(problem, returncode=2)
    if kubectl("get", "crd", "workloads.kueue.x-k8s.io", check=False).returncode != 0:
        pytest.exit("Kueue is not installed (e2e/bin/kueue-up.sh)", returncode=2)
    kapply(
        {
            "apiVersion": KUEUE,
            "kind": "Topology",
            "metadata": {"name": TOPOLOGY},
            "spec": {"levels": [{"nodeLabel": RACK}, {"nodeLabel": CLIQUE}, {"nodeLabel": HOST}]},
        }
    )
    kapply(
        {
            "apiVersion": KUEUE,
            "kind": "ResourceFlavor",
            "metadata": {"name": FLAVOR},
            "spec": {"nodeLabels": {"nvidia.com/gpu.present": "true"}, "topologyName": TOPOLOGY},
        }
    )
    kapply(
        {
            "apiVersion": KUEUE,
            "kind": "WorkloadPriorityClass",
            "metadata": {"name": HIGH_PRIORITY},
            "value": 1000,
            "description": "e2e: preempts the default priority",
        }
    )
    yield
    for kind, name in (("resourceflavor", FLAVOR), ("topology", TOPOLOGY), ("workloadpriorityclass", HIGH_PRIORITY)):
        kubectl("delete", f"{kind}.kueue.x-k8s.io", name, "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture
def queue():
    """queue(gpus) -> namespace with LocalQueue "q" of a ClusterQueue holding `gpus` nvidia.com/gpu (CPU and memory
    quotas generous: only GPUs limit admission); lower priorities are preempted within the ClusterQueue."""
    made = []

    def make(gpus):
        name = f"e2e-kq-{uuid.uuid4().hex[:6]}"
        kubectl("create", "namespace", name)
        kubectl("label", "namespace", name, f"{NS_LABEL}=true")
        kapply(
            {
                "apiVersion": KUEUE,
                "kind": "ClusterQueue",
                "metadata": {"name": name},
                "spec": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}},
                    "preemption": {"withinClusterQueue": "LowerPriority"},
                    "resourceGroups": [
                        {
                            "coveredResources": ["cpu", "memory", "nvidia.com/gpu"],
                            "flavors": [
                                {
                                    "name": FLAVOR,
                                    "resources": [
                                        {"name": "cpu", "nominalQuota": "10k"},
                                        {"name": "memory", "nominalQuota": "1000Ti"},
                                        {"name": "nvidia.com/gpu", "nominalQuota": gpus},
                                    ],
                                }
                            ],
                        }
                    ],
                },
            }
        )
        kapply(
            {"apiVersion": KUEUE, "kind": "LocalQueue", "metadata": {"name": "q"}, "spec": {"clusterQueue": name}},
            ns=name,
        )
        wait(
            lambda: kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
            30,
            "default ServiceAccount",
        )
        wait(lambda: cq_active(name), 30, f"ClusterQueue {name} Active")
        made.append(name)
        return name

    yield make
    for name in made:
        kubectl("delete", "namespace", name, "--wait=false", check=False)
    for name in made:
        # Workloads go with the namespace; the ClusterQueue's finalizer waits for them.
        wait(
            lambda n=name: (
                not json.loads(kubectl("get", "pods", "-n", n, "-o", "json", check=False).stdout or '{"items": []}')[
                    "items"
                ]
            ),
            60,
            f"pods of {name} gone",
        )
        kubectl("delete", "clusterqueue.kueue.x-k8s.io", name, "--wait=false", check=False)


def cq_active(name):
    cq = json.loads(kubectl("get", "clusterqueue.kueue.x-k8s.io", name, "-o", "json"))
    return any(c["type"] == "Active" and c["status"] == "True" for c in cq.get("status", {}).get("conditions", []))


def workloads(ns):
    return json.loads(kubectl("get", "workloads.kueue.x-k8s.io", "-n", ns, "-o", "json"))["items"]


def workload_of(ns, group):
    """The Workload of a pod group (Kueue names it after the group and lists the group's pods as owners)."""
    for w in workloads(ns):
        if any(o.get("name", "").startswith(group) for o in w["metadata"].get("ownerReferences", [])) or w["metadata"][
            "name"
        ].startswith(group):
            return w
    return None


def admitted(w):
    return w is not None and any(
        c["type"] == "Admitted" and c["status"] == "True" for c in w.get("status", {}).get("conditions", [])
    )


def gated(pod):
    return any(g["name"] == ADMISSION_GATE for g in pod["spec"].get("schedulingGates", []))


def bound(pod):
    return bool(pod["spec"].get("nodeName"))


def queued_job(name, nodes=2, **spec):
    """tiny_job on whole 8-GPU nodes (nodes x 8 GPUs), admitted through LocalQueue "q"."""
    spec.setdefault("training", {"globalBatchSize": 16})  # microBatchSize 2 x data 8 (tensor 2 on 8 GPUs a node)
    j = tiny_job(name, resources={"nodes": nodes, "gpusPerNode": 8}, **spec)
    j["spec"].setdefault("placement", {})["queueName"] = "q"
    return j


def job_pods(ns, name, attempt=None, include_deleting=False):
    sel = f"{JOB_LABEL}={name}" + (f",training.moe.dev/attempt={attempt}" if attempt is not None else "")
    items = json.loads(kubectl("get", "pods", "-n", ns, "-l", sel, "-o", "json"))["items"]
    return [p for p in items if include_deleting or not p["metadata"].get("deletionTimestamp")]
