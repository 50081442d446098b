"""Training entrypoint: ``torchrun ... -m moe_trainer.train --plan /etc/moe/plan.json``.

Everything that can be wrong with the configuration is checked before torch.distributed starts
(exit 78); runtime failures (NCCL, lost peers, I/O) exit 75 so the operator restarts the gang, which
resumes from the last checkpoint at the same step with the same data.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
import traceback
from dataclasses import dataclass

import torch
import torch.distributed as dist

from . import checkpoint as ckpt
from . import contract
from .data import BatchSource
from .exitcodes import EXIT_CONFIG, EXIT_OK, EXIT_TEMPFAIL, ConfigError, hard_exit, is_retriable
from .kernels import compile_enabled, prefer_fast_attention
from .metrics import ALL_TO_ALL_TIMER, Metrics, flops_per_token, load_imbalance, mfu, peak_flops
from .model import Qwen3MoeForCausalLM
from .optim import AdamW, Fp32GradAccumulation, grad_of, split_master_weights
from .parallel.activation_checkpoint import apply_activation_checkpointing
from .parallel.compile import apply_compile
from .parallel.context import ContextShard, apply_context_parallel
from .parallel.expert_parallel import apply_expert_parallel, reduce_expert_gradients
from .parallel.fsdp import apply_fsdp, fsdp_managed_parameters, set_gradient_sync
from .parallel.mesh import Meshes, build_meshes
from .parallel.tensor_parallel import apply_tensor_parallel
from .plan import Plan, check_env_against_plan, load_plan
from .progress import ProgressReporter
from .stop_request import EXIT_STOPPED, StopRequest

log = logging.getLogger("moe_trainer")


def setup_logging(rank: int) -> None:
    level = logging.INFO if rank == 0 else logging.WARNING
    logging.basicConfig(
        level=level,
        stream=sys.stdout,
        force=True,
        format=f"%(asctime)s rank{rank} %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


# ---------------------------------------------------------------- building
def configure_cuda_allocator() -> None:
    """Expandable segments (unless the environment says otherwise): the caching allocator grows segments in
    place instead of caching many fixed ones, so reserved memory stays close to allocated memory (the
    operator's estimate models allocated memory plus a small fragmentation allowance). Before any CUDA use."""
    os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")


def init_distributed(local_rank: int, rank: int, world: int) -> torch.device:
    if torch.cuda.is_available() and os.environ.get("MOE_DEVICE", "cuda") == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        device = torch.device("cpu")
        dist.init_process_group("gloo")
    return device


@dataclass
class BuiltModel:
    """What build_model made: the model and the training state that goes with it (kept here, not on the model)."""

    model: torch.nn.Module
    #: {low-precision parameter: its float32 master} (optim.split_master_weights)
    master_weights: dict
    #: float32 gradient accumulation hooks of those parameters, when accumulating
    grad_accumulation: Fp32GradAccumulation | None
    checkpointed_layers: int
    compiled_layers: int
    #: this rank's shard of each batch under context parallelism (parallel/context.py), None without it
    context_shard: ContextShard | None = None


def build_model(
    plan: Plan,
    meshes: Meshes,
    device: torch.device,
    seed: int | None = None,
    bf16: bool | None = None,
    activation_checkpointing: str | bool | None = None,
    compile: bool | None = None,
) -> BuiltModel:
    """Meta-device model -> TP -> EP -> local shards filled in float32 (HF checkpoint or seeded init) ->
    working precision (bf16 on GPU: parameters FSDP2 will not shard become bf16, their float32 values kept as
    masters, optim.py) -> activation checkpointing (plan.training.activationCheckpointing) -> per-layer
    torch.compile (GPU) -> FSDP2. The same steps for any world size; float32 throughout when bf16 is False."""
    from .checkpoint_hf import hf_source, materialize, random_source

    with torch.device("meta"):
        model = Qwen3MoeForCausalLM(plan.model)
    apply_tensor_parallel(model, meshes)
    apply_expert_parallel(model, meshes)
    context_shard = apply_context_parallel(model, meshes)
    if plan.checkpoint_path:
        src = hf_source(plan.checkpoint_path)
    else:
        src = random_source(plan.model, plan.training.seed if seed is None else seed, device)
    materialize(model, device, src)
    if bf16 is None:  # bf16 on GPU; MOE_PRECISION=bf16|fp32 overrides (tests run the bf16 path on CPU)
        bf16 = os.environ.get("MOE_PRECISION", "bf16" if device.type == "cuda" else "fp32") == "bf16"
    working = torch.bfloat16 if bf16 else torch.float32
    master_weights = split_master_weights(model, working, keep=fsdp_managed_parameters(model, meshes))
    grad_accumulation = (
        Fp32GradAccumulation(master_weights) if plan.training.gradient_accumulation > 1 and master_weights else None
    )
    ac = plan.training.activation_checkpointing if activation_checkpointing is None else activation_checkpointing
    checkpointed_layers = apply_activation_checkpointing(
        model, ac, all_to_all=meshes.ep > 1, all_gather=meshes.context > 1
    )
    if device.type == "cuda":
        prefer_fast_attention()
    compiled_layers = apply_compile(model) if (compile_enabled(device) if compile is None else compile) else 0
    apply_fsdp(model, meshes, param_dtype=working if bf16 else None)
    return BuiltModel(model, master_weights, grad_accumulation, checkpointed_layers, compiled_layers, context_shard)


def build_optimizer(built: BuiltModel, plan: Plan) -> AdamW:
    """One AdamW over every parameter (it updates tensor by tensor, so DTensors of different meshes mix
    freely); no weight decay on norms (1-D tensors)."""
    model = built.model
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    t = plan.training
    groups = [
        g
        for g in ({"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0})
        if g["params"]
    ]
    return AdamW(groups, built.master_weights, lr=t.learning_rate, betas=(0.9, 0.95), eps=1e-8)


def lr_at(step: int, t) -> float:
    """Linear warmup to learningRate over warmupSteps, then cosine decay to minLearningRate at `steps`."""
    if t.warmup_steps and step < t.warmup_steps:
        return t.learning_rate * (step + 1) / t.warmup_steps
    span = max(1, t.steps - t.warmup_steps)
    frac = min(1.0, (step - t.warmup_steps) / span)
    return t.min_learning_rate + 0.5 * (t.learning_rate - t.min_learning_rate) * (1 + math.cos(math.pi * frac))


@torch.no_grad()
def clip_grad_norm(model, max_norm: float, world: int, optimizer: AdamW | None = None) -> torch.Tensor:
    """Global gradient norm over every shard kind (FSDP, TP, EP, replicated) with one all-reduce.
    Each local shard's squared norm (float32) is divided by the number of ranks holding an identical copy.
    With an optimizer the clip factor stays on the device and the optimizer multiplies the gradients by it as
    it reads them (no extra pass over the gradients, no host sync); without one the gradients are scaled."""
    from torch.distributed.tensor import DTensor

    groups: dict[tuple, list] = {}
    grads = []
    for p in model.parameters():
        g = grad_of(p)
        if g is None:
            continue
        if isinstance(g, DTensor):
            shards = 1
            for i, pl in enumerate(g.placements):
                if not (pl.is_replicate() or pl.is_partial()):  # Shard, _StridedShard (FSDP over TP)
                    shards *= g.device_mesh.size(i)
            rep, local = world / shards, g.to_local()
        else:
            rep, local = float(world), g
        groups.setdefault((rep, local.dtype), []).append(local)
        grads.append(local)
    total = torch.zeros((), device=grads[0].device, dtype=torch.float32)
    for (rep, _), gs in groups.items():
        norms = torch._foreach_norm(gs, 2.0, dtype=torch.float32)
        total += torch.stack(norms).pow(2).sum() / rep
    if dist.is_initialized() and world > 1:
        dist.all_reduce(total)
    norm = total.sqrt()
    if max_norm > 0:
        coef = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
        if optimizer is not None:
            optimizer.clip_factor = coef
        else:
            for dtype in {g.dtype for g in grads}:
                torch._foreach_mul_([g for g in grads if g.dtype == dtype], coef.to(dtype))
    return norm


def forward_backward(
    model, meshes: Meshes, data: BatchSource, step: int, accum: int, device, shard: ContextShard | None = None
):
    """Gradient accumulation over `accum` micro-batches; returns (local (loss, ce, aux) sums / accum, tokens per
    expert [MoE layers, experts] of the last micro-batch or None).
    The model computes in its parameters' dtype (no autocast); gradients accumulate in float32 (FSDP2 for
    the parameters it shards, optim.Fp32GradAccumulation for the others).
    With context parallelism each rank trains on its shard of the sequences (parallel/context.py): its ce is
    its share of the batch's ce, so the reported ce is scaled by context (the mean over ranks is then the
    batch's ce) while the aux loss is the same on every context rank."""
    stats = torch.zeros(3, device=device)
    expert_counts = None
    for micro in range(accum):
        inputs, labels = data.batch(step, micro, meshes.data_rank, device)
        set_gradient_sync(model, micro == accum - 1)
        if shard is None:
            out = model(inputs, labels)
            ce = out["ce"].detach()
        else:
            inputs, labels, positions, n = shard.shard_batch(inputs, labels)
            out = model(inputs, labels, positions=positions, num_items_in_batch=n)
            ce = out["ce"].detach() * meshes.context
        (out["loss"] / accum).backward()
        aux = out["aux"].detach()
        loss = ce + model.config.router_aux_loss_coef * aux
        stats += torch.stack([loss, ce, aux]).float() / accum
        expert_counts = out["expert_counts"]
    reduce_expert_gradients(model, meshes)
    return stats, expert_counts


# ---------------------------------------------------------------- main loop
def train(plan: Plan, rank: int, local_rank: int, world: int) -> int:
    t, p = plan.training, plan.parallelism
    device = init_distributed(local_rank, rank, world)
    meshes = build_meshes(p, device.type)
    torch.manual_seed(t.seed)
    log.info(
        "world %d: data %d × context %d × tensor %d; expert %d × expertData %d; device %s; activation checkpointing %s",
        world,
        p.data,
        p.context,
        p.tensor,
        p.expert,
        p.expert_data,
        device,
        t.activation_checkpointing,
    )
    built = build_model(plan, meshes, device)
    model = built.model
    opt = build_optimizer(built, plan)
    data = BatchSource(
        t.dataset, plan.model.vocab_size, t.seq_length, t.micro_batch_size, t.gradient_accumulation, p.data, t.seed
    )
    start, last_ckpt = 0, None
    resume = ckpt.latest_step_dir(t.checkpoint_dir)
    if resume:
        start = last_ckpt = ckpt.load(resume, model, opt)
        log.info(
            "resumed from %s at step %d (attempt %s)", resume, start, os.environ.get(contract.MOE_RESTART_ATTEMPT, "0")
        )

    port = os.environ.get(contract.MOE_METRICS_PORT)
    metrics = Metrics(int(port) + local_rank if port else None, rank, plan.job_name)
    progress = ProgressReporter(os.environ.get(contract.MOE_PROGRESS) if rank == 0 else None)
    tokens_per_step = t.micro_batch_size * t.seq_length * p.data * t.gradient_accumulation
    flops_tok = flops_per_token(plan.model, t.seq_length)
    peak, peak_source = peak_flops(device)
    if peak:
        log.info("MFU against %.0f TFLOP/s per device (%s)", peak / 1e12, peak_source)
    else:
        log.info("MFU not reported: peak FLOP/s of this device %s; set MOE_PEAK_TFLOPS", peak_source)
    fail_at = int(os.environ.get("MOE_TEST_FAIL_AT_STEP", "-1"))  # tests: simulate a crash
    stop = StopRequest(annotations_path=os.environ.get(contract.MOE_POD_ANNOTATIONS))  # docs/contract.md §5
    loss_log = os.environ.get("MOE_LOSS_LOG")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    loss_val = float("nan")
    steps_since_log = 0
    tps, util = 0.0, None
    for step in range(start, t.steps):
        if step == fail_at:
            raise RuntimeError(f"MOE_TEST_FAIL_AT_STEP={fail_at}: simulated failure")
        t0 = time.perf_counter()
        lr = lr_at(step, t)
        for g in opt.param_groups:
            g["lr"] = lr
        stats, expert_counts = forward_backward(
            model, meshes, data, step, t.gradient_accumulation, device, built.context_shard
        )
        gnorm = clip_grad_norm(model, t.grad_clip, world, opt)
        opt.step()
        opt.zero_grad(set_to_none=True)
        done = step + 1
        steps_since_log += 1
        if done % t.log_every == 0 or done == t.steps:
            dist.all_reduce(stats)
            stats /= world
            loss_val, ce, aux = stats.tolist()
            imb = load_imbalance(expert_counts, world)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            dt = time.perf_counter() - t0
            a2a = ALL_TO_ALL_TIMER.pop_seconds() / steps_since_log
            steps_since_log = 0
            tps = tokens_per_step / dt
            util = mfu(tps, flops_tok, world, peak)
            mem = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
            log.info(
                "step %d/%d  loss %.4f (ce %.4f aux %.4f)  lr %.2e  grad_norm %.3f  %.2fs  %s tok/s "
                "(%s /GPU)  MFU %s  a2a %.3fs/step  imbalance %.2f  peak_mem %.1f GiB",
                done,
                t.steps,
                loss_val,
                ce,
                aux,
                lr,
                gnorm.item(),
                dt,
                f"{tps:,.0f}",
                f"{tps / world:,.0f}",
                "unknown" if util is None else f"{100 * util:.1f}%",
                a2a,
                imb,
                mem / 2**30,
            )
            metrics.set(
                step=done,
                step_seconds=dt,
                tokens_per_second=tps,
                tokens_per_second_per_gpu=tps / world,
                mfu=util,
                loss=loss_val,
                aux_loss=aux,
                expert_load_imbalance=imb,
                all_to_all_seconds=a2a,
                peak_memory_bytes=mem,
                grad_norm=gnorm.item(),
                learning_rate=lr,
            )
            if rank == 0 and loss_log:
                with open(loss_log, "a") as f:
                    f.write(f"{done} {loss_val!r}\n")
            progress.report(done, loss_val, tps, util, last_ckpt)
        stopping = done < t.steps and stop.agreed(device)  # checkpoint before stop (stop_request.py)
        if t.checkpoint_dir and (
            (t.checkpoint_every and (done % t.checkpoint_every == 0 or done == t.steps))
            or (stopping and last_ckpt != done)
        ):
            ckpt.save(t.checkpoint_dir, done, model, opt, rank)
            last_ckpt = done
            metrics.set(last_checkpoint_step=done)
        if stopping:
            progress.report(done, loss_val, tps, util, last_ckpt, final=True)
            log.info("stopped at step %d on request (%s), checkpoint at step %s", done, stop.reason, last_ckpt)
            dist.barrier()
            dist.destroy_process_group()
            return EXIT_STOPPED
    export = os.environ.get("MOE_EXPORT_HF_DIR")  # optional: final weights in Hugging Face safetensors layout
    if export:
        from .checkpoint_hf import save_hf

        save_hf(model, plan.model, export, is_writer=rank == 0, named_tensors=opt.fp32_named_parameters(model))
        dist.barrier()
        log.info("exported Hugging Face checkpoint to %s", export)
    progress.report(t.steps, loss_val, tps, util, last_ckpt, final=True)
    log.info("training finished at step %d", t.steps)
    dist.barrier()
    dist.destroy_process_group()
    return EXIT_OK


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="moe_trainer.train", description=__doc__)
    ap.add_argument("--plan", default=None, help="plan JSON (default $MOE_PLAN_PATH)")
    args = ap.parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    setup_logging(rank)
    configure_cuda_allocator()
    try:  # configuration: no collective has started yet
        plan = load_plan(args.plan)
        rank, local_rank, world = check_env_against_plan(plan)
        peak_flops(torch.device("cpu"))  # a bad MOE_PEAK_TFLOPS is a configuration error, before any collective
    except ConfigError as e:
        log.error("configuration error (exit %d, not retriable): %s", EXIT_CONFIG, e)
        return EXIT_CONFIG
    try:
        return train(plan, rank, local_rank, world)
    except ConfigError as e:
        log.error("configuration error (exit %d, not retriable): %s", EXIT_CONFIG, e)
        return EXIT_CONFIG
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        code = EXIT_TEMPFAIL if is_retriable(e) else 1
        log.error(
            "training failed (exit %d, %s): %s", code, "retriable" if code == EXIT_TEMPFAIL else "unclassified", e
        )
        hard_exit(code)
        return code


if __name__ == "__main__":
    hard_exit(main())  # not sys.exit: see hard_exit (gloo can abort in interpreter finalization)
