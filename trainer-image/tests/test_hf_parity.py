"""Our model reproduces transformers' Qwen3MoeForCausalLM on the same weights (float32, CPU)."""

import json
import os

import torch
from conftest import TINY
from moe_trainer.checkpoint_hf import check_hf_checkpoint, load_hf_into, save_hf
from moe_trainer.model import Qwen3MoeForCausalLM
from moe_trainer.model_config import ModelConfig


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def _ours_from(path):
    with open(os.path.join(path, "config.json")) as f:
        cfg = ModelConfig.from_dict(json.load(f))
    m = Qwen3MoeForCausalLM(cfg)
    load_hf_into(m, path)
    return cfg, m


def test_logits_and_loss_match_transformers(hf_tiny_dir):
    from transformers import Qwen3MoeForCausalLM as HF

    assert len([f for f in os.listdir(hf_tiny_dir) if f.endswith(".safetensors")]) > 1, "want a sharded checkpoint"
    hf = HF.from_pretrained(hf_tiny_dir, dtype=torch.float32).eval()
    cfg, ours = _ours_from(hf_tiny_dir)
    check_hf_checkpoint(hf_tiny_dir, cfg)
    torch.manual_seed(1)
    ids = torch.randint(0, TINY["vocab_size"], (2, 24))
    with torch.no_grad():
        ref = hf(input_ids=ids, labels=ids, output_router_logits=True)
        labels = torch.cat([ids[:, 1:], torch.full((2, 1), -100)], 1)
        out = ours(ids, labels, return_logits=True)
    assert _rel(out["logits"], ref.logits) < 1e-4
    assert abs(out["aux"].item() - ref.aux_loss.item()) / ref.aux_loss.item() < 1e-4
    assert abs(out["loss"].item() - ref.loss.item()) / ref.loss.item() < 1e-4


def test_save_roundtrip_loads_in_transformers(hf_tiny_dir, tmp_path):
    from transformers import Qwen3MoeForCausalLM as HF

    cfg, ours = _ours_from(hf_tiny_dir)
    out = str(tmp_path / "saved")
    save_hf(ours, cfg, out, max_shard_bytes=100_000)
    assert os.path.isfile(os.path.join(out, "model.safetensors.index.json"))
    a = HF.from_pretrained(hf_tiny_dir, dtype=torch.float32).eval()
    b = HF.from_pretrained(out, dtype=torch.float32).eval()
    ids = torch.randint(0, TINY["vocab_size"], (1, 16))
    with torch.no_grad():
        assert torch.equal(a(input_ids=ids).logits, b(input_ids=ids).logits)


def test_grouped_mm_matches_loop():
    from moe_trainer.model import grouped_mm

    x = torch.randn(10, 8)
    w = torch.randn(3, 5, 8)
    counts = torch.tensor([3, 0, 7])
    y = grouped_mm(x, w, counts)
    ref = torch.cat([x[:3] @ w[0].t(), x[3:] @ w[2].t()])
    assert torch.allclose(y, ref, atol=1e-6)
    if hasattr(torch, "_grouped_mm"):
        offs = torch.cumsum(counts, 0, dtype=torch.int32)
        try:
            y2 = torch._grouped_mm(x, w.transpose(-2, -1), offs=offs)
        except RuntimeError:
            return
        assert torch.allclose(y2, ref, atol=1e-5)
