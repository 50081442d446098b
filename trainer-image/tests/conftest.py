import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

TINY = dict(
    model_type="qwen3_moe",
    vocab_size=128,
    hidden_size=64,
    intermediate_size=96,
    moe_intermediate_size=32,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    num_experts=8,
    num_experts_per_tok=2,
    norm_topk_prob=True,
    decoder_sparse_step=1,
    mlp_only_layers=[1],
    rms_norm_eps=1e-6,
    rope_theta=10000.0,
    max_position_embeddings=256,
    tie_word_embeddings=False,
    router_aux_loss_coef=0.01,
    hidden_act="silu",
    attention_bias=False,
)


@pytest.fixture(scope="session")
def hf_tiny_dir(tmp_path_factory):
    """A tiny random Qwen3MoeForCausalLM saved with save_pretrained (sharded)."""
    import torch
    from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM

    torch.manual_seed(0)
    cfg = Qwen3MoeConfig(**{k: v for k, v in TINY.items() if k != "model_type"})
    m = Qwen3MoeForCausalLM(cfg).float()
    with torch.no_grad():  # router init is zeros in some versions; make routing non-trivial
        for n, p in m.named_parameters():
            if "norm" not in n:
                p.normal_(0, 0.2)
            else:
                p.uniform_(0.8, 1.2)
    d = tmp_path_factory.mktemp("hf") / "tiny"
    m.save_pretrained(str(d), max_shard_size="200KB")
    return str(d)
