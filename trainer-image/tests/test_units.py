"""Small CPU unit tests: model size, FLOPs formula, LR schedule, data order, progress, metrics."""

import json
import socket
import urllib.request

import pytest
import torch
from moe_trainer.data import BatchSource
from moe_trainer.exitcodes import ConfigError
from moe_trainer.metrics import flops_per_token, lookup_peak_tflops, mfu, peak_flops
from moe_trainer.model import Qwen3MoeForCausalLM
from moe_trainer.model_config import ModelConfig
from moe_trainer.progress import ANNOTATION, ProgressReporter
from moe_trainer.train import lr_at

QWEN3_30B = dict(
    model_type="qwen3_moe",
    vocab_size=151936,
    hidden_size=2048,
    intermediate_size=6144,
    moe_intermediate_size=768,
    num_hidden_layers=48,
    num_attention_heads=32,
    num_key_value_heads=4,
    head_dim=128,
    num_experts=128,
    num_experts_per_tok=8,
    norm_topk_prob=True,
)


def test_qwen3_30b_parameter_count_and_flops():
    cfg = ModelConfig.from_dict(QWEN3_30B)
    with torch.device("meta"):
        m = Qwen3MoeForCausalLM(cfg)
    assert sum(p.numel() for p in m.parameters()) == 30_532_122_624
    assert cfg.total_params() == 30_532_122_624
    # active: every parameter a token's forward reads (the plan's parameters.activePerToken, the operator's number)
    assert cfg.active_params_per_token() == 3_353_032_704
    # FLOPs count the GEMM parameters: the active ones minus the input embedding (a lookup) and the norms
    embed = cfg.vocab_size * cfg.hidden_size
    assert cfg.matmul_params_per_token() == 3_353_032_704 - embed - 48 * (2 * 2048 + 2 * 128) - 2048
    assert flops_per_token(cfg, 4096) == 6 * cfg.matmul_params_per_token() + 12 * 48 * 32 * 128 * 4096
    assert flops_per_token(cfg, 4096, causal=True) == 6 * cfg.matmul_params_per_token() + 6 * 48 * 32 * 128 * 4096


def test_peak_flops_table_and_override():
    """MFU's denominator: the device's dense bf16 peak by name, MOE_PEAK_TFLOPS over it, unknown when neither."""
    for name, tflops in (
        ("NVIDIA H100 80GB HBM3", 989),
        ("NVIDIA H100 PCIe", 756),
        ("NVIDIA H100 NVL", 835),
        ("NVIDIA H200", 989),
        ("NVIDIA H200 NVL", 835),
        ("NVIDIA GH200 480GB", 989),
        ("NVIDIA H20", 148),
        ("NVIDIA B200", 2250),
        ("NVIDIA A100-SXM4-80GB", 312),
        ("NVIDIA A100 80GB PCIe", 312),
        ("NVIDIA L40S", 362),
        ("NVIDIA L40", 181),
        ("NVIDIA L4", 121),
        ("AMD Instinct MI300X", 1307),
    ):
        assert lookup_peak_tflops(name)[0] == tflops, name
    assert lookup_peak_tflops("NVIDIA GeForce RTX 4090") == (None, "unknown (NVIDIA GeForce RTX 4090)")
    cpu = torch.device("cpu")
    assert peak_flops(cpu, {}) == (None, "unknown (cpu)")
    assert mfu(1000.0, 1e9, 2, None) is None
    peak, source = peak_flops(cpu, {"MOE_PEAK_TFLOPS": "400"})
    assert peak == 400e12 and source == "MOE_PEAK_TFLOPS=400"
    assert mfu(1000.0, 1e9, 2, peak) == 1000.0 * 1e9 / (2 * 400e12)
    for bad in ("0", "-1", "fast", "inf", "nan"):
        with pytest.raises(ConfigError, match="MOE_PEAK_TFLOPS"):
            peak_flops(cpu, {"MOE_PEAK_TFLOPS": bad})


