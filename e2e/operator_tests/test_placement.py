"""Operator tier: placement and the pod contract on the real scheduler. Jobs come from fixture files through
`kubectl apply -f`; the 16 KWOK nodes have 8 GPUs each, 4 nodes per rack (topology.kubernetes.io/rack)."""

import json
from collections import defaultdict

from conftest import (
    FIXTURES,
    apply_file,
    condition,
    env_of,
    job,
    kubectl,
    node_labels,
    node_rank,
    pods,
    running_gang,
    wait,
    wait_fleet_free,
)

RACK = "topology.kubernetes.io/rack"


def _pv_cleanup():
    kubectl("delete", "pv", "-l", "e2e.moe.dev/fixture=volumes", "--timeout=60s", check=False, timeout=90)


def test_ep_groups_span_nodes_inside_one_rack_tp_inside_a_node_env_and_mounts(ns):
    wait_fleet_free()
    _pv_cleanup()
    try:
        apply_file(FIXTURES / "volumes.yaml", ns)
        wait(
            lambda: all(
                json.loads(kubectl("get", "pvc", c, "-n", ns, "-o", "json"))["status"].get("phase") == "Bound"
                for c in ("e2e-weights", "e2e-ckpt", "e2e-corpus")
            ),
            60,
            "claims Bound",
        )
        apply_file(FIXTURES / "ep-across-nodes.yaml", ns)
        gang = running_gang(ns, "ep-rack", 8, timeout=90)
        status = job(ns, "ep-rack")["status"]
        plan = json.loads(
            json.loads(kubectl("get", "configmap", "ep-rack-plan", "-n", ns, "-o", "json"))["data"]["plan.json"]
        )
        labels = node_labels()
        by_rank = {node_rank(p): p for p in gang}

        # Bound by the real scheduler, one pod per node, all 8 GPUs of it.
        assert sorted(by_rank) == list(range(8))
        nodes = [p["spec"]["nodeName"] for p in gang]
        assert len(set(nodes)) == 8, nodes
        for p in gang:
            c = p["spec"]["containers"][0]
            assert c["resources"]["limits"]["nvidia.com/gpu"] == "8"
            assert c["resources"]["requests"]["nvidia.com/gpu"] == "8"
        assert status["plan"]["worldSize"] == 64
        assert condition(status, "GangScheduled")["status"] == "True"

        # TP inside a node, by construction: every rank of a tensor-parallel group has the same node, and each
        # pod runs exactly its node's gpusPerNode local ranks.
        assert plan["parallelism"]["tensor"] == 2 and plan["world"]["gpusPerNode"] == 8
        tp_groups = defaultdict(set)
        local = defaultdict(list)
        for r in plan["ranks"]:
            assert r["rank"] == r["node"] * 8 + r["localRank"]
            tp_groups[(r["data"], r["context"])].add(r["node"])
            local[r["node"]].append(r["localRank"])
        assert all(len(n) == 1 for n in tp_groups.values()), "a tensor-parallel group crosses nodes"
        assert all(sorted(v) == list(range(8)) for v in local.values()) and len(local) == 8
        for p in gang:
            e = env_of(p)
            assert e["NPROC_PER_NODE"] == "8" and e["NNODES"] == "8" and e["WORLD_SIZE"] == "64"
            assert e["MOE_TENSOR_PARALLEL"] == "2" and e["MOE_EXPERT_PARALLEL"] == "32"
            assert e["NODE_RANK"] == str(node_rank(p)), "spec.trainer.env must not override NODE_RANK"

        # EP groups span 4 nodes (expert 32 / 8 GPUs) and sit in one rack each.
        ep_nodes = defaultdict(set)
        for r in plan["ranks"]:
            ep_nodes[r["expertData"]].add(r["node"])
        assert sorted(map(sorted, ep_nodes.values())) == [[0, 1, 2, 3], [4, 5, 6, 7]]
        racks = {}
        for group, ranks in ep_nodes.items():
            group_racks = {labels[by_rank[n]["spec"]["nodeName"]][RACK] for n in ranks}
            assert len(group_racks) == 1, f"EP group {group} spans racks {group_racks}"
            assert {by_rank[n]["metadata"]["labels"]["training.moe.dev/expert-group"] for n in ranks} == {str(group)}
            racks[group] = group_racks.pop()
        print(f"EP group racks: {racks}; nodes by rank: {[by_rank[r]['spec']['nodeName'] for r in range(8)]}")

        # Env and mounts as specified (docs/contract.md section 2).
        p0 = by_rank[0]
        c = p0["spec"]["containers"][0]
        e = env_of(p0)
        assert c["image"] == "registry.example/moe-trainer:e2e"
        assert e["E2E_CUSTOM"] == "from-the-spec"
        assert e["NCCL_SOCKET_IFNAME"] == "eth0" and e["NCCL_IB_HCA"] == "mlx5"
        assert e["TORCH_NCCL_ASYNC_ERROR_HANDLING"] == "1" and e["TORCH_NCCL_BLOCKING_WAIT"] == "0"
        assert e["MOE_CHECKPOINT_DIR"] == "/checkpoints" and e["MOE_PLAN_PATH"] == "/etc/moe/plan.json"
        assert e["MASTER_ADDR"] == f"ep-rack-node-0.ep-rack.{ns}.svc" and e["MASTER_PORT"] == "29500"
        assert e["MOE_JOB_NAME"] == "ep-rack" and e["MOE_METRICS_PORT"] == "9400"
        refs = {v["name"]: v["valueFrom"]["fieldRef"]["fieldPath"] for v in c["env"] if "valueFrom" in v}
        assert refs == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
        # What all pods share comes from the job's ConfigMap; the pod carries only its own rank and attempt.
        assert [source["configMapRef"]["name"] for source in c["envFrom"]] == ["ep-rack-trainer-env"]
        assert "NNODES" not in {v["name"] for v in c["env"]} and e["NNODES"] == "8"
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in p0["spec"]["volumes"]}
        assert volumes[mounts["/etc/moe"]["name"]]["configMap"]["name"] == "ep-rack-plan"
        assert mounts["/etc/moe"].get("readOnly") is True
        assert volumes[mounts["/dev/shm"]["name"]]["emptyDir"]["medium"] == "Memory"
        assert volumes[mounts["/checkpoints"]["name"]]["persistentVolumeClaim"]["claimName"] == "e2e-ckpt"
        assert volumes[mounts["/models"]["name"]]["persistentVolumeClaim"]["claimName"] == "e2e-weights"
        assert mounts["/models"].get("readOnly") is True
        assert volumes[mounts["/data"]["name"]]["persistentVolumeClaim"]["claimName"] == "e2e-corpus"
        assert p0["spec"]["hostname"] == "ep-rack-node-0" and p0["spec"]["subdomain"] == "ep-rack"
        assert p0["spec"]["restartPolicy"] == "Never"
        assert p0["spec"]["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    finally:
        # Claims are protected while pods use them, volumes while claims are bound: delete in that order.
        kubectl(
            "delete", "moetrainingjobs.training.moe.dev", "ep-rack", "-n", ns, "--timeout=60s", check=False, timeout=90
        )
        wait(lambda: not pods(ns, "ep-rack", include_deleting=True), 60, "ep-rack pods gone")
        kubectl("delete", "pvc", "--all", "-n", ns, "--timeout=60s", check=False, timeout=90)
        _pv_cleanup()
