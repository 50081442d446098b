"""Exit codes of the trainer, as docs/contract.md section 3 defines them (values: contract.py)."""

import os

from .contract import EXIT_CONFIG_ERROR, EXIT_RETRIABLE

EXIT_OK = 0
#: Configuration error (bad plan, missing files, shapes that do not divide). Non-retriable.
#: Always raised before any collective starts.
EXIT_CONFIG = EXIT_CONFIG_ERROR
#: NCCL / distributed / runtime failure worth retrying (gang restart + resume from checkpoint).
EXIT_TEMPFAIL = EXIT_RETRIABLE


class ConfigError(Exception):
    """A configuration problem. The message names the field, the value and the fix."""


def is_retriable(exc: BaseException) -> bool:
    """Runtime failures that a gang restart can cure (NCCL, timeouts, lost peers, I/O)."""
    import torch.distributed as dist

    kinds = [RuntimeError, OSError, TimeoutError, ConnectionError]
    for name in ("DistError", "DistBackendError", "DistNetworkError", "DistStoreError"):
        if hasattr(dist, name):
            kinds.append(getattr(dist, name))
    return isinstance(exc, tuple(kinds))


def hard_exit(code: int) -> None:
    """Leave without running atexit handlers or interpreter finalization. After a peer failed, NCCL teardown can
    hang; after a clean finish, gloo's worker threads can still hold tensors while the interpreter is torn down and
    abort the process ("terminate called without an active exception", SIGABRT), which would turn a finished job
    into a retriable failure. Every result is written and the process group destroyed before this is called."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
