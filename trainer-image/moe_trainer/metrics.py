"""Prometheus metrics per rank (local rank r serves on MOE_METRICS_PORT + r). Every number in the log is
also a metric."""
from __future__ import annotations

import logging

log = logging.getLogger("moe_trainer.metrics")

_GAUGES = {
    "step": "Last completed optimizer step",
    "step_seconds": "Wall time of the last optimizer step",
    "tokens_per_second": "Unique tokens per second, whole job",
    "tokens_per_second_per_gpu": "Unique tokens per second per GPU",
    "mfu": "Model FLOPs utilisation (TorchTitan convention, 989 TFLOP/s peak), 0..1",
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
            self.g[k] = Gauge(f"moe_trainer_{k}", doc, ["moejob", "rank"], registry=reg).labels(moejob=job, rank=str(rank))
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
