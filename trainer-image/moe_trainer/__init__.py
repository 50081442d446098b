"""Qwen3-MoE trainer for MoETrainingJob (see docs/contract.md)."""

__version__ = "0.1.0"
