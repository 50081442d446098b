"""One GPU, one run: our trainer against Hugging Face transformers at Qwen3-30B-A3B shapes.

  python3 trainer-image/bench/bench_one_gpu.py                 # the table (both shapes), appends bench/results.jsonl
  python3 trainer-image/bench/bench_one_gpu.py --shapes 8x4096 # one shape
  python3 trainer-image/bench/bench_one_gpu.py ladder          # one change at a time (bench/results.md, "predicted")
  python3 trainer-image/bench/bench_one_gpu.py table FILE      # print a results file
  python3 trainer-image/bench/bench_one_gpu.py longctx         # long sequences: throughput at 16k/32k/64k and the
                                                               # longest sequence each trains (8 layers, mbs 1)

Rows, each in its own process (clean allocator; an out-of-memory ends only that row):
- ``hf-transformers``: transformers' Qwen3MoeForCausalLM without parallelism, bf16 weights, fused AdamW
  (bf16 state), grad-norm clipping, micro-batch 1, 2 and 4 (one process, one model);
- ``hf-transformers-compiled``: the same with each decoder layer ``torch.compile``d (static shapes per
  micro-batch);
- ``ours``: the trainer's own build_model / build_optimizer / forward_backward / clip_grad_norm / step for
  the plans of bench/one_gpu_plans.json (from the plan engine's estimates for this GPU and for an 80 GiB one,
  the fitting plans expected fastest, in order): the first is "its best plan" (--candidates N runs the first
  N; the best measured counts). Plans for the 80 GiB budget run under an allocator cap of 79.2 GiB (what torch
  sees on an H100 80GB), so "fits" is shown, not assumed; one plan the estimate rejects runs under the same
  cap, to show that it really runs out of memory. Both shapes take ≈ 8 minutes with one candidate.
Every row: same synthetic token sequences (moe_trainer.data), random init, full training step, 3 warm-up steps
(the first compiles) then N timed steps between two synchronisations; peak = max_memory_allocated over the
timed steps. MFU per docs/measuring.md (989 TFLOP/s, attention term not halved).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINER = os.path.dirname(HERE)
REPO = os.path.dirname(TRAINER)
GIB = 2**30
#: what torch reports as total memory on an H100 80GB HBM3 (the 80 GiB budget of the examples)
H100_USABLE_GIB = 79.2
SHAPES = {"8x4096": (8, 4096), "4x16384": (4, 16384)}


# ---------------------------------------------------------------- one row (a subprocess)
def _model_cfg(layers):
    sys.path.insert(0, os.path.join(TRAINER, "tests", "gpu"))
    from make_hf_checkpoint import SHAPES as HF_SHAPES

    return dict(HF_SHAPES["bench"], num_hidden_layers=layers, model_type="qwen3_moe")


def plan_doc(layers, seq, mbs, ac, steps, accum=1):
    return {
        "apiVersion": "training.moe.dev/plan-v1",
        "model": _model_cfg(layers),
        "parallelism": {"data": 1, "tensor": 1, "expert": 1, "context": 1, "expertData": 1},
        "world": {"size": 1, "nodes": 1, "gpusPerNode": 1},
        "training": {
            "seqLength": seq,
            "microBatchSize": mbs,
            "gradientAccumulation": accum,
            "steps": steps,
            "seed": 1,
            "dataset": {"type": "synthetic"},
            "activationCheckpointing": ac,
        },
    }


KINDS = [  # (kind, substrings of kernel names), first match wins
    ("optimizer", ("adamw_kernel", "fusedoptimizer", "adam")),
    ("grad norm (clip)", ("lpnorm",)),
    ("attention", ("cudnn", "flash", "fmha", "attention", "sdpa")),
    ("grouped GEMM", ("groupproblemshape", "grouped", "ptr_array")),
    ("dense GEMM", ("gemm", "nvjet", "sm90_xmma", "cutlass", "cublas", "wgmma")),
    ("compiled (Triton, Inductor)", ("triton_",)),
    ("norm", ("rms_norm", "rmsnorm", "layer_norm", "rowwisemoments")),
    ("softmax / cross-entropy", ("softmax", "logsumexp", "nll_loss", "cross_entropy")),
    ("casts and copies", ("copy_kernel", "direct_copy", "to_copy", "convert", "memcpy", "memset", "fill")),
    ("sort / index / scatter", ("sort", "scatter", "gather", "index", "radix", "cub::", "topk", "cumsum")),
    ("foreach (other)", ("multi_tensor_apply",)),
    ("reductions", ("reduce", "norm")),
    ("elementwise", ("elementwise", "vectorized", "unrolled", "pointwise")),
]


def kernel_kind(name: str) -> str:
    n = name.lower()
    for kind, keys in KINDS:
        if any(k in n for k in keys):
            return kind
    return "other"


def profile_steps(step_fn, first, n, sync):
    """Device time per step by kernel kind and the top kernels, over n profiled steps."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    sync()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        t0 = time.perf_counter()
        for i in range(n):
            step_fn(first + i)
        sync()
        wall = (time.perf_counter() - t0) / n
    kinds, kernels = {}, {}
    for e in prof.events():
        # device-side copies of user annotations (e.g. "Optimizer.step#AdamW.step") span kernels: not kernels
        # (kernel names contain '#' too, in lambdas: match the annotation's form, not the character)
        if (
            e.device_type != DeviceType.CUDA
            or getattr(e, "is_user_annotation", False)
            or (e.name.split("#")[0].endswith(".step") or e.name.startswith("ProfilerStep"))
        ):
            continue
        us = e.time_range.elapsed_us()
        kinds[kernel_kind(e.name)] = kinds.get(kernel_kind(e.name), 0.0) + us
        kernels[e.name] = kernels.get(e.name, 0.0) + us
    per = lambda d: {k: round(v / n / 1000, 2) for k, v in sorted(d.items(), key=lambda kv: -kv[1])}  # noqa: E731
    top = dict(list(per(kernels).items())[:20])
    return {
        "wall_ms": round(wall * 1000, 1),
        "kernel_ms": round(sum(kinds.values()) / n / 1000, 1),
        "by_kind_ms": per(kinds),
        "top_kernels_ms": top,
    }


