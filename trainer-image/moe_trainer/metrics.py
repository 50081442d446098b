"""Training metrics in one module: model FLOPs and MFU, all-to-all time, expert load imbalance, and the Prometheus
gauges (local rank r serves on MOE_METRICS_PORT + r). Every number in the log is also a metric.

MFU (TorchTitan's convention): model FLOPs per token = 6 × ModelConfig.matmul_params_per_token() (forward and
backward of every GEMM a token passes through) + 12 × layers × heads × head_dim × seqLength (attention scores and
values, forward and backward; halved with causal=True, which is not the default so numbers compare with
TorchTitan's). Activation-checkpointing recompute is not counted (it is not model work). MFU = tokens per second ×
FLOPs per token / (devices × peak dense bf16 FLOP/s of one device), the peak from PEAK_BF16_TFLOPS by
torch.cuda.get_device_name(), or MOE_PEAK_TFLOPS. On a device the table does not know (a CPU, a new GPU) MFU is
unknown: logged as such, null in the progress report, no gauge value; never a number against a wrong peak.
"""

from __future__ import annotations

import logging
import os
import re
import time

import torch
import torch.distributed as dist

from .exitcodes import ConfigError

log = logging.getLogger("moe_trainer.metrics")

#: Peak dense (no sparsity) bf16 tensor-core TFLOP/s of one device, from the vendors' data sheets, matched against
#: torch.cuda.get_device_name() in this order (the first pattern that matches wins, so variants come first).
PEAK_BF16_TFLOPS: list[tuple[str, str, float]] = [
    (r"\bH100\b.*\bPCIe\b", "H100 PCIe", 756.0),
    (r"\bH100\b.*\bNVL\b", "H100 NVL", 835.0),
    (r"\bH200\b.*\bNVL\b", "H200 NVL", 835.0),
    (r"\bGH200\b", "GH200", 989.0),
    (r"\bH100\b", "H100 SXM", 989.0),
    (r"\bH800\b", "H800 SXM", 989.0),
    (r"\bH200\b", "H200 SXM", 989.0),
    (r"\bH20\b", "H20", 148.0),
    (r"\bGB200\b", "GB200", 2500.0),
    (r"\bB200\b", "B200", 2250.0),
    (r"\bB100\b", "B100", 1750.0),
    (r"\bA100\b|\bA800\b", "A100", 312.0),
    (r"\bL40S\b", "L40S", 362.0),
    (r"\bL40\b", "L40", 181.0),
    (r"\bL4\b", "L4", 121.0),
    (r"\bA10\b", "A10", 125.0),
    (r"\bMI300X\b|\bMI325X\b", "MI300X", 1307.0),
]


def lookup_peak_tflops(device_name: str) -> tuple[float | None, str]:
    """(peak dense bf16 TFLOP/s, which table row) for a device name, or (None, 'unknown (<name>)')."""
    for pattern, label, tflops in PEAK_BF16_TFLOPS:
        if re.search(pattern, device_name):
            return tflops, label
    return None, f"unknown ({device_name})"


def peak_flops(device: torch.device, env=None) -> tuple[float | None, str]:
    """Peak dense bf16 FLOP/s of one device and where it came from: MOE_PEAK_TFLOPS, else the table."""
    env = os.environ if env is None else env
    override = env.get("MOE_PEAK_TFLOPS")
    if override not in (None, ""):
        try:
            value = float(override)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise ConfigError(
                f"MOE_PEAK_TFLOPS={override!r}: must be a positive number of TFLOP/s (one device's "
                "peak dense bf16), or unset to take it from the device name"
            )
        return value * 1e12, f"MOE_PEAK_TFLOPS={override}"
    if device.type != "cuda":
        return None, f"unknown ({device.type})"
    tflops, label = lookup_peak_tflops(torch.cuda.get_device_name(device))
    return (tflops * 1e12 if tflops else None), label


