"""Operator tier: the native gang of Kubernetes 1.36 (scheduling.k8s.io/v1alpha2 Workload/PodGroup, alpha) on the real
kube-scheduler. e2e/bin/cluster-up.sh turns the gates on by default (MOE_E2E_FEATURE_GATES); on a cluster without
them the operator must report the fallback mode and create no gang objects.

The scenarios use their own pool of nodes and their own topology label, so they neither depend on nor disturb the
rack labels of the other tests: 12 pool nodes; a 4-node job runs there (its pods kept Running), leaving 8 free. A
9-node job then binds nothing (gang minCount 9); a new KWOK node in the pool, and all 9 bind. The topology
constraint (the first topology key, set when one expert group spans the whole gang): 3 free pool nodes in domain g,
4 in domain h; a 4-node gang goes whole into h."""

import json

import pytest
from conftest import apply, fail_pod, job, kubectl, pods, running_gang, tiny_job, wait, wait_fleet_free

POOL = "e2e.moe.dev/gang-pool"
DOMAIN = "e2e.moe.dev/gang-domain"
EXTRA_NODE = "gpu-node-gang-extra"
PODGROUPS = "podgroups.scheduling.k8s.io"
WORKLOADS = "workloads.scheduling.k8s.io"


def gang_api_served():
    return {PODGROUPS, WORKLOADS} <= set(
        kubectl("api-resources", "--api-group=scheduling.k8s.io", "-o", "name").split()
    )


def native_job(name, nodes):
    return tiny_job(
        name,
        resources={"nodes": nodes, "gpusPerNode": 8},
        training={"globalBatchSize": 8 * nodes},
        placement={"nodeSelector": {POOL: "yes"}, "topologyKeys": [DOMAIN]},
        # Running until deleted (KWOK's moe-training-pod-complete stage skips pods with this env var).
        trainer={"env": [{"name": "E2E_MOE_HOLD", "value": "true"}]},
    )


def label(node, **labels):
    kubectl("label", "node", node, "--overwrite", *[f"{k}={v}" for k, v in labels.items()])


def unlabel(nodes):
    for n in nodes:
        kubectl("label", "node", n, f"{POOL}-", f"{DOMAIN}-", check=False)


def node_domains():
    items = json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
    return {n["metadata"]["name"]: n["metadata"].get("labels", {}).get(DOMAIN) for n in items}


def podgroup(ns, name):
    return json.loads(kubectl("get", PODGROUPS, name, "-n", ns, "-o", "json"))


def unschedulable_message(ns, name):
    """The PodGroupScheduled=False message once kube-scheduler has tried the gang, else None."""
    conds = podgroup(ns, name).get("status", {}).get("conditions", [])
    c = next((c for c in conds if c["type"] == "PodGroupScheduled"), None)
    return c["message"] if c and c["status"] == "False" and c.get("reason") == "Unschedulable" else None


def bound(ns, name):
    return [p for p in pods(ns, name) if p["spec"].get("nodeName")]


def add_kwok_node(name, labels):
    """A node like e2e/bin/cluster-up.sh's (KWOK keeps it Ready), with extra labels."""
    template = json.loads(kubectl("get", "node", "gpu-node-00", "-o", "json"))
    node_labels = {**template["metadata"]["labels"], "kubernetes.io/hostname": name, **labels}
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": node_labels,
        },
        "spec": {},
        "status": {"allocatable": template["status"]["allocatable"], "capacity": template["status"]["capacity"]},
    }
    kubectl("apply", "-f", "-", input=json.dumps(node))
    wait(
        lambda: any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in json.loads(kubectl("get", "node", name, "-o", "json"))["status"].get("conditions", [])
        ),
        60,
        f"node {name} Ready",
    )


