#!/usr/bin/env bash
# Builds the Kueue manager (sigs.k8s.io/kueue/cmd/kueue@$KUEUE_VERSION) from the Go module proxy, once, cached by
# version, and copies the module's CRDs and webhook manifests (config/components/{crd/bases,webhook}) beside it:
#   ~/.cache/moe/kueue-<KUEUE_VERSION>/bin/kueue, ~/.cache/moe/kueue-<KUEUE_VERSION>/config/{crd,webhook}/
# A no-op when the binary and the config are there. The compile runs under the shared Go build lock
# ($MOE_CACHE/go-build.lock) so that only one Go build runs at a time. Env: KUEUE_VERSION, MOE_CACHE, GO_BUILD_P (2),
# FORCE=1 to rebuild. Prints the bin directory on the last line of stdout.
set -euo pipefail
E2E=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=e2e/bin/versions.sh
source "$E2E/bin/versions.sh"
GO_BUILD_P=${GO_BUILD_P:-2}
export CGO_ENABLED=0 GOSUMDB=${GOSUMDB:-off} GOTOOLCHAIN=${GOTOOLCHAIN:-local}
log() { echo "[build-kueue $(date -u +%H:%M:%S)] $*" >&2; }
command -v go >/dev/null || { log "go is not installed (Kueue ${KUEUE_VERSION} needs Go >= 1.25)"; exit 1; }
mkdir -p "$KUEUE_BIN"
if [[ -n "${FORCE:-}" || ! -x "$KUEUE_BIN/kueue" ]]; then
  log "building kueue ${KUEUE_VERSION} (cmd/kueue, -p ${GO_BUILD_P}); waiting for the Go build lock if another build holds it"
  start=$SECONDS
  # `go install pkg@version` builds the release's own go.mod/go.sum, outside any module of ours.
  flock "$MOE_CACHE/go-build.lock" env GOBIN="$KUEUE_BIN.tmp" GOFLAGS=-buildvcs=false \
    go install -p "$GO_BUILD_P" -trimpath -ldflags "-s -w -X sigs.k8s.io/kueue/pkg/version.GitVersion=${KUEUE_VERSION}" \
    "sigs.k8s.io/kueue/cmd/kueue@${KUEUE_VERSION}"
  mv -f "$KUEUE_BIN.tmp/kueue" "$KUEUE_BIN/kueue" && rmdir "$KUEUE_BIN.tmp"
  log "kueue built in $((SECONDS - start)) s"
fi
if [[ -n "${FORCE:-}" || ! -f "$KUEUE_CACHE/config/webhook/manifests.yaml" ]]; then
  moddir=$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kueue@${KUEUE_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
  [[ -d "$moddir/config/components/crd/bases" ]] || { log "sigs.k8s.io/kueue@${KUEUE_VERSION} has no config/components/crd/bases"; exit 1; }
  rm -rf "$KUEUE_CACHE/config.tmp" && mkdir -p "$KUEUE_CACHE/config.tmp/crd" "$KUEUE_CACHE/config.tmp/webhook"
  cp "$moddir"/config/components/crd/bases/*.yaml "$moddir/config/components/crd/kustomization.yaml" "$KUEUE_CACHE/config.tmp/crd/"
  cp "$moddir/config/components/webhook/manifests.yaml" "$KUEUE_CACHE/config.tmp/webhook/"
  chmod -R u+w "$KUEUE_CACHE/config.tmp"
  rm -rf "$KUEUE_CACHE/config" && mv "$KUEUE_CACHE/config.tmp" "$KUEUE_CACHE/config"
fi
log "kueue ${KUEUE_VERSION} ready in $KUEUE_BIN"
echo "$KUEUE_BIN"
