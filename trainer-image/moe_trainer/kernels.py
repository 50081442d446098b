"""The fused pieces of the training step that are not plain PyTorch ops.

- linear_cross_entropy: lm_head + cross-entropy by chunks of tokens. The full [tokens × vocab] logits are
  never held, neither in float32 nor in bf16: each chunk's logits (working dtype), their log-sum-exp in
  float32, the chunk's loss and its gradient (softmax − one-hot) are computed in forward, and the two
  gradient GEMMs run per chunk (weight gradient accumulated in float32). Backward only scales by the
  incoming gradient. On CUDA the per-chunk softmax/gradient is one compiled (fused) function.
- prefer_fast_attention: SDPA backend order cuDNN > flash > efficient > math (cuDNN is about 2× faster
  than flash at seq 4096 on Hopper; GQA is native in both).
- adamw_step: one pass of AdamW over a parameter (Triton on CUDA): reads the gradient (bf16 or float32),
  the float32 master weights and moments, scales the gradient by the clip factor read from the device,
  writes master and moments and, when the parameter itself is bf16, its bf16 copy. A float32 reference in
  plain PyTorch ops runs elsewhere (CPU, or a GPU without Triton) and is what the kernel is checked against.
"""

from __future__ import annotations

import logging
import math
import os

import torch

log = logging.getLogger("moe_trainer.kernels")

IGNORE_INDEX = -100
#: tokens per lm_head/cross-entropy chunk: the chunk's logits and their gradient (2 × chunk × vocab in the
#: working dtype, 2.5 GB at 4,096 × 151,936 in bf16) are the transient memory of the loss.
CE_CHUNK_TOKENS = 4096


def compile_enabled(device: torch.device) -> bool:
    """torch.compile on CUDA unless MOE_COMPILE=0 (debugging); never on CPU (tests compare eager maths)."""
    return device.type == "cuda" and os.environ.get("MOE_COMPILE", "1") != "0"


# ---------------------------------------------------------------- lm_head + cross-entropy
def _ce_chunk(logits: torch.Tensor, labels: torch.Tensor):
    """Sum of the chunk's token losses (float32) and d(sum)/d(logits) = softmax − one-hot in the logits'
    dtype (zero rows for ignored labels). Everything between the two is float32."""
    lf = logits.float()
    lse = torch.logsumexp(lf, dim=-1, keepdim=True)
    valid = labels != IGNORE_INDEX
    target = torch.where(valid, labels, 0)
    picked = torch.gather(lf, 1, target[:, None])
    loss = ((lse - picked).squeeze(1) * valid).sum()
    onehot = torch.arange(lf.shape[1], device=lf.device)[None, :] == target[:, None]
    grad = (torch.exp(lf - lse) - onehot.to(lf.dtype)) * valid[:, None].to(lf.dtype)
    return loss, grad.to(logits.dtype)


_CE_COMPILED = None


def _ce_fn(device: torch.device):
    global _CE_COMPILED
    if not compile_enabled(device):
        return _ce_chunk
    if _CE_COMPILED is None:
        _CE_COMPILED = torch.compile(_ce_chunk, dynamic=False, fullgraph=True)
    return _CE_COMPILED


_MM_OUT_FP32 = None  # addmm with bf16 operands into a float32 accumulator (probed once on CUDA)


