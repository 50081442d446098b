#!/usr/bin/env bash
# CPU test suite of the trainer (parity with transformers, gloo EP/TP/DP, checkpoint/resume, exit codes).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MOE_VENV:-$HOME/.cache/moe/venv}"
cd "$HERE"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MOE_DEVICE=cpu PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
