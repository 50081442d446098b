"""Measured peak GPU memory of real training steps vs the operator's estimate for the same plan.

One configuration per process (clean allocator state; an OOM ends only that configuration):
  python bench/memory_check.py one --layers 2 --mbs 1 --ac 1 --out results.jsonl
  python bench/memory_check.py table results.jsonl --estimates bench/memory_estimates.json
The training step is the trainer's own (train.build_model / build_optimizers / forward_backward /
clip_grad_norm / fused AdamW), at Qwen3-30B-A3B shapes with --layers layers, seeded random init, one GPU
(data = expert = 1). Estimates come from `bin/moe-plan --output json` on the same plan (computed where Java
runs; scripts/memory_estimates.sh) and are carried as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "gpu"))

GIB = 2**30


def key(layers, mbs, ac):
    return f"L{layers}-mbs{mbs}-ac{int(ac)}"


def plan_doc(layers, mbs, ac, seq, steps):
    from make_hf_checkpoint import SHAPES

    model = dict(SHAPES["bench"], num_hidden_layers=layers, model_type="qwen3_moe")
    return {"apiVersion": "training.moe.dev/plan-v1", "model": model,
            "parallelism": {"data": 1, "tensor": 1, "expert": 1, "context": 1, "expertData": 1},
            "world": {"size": 1, "nodes": 1, "gpusPerNode": 1},
            "training": {"seqLength": seq, "microBatchSize": mbs, "gradientAccumulation": 1, "steps": steps,
                         "seed": 1, "dataset": {"type": "synthetic"}, "activationCheckpointing": bool(ac)}}


def one(args):
    from moe_trainer.train import configure_cuda_allocator

    configure_cuda_allocator()  # as train.main() does; MEM_ALLOC_CONF in the script can override it
    import torch
    import torch.distributed as dist

    from moe_trainer.config import PEAK_FLOPS_BF16, parse_plan
    from moe_trainer.data import BatchSource
    from moe_trainer.parallel.mesh import build_meshes
    from moe_trainer.train import build_model, build_optimizers, clip_grad_norm, forward_backward, init_distributed

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(29500 + os.getpid() % 1000))
    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
    steps = args.warmup + args.steps
    plan = parse_plan(plan_doc(args.layers, args.mbs, args.ac, args.seq, steps))
    r = {"key": key(args.layers, args.mbs, args.ac), "layers": args.layers, "mbs": args.mbs, "ac": bool(args.ac),
         "seq": args.seq, "device": torch.cuda.get_device_name(0), "torch": torch.__version__,
         "alloc_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF", ""),
         "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    try:
        device = init_distributed(0, 0, 1)
        meshes = build_meshes(plan.parallelism, device.type)
        model = build_model(plan, meshes, device)
        opts = build_optimizers(model, plan, device)
        torch.cuda.synchronize()
        r["after_build_gib"] = torch.cuda.memory_allocated() / GIB
        t = plan.training
        data = BatchSource(t.dataset, plan.model.vocab_size, t.seq_length, t.micro_batch_size, 1, 1, t.seed)
        times = []
        for step in range(steps):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            forward_backward(model, meshes, data, step, 1, device)
            clip_grad_norm(model, 1.0, 1, opts)
            for o in opts:
                o.step()
                o.zero_grad(set_to_none=True)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
            if step == 0:
                r["after_step1_gib"] = torch.cuda.memory_allocated() / GIB  # params + optimizer state
        r["ok"] = True
        dt = statistics.median(times[args.warmup:])
        tps = args.mbs * args.seq / dt
        r.update(step_s=dt, tokens_per_s=tps, mfu=tps * plan.model.flops_per_token(args.seq) / PEAK_FLOPS_BF16)
    except torch.OutOfMemoryError as e:
        r["ok"] = False
        r["error"] = "OOM: " + str(e).split("\n")[0][:200]
    r["max_allocated_gib"] = torch.cuda.max_memory_allocated() / GIB
    r["max_reserved_gib"] = torch.cuda.max_memory_reserved() / GIB
    r["total_gib"] = torch.cuda.get_device_properties(0).total_memory / GIB
    print("RESULT " + json.dumps(r), flush=True)
    with open(args.out, "a") as f:
        f.write(json.dumps(r) + "\n")
    if dist.is_initialized():
        dist.destroy_process_group()


def table(args):
    rows = [json.loads(l) for l in open(args.path) if l.strip()]
    est = {}
    if args.estimates and os.path.exists(args.estimates):
        est = json.load(open(args.estimates))
    print("\nest = operator estimate (moe-plan): alloc = without headroom (compare with max_memory_allocated), "
          "total = with headroom (compare with max_memory_reserved)")
    print(f"{'plan':<14} {'est alloc':>9} {'max_alloc':>9} {'ratio':>6} {'est total':>9} {'max_resv':>8} {'ratio':>6} "
          f"{'fits(est)':>9} {'step s':>7} {'tok/s':>8} {'MFU':>6}")
    for r in rows:
        e = est.get(r["key"], {})
        eg = e.get("totalBytes", 0) / GIB if e else float("nan")
        ea = e.get("allocatedBytes", 0) / GIB if e else float("nan")
        fits = e.get("fits", "-") if e else "-"
        if r.get("ok"):
            perf = f"{r['step_s']:>7.3f} {r['tokens_per_s']:>8,.0f} {100 * r['mfu']:>5.1f}%"
        else:
            perf = f"{'OOM':>7} {'-':>8} {'-':>6}"
        ra = ea / r["max_allocated_gib"] if e else float("nan")
        rt = eg / r["max_reserved_gib"] if e else float("nan")
        print(f"{r['key']:<14} {ea:>9.1f} {r['max_allocated_gib']:>9.1f} {ra:>6.2f} {eg:>9.1f} {r['max_reserved_gib']:>8.1f} "
              f"{rt:>6.2f} {str(fits):>9} {perf}")
    if rows:
        print(f"device: {rows[0]['device']} ({rows[0]['total_gib']:.1f} GiB); torch {rows[0]['torch']}; "
              f"seq {rows[0]['seq']}; PYTORCH_CUDA_ALLOC_CONF={rows[0].get('alloc_conf', '')!r}; {rows[0]['date']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["one", "table"])
    ap.add_argument("path", nargs="?")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--mbs", type=int, default=1)
    ap.add_argument("--ac", type=int, default=1)
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out", default="/tmp/memory.jsonl")
    ap.add_argument("--estimates", default=os.path.join(HERE, "memory_estimates.json"))
    args = ap.parse_args()
    one(args) if args.mode == "one" else table(args)


if __name__ == "__main__":
    main()
