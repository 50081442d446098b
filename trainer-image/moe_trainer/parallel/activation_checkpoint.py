"""Per-decoder-layer activation checkpointing (plan: training.activationCheckpointing, default true).

Applied to the plain model before FSDP2, like the other parallelisms, with the composable
``torch.distributed._composable.checkpoint`` (non-reentrant; parameter names unchanged, so DCP and the
Hugging Face checkpoint mapping are unaffected, and it composes with ``fully_shard``). Forward keeps only
each layer's input; backward re-runs the layer (attention, router, all-to-all dispatch, experts) before
its gradient. The autocast state is recorded and restored for the recompute, so the maths is identical.
"""
from __future__ import annotations

from torch.distributed._composable import checkpoint


def apply_activation_checkpointing(model, enabled: bool = True) -> int:
    """Wrap every decoder layer; returns the number of checkpointed layers."""
    if not enabled:
        return 0
    for layer in model.model.layers:
        checkpoint(layer)
    return len(model.model.layers)
