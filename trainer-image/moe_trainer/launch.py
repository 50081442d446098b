"""``python -m moe_trainer.launch [torchrun args]``: torchrun that exits with the trainer's exit code.

Plain torchrun exits 1 whenever a worker fails, which would turn the trainer's 78 (config error, not
retriable) and 75 (retriable) into an unclassified 1. This runs the same launcher and, when workers fail,
exits with the exit code of the first worker that failed (128 + N when it was killed by signal N), as
docs/contract.md section 3 needs. Used by bin/moe-train, the image's entrypoint.
"""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    try:
        run(parse_args(argv))
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        code = failure.exitcode
        code = code if code > 0 else 128 - code if code < 0 else 1
        print(f"moe-train: local worker {rank} failed first, exit code {code}", file=sys.stderr, flush=True)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
