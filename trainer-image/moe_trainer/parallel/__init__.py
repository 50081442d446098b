"""Parallelism applied to the plain model from the operator's plan (TorchTitan style).

Order: build on the meta device -> tensor parallel (attention) -> expert parallel (experts sharded on the
expert mesh, all-to-all dispatcher) -> allocate and fill local shards -> activation checkpointing
(per decoder layer, composable checkpoint) -> FSDP2 (non-expert parameters).
"""

from .mesh import Meshes, build_meshes  # noqa: F401
