"""Validate a plan (and the files it names) without starting training: exit 78 with the message, else 0.

``python -m moe_trainer.preflight --plan plan.json``: for an init container, a custom ``spec.trainer.command``
that wraps plain torchrun (which reports any failed worker as exit 1), or a person checking a plan by hand. The
image's entrypoint does not need it: moe_trainer.launch passes the trainer's own 78 through (docs/contract.md
section 2), and the trainer checks the same plan before any collective."""

import argparse
import sys

from .exitcodes import EXIT_CONFIG, ConfigError
from .plan import load_plan


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="moe_trainer.preflight")
    ap.add_argument("--plan", default=None)
    args = ap.parse_args(argv)
    try:
        plan = load_plan(args.plan)
    except ConfigError as e:
        print(f"moe-train: configuration error (exit {EXIT_CONFIG}, not retriable): {e}", file=sys.stderr)
        return EXIT_CONFIG
    p = plan.parallelism
    print(
        f"moe-train: plan ok: world {plan.world_size} (data {p.data}, context {p.context}, tensor {p.tensor}; "
        f"expert {p.expert}, expertData {p.expert_data})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