def flops_per_token(cfg, seq_len: int, causal: bool = False) -> float:
    """Model FLOPs per token of training (forward + backward), the convention of this module's docstring."""
    attn = 12 * cfg.num_hidden_layers * cfg.num_attention_heads * cfg.head_dim * seq_len
    return 6 * cfg.matmul_params_per_token() + (attn / 2 if causal else attn)


def mfu(tokens_per_second: float, flops_per_tok: float, devices: int, peak: float | None) -> float | None:
    """Model FLOPs utilisation 0..1, None when the peak is unknown."""
    if not peak:
        return None
    return tokens_per_second * flops_per_tok / (devices * peak)


class CommTimer:
    """Accumulates all-to-all time (device events on GPU, wall clock on CPU) between two reads."""

    def __init__(self):
        self.events = []
        self.cpu_seconds = 0.0

    def start(self, device):
        if device.type == "cuda":
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            return e
        return time.perf_counter()

    def stop(self, device, start):
        if device.type == "cuda":
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            self.events.append((start, e))
        else:
            self.cpu_seconds += time.perf_counter() - start

    def pop_seconds(self) -> float:
        """Call after the step's work has been synchronised."""
        s = self.cpu_seconds + sum(a.elapsed_time(b) for a, b in self.events) / 1000.0
        self.events, self.cpu_seconds = [], 0.0
        return s


#: the expert-parallel all-to-alls of this process (parallel/expert_parallel.py)
ALL_TO_ALL_TIMER = CommTimer()


def load_imbalance(expert_counts: torch.Tensor | None, world: int) -> float:
    """max/mean tokens per expert of each MoE layer, summed over ranks, averaged over layers (1 = balanced).
    expert_counts: [MoE layers, experts] of the last micro-batch of this rank (the model's forward returns it)."""
    if expert_counts is None:
        return 1.0
    c = expert_counts.float()
    if dist.is_initialized() and world > 1:
        dist.all_reduce(c)
    return (c.max(1).values / c.mean(1).clamp(min=1e-9)).mean().item()


_GAUGES = {
    "step": "Last completed optimizer step",
    "step_seconds": "Wall time of the last optimizer step",
    "tokens_per_second": "Unique tokens per second, whole job",
    "tokens_per_second_per_gpu": "Unique tokens per second per GPU",
    "mfu": "Model FLOPs utilisation against the device's peak dense bf16 FLOP/s, 0..1 (no value when the peak is"
    " unknown)",
    "loss": "Training loss (cross-entropy + aux coefficient x aux loss), mean over ranks",
    "aux_loss": "Load-balancing auxiliary loss",
    "expert_load_imbalance": "max/mean tokens per expert, averaged over MoE layers (1 = balanced)",
    "all_to_all_seconds": "Time in expert-parallel all-to-all during the last step (this rank)",
    "peak_memory_bytes": "Peak allocated accelerator memory (this rank)",
    "grad_norm": "Gradient norm before clipping",
    "learning_rate": "Learning rate of the last step",
    "last_checkpoint_step": "Step of the last completed checkpoint",
}


class Metrics:
    def __init__(self, port: int | None, rank: int, job: str):
        self.g = {}
        if port is None:
            return
        try:
            from prometheus_client import CollectorRegistry, Gauge, start_http_server
        except ImportError:
            log.warning("prometheus_client not installed; metrics disabled")
            return
        reg = CollectorRegistry()
        for k, doc in _GAUGES.items():
            # "moejob", not "job": Prometheus owns the job label (the scrape job) and would rename ours.
            self.g[k] = Gauge(f"moe_trainer_{k}", doc, ["moejob", "rank"], registry=reg).labels(
                moejob=job, rank=str(rank)
            )
        try:
            start_http_server(port, registry=reg)
            log.info("metrics on :%d/metrics", port)
        except OSError as e:
            log.warning("metrics port %d unavailable (%s); metrics disabled", port, e)
            self.g = {}

    def set(self, **values) -> None:
        for k, v in values.items():
            if k in self.g and v is not None:
                self.g[k].set(float(v))