def _result(impl, layers, seq, mbs, plan, times_s, peak, extra=None):
    from moe_trainer.metrics import flops_per_token
    from moe_trainer.model_config import ModelConfig

    PEAK_FLOPS_BF16 = 989e12  # H100/H200 SXM dense bf16 (moe_trainer.metrics.PEAK_BF16_TFLOPS)

    cfg = ModelConfig.from_dict(_model_cfg(layers))
    step = sum(times_s) / len(times_s)
    tps = mbs * seq / step
    r = {
        "impl": impl,
        "layers": layers,
        "seq": seq,
        "mbs": mbs,
        "plan": plan,
        "ok": True,
        "unique_tokens_per_s_per_gpu": round(tps, 1),
        "mfu_pct": round(100 * tps * flops_per_token(cfg, seq) / PEAK_FLOPS_BF16, 2),
        "step_ms": round(1000 * step, 2),
        "peak_mem_gib": round(peak / GIB, 2),
    }
    r.update(extra or {})
    return r


def _failed(impl, layers, seq, mbs, plan, err):
    return {
        "impl": impl,
        "layers": layers,
        "seq": seq,
        "mbs": mbs,
        "plan": plan,
        "ok": False,
        "error": err[:300],
        "unique_tokens_per_s_per_gpu": None,
        "mfu_pct": None,
        "step_ms": None,
        "peak_mem_gib": None,
    }


def _emit(r):
    print("RESULT " + json.dumps(r), flush=True)


def _cap(torch, cap_gib):
    if cap_gib:
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, cap_gib * GIB / total))


def _timed(torch, step_fn, warmup, steps, sync_check=False):
    """Returns (per-step seconds, peak allocated bytes over the timed steps, sync-check verdict)."""
    for i in range(warmup):
        step_fn(i)
    torch.cuda.synchronize()
    verdict = None
    if sync_check:  # one whole step with CUDA's sync debug mode raising on any host synchronisation
        torch.cuda.set_sync_debug_mode("error")
        try:
            step_fn(warmup)
            verdict = "no host sync"
        except RuntimeError as e:
            verdict = "host sync: " + str(e).split("\n")[0][:160]
        finally:
            torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for i in range(steps):
        step_fn(warmup + 1 + i)
    b.record()
    torch.cuda.synchronize()
    return [a.elapsed_time(b) / 1000 / steps] * steps, torch.cuda.max_memory_allocated(), verdict


