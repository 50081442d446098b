#!/usr/bin/env bash
# Installs lupa (Lua in Python: a real Lua interpreter for the Argo CD health check tests) from PyPI, once, into
# ~/.cache/moe/lupa-<version> (pip --target), and prints that directory (for sys.path / PYTHONPATH).
set -euo pipefail
LUPA_VERSION="${LUPA_VERSION:-2.8}"
PY="${PYTHON:-$HOME/.cache/moe/venv/bin/python}"
[[ -x $PY ]] || PY=python3
dest="${MOE_CACHE:-$HOME/.cache/moe}/lupa-${LUPA_VERSION}-py$("$PY" -c 'import sys; print("%d%d" % sys.version_info[:2])')"
if PYTHONPATH="$dest" "$PY" -c "import lupa, sys; sys.exit(0 if lupa.__version__ == '$LUPA_VERSION' else 1)" 2>/dev/null; then
  echo "$dest"; exit 0
fi
echo "installing lupa $LUPA_VERSION into $dest (one-off)" >&2
"$PY" -m pip install --quiet --no-deps --target "$dest.tmp" "lupa==${LUPA_VERSION}" >&2
rm -rf "$dest" && mv "$dest.tmp" "$dest"
echo "$dest"
