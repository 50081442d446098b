"""Write a random Qwen3MoeForCausalLM checkpoint with transformers (save_pretrained, sharded).
usage: make_hf_checkpoint.py OUT_DIR {small|bench} [dtype]"""

import sys

import torch
from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM

SHAPES = {
    "small": dict(
        vocab_size=2048,
        hidden_size=256,
        intermediate_size=512,
        moe_intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=8,
        num_key_value_heads=4,
        head_dim=32,
        num_experts=16,
        num_experts_per_tok=4,
        norm_topk_prob=True,
        rope_theta=1e6,
        router_aux_loss_coef=0.001,
    ),
    # Qwen3-30B-A3B shapes with 8 layers (docs/measuring.md)
    "bench": dict(
        vocab_size=151936,
        hidden_size=2048,
        intermediate_size=6144,
        moe_intermediate_size=768,
        num_hidden_layers=8,
        num_attention_heads=32,
        num_key_value_heads=4,
        head_dim=128,
        num_experts=128,
        num_experts_per_tok=8,
        norm_topk_prob=True,
        rope_theta=1e6,
        max_position_embeddings=40960,
        router_aux_loss_coef=0.001,
    ),
}

if __name__ == "__main__":
    out, kind = sys.argv[1], sys.argv[2]
    dtype = getattr(torch, sys.argv[3]) if len(sys.argv) > 3 else torch.float32
    torch.manual_seed(0)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = Qwen3MoeConfig(**SHAPES[kind])
    with torch.device(dev):
        m = Qwen3MoeForCausalLM(cfg).to(dtype)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "norm" in n:
                p.fill_(1.0)
            else:
                p.normal_(0, 0.02)
    m.save_pretrained(out, max_shard_size="2GB")
    print("wrote", out)