def row_ours(a):
    sys.path.insert(0, a.trainer_root or TRAINER)
    from moe_trainer import train as T
    from moe_trainer.data import BatchSource
    from moe_trainer.parallel.mesh import build_meshes
    from moe_trainer.plan import parse_plan

    T.configure_cuda_allocator()
    import torch

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(29500 + os.getpid() % 1000))
    os.environ.setdefault("RANK", "0")
    os.environ.setdefault("WORLD_SIZE", "1")
    plan_name = a.label or f"ac={a.ac}"
    ac = {"true": True, "false": False}.get(a.ac, a.ac)
    try:
        _cap(torch, a.cap_gib)
        plan = parse_plan(plan_doc(a.layers, a.seq, a.mbs, ac, a.warmup + a.steps + 8, a.accum))
        device = T.init_distributed(0, 0, 1)
        meshes = build_meshes(plan.parallelism, device.type)
        built = T.build_model(plan, meshes, device)
        model = getattr(built, "model", built)  # older revisions returned the model itself
        new_api = hasattr(T, "build_optimizer")
        opts = [T.build_optimizer(built, plan)] if new_api else T.build_optimizers(model, plan, device)
        t = plan.training
        data = BatchSource(
            t.dataset, plan.model.vocab_size, t.seq_length, t.micro_batch_size, t.gradient_accumulation, 1, t.seed
        )
        losses = []

        def step(i):
            stats = T.forward_backward(model, meshes, data, i, t.gradient_accumulation, device)
            stats = stats[0] if isinstance(stats, tuple) else stats
            T.clip_grad_norm(model, 1.0, 1, opts[0] if new_api else opts)
            for o in opts:
                o.step()
                o.zero_grad(set_to_none=True)
            losses.append(stats[0])

        times, peak, verdict = _timed(torch, step, a.warmup, a.steps, sync_check=a.sync_check)
        extra = {
            "loss_first": round(losses[0].item(), 4),
            "loss_last": round(losses[-1].item(), 4),
            "peak_mem_all_gib": round(torch.cuda.max_memory_allocated() / GIB, 2),
            "reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 2),
            "cap_gib": a.cap_gib,
            "accum": a.accum,
            "env": {k: v for k, v in os.environ.items() if k.startswith("MOE_")},
        }
        if verdict:
            extra["sync_check"] = verdict
        if a.profile:
            extra["profile"] = profile_steps(step, a.warmup + a.steps + 2, 2, torch.cuda.synchronize)
        if a.memory_peak:
            extra["memory_peak"] = memory_peak(torch, lambda: step(a.warmup + a.steps + 4))
        r = _result("ours", a.layers, a.seq, a.mbs * a.accum, plan_name, times, peak, extra)
    except torch.OutOfMemoryError as e:
        r = _failed("ours", a.layers, a.seq, a.mbs * a.accum, plan_name, "OOM: " + str(e).split("\n")[0])
        r["peak_mem_gib"] = round(torch.cuda.max_memory_allocated() / GIB, 2)
        r["cap_gib"] = a.cap_gib
    _emit(r)


