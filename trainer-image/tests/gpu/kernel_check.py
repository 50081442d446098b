"""GPU checks of the fused pieces against float32 references (one process, one GPU). One CHECK line each;
exit 1 if any fails. Fresh random inputs per check; timings are informative only (CUDA events, medians).

  python3 tests/gpu/kernel_check.py
"""

import os
import statistics
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from moe_trainer import kernels  # noqa: E402
from moe_trainer.kernels import IGNORE_INDEX, adamw_reference, adamw_step, linear_cross_entropy  # noqa: E402

FAILED = []


def check(name, ok, detail):
    print(f"CHECK {name:<44} {'PASS' if ok else 'FAIL'}  {detail}", flush=True)
    if not ok:
        FAILED.append(name)


def rel(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm().clamp(min=1e-30)).item()


def bench(fn, n=10):
    for _ in range(3):
        fn()
    ts = []
    for _ in range(n):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        ts.append(a.elapsed_time(b))
    return statistics.median(ts)


def adamw():
    torch.manual_seed(1)
    n = 3_000_001  # not a multiple of the block
    for master_kind in ("bf16+master", "fp32"):
        ref_w = torch.randn(n, device="cuda")
        m, v = torch.zeros(n, device="cuda"), torch.zeros(n, device="cuda")
        rm, rv, rw = m.clone(), v.clone(), ref_w.clone()
        master = ref_w.clone() if master_kind != "fp32" else None
        param = ref_w.to(torch.bfloat16) if master is not None else ref_w.clone()
        scale = torch.tensor(0.37, device="cuda")
        for step in range(1, 4):
            g = torch.randn(n, device="cuda", dtype=torch.bfloat16 if master is not None else torch.float32)
            kw = dict(lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, step=step)
            adamw_step(param, g, master, m, v, scale, **kw)
            adamw_reference(rw, g, None, rm, rv, scale, **kw)
        w = master if master is not None else param
        ok = rel(w, rw) < 1e-6 and rel(m, rm) < 1e-6 and rel(v, rv) < 1e-6
        if master is not None:
            ok = ok and torch.equal(param, master.to(torch.bfloat16))
        check(
            f"adamw one-pass kernel ({master_kind})",
            ok and kernels.fused_adamw_available(param.device),
            f"master rel {rel(w, rw):.1e}, exp_avg {rel(m, rm):.1e}, exp_avg_sq {rel(v, rv):.1e}",
        )
    n = 400_000_000  # one expert tensor of a Qwen3-30B-A3B layer: bytes moved / time
    param, master = torch.randn(n, device="cuda", dtype=torch.bfloat16), torch.randn(n, device="cuda")
    m, v, g = (
        torch.zeros(n, device="cuda"),
        torch.zeros(n, device="cuda"),
        torch.randn(n, device="cuda", dtype=torch.bfloat16),
    )
    ms = bench(
        lambda: adamw_step(
            param, g, master, m, v, None, lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, step=3
        ),
        n=5,
    )
    print(f"INFO adamw kernel: 400M params in {ms:.2f} ms = {28 * n / ms / 1e9:.2f} TB/s (28 B/param)")
    param = master = m = v = g = None  # free the 4.8 GB before the next check (del would unbind the lambda's names)


def cross_entropy():
    torch.manual_seed(2)
    N, H, V = 16384, 2048, 151936
    x = (torch.randn(N, H, device="cuda") * 0.5).to(torch.bfloat16).requires_grad_()
    w = (torch.randn(V, H, device="cuda") * 0.02).to(torch.bfloat16).requires_grad_()
    labels = torch.randint(0, V, (N,), device="cuda")
    labels[::97] = IGNORE_INDEX
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    loss = linear_cross_entropy(x, w, labels)
    loss.backward()
    torch.cuda.synchronize()
    peak = (torch.cuda.max_memory_allocated() - base) / 2**30
    xr, wr = x.detach().float().requires_grad_(), w.detach().float().requires_grad_()
    ref = F.cross_entropy(xr @ wr.t(), labels, ignore_index=IGNORE_INDEX)
    ref.backward()
    ok = (
        abs(loss.item() - ref.item()) / ref.item() < 1e-3
        and rel(x.grad, xr.grad) < 2e-2
        and rel(w.grad, wr.grad) < 2e-2
    )
    check(
        "chunked lm_head + cross-entropy (bf16)",
        ok,
        f"loss {loss.item():.5f} vs fp32 {ref.item():.5f}; grad x {rel(x.grad, xr.grad):.1e}, W {rel(w.grad, wr.grad):.1e}; "  # noqa: E501
        f"extra peak {peak:.2f} GiB (fp32 logits alone would be {N * V * 4 / 2**30:.1f})",
    )
    del xr, wr, ref

    def chunked():
        x.grad = w.grad = None
        linear_cross_entropy(x, w, labels).backward()

    def full():
        x.grad = w.grad = None
        F.cross_entropy((x @ w.t()).float(), labels, ignore_index=IGNORE_INDEX).backward()

    print(
        f"INFO lm_head+CE at {N} tokens: chunked {bench(chunked, 5):.1f} ms, full fp32 logits {bench(full, 5):.1f} ms"
    )


