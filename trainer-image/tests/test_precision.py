"""Precision pieces on CPU: AdamW over float32 masters (against torch.optim.AdamW), bf16 working weights,
float32 gradient accumulation, the chunked lm_head + cross-entropy, and the permutation glue."""

import copy

import pytest
import torch
import torch.nn.functional as F
from moe_trainer.kernels import IGNORE_INDEX, adamw_reference, linear_cross_entropy
from moe_trainer.model import Routing
from moe_trainer.optim import AdamW, Fp32GradAccumulation, grad_of, split_master_weights
from moe_trainer.train import clip_grad_norm


def _pair(seed=0):
    torch.manual_seed(seed)
    a = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.LayerNorm(32), torch.nn.Linear(32, 8))
    return a, copy.deepcopy(a)


def _groups(m, wd=0.1):
    return [
        {"params": [p for p in m.parameters() if p.dim() >= 2], "weight_decay": wd},
        {"params": [p for p in m.parameters() if p.dim() < 2], "weight_decay": 0.0},
    ]


def test_adamw_with_device_clip_factor_matches_torch_adamw_after_explicit_clipping():
    ours, ref = _pair()
    opt = AdamW(_groups(ours), {}, lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    topt = torch.optim.AdamW(_groups(ref), lr=1e-2, betas=(0.9, 0.95), eps=1e-8, foreach=False)
    for step in range(5):  # noqa: B007
        x = torch.randn(4, 16)
        for m in (ours, ref):
            (m(x).pow(2).sum() * 100).backward()
        n_ours = clip_grad_norm(ours, 1.0, 1, opt)
        n_ref = torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0, foreach=False)
        assert n_ours.item() > 1.0 and abs(n_ours.item() - n_ref.item()) < 1e-4 * n_ref.item()
        assert opt.clip_factor is not None  # the gradients themselves were not touched
        opt.step()
        topt.step()
        opt.zero_grad()
        topt.zero_grad()
    for a, b in zip(ours.parameters(), ref.parameters()):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7), (a - b).abs().max()


def test_bf16_working_weights_follow_float32_masters():
    """Masters take the float32 trajectory of AdamW fed the (bf16) gradients; the bf16 parameter is always
    the master rounded to bf16; the original float32 values are the masters' start, not their bf16 rounding."""
    ours, ref = _pair(1)
    start = {n: p.detach().clone() for n, p in ours.named_parameters()}
    masters = split_master_weights(ours, torch.bfloat16, keep=set())
    assert all(p.dtype == torch.bfloat16 for p in ours.parameters())
    assert all(torch.equal(m, start[n]) for (n, p), m in zip(ours.named_parameters(), masters.values()))
    opt = AdamW(_groups(ours), masters, lr=1e-2)
    topt = torch.optim.AdamW(_groups(ref), lr=1e-2, betas=(0.9, 0.95), eps=1e-8, foreach=False)
    for _ in range(3):
        x = torch.randn(4, 16)
        ours(x.bfloat16()).float().pow(2).sum().backward()
        for p, q in zip(ours.parameters(), ref.parameters()):
            assert p.grad.dtype == torch.bfloat16
            q.grad = p.grad.float()  # the reference consumes exactly the bf16 gradient
        opt.step()
        topt.step()
        opt.zero_grad()
    for p, q in zip(ours.parameters(), ref.parameters()):
        master = opt.state[p]["master"]
        assert master.dtype == torch.float32 and torch.allclose(master, q, rtol=1e-6, atol=1e-7)
        assert torch.equal(p, master.to(torch.bfloat16))
    assert [n for n, _ in opt.fp32_named_parameters(ours)] == [n for n, _ in ours.named_parameters()]
    assert all(t.dtype == torch.float32 for t in opt.fp32_state(ours)["model"].values())


def test_gradient_accumulation_is_float32_for_bf16_parameters():
    lin = torch.nn.Linear(8, 4, bias=False)
    split_master_weights(lin, torch.bfloat16, keep=set())
    acc = Fp32GradAccumulation(list(lin.parameters()))
    xs = [torch.randn(3, 8, dtype=torch.bfloat16) for _ in range(3)]
    want = torch.zeros(4, 8)
    for x in xs:
        lin(x).sum().backward()
        assert lin.weight.grad is None  # moved into the float32 buffer, the bf16 gradient freed
        want += torch.ones(3, 4, dtype=torch.bfloat16).t().mm(x).float()  # this micro-batch's bf16 gradient
    g = grad_of(lin.weight)
    assert g.dtype == torch.float32 and torch.equal(g, want)
    assert acc.handles


