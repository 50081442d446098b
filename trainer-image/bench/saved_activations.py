"""What a compiled decoder layer keeps for backward, per token, in each activation-checkpointing mode.

  python3 trainer-image/bench/saved_activations.py [--tokens 512] [--modes off,selective,full] [--eager]

Measured from the graphs Inductor's partitioner produces (the forward graph's outputs beyond the layer's own
are what backward reads): the layer is compiled exactly as the trainer compiles it (parallel/compile.py after
parallel/activation_checkpoint.py), at full Qwen3-30B-A3B width in bf16, with torch._grouped_mm as on GPU. It
runs on the CPU (the partitioner's choices do not depend on the device; only the attention op differs:
the CPU flash kernel keeps the same output and log-sum-exp as cuDNN). --eager counts what autograd saves
without compile (saved-tensor hooks; meaningful for "off" only). The bytes per token it prints are the
activation terms of plan-engine's MemoryEstimator (bench/results.md, "Memory").
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def _layer_model(tokens_per_seq: int):
    import torch
    from moe_trainer import model as M
    from moe_trainer.model_config import ModelConfig

    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "gpu"))
    from make_hf_checkpoint import SHAPES

    cfg = ModelConfig.from_dict(dict(SHAPES["bench"], num_hidden_layers=1, model_type="qwen3_moe"))

    def kernel_grouped_mm(x, w, counts):  # the GPU path of model.grouped_mm, on the CPU
        return torch._grouped_mm(x, w.to(x.dtype).transpose(-2, -1), offs=torch.cumsum(counts, 0, dtype=torch.int32))

    M.grouped_mm = kernel_grouped_mm
    torch.manual_seed(0)
    layer = M.DecoderLayer(cfg, 0)
    with torch.no_grad():
        for n, p in layer.named_parameters():
            p.copy_(torch.ones_like(p) if "norm" in n else torch.randn_like(p) * 0.02)
    layer = layer.to(torch.bfloat16)
    holder = torch.nn.Module()  # what apply_activation_checkpointing / apply_compile walk: model.model.layers
    holder.model = torch.nn.Module()
    holder.model.layers = torch.nn.ModuleList([layer])
    cos, sin = M.rope_cos_sin(tokens_per_seq, cfg.head_dim, cfg.rope_theta, "cpu", torch.bfloat16)
    return cfg, holder, layer, cos, sin


def _concrete(d) -> int:
    """A dimension as an int (a symbolic one, e.g. the rows an expert receives, by its traced value)."""
    try:
        return int(d)
    except (TypeError, ValueError):
        return int(d.node.hint)


def measure(mode: str, tokens: int, compiled: bool) -> dict:
    import torch
    import torch._inductor.compile_fx as cfx
    from moe_trainer.parallel.activation_checkpoint import apply_activation_checkpointing
    from moe_trainer.parallel.compile import apply_compile

    torch._dynamo.reset()
    torch._inductor.config.fx_graph_cache = False
    torch._functorch.config.enable_autograd_cache = False
    cfg, holder, layer, cos, sin = _layer_model(tokens)
    params = {(tuple(p.shape), p.dtype) for p in layer.parameters()}
    saved = []
    original = cfx.min_cut_rematerialization_partition

    def recording(joint, joint_inputs, compiler="inductor", *, num_fwd_outputs, **kw):
        fw, bw = original(joint, joint_inputs, compiler=compiler, num_fwd_outputs=num_fwd_outputs, **kw)
        out = next(n for n in fw.graph.nodes if n.op == "output").args[0]
        for n in out[num_fwd_outputs:]:
            v = n.meta.get("val") if hasattr(n, "meta") else None
            if isinstance(v, torch.Tensor):
                shape = [_concrete(d) for d in v.shape]
                is_param = n.op == "placeholder" and (tuple(shape), v.dtype) in params
                nbytes = 1
                for d in shape:
                    nbytes *= d
                saved.append(
                    {
                        "name": n.name,
                        "shape": shape,
                        "dtype": str(v.dtype).replace("torch.", ""),
                        "bytes": nbytes * v.element_size(),
                        "param": is_param,
                        "input": n.op == "placeholder",
                    }
                )
        return fw, bw

    cfx.min_cut_rematerialization_partition = recording
    try:
        apply_activation_checkpointing(holder, mode)
        if compiled:
            apply_compile(holder)
        x = (torch.randn(1, tokens, cfg.hidden_size) * 0.5).to(torch.bfloat16).requires_grad_()
        eager_saved = []
        if not compiled:

            def pack(t):
                eager_saved.append(t)
                return t

            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                y, _ = layer(x, cos, sin)
        else:
            y, _ = layer(x, cos, sin)
        (y.float() * torch.randn_like(y, dtype=torch.float32)).sum().backward()
    finally:
        cfx.min_cut_rematerialization_partition = original
    if not compiled:  # distinct storages, parameters excluded
        seen, total = set(), 0
        pids = {p.untyped_storage().data_ptr() for p in layer.parameters()}
        for t in eager_saved:
            s = t.untyped_storage()
            if s.data_ptr() in seen or s.data_ptr() in pids:
                continue
            seen.add(s.data_ptr())
            total += s.nbytes()
        return {"mode": mode, "compiled": False, "tokens": tokens, "bytes_per_token": total / tokens}
    acts = [s for s in saved if not s["param"]]
    return {
        "mode": mode,
        "compiled": True,
        "tokens": tokens,
        "bytes_per_token": sum(s["bytes"] for s in acts) / tokens,
        "saved": sorted(acts, key=lambda s: -s["bytes"]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--modes", default="off,selective,full")
    ap.add_argument("--eager", action="store_true")
    a = ap.parse_args()
    for mode in a.modes.split(","):
        r = measure(mode, a.tokens, not a.eager)
        print("SAVED " + json.dumps(r), flush=True)
        print(f"{mode:<10} {'compiled' if r['compiled'] else 'eager':<8} {r['bytes_per_token']:>10,.0f} B/token/layer")
        for s in r.get("saved", [])[:14]:
            print(
                f"    {s['name']:<28} {str(s['shape']):<22} {s['dtype']:<9} {s['bytes'] / a.tokens:>9,.0f} B/token"
                f"{'  (layer input)' if s['input'] else ''}"
            )


if __name__ == "__main__":
    main()