def _accumulate_wgrad(acc: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    """acc (float32) += a @ b. For bf16 operands cuBLAS accumulates into the float32 buffer directly
    (addmm with out_dtype) where this torch supports it, else the product is formed in float32 and added."""
    global _MM_OUT_FP32
    if a.dtype == acc.dtype:
        acc.addmm_(a, b)
        return
    if _MM_OUT_FP32 is None:
        try:
            x = torch.randn(8, 16, device=a.device, dtype=a.dtype)
            y = torch.randn(16, 8, device=a.device, dtype=a.dtype)
            c = torch.randn(8, 8, device=a.device)
            want = c + x.float() @ y.float()
            torch.addmm(c, x, y, out_dtype=torch.float32, out=c)  # in place, as used below
            _MM_OUT_FP32 = torch.allclose(c, want, atol=1e-2)
        except (RuntimeError, TypeError):
            _MM_OUT_FP32 = False
        log.info("lm_head weight gradient: %s", "addmm into float32" if _MM_OUT_FP32 else "mm in float32 + add")
    if _MM_OUT_FP32:
        torch.addmm(acc, a, b, out_dtype=torch.float32, out=acc)
    else:
        acc.add_(torch.mm(a, b, out_dtype=torch.float32) if a.is_cuda else (a @ b).float())


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, labels, chunk, want_grad, num_items):
        n = x.shape[0]
        n_valid = (
            (labels != IGNORE_INDEX).sum() if num_items is None else torch.as_tensor(num_items, device=x.device)
        ).clamp(min=1)
        loss = torch.zeros((), dtype=torch.float32, device=x.device)
        gx = torch.empty_like(x) if want_grad else None
        gw = torch.zeros(weight.shape, dtype=torch.float32, device=x.device) if want_grad else None
        ce = _ce_fn(x.device)
        for s in range(0, n, chunk):
            xc = x[s : s + chunk]
            chunk_loss, dlogits = ce(xc @ weight.t(), labels[s : s + chunk])
            loss += chunk_loss
            if want_grad:
                torch.mm(dlogits, weight, out=gx[s : s + chunk])
                _accumulate_wgrad(gw, dlogits.t(), xc)
            del dlogits
        ctx.save_for_backward(gx, gw, n_valid)
        ctx.weight_dtype = weight.dtype
        return loss / n_valid

    @staticmethod
    def backward(ctx, g):
        gx, gw, n_valid = ctx.saved_tensors
        scale = g.float() / n_valid
        return (gx * scale).to(gx.dtype), (gw * scale).to(ctx.weight_dtype), None, None, None, None


def linear_cross_entropy(
    x: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, chunk: int = CE_CHUNK_TOKENS, num_items=None
) -> torch.Tensor:
    """mean over non-ignored labels of cross_entropy(x @ weight.T, labels), x [N, H], weight [V, H].
    num_items: divide the sum by this count instead (a shard of a batch whose mean is over the whole batch)."""
    want_grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    n = x.shape[0]
    if n > chunk:  # equal chunks (one compiled shape) when the token count allows it
        parts = math.ceil(n / chunk)
        chunk = math.ceil(n / parts)
    return _LinearCrossEntropy.apply(x, weight, labels, chunk, want_grad, num_items)


# ---------------------------------------------------------------- attention
_SDPA_ORDER = None


