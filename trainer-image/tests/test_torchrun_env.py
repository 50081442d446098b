"""The operator's PET_* variables (api TrainerContract, docs/contract.md section 2) are the ones torchrun itself
reads: a pod's env alone gives bare `torchrun train.py` the gang's rank layout. Checked against the installed
torch's own argument parser (torch.distributed.run), with the names read from TrainerContract.java."""

import re
from pathlib import Path

from torch.distributed import run as torchrun

CONTRACT = Path(__file__).resolve().parents[2] / "api/src/main/java/dev/moe/api/v1alpha1/TrainerContract.java"


def pet_names():
    names = re.findall(r'public static final String (PET_[A-Z_]+) = "(PET_[A-Z_]+)";', CONTRACT.read_text())
    assert names, "no PET_* constants in TrainerContract"
    return [value for _, value in names]


def test_every_pet_variable_is_one_torchrun_reads(monkeypatch):
    env = {
        "PET_NNODES": "2",
        "PET_NODE_RANK": "1",
        "PET_NPROC_PER_NODE": "4",
        "PET_MASTER_ADDR": "job-node-0.job.ns.svc",
        "PET_MASTER_PORT": "29500",
    }
    assert sorted(pet_names()) == sorted(env)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    args = torchrun.get_args_parser().parse_args(["train.py"])
    assert (args.nnodes, args.node_rank, args.nproc_per_node) == ("2", 1, "4")
    assert (args.master_addr, args.master_port) == ("job-node-0.job.ns.svc", 29500)