def test_lr_schedule():
    class T:
        learning_rate, min_learning_rate, warmup_steps, steps = 1.0, 0.1, 4, 14

    assert lr_at(0, T) == 0.25 and lr_at(3, T) == 1.0
    assert abs(lr_at(4, T) - 1.0) < 1e-9 and abs(lr_at(14, T) - 0.1) < 1e-9
    assert all(lr_at(s, T) >= lr_at(s + 1, T) for s in range(4, 14))


def test_data_is_a_function_of_step(tmp_path):
    import numpy as np

    path = tmp_path / "tok.bin"
    np.arange(1000, dtype=np.uint32).tofile(path)
    a = BatchSource({"type": "tokens", "path": str(path), "dtype": "uint32"}, 1000, 16, 2, 2, 2, 5)
    b = BatchSource({"type": "tokens", "path": str(path), "dtype": "uint32"}, 1000, 16, 2, 2, 2, 5)
    x1, y1 = a.batch(7, 1, 1, "cpu")
    x2, y2 = b.batch(7, 1, 1, "cpu")
    assert torch.equal(x1, x2) and torch.equal(x1[:, 1:], y1[:, :-1])
    assert not torch.equal(a.batch(7, 1, 0, "cpu")[0], x1)  # data ranks differ
    s = BatchSource({"type": "synthetic"}, 100, 8, 1, 1, 1, 5)
    assert torch.equal(s.batch(3, 0, 0, "cpu")[0], s.batch(3, 0, 0, "cpu")[0])


def test_progress_file(tmp_path):
    p = tmp_path / "progress.json"
    r = ProgressReporter(f"file:{p}")
    r.report(120, 3.21, 51234.0, 0.31, 100)
    doc = json.loads(p.read_text())
    assert doc["step"] == 120 and doc["lastCheckpointStep"] == 100 and doc["mfu"] == 0.31 and doc["time"].endswith("Z")


def test_progress_pod_annotation(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("tok\n")
    (tmp_path / "ca.crt").write_text("")
    seen = []

    class Resp:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self):
            return b"{}"

    monkeypatch.setattr("ssl.create_default_context", lambda cafile=None: None)
    monkeypatch.setattr(urllib.request, "urlopen", lambda req, context=None, timeout=None: seen.append(req) or Resp())
    env = {
        "POD_NAMESPACE": "ns",
        "POD_NAME": "job-0",
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
    }
    r = ProgressReporter("pod-annotation", env=env, sa_dir=str(tmp_path))
    r.report(1, 3.0, 10.0, 0.1, None)
    r.report(2, 2.9, 10.0, 0.1, None)  # rate-limited
    r.report(3, 2.8, 10.0, 0.1, None, final=True)  # always at the end
    assert len(seen) == 2
    req = seen[0]
    assert req.get_method() == "PATCH" and req.full_url == "https://10.0.0.1:443/api/v1/namespaces/ns/pods/job-0"
    assert req.headers["Content-type"] == "application/merge-patch+json"
    assert req.headers["Authorization"] == "Bearer tok"
    ann = json.loads(json.loads(req.data)["metadata"]["annotations"][ANNOTATION])
    assert ann["step"] == 1


def test_metrics_endpoint():
    from moe_trainer.metrics import Metrics

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = Metrics(port, 0, "tiny")
    m.set(step=5, mfu=0.3, all_to_all_seconds=0.01, expert_load_imbalance=1.2)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    assert 'moe_trainer_step{moejob="tiny",rank="0"} 5.0' in body
    assert "moe_trainer_mfu" in body and "moe_trainer_expert_load_imbalance" in body


def test_activation_checkpointing_values_of_the_plan():
    """plan-v1 booleans keep their meaning (true = full, false = none, absent = full); mode names pass; "off" (the
    trainer's earlier name) is none."""
    import copy

    from conftest import TINY
    from helpers import make_plan
    from moe_trainer.plan import parse_plan

    for value, mode in (
        (True, "full"),
        (False, "none"),
        (None, "full"),
        ("none", "none"),
        ("off", "none"),
        ("selective", "selective"),
        ("full", "full"),
    ):
        plan = make_plan(copy.deepcopy(TINY))
        if value is not None:
            plan["training"]["activationCheckpointing"] = value
        assert parse_plan(plan).training.activation_checkpointing == mode