@pytest.mark.parametrize("n,chunk", [(37, 10), (64, 16), (20, 64)])
def test_chunked_linear_cross_entropy_equals_full_logits(n, chunk):
    torch.manual_seed(n)
    x = torch.randn(n, 24, requires_grad=True)
    w = torch.randn(50, 24, requires_grad=True)
    labels = torch.randint(0, 50, (n,))
    labels[::7] = IGNORE_INDEX
    loss = linear_cross_entropy(x, w, labels, chunk=chunk)
    (loss * 3).backward()
    x2, w2 = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
    ref = F.cross_entropy(x2 @ w2.t(), labels, ignore_index=IGNORE_INDEX)
    (ref * 3).backward()
    assert torch.allclose(loss, ref, rtol=1e-6)
    for got, want in ((x.grad, x2.grad), (w.grad, w2.grad)):  # float32 rounding of a different summation order
        assert ((got - want).norm() / want.norm()).item() < 1e-6
    with torch.no_grad():  # no gradient work when none is wanted
        assert torch.allclose(linear_cross_entropy(x, w, labels, chunk=chunk), ref)


def test_routing_gather_and_combine_are_each_others_adjoint():
    torch.manual_seed(0)
    T, k, H, E = 11, 3, 5, 4
    idx = torch.stack([torch.randperm(E)[:k] for _ in range(T)])
    r = Routing(idx)
    assert torch.equal(idx.reshape(-1)[r.order], idx.reshape(-1).sort(stable=True).values)
    x = torch.randn(T, H, requires_grad=True)
    rows = r.gather(x)
    assert torch.equal(rows, x.repeat_interleave(k, 0)[r.order])
    y = torch.randn(T * k, H, requires_grad=True)
    out = r.combine(y)
    assert torch.allclose(out, torch.empty_like(y).index_copy_(0, r.order, y).view(T, k, H).sum(1))
    g = torch.randn(T * k, H)
    (rows * g).sum().backward()
    assert torch.allclose(x.grad, torch.empty_like(g).index_copy_(0, r.order, g).view(T, k, H).sum(1))
    gy = torch.randn(T, H)
    (out * gy).sum().backward()
    assert torch.equal(y.grad, gy.repeat_interleave(k, 0)[r.order])


def test_adamw_reference_is_torch_single_tensor_adamw():
    torch.manual_seed(2)
    p = torch.randn(100)
    q = p.clone().requires_grad_()
    m, v = torch.zeros(100), torch.zeros(100)
    topt = torch.optim.AdamW([q], lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, foreach=False)
    for step in range(1, 4):
        g = torch.randn(100)
        adamw_reference(p, g, None, m, v, None, lr=3e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, step=step)
        q.grad = g.clone()
        topt.step()
    assert torch.equal(p, q.detach())


TRITON_ADAMW = r"""
import os, sys, torch
sys.path.insert(0, os.environ["ROOT"])
from moe_trainer.kernels import adamw_reference, adamw_step
torch.manual_seed(0)
n, out = 10001, []
for has_master in (True, False):
    w = torch.randn(n)
    m, v, rm, rv, rw = torch.zeros(n), torch.zeros(n), torch.zeros(n), torch.zeros(n), w.clone()
    master = w.clone() if has_master else None
    param = w.to(torch.bfloat16) if has_master else w.clone()
    scale = torch.tensor(0.37)
    for step in range(1, 4):
        g = torch.randn(n, dtype=torch.bfloat16 if has_master else torch.float32)
        kw = dict(lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, step=step)
        adamw_step(param, g, master, m, v, scale, fused=True, **kw)
        adamw_reference(rw, g, None, rm, rv, scale, **kw)
    got = master if has_master else param
    out.append(max(((a - b).norm() / b.norm()).item() for a, b in ((got, rw), (m, rm), (v, rv))))
print("REL", *out)
"""


def test_triton_adamw_kernel_matches_the_reference_in_the_interpreter():
    """The one-pass kernel's arithmetic (Triton's CPU interpreter; on GPU tests/gpu/kernel_check.py also checks
    that the bf16 weights are the masters rounded to nearest, which the interpreter does not emulate)."""
    import os
    import subprocess
    import sys

    pytest.importorskip("triton")
    from conftest import ROOT

    r = subprocess.run(
        [sys.executable, "-c", TRITON_ADAMW],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TRITON_INTERPRET="1", ROOT=ROOT),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    rel = [float(x) for x in r.stdout.split("REL")[1].split()]
    assert all(e < 1e-6 for e in rel), rel
