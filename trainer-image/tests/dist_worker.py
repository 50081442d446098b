"""Run under torchrun (gloo): one forward/backward of the parallel trainer on a plan; rank 0 saves the
mean loss, the global grad norm and every gradient gathered to full size."""
import os
import sys

import torch
from torch.distributed.tensor import DTensor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moe_trainer.config import check_env_against_plan, load_plan  # noqa: E402
from moe_trainer.exitcodes import hard_exit  # noqa: E402
from moe_trainer.data import BatchSource  # noqa: E402
from moe_trainer.parallel.mesh import build_meshes  # noqa: E402
from moe_trainer.train import build_model, clip_grad_norm, forward_backward, init_distributed  # noqa: E402


def main(plan_path, out_path):
    import torch.distributed as dist

    plan = load_plan(plan_path)
    rank, local, world = check_env_against_plan(plan)
    device = init_distributed(local, rank, world)
    meshes = build_meshes(plan.parallelism, device.type)
    model = build_model(plan, meshes, device)
    t = plan.training
    data = BatchSource(t.dataset, plan.model.vocab_size, t.seq_length, t.micro_batch_size, t.gradient_accumulation,
                       plan.parallelism.data, t.seed)
    stats = forward_backward(model, meshes, data, 0, t.gradient_accumulation, device)
    dist.all_reduce(stats)
    stats /= world
    norm = clip_grad_norm(model, 0.0, world)
    grads = {}
    for name, p in model.named_parameters():
        g = p.grad
        grads[name] = (g.full_tensor() if isinstance(g, DTensor) else g).detach().clone()
    if rank == 0:
        torch.save({"loss": stats[0].item(), "norm": norm.item(), "grads": grads,
                    "checkpointed_layers": model.checkpointed_layers}, out_path)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    hard_exit(0)  # as the trainer does: gloo can abort in interpreter finalization after a clean finish