def prefer_fast_attention() -> None:
    """Fastest SDPA backend first for the rest of the process (idempotent). On Hopper at seq 4096 cuDNN
    runs causal GQA attention ≈ 2× faster than flash (measured, bench/results.md)."""
    global _SDPA_ORDER
    if _SDPA_ORDER is not None or not torch.cuda.is_available():
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel

    order = [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    _SDPA_ORDER = sdpa_kernel(order, set_priority=True)
    _SDPA_ORDER.__enter__()  # kept for the life of the process


# ---------------------------------------------------------------- AdamW
def adamw_reference(
    param, grad, master, exp_avg, exp_avg_sq, scale, *, lr, beta1, beta2, eps, weight_decay, step: int
) -> None:
    """torch.optim.AdamW's single-tensor update in float32 (same operations, same order). master is the
    float32 copy when param is low precision, else None (param is its own master)."""
    w = param if master is None else master
    g = grad.float()
    if scale is not None:
        g = g * scale
    bc1, bc2 = 1 - beta1**step, 1 - beta2**step
    w.mul_(1 - lr * weight_decay)
    exp_avg.lerp_(g, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    denom = (exp_avg_sq.sqrt() / math.sqrt(bc2)).add_(eps)
    w.addcdiv_(exp_avg, denom, value=-lr / bc1)
    if master is not None:
        param.copy_(master)


_ADAMW_KERNEL = None


def _adamw_kernel():
    global _ADAMW_KERNEL
    if _ADAMW_KERNEL is None:
        try:
            import triton
            import triton.language as tl
        except ImportError:
            _ADAMW_KERNEL = False
            return False

        @triton.jit
        def adamw_kernel(
            param_ptr,
            grad_ptr,
            master_ptr,
            exp_avg_ptr,
            exp_avg_sq_ptr,
            scale_ptr,
            n,
            beta1,
            beta2,
            eps,
            decay,
            step_size,
            bc2_sqrt,
            HAS_MASTER: tl.constexpr,
            HAS_SCALE: tl.constexpr,
            BLOCK: tl.constexpr,
        ):
            offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
            mask = offs < n
            g = tl.load(grad_ptr + offs, mask=mask, other=0.0).to(tl.float32)
            if HAS_SCALE:
                g = g * tl.load(scale_ptr)
            if HAS_MASTER:
                w = tl.load(master_ptr + offs, mask=mask, other=0.0)
            else:
                w = tl.load(param_ptr + offs, mask=mask, other=0.0)
            m = tl.load(exp_avg_ptr + offs, mask=mask, other=0.0)
            v = tl.load(exp_avg_sq_ptr + offs, mask=mask, other=0.0)
            w = w * decay
            m = m + (1.0 - beta1) * (g - m)  # lerp, as torch
            v = v * beta2 + (1.0 - beta2) * g * g
            denom = tl.div_rn(tl.sqrt_rn(v), bc2_sqrt) + eps
            w = w - step_size * tl.div_rn(m, denom)
            tl.store(exp_avg_ptr + offs, m, mask=mask)
            tl.store(exp_avg_sq_ptr + offs, v, mask=mask)
            if HAS_MASTER:
                tl.store(master_ptr + offs, w, mask=mask)
                # round to nearest even, as torch's .to(bf16): a resumed run re-derives the bf16 weights from the
                # loaded masters with torch and must get the same bits
                tl.store(param_ptr + offs, w.to(param_ptr.dtype.element_ty, fp_downcast_rounding="rtne"), mask=mask)
            else:
                tl.store(param_ptr + offs, w, mask=mask)

        _ADAMW_KERNEL = (adamw_kernel, triton.cdiv)
    return _ADAMW_KERNEL


def fused_adamw_available(device: torch.device) -> bool:
    return device.type == "cuda" and os.environ.get("MOE_FUSED_ADAMW", "1") != "0" and bool(_adamw_kernel())


def adamw_step(
    param,
    grad,
    master,
    exp_avg,
    exp_avg_sq,
    scale,
    *,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    step: int,
    fused: bool | None = None,
) -> None:
    """One AdamW update of one (local) tensor; see the module docstring. fused=None: the Triton kernel where
    it can run (CUDA), else the reference."""
    if param.numel() == 0:
        return
    if not (fused_adamw_available(param.device) if fused is None else fused):
        adamw_reference(
            param,
            grad,
            master,
            exp_avg,
            exp_avg_sq,
            scale,
            lr=lr,
            beta1=beta1,
            beta2=beta2,
            eps=eps,
            weight_decay=weight_decay,
            step=step,
        )
        return
    kernel, cdiv = _adamw_kernel()
    block = 4096
    grad = grad if grad.is_contiguous() else grad.contiguous()
    n = param.numel()
    kernel[(cdiv(n, block),)](
        param,
        grad,
        master if master is not None else param,
        exp_avg,
        exp_avg_sq,
        scale if scale is not None else exp_avg,
        n,
        beta1,
        beta2,
        eps,
        1 - lr * weight_decay,
        lr / (1 - beta1**step),
        math.sqrt(1 - beta2**step),
        HAS_MASTER=master is not None,
        HAS_SCALE=scale is not None,
        BLOCK=block,
        num_warps=8,
    )