def memory_peak(torch, run_step, top=14):
    """One step under the allocator's history: replays its allocations to the moment of the peak and sums the
    blocks live then by where they were allocated (the innermost trainer frame and the innermost frame), so an
    estimate can be checked term by term (MemoryEstimator's class comment)."""
    torch.cuda.synchronize()
    torch.cuda.memory._record_memory_history(stacks="python", max_entries=2_000_000)
    run_step()
    torch.cuda.synchronize()
    snap = torch.cuda.memory._snapshot()
    torch.cuda.memory._record_memory_history(enabled=None)
    base = sum(b["size"] for seg in snap["segments"] for b in seg["blocks"] if b["state"] == "active_allocated")
    events = [e for e in snap["device_traces"][0] if e["action"] in ("alloc", "free_completed")]
    # blocks live before the step (weights, optimizer state) are those not allocated in it
    live, peak_live, cur, peak = {}, {}, 0, 0
    for e in events:
        if e["action"] == "alloc":
            live[e["addr"]] = e
            cur += e["size"]
            if cur > peak:
                peak, peak_live = cur, dict(live)
        elif e["addr"] in live:
            cur -= live.pop(e["addr"])["size"]

    def where(e):
        frames = e.get("frames") or []
        ours = next((f for f in frames if "moe_trainer" in f["filename"]), None)
        inner = frames[0] if frames else {"name": "?", "filename": "?", "line": 0}
        label = f"{os.path.basename(inner['filename'])}:{inner['name']}"
        return label + (f" <- {os.path.basename(ours['filename'])}:{ours['line']} {ours['name']}" if ours else "")

    sums = {}
    for e in peak_live.values():
        sums[where(e)] = sums.get(where(e), 0) + e["size"]
    rows = sorted(sums.items(), key=lambda kv: -kv[1])[:top]
    print(f"memory peak of the step: {peak / GIB:.2f} GiB above the blocks live before it; at the end {base / GIB:.2f}")
    for k, v in rows:
        print(f"  {v / GIB:8.2f} GiB  {k}")
    return {"step_peak_gib": round(peak / GIB, 2), "top": [[k, round(v / GIB, 3)] for k, v in rows]}


def row_hf(a):
    sys.path.insert(0, TRAINER)
    import torch
    from moe_trainer.data import BatchSource
    from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM

    impl = "hf-transformers-compiled" if a.compiled else "hf-transformers"
    cfg_d = {k: v for k, v in _model_cfg(a.layers).items() if k != "model_type"}
    cfg_d["max_position_embeddings"] = max(cfg_d.get("max_position_embeddings", 0), a.seq)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen3MoeForCausalLM(Qwen3MoeConfig(**cfg_d))
    with torch.no_grad():  # as tests/gpu/make_hf_checkpoint.py: N(0, 0.02), norms 1
        for n, p in model.named_parameters():
            p.fill_(1.0) if "norm" in n else p.normal_(0, 0.02)
    model.to(torch.bfloat16).train()
    model.config.use_cache = False
    if a.grad_ckpt:  # transformers' own activation checkpointing (each decoder layer recomputed)
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if a.compiled:
        import torch._dynamo

        torch._dynamo.config.automatic_dynamic_shapes = False  # a static graph per micro-batch, as for ours
        torch._dynamo.config.cache_size_limit = 64
        for layer in model.model.layers:
            layer.compile()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, fused=True)
    experts_impl = getattr(model.config, "_experts_implementation", None) or getattr(
        model.config, "experts_implementation", None
    )
    for mbs in a.mbs_list:
        plan = (
            f"bf16, fused AdamW{', per-layer compile' if a.compiled else ''}"
            f"{', gradient checkpointing' if a.grad_ckpt else ''}"
        )
        data = BatchSource({"type": "synthetic"}, cfg_d["vocab_size"], a.seq, mbs, 1, 1, 1)
        losses = []

        def step(i):
            x, _ = data.batch(i, 0, 0, "cuda")  # noqa: B023
            out = model(input_ids=x, labels=x, output_router_logits=True)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(out.loss.detach())  # noqa: B023

        try:
            times, peak, _ = _timed(torch, step, a.warmup, a.steps)
            r = _result(
                impl,
                a.layers,
                a.seq,
                mbs,
                plan,
                times,
                peak,
                {
                    "loss_last": round(losses[-1].item(), 4),
                    "experts_implementation": str(experts_impl),
                    "attn_implementation": str(model.config._attn_implementation),
                },
            )
        except torch.OutOfMemoryError as e:
            r = _failed(impl, a.layers, a.seq, mbs, plan, "OOM: " + str(e).split("\n")[0])
            r["peak_mem_gib"] = round(torch.cuda.max_memory_allocated() / GIB, 2)
            opt.zero_grad(set_to_none=True)
            losses.clear()
            import gc

            gc.collect()
            torch.cuda.empty_cache()
        _emit(r)


