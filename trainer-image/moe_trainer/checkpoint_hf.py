"""Hugging Face safetensors checkpoints (single file or sharded with model.safetensors.index.json).

On disk experts are per-expert (``mlp.experts.{j}.gate_proj.weight`` [I, H], ``up_proj`` [I, H],
``down_proj`` [H, I]), as transformers' save_pretrained writes them; in memory they are stacked
(``mlp.experts.gate_up_proj`` [E, 2I, H], ``mlp.experts.down_proj`` [E, H, I]).
Loading reads only the slice each rank owns (its experts, its tensor-parallel shard).
"""

from __future__ import annotations

import json
import os
import re

import torch

from .exitcodes import ConfigError
from .model_config import ModelConfig

_EXPERT_RE = re.compile(r"^(model\.layers\.\d+\.mlp\.experts)\.(gate_up_proj|down_proj)$")


def expected_disk_shapes(cfg: ModelConfig) -> dict[str, tuple]:
    h, d, I, E = cfg.hidden_size, cfg.head_dim, cfg.moe_intermediate_size, cfg.num_experts
    s = {
        "model.embed_tokens.weight": (cfg.vocab_size, h),
        "model.norm.weight": (h,),
        "lm_head.weight": (cfg.vocab_size, h),
    }
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        s[p + "input_layernorm.weight"] = (h,)
        s[p + "post_attention_layernorm.weight"] = (h,)
        s[p + "self_attn.q_proj.weight"] = (cfg.num_attention_heads * d, h)
        s[p + "self_attn.k_proj.weight"] = (cfg.num_key_value_heads * d, h)
        s[p + "self_attn.v_proj.weight"] = (cfg.num_key_value_heads * d, h)
        s[p + "self_attn.o_proj.weight"] = (h, cfg.num_attention_heads * d)
        s[p + "self_attn.q_norm.weight"] = (d,)
        s[p + "self_attn.k_norm.weight"] = (d,)
        if cfg.is_moe_layer(i):
            s[p + "mlp.gate.weight"] = (E, h)
            for j in range(E):
                s[p + f"mlp.experts.{j}.gate_proj.weight"] = (I, h)
                s[p + f"mlp.experts.{j}.up_proj.weight"] = (I, h)
                s[p + f"mlp.experts.{j}.down_proj.weight"] = (h, I)
        else:
            s[p + "mlp.gate_proj.weight"] = (cfg.intermediate_size, h)
            s[p + "mlp.up_proj.weight"] = (cfg.intermediate_size, h)
            s[p + "mlp.down_proj.weight"] = (h, cfg.intermediate_size)
    return s


def _key_files(path: str) -> dict[str, str]:
    if not os.path.isdir(path):
        raise ConfigError(f"plan.checkpoint.path={path!r}: directory not found; mount the weights volume")
    idx = os.path.join(path, "model.safetensors.index.json")
    if os.path.isfile(idx):
        with open(idx) as f:
            wm = json.load(f)["weight_map"]
        return {k: os.path.join(path, v) for k, v in wm.items()}
    single = os.path.join(path, "model.safetensors")
    if os.path.isfile(single):
        from safetensors import safe_open

        with safe_open(single, "pt") as f:
            return {k: single for k in f.keys()}
    raise ConfigError(f"plan.checkpoint.path={path!r}: no model.safetensors or model.safetensors.index.json")


def check_hf_checkpoint(path: str, cfg: ModelConfig) -> None:
    """Every tensor the model needs is present with the right shape (reads headers only)."""
    from safetensors import safe_open

    files = _key_files(path)
    want = expected_disk_shapes(cfg)
    missing = [k for k in want if k not in files]
    if missing:
        raise ConfigError(
            f"checkpoint {path!r} lacks {len(missing)} tensors the plan's model needs, e.g. "
            f"{missing[:3]}; does plan.model match the checkpoint's config.json?"
        )
    by_file: dict[str, list[str]] = {}
    for k in want:
        by_file.setdefault(files[k], []).append(k)
    for fn, keys in by_file.items():
        if not os.path.isfile(fn):
            raise ConfigError(f"checkpoint shard {fn!r} listed in the index is missing")
        with safe_open(fn, "pt") as f:
            for k in keys:
                shape = tuple(f.get_slice(k).get_shape())
                if shape != want[k]:
                    raise ConfigError(f"checkpoint tensor {k} has shape {shape}, plan.model implies {want[k]}")


