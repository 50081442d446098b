"""Checkpoint before stop: SIGTERM (the kubelet stopping the container: a suspend, an eviction, a drain, a
preemption) asks for a checkpoint at the next step boundary instead of losing every step since the last periodic
one. The ranks agree with one collective per step (a signal reaches the ranks at slightly different steps), so
they all save the same step, which `torch.distributed.checkpoint` requires, and then stop. The pod's
terminationGracePeriodSeconds must cover one step plus one save; past it the kubelet kills the process and the
job resumes from the last complete checkpoint as before (a checkpoint is complete only once `latest` names it)."""

import logging
import signal
import threading

import torch
import torch.distributed as dist

log = logging.getLogger("moe_trainer.stop")

#: The exit code after a requested stop: 128 + SIGTERM, what the container would report had the signal killed it.
EXIT_STOPPED = 128 + signal.SIGTERM


class StopRequest:
    def __init__(self, signals=(signal.SIGTERM,)):
        self._requested = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for s in signals:
                signal.signal(s, self._on_signal)

    def _on_signal(self, signum, frame):  # noqa: ARG002 -- signal handler signature
        if not self._requested.is_set():
            log.warning("signal %d: checkpointing at the next step boundary, then stopping", signum)
        self._requested.set()

    def request(self) -> None:
        self._requested.set()

    def agreed(self, device: torch.device) -> bool:
        """Whether any rank was asked to stop: one all-reduce (MAX) of a flag, called by every rank at the same
        step boundary."""
        flag = torch.tensor([1.0 if self._requested.is_set() else 0.0], device=device)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)
