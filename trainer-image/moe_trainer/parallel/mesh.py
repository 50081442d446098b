"""DeviceMesh views of docs/contract.md: dense (data, context, tensor), expert (expertData, expert).

Both are row-major over global ranks with the last dimension innermost, exactly the plan's rank layout."""

from __future__ import annotations

from dataclasses import dataclass

from torch.distributed.device_mesh import DeviceMesh, init_device_mesh


@dataclass
class Meshes:
    dense: DeviceMesh  # ("data", "context", "tensor")
    expert: DeviceMesh  # ("expertData", "expert")

    @property
    def data(self) -> int:
        return self.dense["data"].size()

    @property
    def context(self) -> int:
        return self.dense["context"].size()

    @property
    def tensor(self) -> int:
        return self.dense["tensor"].size()

    @property
    def ep(self) -> int:
        return self.expert["expert"].size()

    @property
    def edp(self) -> int:
        return self.expert["expertData"].size()

    @property
    def data_rank(self) -> int:
        return self.dense["data"].get_local_rank()


def build_meshes(parallelism, device_type: str) -> Meshes:
    p = parallelism
    dense = init_device_mesh(device_type, (p.data, p.context, p.tensor), mesh_dim_names=("data", "context", "tensor"))
    expert = init_device_mesh(device_type, (p.expert_data, p.expert), mesh_dim_names=("expertData", "expert"))
    if p.context > 1:  # dense gradients reduce over data × context (parallel/fsdp.py)
        dense["data", "context"]._flatten("dataContext")
    return Meshes(dense=dense, expert=expert)
