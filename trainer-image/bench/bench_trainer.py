"""Throughput of our trainer vs Hugging Face transformers' expert parallelism, same machine, same run.

Run under torchrun (one process per GPU):
  torchrun --nproc-per-node 4 bench_trainer.py ours --ckpt DIR --mbs 1   # EP=4, FSDP over 4 (dense)
  torchrun --nproc-per-node 4 bench_trainer.py hf   --ckpt DIR
      # DistributedConfig(tp_size=4, enable_expert_parallel=True)
  python bench_trainer.py table RESULTS.jsonl                            # the summary table
Each run appends one JSON line to --out. A full training step is timed: forward, backward, gradient
reduction, clipping (ours) and AdamW, bf16 compute. Unique tokens: HF's EP ranks all see the same tokens,
so its job-wide unique tokens per step are batch × seq; ours are batch × seq × data ranks.
MFU: docs/measuring.md (TorchTitan convention, 989 TFLOP/s peak; causal variant halves the attention term).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moe_trainer.metrics import flops_per_token  # noqa: E402
from moe_trainer.model_config import ModelConfig  # noqa: E402
from moe_trainer.plan import parse_plan  # noqa: E402

PEAK_FLOPS_BF16 = (
    989e12  # H100/H200 SXM dense bf16 (moe_trainer.metrics.PEAK_BF16_TFLOPS), the machine of bench/results.md
)


def _cfg(ckpt):
    with open(os.path.join(ckpt, "config.json")) as f:
        return json.load(f)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _result(args, system, setting, world, step_times, unique_tokens_per_step, cfg: ModelConfig, extra=None):
    dt = statistics.median(step_times)
    tps = unique_tokens_per_step / dt
    per_gpu = tps / world
    mfu = tps * flops_per_token(cfg, args.seq) / (world * PEAK_FLOPS_BF16)
    mfu_causal = tps * flops_per_token(cfg, args.seq, causal=True) / (world * PEAK_FLOPS_BF16)
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    r = {
        "system": system,
        "setting": setting,
        "gpus": world,
        "device": dev,
        "seq": args.seq,
        "mbs": args.mbs,
        "layers": cfg.num_hidden_layers,
        "step_s_median": dt,
        "step_s_all": [round(s, 4) for s in step_times],
        "unique_tokens_per_s": tps,
        "unique_tokens_per_s_per_gpu": per_gpu,
        "mfu": mfu,
        "mfu_causal": mfu_causal,
        "peak_mem_gib": (torch.cuda.max_memory_allocated() / 2**30) if torch.cuda.is_available() else 0.0,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    r.update(extra or {})
    return r


def run_ours(args):
    from moe_trainer.metrics import ALL_TO_ALL_TIMER
    from moe_trainer.parallel.mesh import build_meshes
    from moe_trainer.train import build_model, build_optimizer, clip_grad_norm, forward_backward, init_distributed

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    ep = args.ep or world
    if args.ckpt:
        model_cfg, ckpt = _cfg(args.ckpt), {"path": args.ckpt}
    else:  # seeded random init at Qwen3-30B-A3B shapes with --layers layers
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "gpu"))
        from make_hf_checkpoint import SHAPES

        model_cfg = dict(SHAPES["bench"], num_hidden_layers=args.layers, model_type="qwen3_moe")
        ckpt = None
    plan = parse_plan(
        {
            "apiVersion": "training.moe.dev/plan-v1",
            "model": model_cfg,
            "checkpoint": ckpt,
            "parallelism": {"data": world, "tensor": 1, "expert": ep, "context": 1},
            "world": {"size": world, "nodes": 1, "gpusPerNode": world},
            "training": {
                "seqLength": args.seq,
                "microBatchSize": args.mbs,
                "gradientAccumulation": 1,
                "steps": args.steps,
                "seed": 1,
                "dataset": {"type": "synthetic"},
            },
        }
    )
    device = init_distributed(local, rank, world)
    meshes = build_meshes(plan.parallelism, device.type)
    built = build_model(plan, meshes, device)
    model = built.model
    opt = build_optimizer(built, plan)
    from moe_trainer.data import BatchSource

    t = plan.training
    data = BatchSource(t.dataset, plan.model.vocab_size, t.seq_length, t.micro_batch_size, 1, world, t.seed)
    times, a2a, losses = [], [], []
    prof = None
    for step in range(args.warmup + args.steps):
        if args.profile and step == args.warmup:
            prof = torch.profiler.profile(
                activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
            )
            prof.__enter__()
        _sync(device)
        t0 = time.perf_counter()
        stats, _ = forward_backward(model, meshes, data, step, 1, device)
        clip_grad_norm(model, 1.0, world, opt)
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        dt = torch.tensor([time.perf_counter() - t0], device=device)
        dist.all_reduce(dt, op=dist.ReduceOp.MAX)
        s = ALL_TO_ALL_TIMER.pop_seconds()
        if step >= args.warmup:
            times.append(dt.item())
            a2a.append(s)
            losses.append(stats[0].item())
    if prof is not None:
        prof.__exit__(None, None, None)
        if rank == 0:
            ka = prof.key_averages()
            print(
                ka.table(
                    sort_by="self_device_time_total",
                    row_limit=int(os.environ.get("PROF_ROWS", "35")),
                    max_name_column_width=60,
                )
            )
            gpu = sum(e.self_device_time_total for e in ka) / 1e6
            print(f"PROFILE {args.steps} steps: wall {sum(times):.3f}s, summed device kernel time {gpu:.3f}s")
    if rank == 0:
        r = _result(
            args,
            "ours",
            f"EP={ep}, FSDP={world}, mbs={args.mbs}",
            world,
            times,
            args.mbs * args.seq * world,
            plan.model,
            {"a2a_s_median": statistics.median(a2a), "loss_last": losses[-1]},
        )
        _emit(args, r)
    dist.barrier()
    dist.destroy_process_group()


def run_hf(args):
    from transformers import Qwen3MoeForCausalLM
    from transformers.distributed import DistributedConfig

    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
    kw = {}
    if world > 1:
        kw["distributed_config"] = DistributedConfig(tp_size=world, enable_expert_parallel=True)
    else:
        kw["device_map"] = "cuda" if torch.cuda.is_available() else "cpu"
    model = Qwen3MoeForCausalLM.from_pretrained(args.ckpt, dtype=torch.bfloat16, **kw)
    model.train()
    model.config.use_cache = False
    device = next(model.parameters()).device
    cfg = ModelConfig.from_dict(_cfg(args.ckpt))
    from torch.distributed.tensor import DTensor

    params = [p for p in model.parameters() if p.requires_grad]
    # fused AdamW refuses a mix of DTensor and plain tensors (HF shards some, not all): one per kind
    kinds = [[p for p in params if isinstance(p, DTensor)], [p for p in params if not isinstance(p, DTensor)]]
    opts = [torch.optim.AdamW(ps, lr=1e-5, fused=device.type == "cuda") for ps in kinds if ps]
    g = torch.Generator().manual_seed(0)
    times = []
    for step in range(args.warmup + args.steps):
        ids = torch.randint(0, cfg.vocab_size, (args.mbs, args.seq), generator=g).to(device)  # same on all ranks
        _sync(device)
        t0 = time.perf_counter()
        out = model(input_ids=ids, labels=ids, output_router_logits=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0) if world == 1 else None
        for opt in opts:
            opt.step()
            opt.zero_grad(set_to_none=True)
        _sync(device)
        dt = time.perf_counter() - t0
        if world > 1:
            x = torch.tensor([dt], device=device)
            dist.all_reduce(x, op=dist.ReduceOp.MAX)
            dt = x.item()
        if step >= args.warmup:
            times.append(dt)
    if int(os.environ.get("RANK", "0")) == 0:
        name = "HF transformers EP" if world > 1 else "HF transformers, no parallelism"
        setting = (
            f"DistributedConfig(tp_size={world}, enable_expert_parallel=True), mbs={args.mbs}"
            if world > 1
            else f"1 GPU, mbs={args.mbs}"
        )
        _emit(
            args, _result(args, name, setting, world, times, args.mbs * args.seq, cfg, {"loss_last": out.loss.item()})
        )
    if world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _emit(args, r):
    print("RESULT " + json.dumps(r), flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(r) + "\n")


def table(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    hf = [r for r in rows if r["system"] == "HF transformers EP"]
    base = hf[0]["unique_tokens_per_s_per_gpu"] if hf else None
    print(
        f"\n{'system':<34} {'setting':<58} {'GPUs':>4} {'step s':>7} {'uniq tok/s/GPU':>15} {'MFU':>6} "
        f"{'MFU(c)':>6} {'mem GiB':>7} {'vs HF EP':>8}"
    )
    for r in rows:
        rel = f"{r['unique_tokens_per_s_per_gpu'] / base:.2f}x" if base else "-"
        print(
            f"{r['system']:<34} {r['setting']:<58} {r['gpus']:>4} {r['step_s_median']:>7.3f} "
            f"{r['unique_tokens_per_s_per_gpu']:>15,.0f} {100 * r['mfu']:>5.1f}% {100 * r['mfu_causal']:>5.1f}% "
            f"{r['peak_mem_gib']:>7.1f} {rel:>8}"
        )
    if rows:
        print(f"device: {rows[0]['device']}; seq {rows[0]['seq']}, {rows[0]['layers']} layers; {rows[0]['date']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["ours", "hf", "table"])
    ap.add_argument("path", nargs="?")
    ap.add_argument("--ckpt")
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--mbs", type=int, default=1)
    ap.add_argument("--ep", type=int, default=0)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", default=None)
    ap.add_argument("--layers", type=int, default=8, help="with no --ckpt: random init, this many layers")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    if args.mode == "table":
        table(args.path)
    elif args.mode == "ours":
        run_ours(args)
    else:
        run_hf(args)


if __name__ == "__main__":
    main()