# ---------------------------------------------------------------- the run (parent)
def _child(args, env=None, timeout=420):
    """Run one row process; returns its RESULT dicts (a crash or timeout becomes a failed row)."""
    cmd = [sys.executable, os.path.abspath(__file__)] + args
    e = dict(os.environ)
    e.update(
        {
            "PYTHONUNBUFFERED": "1",
            "NCCL_NVLS_ENABLE": "0",
            "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
            "NVSHMEM_DISABLE_NVLS": "1",
        }
    )
    e.update(env or {})
    log_dir = os.environ.get("OUT")
    t0 = time.time()
    try:
        p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as te:
        out, rc = (
            (te.stdout or b"").decode(errors="replace") if isinstance(te.stdout, bytes) else (te.stdout or ""),
            124,
        )
    if log_dir:
        with open(os.path.join(log_dir, "rows.log"), "a") as f:
            f.write(f"\n===== {' '.join(args)} env={env} rc={rc} {time.time() - t0:.0f}s\n{out[-20000:]}\n")
    rows = [json.loads(l[len("RESULT ") :]) for l in out.splitlines() if l.startswith("RESULT ")]
    if not rows:
        tail = [l for l in out.splitlines() if l.strip()][-3:]
        rows = [{"ok": False, "error": f"rc={rc}: " + " | ".join(tail)[-300:], "args": args}]
    for r in rows:
        r["wall_s"] = round(time.time() - t0)
    return rows


def _ours_args(layers, seq, p, steps, warmup, cap=None, extra=()):
    a = [
        "row",
        "ours",
        "--layers",
        str(layers),
        "--seq",
        str(seq),
        "--mbs",
        str(p["mbs"]),
        "--ac",
        p["ac"],
        "--steps",
        str(steps),
        "--warmup",
        str(warmup),
        "--label",
        p.get("label") or f"mbs {p['mbs']}, ac={p['ac']}",
    ]
    if p.get("accum", 1) > 1:
        a += ["--accum", str(p["accum"])]
    if cap:
        a += ["--cap-gib", str(cap)]
    return a + list(extra)


def load_plans():
    path = os.path.join(HERE, "one_gpu_plans.json")
    with open(path) as f:
        return json.load(f)


def card_name() -> str:
    """From nvidia-smi: the parent process never initialises CUDA (its context would take GPU memory from
    every row)."""
    try:
        out = (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
            )
            .stdout.strip()
            .splitlines()
        )
        return out[0] if out else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run(a):
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    card = card_name()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = "python3 trainer-image/bench/bench_one_gpu.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    plans = load_plans()
    rows = []
    for shape in a.shapes.split(","):
        layers, seq = SHAPES[shape]
        for compiled in (False, True):
            hf = [
                "row",
                "hf",
                "--layers",
                str(layers),
                "--seq",
                str(seq),
                "--mbs-list",
                "1,2,4",
                "--steps",
                str(a.steps),
                "--warmup",
                str(a.warmup),
            ] + (["--compiled"] if compiled else [])
            rows += _child(hf)
        for budget, cap in (("gpu", None), ("80GiB", H100_USABLE_GIB), ("80GiB_rejected", H100_USABLE_GIB)):
            cands = plans.get(shape, {}).get(budget, [])
            if not cands and budget != "80GiB_rejected":
                rows.append(
                    {
                        "impl": "ours",
                        "layers": layers,
                        "seq": seq,
                        "mbs": None,
                        "ok": False,
                        "plan": f"best plan for {budget}",
                        "budget": budget,
                        "error": plans.get(shape, {}).get(budget + "_note", "no plan fits this budget"),
                    }
                )
            for p in cands[: a.candidates]:
                p = dict(
                    p,
                    label=f"mbs {p['mbs']}, ac={p['ac']}"
                    + (" (estimate: does not fit)" if budget == "80GiB_rejected" else ""),
                )
                for r in _child(
                    _ours_args(
                        layers, seq, p, a.steps, a.warmup, cap, ["--sync-check", "--profile"] if budget == "gpu" else []
                    )
                ):
                    r.update(budget="80 GiB (H100)" if cap else card, estimate_key=p.get("key"))
                    rows.append(r)
    for r in rows:
        r.update(run_id=run_id, date=date, card=card, gpus=1, command=command)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "results.jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    print_table(rows)


