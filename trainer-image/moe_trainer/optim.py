"""Mixed precision training state: bf16 working weights, float32 master weights, float32 AdamW moments and
float32 gradient accumulation, with one code path for one GPU and many.

Where the float32 master of a parameter lives depends only on whether FSDP2 shards it:
- sharded by FSDP2 (dense parameters when data > 1, experts when expertData > 1): the model parameter is
  float32 and is the master; FSDP2 all-gathers it as bf16 for compute (MixedPrecisionPolicy.param_dtype),
  reduce-scatters gradients in float32 and, with gradient accumulation, accumulates unsharded gradients
  in float32 itself;
- every other parameter (all of them on one GPU, experts when expertData = 1): the model parameter is bf16
  and this module keeps its float32 master (split_master_weights); with gradient accumulation, each
  micro-batch's bf16 gradient is added into a float32 buffer (``param.main_grad``) and freed.
The optimizer (AdamW) updates both kinds with one pass per tensor (kernels.adamw_step) and reads the clip
factor from the device, so the step has no host sync. Checkpoints and the Hugging Face export read the
float32 masters (fp32_state / fp32_named_parameters), never the bf16 copies.
"""

from __future__ import annotations

import torch
from torch import nn

from .kernels import adamw_step


def _local(t):
    from torch.distributed.tensor import DTensor

    return t.to_local() if isinstance(t, DTensor) else t


def split_master_weights(model: nn.Module, working_dtype: torch.dtype, keep: set) -> dict:
    """Replace every float32 parameter not in `keep` by a `working_dtype` copy; returns {new parameter:
    its float32 master} (the original values, before rounding). Nothing changes for float32 working dtype."""
    masters: dict = {}
    if working_dtype == torch.float32:
        return masters
    for module in model.modules():
        for name, p in list(module.named_parameters(recurse=False)):
            if p in keep or p.dtype != torch.float32:
                continue
            working = nn.Parameter(p.detach().to(working_dtype), requires_grad=p.requires_grad)
            setattr(module, name, working)
            masters[working] = p.detach()
    return masters


def grad_of(p: torch.Tensor):
    """The gradient to read: the float32 accumulation buffer when there is one, else .grad."""
    mg = getattr(p, "main_grad", None)
    return mg if mg is not None else p.grad


class Fp32GradAccumulation:
    """Gradient accumulation in float32 for low-precision parameters that FSDP2 does not manage: after
    autograd has written a micro-batch's gradient, add it into ``param.main_grad`` (float32) and free it."""

    def __init__(self, params):
        self.handles = [p.register_post_accumulate_grad_hook(self._accumulate) for p in params]

    @staticmethod
    def _accumulate(p: torch.Tensor) -> None:
        mg = getattr(p, "main_grad", None)
        if mg is None:
            p.main_grad = p.grad.float()
        else:
            mg.add_(p.grad)
        p.grad = None


class AdamW(torch.optim.Optimizer):
    """AdamW (decoupled weight decay, as torch.optim.AdamW) over float32 masters and moments.

    State per parameter: ``exp_avg``, ``exp_avg_sq`` (float32, sharded like the parameter), ``step`` (a
    float32 scalar on the CPU, as torch keeps it), and ``master`` (float32) for low-precision parameters.
    State is created eagerly so a checkpoint can be loaded into it before the first step. Set
    ``clip_factor`` (a device scalar) before step() to multiply the gradients by it as they are read."""

    def __init__(self, param_groups, masters: dict, lr: float, betas=(0.9, 0.95), eps: float = 1e-8):
        super().__init__(param_groups, dict(lr=lr, betas=betas, eps=eps, weight_decay=0.0))
        self.clip_factor = None
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                st["step"] = torch.zeros((), dtype=torch.float32)
                st["exp_avg"] = torch.zeros_like(p, dtype=torch.float32)
                st["exp_avg_sq"] = torch.zeros_like(p, dtype=torch.float32)
                if p in masters:
                    st["master"] = masters[p]

    @torch.no_grad()
    def step(self, closure=None):
        scale = self.clip_factor
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                g = grad_of(p)
                if g is None:
                    continue
                st = self.state[p]
                st["step"] += 1
                master = st.get("master")
                adamw_step(
                    _local(p),
                    _local(g),
                    None if master is None else _local(master),
                    _local(st["exp_avg"]),
                    _local(st["exp_avg_sq"]),
                    scale,
                    lr=group["lr"],
                    beta1=beta1,
                    beta2=beta2,
                    eps=group["eps"],
                    weight_decay=group["weight_decay"],
                    step=int(st["step"].item()),
                )
        self.clip_factor = None

    def zero_grad(self, set_to_none: bool = True):
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None
                if getattr(p, "main_grad", None) is not None:
                    p.main_grad = None

    # ---- checkpoints and export: float32 only
    def fp32_named_parameters(self, model: nn.Module):
        """(name, float32 value) of every parameter: its master, or the parameter when it is its own."""
        return [(n, self.state[p].get("master", p)) for n, p in model.named_parameters()]

    def fp32_state(self, model: nn.Module) -> dict:
        """What a checkpoint holds, in the layout of torch.distributed.checkpoint.state_dict.get_state_dict
        (so checkpoints of earlier trainer versions, whose parameters were float32, still load):
        {"model": {name: float32 weights}, "optim": {"state": {name: {step, exp_avg, exp_avg_sq}}}}."""
        weights, state = {}, {}
        for n, p in model.named_parameters():
            st = self.state[p]
            weights[n] = st["master"] if "master" in st else p.detach()
            state[n] = {"step": st["step"], "exp_avg": st["exp_avg"], "exp_avg_sq": st["exp_avg_sq"]}
        return {"model": weights, "optim": {"state": state}}

    @torch.no_grad()
    def masters_loaded(self) -> None:
        """After fp32_state() was loaded in place: the working copies follow their masters."""
        for group in self.param_groups:
            for p in group["params"]:
                master = self.state[p].get("master")
                if master is not None:
                    _local(p).copy_(_local(master))
