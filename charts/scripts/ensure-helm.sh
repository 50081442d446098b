#!/usr/bin/env bash
# Builds helm from the Go module proxy once (no binary downloads here) and prints its path.
# Cached under ~/.cache/moe/helm-<version>; skipped when the cached binary answers with the right version.
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
dest="${MOE_CACHE:-$HOME/.cache/moe}/helm-${HELM_VERSION}"
if [[ -x "$dest/helm" ]] && "$dest/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
  echo "$dest/helm"; exit 0
fi
mkdir -p "$dest"
echo "building helm $HELM_VERSION into $dest (one-off)" >&2
GOBIN="$dest" CGO_ENABLED=0 go install \
  -ldflags "-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" \
  "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" >&2
echo "$dest/helm"