def ladder(a):
    """One change at a time at 8 layers, seq 4096 (rows of bench/results.md's "predicted vs measured")."""
    layers, seq = SHAPES["8x4096"]
    rungs = [
        (
            "before (037bc79): fp32 params under autocast, full AC",
            dict(mbs=1, ac="true"),
            {},
            ["--trainer-root", a.before] if a.before else None,
        ),
        (
            "bf16 weights + fp32 masters, one-pass AdamW, chunked CE, fused norm, GQA SDPA; eager, full AC",
            dict(mbs=1, ac="full"),
            {"MOE_COMPILE": "0"},
            [],
        ),
        ("+ activation checkpointing none", dict(mbs=1, ac="none"), {"MOE_COMPILE": "0"}, []),
        ("+ per-layer torch.compile", dict(mbs=1, ac="none"), {}, []),
        ("+ micro-batch 4", dict(mbs=4, ac="none"), {}, []),
        ("micro-batch 4, selective AC", dict(mbs=4, ac="selective"), {}, []),
        ("micro-batch 4, full AC", dict(mbs=4, ac="full"), {}, []),
        ("+ micro-batch 8", dict(mbs=8, ac="none"), {}, []),
        ("micro-batch 16, selective AC (none does not fit)", dict(mbs=16, ac="selective"), {}, []),
    ]
    only = set(a.rungs.split(",")) if a.rungs else None
    rows = []
    for i, (label, p, env, extra) in enumerate(rungs):
        if extra is None or (only and str(i) not in only):
            continue
        p = dict(p, label=label)
        prof = ["--profile"] if i in (0, 3, 8) else []  # before / after at micro-batch 1, and the largest
        for r in _child(_ours_args(layers, seq, p, a.steps, a.warmup, None, extra + prof + ["--sync-check"]), env=env):
            r["rung"] = i
            rows.append(r)
        print_table(rows[-1:], header=not rows[:-1])
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "ladder.jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    print("\nLADDER")
    print_table(rows)


#: ours at one sequence per step: the activation setting the plan engine picks on an H200 (the fastest whose
#: estimate fits 140 GiB): none to 32k, selective to 96k, full beyond
LONGCTX_OURS = [
    (16384, "none"),
    (32768, "none"),
    (65536, "selective"),
    (98304, "selective"),
    (131072, "full"),
    (163840, "full"),
    (196608, "full"),
    (262144, "full"),
]
LONGCTX_HF = [16384, 32768, 65536, 98304, 131072, 196608, 262144]


def _longctx_lengths(default, seqs, ac):
    """The (length, activation setting) rungs: the default ladder, or --seqs (a length off the ladder takes the
    setting of the next longer rung), each with --ours-ac when given."""
    if not seqs:
        return [(seq, ac or d) for seq, d in default]
    longer = lambda seq: next((d for s, d in default if s >= seq), default[-1][1])  # noqa: E731
    return [(seq, ac or longer(seq)) for seq in seqs]


