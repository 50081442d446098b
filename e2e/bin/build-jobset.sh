#!/usr/bin/env bash
# Builds the JobSet controller manager (the root package of sigs.k8s.io/jobset@$JOBSET_VERSION) from the Go module
# proxy, once, cached by version, and copies the module's CRD and webhook manifests beside it:
#   ~/.cache/moe/jobset-<JOBSET_VERSION>/bin/jobset, ~/.cache/moe/jobset-<JOBSET_VERSION>/config/{crd,webhook}/
# Benchmark only (e2e/bench/fleet.sh); CI does not build it. A no-op when the binary and the config are there. The
# compile runs under the shared Go build lock ($MOE_CACHE/go-build.lock) so that only one Go build runs at a time.
# Env: JOBSET_VERSION, MOE_CACHE, GO_BUILD_P (2), FORCE=1 to rebuild. Prints the bin directory on the last line.
set -euo pipefail
E2E=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=e2e/bin/versions.sh
source "$E2E/bin/versions.sh"
GO_BUILD_P=${GO_BUILD_P:-2}
export CGO_ENABLED=0 GOSUMDB=${GOSUMDB:-off} GOTOOLCHAIN=${GOTOOLCHAIN:-local}
log() { echo "[build-jobset $(date -u +%H:%M:%S)] $*" >&2; }
command -v go >/dev/null || { log "go is not installed (JobSet ${JOBSET_VERSION} needs Go >= 1.26)"; exit 1; }
mkdir -p "$JOBSET_BIN"
# The module's source (go.mod, go.sum, main.go, config/) from the module cache, fetched from the proxy when missing.
moddir=$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/jobset@${JOBSET_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
[[ -f "$moddir/main.go" ]] || { log "sigs.k8s.io/jobset@${JOBSET_VERSION}: no main.go in the module (${moddir:-not downloaded})"; exit 1; }
if [[ -n "${FORCE:-}" || ! -x "$JOBSET_BIN/jobset" ]]; then
  log "building jobset ${JOBSET_VERSION} (-p ${GO_BUILD_P}); waiting for the Go build lock if another build holds it"
  start=$SECONDS
  # `go build` inside the module's own directory builds the release's go.mod/go.sum, outside any module of ours.
  # (Not `go install sigs.k8s.io/jobset@version`: that also reads the proxy's version list for deprecation notices,
  # which the proxy this machine reaches refuses.) -mod=readonly: the module cache is read-only, go.sum is complete.
  (cd "$moddir" && flock "$MOE_CACHE/go-build.lock" env GOFLAGS="-mod=readonly -buildvcs=false" \
    go build -p "$GO_BUILD_P" -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/jobset/pkg/version.GitVersion=${JOBSET_VERSION}" \
    -o "$JOBSET_BIN/jobset.tmp" .)
  mv -f "$JOBSET_BIN/jobset.tmp" "$JOBSET_BIN/jobset"
  log "jobset built in $((SECONDS - start)) s"
fi
if [[ -n "${FORCE:-}" || ! -f "$JOBSET_CACHE/config/webhook/manifests.yaml" ]]; then
  [[ -d "$moddir/config/components/crd/bases" ]] || { log "sigs.k8s.io/jobset@${JOBSET_VERSION} has no config/components/crd/bases"; exit 1; }
  rm -rf "$JOBSET_CACHE/config.tmp" && mkdir -p "$JOBSET_CACHE/config.tmp/crd" "$JOBSET_CACHE/config.tmp/webhook"
  cp "$moddir"/config/components/crd/bases/*.yaml "$JOBSET_CACHE/config.tmp/crd/"
  # manifests.yaml plus the kustomize patches that add the pods' objectSelector (jobset-up.sh applies them).
  cp "$moddir/config/components/webhook/manifests.yaml" "$moddir"/config/components/webhook/patches/*.yaml \
    "$JOBSET_CACHE/config.tmp/webhook/"
  chmod -R u+w "$JOBSET_CACHE/config.tmp"
  rm -rf "$JOBSET_CACHE/config" && mv "$JOBSET_CACHE/config.tmp" "$JOBSET_CACHE/config"
fi
log "jobset ${JOBSET_VERSION} ready in $JOBSET_BIN"
echo "$JOBSET_BIN"
