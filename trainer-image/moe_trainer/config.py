"""Kept so ``moe_trainer.config`` imports keep working: the model config is model_config.py, the plan plan.py."""

from .model_config import ModelConfig  # noqa: F401
from .plan import *  # noqa: F401,F403
from .plan import check_env_against_plan, load_plan, parse_plan, validate_plan  # noqa: F401
