"""Run under torchrun (gloo): one forward/backward of the parallel trainer on a plan; rank 0 saves the
mean loss, the global grad norm, every gradient gathered to full size and how many all-to-alls ran (counted
below the selective-checkpoint cache, so one a recompute answered from saved outputs is not counted)."""

import os
import sys

import torch
from torch.distributed.tensor import DTensor
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moe_trainer.data import BatchSource  # noqa: E402
from moe_trainer.exitcodes import hard_exit  # noqa: E402
from moe_trainer.optim import grad_of  # noqa: E402
from moe_trainer.parallel.mesh import build_meshes  # noqa: E402
from moe_trainer.plan import check_env_against_plan, load_plan  # noqa: E402
from moe_trainer.train import build_model, clip_grad_norm, forward_backward, init_distributed  # noqa: E402


class CollectiveCounter(TorchDispatchMode):
    """Counts all-to-alls that really execute. Entered before training, it sits under the selective-checkpoint
    mode a recompute pushes later, which answers saved outputs without dispatching further."""

    all_to_alls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops._c10d_functional.all_to_all_single.default:
            self.all_to_alls += 1
        return func(*args, **(kwargs or {}))


def main(plan_path, out_path):
    import torch.distributed as dist

    plan = load_plan(plan_path)
    rank, local, world = check_env_against_plan(plan)
    device = init_distributed(local, rank, world)
    meshes = build_meshes(plan.parallelism, device.type)
    built = build_model(plan, meshes, device)
    model = built.model
    t = plan.training
    data = BatchSource(
        t.dataset,
        plan.model.vocab_size,
        t.seq_length,
        t.micro_batch_size,
        t.gradient_accumulation,
        plan.parallelism.data,
        t.seed,
    )
    with CollectiveCounter() as counter:
        stats, _ = forward_backward(model, meshes, data, 0, t.gradient_accumulation, device, built.context_shard)
    dist.all_reduce(stats)
    stats /= world
    norm = clip_grad_norm(model, 0.0, world)
    grads = {}
    for name, p in model.named_parameters():
        g = grad_of(p)
        grads[name] = (g.full_tensor() if isinstance(g, DTensor) else g).detach().clone()
    if rank == 0:
        torch.save(
            {
                "loss": stats[0].item(),
                "norm": norm.item(),
                "grads": grads,
                "checkpointed_layers": built.checkpointed_layers,
                "all_to_alls": counter.all_to_alls,
            },
            out_path,
        )
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    hard_exit(0)  # as the trainer does: gloo can abort in interpreter finalization after a clean finish
