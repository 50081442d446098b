#!/usr/bin/env bash
# Create ~/.cache/moe/venv with the pinned trainer dependencies. Idempotent: if the venv already holds
# exactly these versions it does nothing (CI calls it on every run).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$HERE/requirements.txt"
VENV="${MOE_VENV:-$HOME/.cache/moe/venv}"
PY="${PYTHON:-python3}"

have_all() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$REQ" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
ok = True
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        got = version(name)
    except PackageNotFoundError:
        got = None
    if got is None or got.split("+")[0] != want:
        print(f"ensure-venv: {name} is {got}, want {want}", file=sys.stderr)
        ok = False
sys.exit(0 if ok else 1)
PY
}

if have_all; then
  echo "ensure-venv: $VENV is up to date"
  exit 0
fi
mkdir -p "$(dirname "$VENV")"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# torch from PyPI is the CUDA wheel; the CPU tests use it on CPU.
"$VENV/bin/python" -m pip install --quiet -r "$REQ"
have_all
echo "ensure-venv: $VENV ready"
