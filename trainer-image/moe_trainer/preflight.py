"""Validate the plan (and the files it names) before torchrun starts: exit 78 with the message, else 0.

torchrun reports any failed worker as exit 1, so the image's entrypoint runs this first to give the
operator the non-retriable code 78 for configuration errors."""
import argparse
import sys

from .config import load_plan
from .exitcodes import EXIT_CONFIG, ConfigError


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
    print(f"moe-train: plan ok: world {plan.world_size} (data {p.data}, context {p.context}, tensor {p.tensor}; "
          f"expert {p.expert}, expertData {p.expert_data})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
