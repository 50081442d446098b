"""Checkpoint before stop (docs/contract.md section 5): a stop is asked for either by SIGTERM (the kubelet stopping
the container: a suspend, an eviction, a drain, a preemption) or by the operator's pod annotation
`training.moe.dev/checkpoint-request`, which the kubelet writes into the pod's downwardAPI annotations file
(MOE_POD_ANNOTATIONS, /etc/moe-pod/annotations); the trainer polls that file at every step boundary. Either way it
saves a checkpoint at the next step boundary instead of losing every step since the last periodic one, and exits
EXIT_STOPPED. The ranks agree with one collective per step (a signal or a file update reaches the ranks at
slightly different steps), so they all save the same step, which `torch.distributed.checkpoint` requires, and
then stop. With SIGTERM alone, the pod's terminationGracePeriodSeconds must cover one step plus one save; past it
the kubelet kills the process and the job resumes from the last complete checkpoint as before (a checkpoint is
complete only once `latest` names it). The annotation comes before the deletion, so the operator's wait
(checkpoint.stopTimeoutSeconds), not the grace period, bounds the save."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading

import torch
import torch.distributed as dist

from .contract import CHECKPOINT_REQUEST_ANNOTATION, EXIT_STOPPED

log = logging.getLogger("moe_trainer.stop")

_REQUEST_CODE = 1  # agreed()'s codes: the annotation, or a signal (its number added), which outranks it
_SIGNAL_CODE = 2

assert EXIT_STOPPED == 128 + signal.SIGTERM  # what the container would report had the signal killed it


def read_annotation(path: str, key: str) -> str | None:
    """The value of one annotation in a downwardAPI `metadata.annotations` file: one `key="value"` line per
    annotation, the value quoted as Go's strconv.Quote does (JSON's escapes for what an annotation holds). None
    when the file or the key is absent."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    prefix = key + "="
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        raw = line[len(prefix) :]
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw.strip('"')  # an escape JSON lacks (\\x, \\a, \\v): the request only needs to be non-empty
        return value if isinstance(value, str) else str(value)
    return None


class StopRequest:
    """Whether this process was asked to stop: SIGTERM, or a non-empty checkpoint-request annotation in the pod's
    annotations file (`annotations_path`; None or empty: not watched, e.g. MOE_POD_ANNOTATIONS set empty)."""

    def __init__(self, signals=(signal.SIGTERM,), annotations_path: str | None = None):
        self._requested = threading.Event()
        self.annotations_path = annotations_path or None
        self._seen_mtime: tuple[int, int] | None = None
        self.reason: str | None = None
        self._code = 0  # what asked, as agreed() shares it: 0 nothing, _REQUEST_CODE, or _SIGNAL_CODE + signum
        if threading.current_thread() is threading.main_thread():
            for s in signals:
                signal.signal(s, self._on_signal)

    def _on_signal(self, signum, frame):  # noqa: ARG002 -- signal handler signature
        if not self._requested.is_set():
            log.warning("signal %d: checkpointing at the next step boundary, then stopping", signum)
            self.reason = f"signal {signum}"
            self._code = _SIGNAL_CODE + signum
        self._requested.set()

    def request(self) -> None:
        self._code = self._code or _REQUEST_CODE
        self._requested.set()

    def poll(self) -> bool:
        """Reads the annotations file when it changed (a stat per step otherwise) and notes a checkpoint request.
        The kubelet replaces the file atomically (a symlink swap), so a read sees one version or the other."""
        if self._requested.is_set() or not self.annotations_path:
            return self._requested.is_set()
        try:
            st = os.stat(self.annotations_path)
        except OSError:
            return False
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp == self._seen_mtime:
            return False
        self._seen_mtime = stamp
        value = read_annotation(self.annotations_path, CHECKPOINT_REQUEST_ANNOTATION)
        if value:
            log.warning("checkpoint requested by the operator (%s): checkpointing at this step, then stopping", value)
            self.reason = f"{CHECKPOINT_REQUEST_ANNOTATION}={value}"
            self._code = self._code or _REQUEST_CODE
            self._requested.set()
        return self._requested.is_set()

    def agreed(self, device: torch.device) -> bool:
        """Whether any rank was asked to stop: one all-reduce (MAX) of what asked, called by every rank at the same
        step boundary (after each polled its pod's annotations file). A rank stopped by another's request gets that
        request as its `reason` (a signal outranks the annotation), so rank 0's log says why even when the
        kubelet's SIGTERM reached another pod first."""
        self.poll()
        code = torch.tensor([float(self._code if self._requested.is_set() else 0)], device=device)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(code, op=dist.ReduceOp.MAX)
        agreed = int(code.item())
        if agreed and self.reason is None:
            asked = f"signal {agreed - _SIGNAL_CODE}" if agreed >= _SIGNAL_CODE else CHECKPOINT_REQUEST_ANNOTATION
            self.reason = f"{asked} on another rank"
        return agreed > 0