class HFCheckpointReader:
    def __init__(self, path: str):
        self.files = _key_files(path)
        self._open = {}

    def _get(self, key: str) -> torch.Tensor:
        from safetensors import safe_open

        fn = self.files[key]
        if fn not in self._open:
            self._open[fn] = safe_open(fn, "pt")
        return self._open[fn].get_tensor(key)

    def read(self, name: str, offset, shape) -> torch.Tensor:
        """The slice [offset, offset+shape) of in-memory parameter `name`."""
        m = _EXPERT_RE.match(name)
        if m:
            prefix, kind = m.groups()
            parts = []
            for j in range(offset[0], offset[0] + shape[0]):
                if kind == "gate_up_proj":
                    t = torch.cat(
                        [self._get(f"{prefix}.{j}.gate_proj.weight"), self._get(f"{prefix}.{j}.up_proj.weight")], 0
                    )
                else:
                    t = self._get(f"{prefix}.{j}.down_proj.weight")
                parts.append(t)
            t = torch.stack(parts, 0)
            for dim in range(1, t.dim()):
                t = t.narrow(dim, offset[dim], shape[dim])
            return t
        t = self._get(name)
        for dim in range(t.dim()):
            t = t.narrow(dim, offset[dim], shape[dim])
        return t


@torch.no_grad()
def materialize(model: torch.nn.Module, device, source) -> None:
    """Allocate a meta-device model (possibly with DTensor parameters) on `device` and fill each local
    shard from source(name, global_shape, offset, local_shape) -> tensor. No communication."""
    from torch.distributed.tensor import DTensor
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    model.to_empty(device=device)
    for name, p in model.named_parameters():
        if isinstance(p, DTensor):
            shape, offset = compute_local_shape_and_global_offset(p.shape, p.device_mesh, p.placements)
            p.to_local().copy_(source(name, tuple(p.shape), tuple(offset), tuple(shape)))
        else:
            p.copy_(source(name, tuple(p.shape), (0,) * p.dim(), tuple(p.shape)))


def hf_source(path: str):
    reader = HFCheckpointReader(path)
    return lambda name, gshape, offset, shape: reader.read(name, offset, shape)


def random_source(cfg: ModelConfig, seed: int, device):
    def src(name, gshape, offset, shape):
        t = _init_cached(name, gshape, cfg, seed, device)
        for dim in range(t.dim()):
            t = t.narrow(dim, offset[dim], shape[dim])
        return t

    return src


def _init_cached(name, gshape, cfg, seed, device):
    from .model import init_full_tensor

    return init_full_tensor(name, gshape, cfg, seed, device)


def load_hf_into(model: torch.nn.Module, path: str) -> None:
    """Load a checkpoint into an already-allocated, unsharded model (tests, tools)."""
    reader = HFCheckpointReader(path)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(reader.read(name, (0,) * p.dim(), tuple(p.shape)))


def _full(p: torch.Tensor) -> torch.Tensor:
    from torch.distributed.tensor import DTensor

    return p.full_tensor() if isinstance(p, DTensor) else p


@torch.no_grad()
def save_hf(
    model: torch.nn.Module,
    cfg: ModelConfig,
    out_dir: str,
    max_shard_bytes: int = 4 << 30,
    is_writer: bool = True,
    named_tensors=None,
) -> None:
    """Write config.json + sharded safetensors in transformers' on-disk layout, float32. Every rank must call
    it (sharded parameters are gathered); only `is_writer` writes. Atomic: written to out_dir.tmp, renamed.
    named_tensors: (name, tensor) to write instead of model.named_parameters(); the trainer passes the
    optimizer's float32 masters, so a bf16-trained model exports its master weights, not their bf16 copy."""
    from safetensors.torch import save_file

    tmp = out_dir.rstrip("/") + ".tmp"
    if is_writer:
        os.makedirs(tmp, exist_ok=True)
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0

    def put(k, t):
        nonlocal size
        if not is_writer:
            return
        b = t.numel() * t.element_size()
        if size + b > max_shard_bytes and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][k] = t.detach().to("cpu").contiguous()
        size += b

    I = cfg.moe_intermediate_size
    for name, p in model.named_parameters() if named_tensors is None else named_tensors:
        name = name.replace("_orig_mod.", "").replace("_checkpoint_wrapped_module.", "")
        full = _full(p).float()
        m = _EXPERT_RE.match(name)
        if m:
            prefix, kind = m.groups()
            for j in range(full.shape[0]):
                if kind == "gate_up_proj":
                    put(f"{prefix}.{j}.gate_proj.weight", full[j, :I])
                    put(f"{prefix}.{j}.up_proj.weight", full[j, I:])
                else:
                    put(f"{prefix}.{j}.down_proj.weight", full[j])
        else:
            put(name, full)
    if not is_writer:
        return
    n = len(shards)
    weight_map, total = {}, 0
    for i, sh in enumerate(shards):
        fn = "model.safetensors" if n == 1 else f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        save_file(sh, os.path.join(tmp, fn), metadata={"format": "pt"})
        for k, t in sh.items():
            weight_map[k] = fn
            total += t.numel() * t.element_size()
    if n > 1:
        with open(os.path.join(tmp, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(cfg.to_hf_dict(), f, indent=2)
    if os.path.exists(out_dir):
        import shutil

        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