def longctx(a):
    """8 layers at Qwen3-30B-A3B width, one sequence per step: throughput at 16k / 32k / 64k and the longest
    sequence each stack trains, going up the lengths until the first out-of-memory (HF transformers with its
    gradient checkpointing, its setting for the longest sequences; ours with the setting of LONGCTX_OURS).
    --budget-s stops starting rows once spent (a lent GPU's time is short); rows appended to --out."""
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    card, date = card_name(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = "python3 trainer-image/bench/bench_one_gpu.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    t0, rows = time.time(), []
    layers = 8

    def left():
        return a.budget_s - (time.time() - t0)

    ladders = {}
    if "ours" in a.impls:
        ladders["ours"] = [
            (
                seq,
                [
                    "row",
                    "ours",
                    "--layers",
                    str(layers),
                    "--seq",
                    str(seq),
                    "--mbs",
                    "1",
                    "--ac",
                    ac,
                    "--steps",
                    str(a.steps),
                    "--warmup",
                    str(a.warmup),
                    "--label",
                    f"mbs 1, ac={ac}",
                ],
            )
            for seq, ac in _longctx_lengths(LONGCTX_OURS, a.seqs, a.ours_ac)
        ]
    if "hf" in a.impls:
        ladders["hf"] = [
            (
                seq,
                [
                    "row",
                    "hf",
                    "--layers",
                    str(layers),
                    "--seq",
                    str(seq),
                    "--mbs-list",
                    "1",
                    "--steps",
                    str(a.steps),
                    "--warmup",
                    str(a.warmup),
                ]
                + (["--grad-ckpt"] if a.hf_ckpt == "on" else []),
            )
            for seq, _ in _longctx_lengths([(s, None) for s in LONGCTX_HF], a.seqs, None)
        ]
    # the stacks take turns, shortest sequences first, so a budget that runs out still leaves both measured at
    # the lengths they share; a stack's first failure ends its ladder (its longest is the row before)
    pos, stopped = {k: 0 for k in ladders}, set()
    while len(stopped) < len(ladders):
        for impl, ladder_rows in ladders.items():
            if impl in stopped:
                continue
            if pos[impl] >= len(ladder_rows):
                stopped.add(impl)
                continue
            seq, args = ladder_rows[pos[impl]]
            pos[impl] += 1
            if left() < 30:
                rows.append(
                    {
                        "impl": "hf-transformers" if impl == "hf" else impl,
                        "layers": layers,
                        "seq": seq,
                        "ok": False,
                        "error": "not run: budget spent",
                    }
                )
                stopped.add(impl)
                continue
            got = _child(args, timeout=int(max(30, min(300, left()))))
            for r in got:
                r.update(layers=layers, seq=seq, mode="longctx")
            rows += got
            print_table(got, header=len(rows) == len(got))
            if not all(r.get("ok") for r in got):
                stopped.add(impl)
    for impl in ("ours", "hf-transformers"):
        ok = [r["seq"] for r in rows if r.get("ok") and r.get("impl") == impl]
        print(f"LONGEST {impl}: {max(ok) if ok else 'none'}")
    for r in rows:
        r.update(run_id=run_id, date=date, card=card, gpus=1, command=command)
    with open(a.out, "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "longctx.jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    print("\nLONGCTX")
    print_table(rows)


def memory(a):
    """Peak memory of real training steps against the plan engine's estimate for the same plan
    (bench/memory_estimates.json from trainer-image/scripts/memory_estimates.sh). Keys name the plans:
    L<layers>-s<seq>-mbs<mbs>-<ac>[-cap80]; cap80 runs under the 79.2 GiB allocator cap."""
    with open(a.estimates) as f:
        est = json.load(f)
    keys = a.plans.split(",") if a.plans else list(est)
    rows = []
    for key in keys:  # in the order asked (a call may end before the last)
        e = est[key]
        p = {"mbs": e["mbs"], "ac": e["ac"], "label": key}
        cap = H100_USABLE_GIB if e.get("cap80") else None
        for r in _child(_ours_args(e["layers"], e["seq"], p, a.steps, a.warmup, cap)):
            r["key"] = key
            rows.append(r)
        print_memory(rows[-1:], est, header=len(rows) == 1)
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "memory.jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    print("\nMEMORY")
    print_memory(rows, est)


def print_memory(rows, est, header=True):
    if header:
        print(
            f"\n{'plan':<24} {'est alloc':>9} {'measured':>9} {'ratio':>6} {'est total':>9} {'fits(est)':>9} "
            f"{'ran':>5} {'step ms':>8} {'MFU%':>6}"
        )
    for r in rows:
        e = est.get(r.get("key"), {})
        ea = e.get("allocatedBytes", 0) / GIB
        meas = r.get("peak_mem_all_gib") if r.get("ok") else r.get("peak_mem_gib")
        ratio = f"{ea / meas:.2f}" if r.get("ok") and meas else "-"
        print(
            f"{r.get('key', '?'):<24} {ea:>9.1f} {meas if meas is not None else float('nan'):>9.1f} {ratio:>6} "
            f"{e.get('totalBytes', 0) / GIB:>9.1f} {str(e.get('fits', '-')):>9} {'yes' if r.get('ok') else 'OOM':>5} "
            f"{r.get('step_ms') or float('nan'):>8.1f} {r.get('mfu_pct') or float('nan'):>6.1f}"
        )
    sys.stdout.flush()


def print_table(rows, header=True):
    if header:
        print(
            f"\n{'impl':<25} {'L':>2} {'seq':>6} {'mbs':>4} {'plan':<44} {'step ms':>8} {'tok/s/GPU':>10} "
            f"{'MFU%':>6} {'peak GiB':>8}  note"
        )
    for r in rows:
        if r.get("ok"):
            note = r.get("sync_check", "") + (f" cap {r['cap_gib']}" if r.get("cap_gib") else "")
            print(
                f"{r['impl']:<25} {r['layers']:>2} {r['seq']:>6} {r['mbs']:>4} {str(r['plan'])[:44]:<44} "
                f"{r['step_ms']:>8.1f} {r['unique_tokens_per_s_per_gpu']:>10,.0f} {r['mfu_pct']:>6.1f} "
                f"{r['peak_mem_gib']:>8.1f}  {note}"
            )
        else:
            print(
                f"{r.get('impl', '?'):<25} {r.get('layers', '') or '':>2} {r.get('seq', '') or '':>6} "
                f"{r.get('mbs') or '':>4} {str(r.get('plan', ''))[:44]:<44} {'-':>8} {'-':>10} {'-':>6} "
                f"{r.get('peak_mem_gib') or '-':>8}  {r.get('error', '')[:90]}"
            )
        for k, v in (r.get("profile") or {}).get("by_kind_ms", {}).items():
            print(f"      {k:<32} {v:>8.1f} ms")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", nargs="?", default="run", choices=["run", "ladder", "memory", "table", "row", "longctx"])
    ap.add_argument("what", nargs="?", help="row: ours|hf; table: FILE")
    ap.add_argument("--shapes", default="8x4096,4x16384")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results.jsonl"))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument(
        "--candidates",
        type=int,
        default=1,
        help="plans of ours per budget, in one_gpu_plans.json order (1 keeps both shapes inside 10 min)",
    )
    ap.add_argument("--before", default=None, help="ladder: a copy of trainer-image at 037bc79")
    ap.add_argument("--rungs", default=None, help="ladder: comma-separated rung numbers to run")
    ap.add_argument("--estimates", default=os.path.join(HERE, "memory_estimates.json"))
    ap.add_argument("--plans", default=None, help="memory: comma-separated keys of --estimates to run")
    # row options
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--mbs", type=int, default=1)
    ap.add_argument("--accum", type=int, default=1)
    ap.add_argument("--mbs-list", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4])
    ap.add_argument("--ac", default="none")
    ap.add_argument("--label", default=None)
    ap.add_argument("--cap-gib", type=float, default=None)
    ap.add_argument("--compiled", action="store_true")
    ap.add_argument("--grad-ckpt", action="store_true", help="row hf: transformers' gradient checkpointing")
    ap.add_argument("--budget-s", type=float, default=420, help="longctx: stop starting rows after this long")
    ap.add_argument("--impls", default="ours,hf", help="longctx: which stacks")
    ap.add_argument(
        "--seqs",
        type=lambda s: [int(x) for x in s.split(",")],
        default=None,
        help="longctx: only these lengths (a second call can go on where a spent budget stopped)",
    )
    ap.add_argument("--ours-ac", default=None, help="longctx: this activation setting for ours at every length")
    ap.add_argument(
        "--hf-ckpt", default="on", choices=["on", "off"], help="longctx: HF with or without gradient checkpointing"
    )
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--memory-peak", action="store_true", help="row ours: what is live at the step's memory peak")
    ap.add_argument("--sync-check", action="store_true")
    ap.add_argument("--trainer-root", default=None)
    a = ap.parse_args()
    if a.mode == "row":
        row_ours(a) if a.what == "ours" else row_hf(a)
    elif a.mode == "table":
        print_table([json.loads(l) for l in open(a.what) if l.strip()])
    elif a.mode == "ladder":
        ladder(a)
    elif a.mode == "memory":
        memory(a)
    elif a.mode == "longctx":
        longctx(a)
    else:
        run(a)


if __name__ == "__main__":
    main()