def test_mode_follows_discovery_and_fallback_creates_no_gang_objects(ns):
    apply(tiny_job("m"), ns)
    wait(lambda: job(ns, "m").get("status", {}).get("gangMode"), 30, "status.gangMode")
    mode = job(ns, "m")["status"]["gangMode"]
    if gang_api_served():
        assert mode == "Native"
        group = podgroup(ns, "m-a0")
        assert group["spec"]["schedulingPolicy"]["gang"]["minCount"] == 2
        owner = group["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "MoETrainingJob" and owner["controller"] is True
        assert all(p["spec"]["schedulingGroup"] == {"podGroupName": "m-a0"} for p in pods(ns, "m"))
    else:
        # A cluster without the gates (MOE_E2E_FEATURE_GATES=""): today's pod-by-pod gang, and the mode says so.
        assert mode == "Fallback"
        assert all("schedulingGroup" not in p["spec"] for p in pods(ns, "m"))


def gang_objects(ns, job_name):
    """Names of the job's PodGroups and Workloads, by kind."""
    out = {}
    for kind in (PODGROUPS, WORKLOADS):
        items = json.loads(kubectl("get", kind, "-n", ns, "-l", f"training.moe.dev/job={job_name}", "-o", "json"))
        out[kind] = sorted(i["metadata"]["name"] for i in items["items"])
    return out


def test_a_restart_makes_the_next_attempts_gang_objects_and_deletes_the_earlier_ones(ns):
    if not gang_api_served():
        pytest.skip("the cluster does not serve scheduling.k8s.io/v1alpha2 (MOE_E2E_FEATURE_GATES off)")
    spec = tiny_job("r", trainer={"env": [{"name": "E2E_MOE_HOLD", "value": "true"}]})
    apply(spec, ns)
    running_gang(ns, "r", 2)
    assert gang_objects(ns, "r") == {PODGROUPS: ["r-a0"], WORKLOADS: ["r-a0"]}
    fail_pod(ns, "r-node-1", 75)
    wait(lambda: job(ns, "r").get("status", {}).get("restartAttempt") == 1, 60, "restart to attempt 1")
    wait(
        lambda: (lambda ps: len(ps) == 2 and all(p["status"].get("phase") == "Running" for p in ps))(
            [p for p in pods(ns, "r") if p["metadata"]["labels"].get("training.moe.dev/attempt") == "1"]
        ),
        90,
        "attempt 1 Running",
    )
    assert all(
        p["spec"]["schedulingGroup"] == {"podGroupName": "r-a1"}
        for p in pods(ns, "r")
        if p["metadata"]["labels"].get("training.moe.dev/attempt") == "1"
    )
    # The earlier attempt's objects go after the new pods are created (GangWriter), by one deletecollection each.
    wait(
        lambda: gang_objects(ns, "r") == {PODGROUPS: ["r-a1"], WORKLOADS: ["r-a1"]},
        30,
        "only attempt 1's PodGroup and Workload",
    )


def test_nine_node_gang_binds_nothing_on_eight_free_nodes_and_all_nine_once_a_node_is_added(ns):
    if not gang_api_served():
        pytest.skip("the cluster does not serve scheduling.k8s.io/v1alpha2 (MOE_E2E_FEATURE_GATES)")
    wait_fleet_free()
    pool = [f"gpu-node-{i:02d}" for i in range(12)]
    try:
        for n in pool:
            label(n, **{POOL: "yes"})

        # A 4-node job runs in the pool (kept Running for the whole test): 8 nodes of the pool stay free.
        apply(native_job("small", 4), ns)
        running_gang(ns, "small", 4, timeout=60)
        assert job(ns, "small")["status"]["gangMode"] == "Native"

        # 9 nodes wanted, 8 free: kube-scheduler binds none of them (pod by pod, 8 would hold their GPUs).
        apply(native_job("big", 9), ns)
        wait(lambda: len(pods(ns, "big")) == 9, 30, "the 9 pods of big created")
        why = wait(lambda: unschedulable_message(ns, "big-a0"), 60, "kube-scheduler to find the gang unschedulable")
        assert bound(ns, "big") == [], [p["spec"]["nodeName"] for p in bound(ns, "big")]
        status = job(ns, "big")["status"]
        assert status["gangMode"] == "Native"
        gs = next(c for c in status["conditions"] if c["type"] == "GangScheduled")
        assert gs["status"] == "False" and "0 of 9" in gs["message"], gs
        print(f"9-node gang on 8 free nodes: {why}; job: {gs['message']}")

        # A new node in the pool: 9 free nodes, and all 9 pods bind.
        add_kwok_node(EXTRA_NODE, {POOL: "yes"})
        big = running_gang(ns, "big", 9, timeout=90)
        nodes = [p["spec"]["nodeName"] for p in big]
        assert len(set(nodes)) == 9 and EXTRA_NODE in nodes, nodes
        assert job(ns, "big")["status"]["gangMode"] == "Native"
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)
        unlabel(pool)
        kubectl("delete", "node", EXTRA_NODE, "--ignore-not-found", "--wait=true", "--timeout=60s", check=False)


def test_a_gang_that_is_one_expert_group_goes_whole_into_one_domain_of_its_first_topology_key(ns):
    if not gang_api_served():
        pytest.skip("the cluster does not serve scheduling.k8s.io/v1alpha2 (MOE_E2E_FEATURE_GATES)")
    wait_fleet_free()
    g = [f"gpu-node-{i:02d}" for i in range(3)]
    h = [f"gpu-node-{i:02d}" for i in range(3, 7)]
    try:
        for n in g:
            label(n, **{POOL: "yes", DOMAIN: "g"})
        for n in h:
            label(n, **{POOL: "yes", DOMAIN: "h"})
        # expert 8 on 2-GPU nodes: one expert group over all 4 nodes, so the PodGroup asks for one domain.
        spec = native_job("ep", 4)
        spec["spec"]["resources"]["gpusPerNode"] = 2
        spec["spec"]["parallelism"] = {"tensor": 1, "expert": 8}
        spec["spec"]["training"]["globalBatchSize"] = 16
        apply(spec, ns)
        gang = running_gang(ns, "ep", 4, timeout=60)
        constraint = podgroup(ns, "ep-a0")["spec"].get("schedulingConstraints")
        assert constraint == {"topology": [{"key": DOMAIN}]}, constraint
        domains = node_domains()
        assert {domains[p["spec"]["nodeName"]] for p in gang} == {"h"}, [p["spec"]["nodeName"] for p in gang]
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)
        unlabel([*g, *h])