def attention():
    from torch.nn.attention import SDPBackend, sdpa_kernel

    torch.manual_seed(3)
    q = torch.randn(4, 32, 4096, 128, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(4, 4, 4096, 128, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(4, 4, 4096, 128, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    times = {}
    for name, b in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION)):
        try:
            with sdpa_kernel([b]):

                def f():
                    q.grad = k.grad = v.grad = None
                    F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True).sum().backward()

                times[name] = bench(f, 5)
        except RuntimeError as e:
            times[name] = str(e).split("\n")[0][:80]
    kernels.prefer_fast_attention()
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True).sum().backward()
        torch.cuda.synchronize()
    names = " ".join(e.key for e in prof.key_averages()).lower()
    check("SDPA GQA-native, cuDNN chosen first", "cudnn" in names, f"fwd+bwd 4×4096: {times}")


def context_attention():
    """Context parallelism's block attention (parallel/context.py): a query chunk against its causal key prefix
    as a full block + a causal diagonal block merged by log-sum-exp, bf16 on the flash kernels, against masked
    SDPA in float32 (forward and every gradient), at 4 chunks of 2,048 tokens, 32 query / 4 KV heads."""
    from moe_trainer.parallel.context import prefix_attention

    torch.manual_seed(5)
    L, B, H, Hk, D = 2048, 1, 32, 4, 128
    worst = 0.0
    for c in range(4):
        P = (c + 1) * L
        q = torch.randn(B, H, L, D, device="cuda")
        k, v = torch.randn(B, Hk, P, D, device="cuda"), torch.randn(B, Hk, P, D, device="cuda")
        g = torch.randn(B, H, L, D, device="cuda")
        mask = torch.ones(L, P, dtype=torch.bool, device="cuda").tril(P - L)
        ins = [t.clone().requires_grad_() for t in (q, k, v)]
        ref = F.scaled_dot_product_attention(*ins, attn_mask=mask, enable_gqa=True)
        want = [ref] + list(torch.autograd.grad(ref, ins, g))
        ins = [t.bfloat16().requires_grad_() for t in (q, k, v)]
        out = prefix_attention(*ins, c * L)
        got = [out] + list(torch.autograd.grad(out, ins, g.bfloat16()))
        worst = max(worst, max(rel(a, b) for a, b in zip(got, want)))
    t = bench(lambda: prefix_attention(*ins, 3 * L).sum().backward(), 5)
    check(
        "context-parallel prefix attention (bf16 blocks)",
        worst < 2e-2,
        f"worst rel err over out/dq/dk/dv and 4 chunk offsets {worst:.1e}; fwd+bwd last chunk {t}",
    )


def grouped_mm():
    from moe_trainer.model import grouped_mm

    torch.manual_seed(4)
    x = torch.randn(1000, 256, device="cuda")
    w = torch.randn(7, 384, 256, device="cuda") / 16
    counts = torch.tensor([0, 133, 1, 0, 500, 301, 65], device="cuda")
    y = grouped_mm(x.bfloat16(), w.bfloat16(), counts).float()
    ref = torch.cat([xs @ w[g].t() for g, xs in enumerate(torch.split(x, counts.tolist())) if xs.shape[0]])
    check("torch._grouped_mm (bf16) vs float32 loop", rel(y, ref) < 1e-2, f"rel {rel(y, ref):.1e}")


if __name__ == "__main__":
    print(torch.cuda.get_device_name(0), torch.__version__, "cuda", torch.version.cuda)
    for fn in (adamw, cross_entropy, attention, context_attention, grouped_mm):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - report and go on: one broken piece must not hide the others
            check(fn.__name__, False, f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
        torch.cuda.empty_cache()
    print("KERNEL CHECKS:", "all PASS" if not FAILED else f"FAILED {FAILED}")
    sys.exit(1 if FAILED else 0)
