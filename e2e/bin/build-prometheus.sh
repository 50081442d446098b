#!/usr/bin/env bash
# Builds Prometheus and promtool from the Go module proxy, once, cached by version:
#   ~/.cache/moe/prometheus-<PROMETHEUS_VERSION>/bin/{prometheus,promtool}
# The module github.com/prometheus/prometheus is tagged v0.3MM.P for Prometheus 3.MM.P (versions.sh pins both).
# Built without the `builtinassets` tag: the web UI's assets would need npm; the HTTP API (all the tests use) is
# compiled in either way. Built with `remove_all_sd`: only static and file service discovery (what the e2e harness
# configures), not the ~25 cloud SDKs (AWS, Azure, GCE, Kubernetes, ...) that make most of a full build's time. Every Go build on the machine runs under one flock ($MOE_CACHE/go-build.lock) so two
# builds never share the two cores. Skips when both binaries answer --version with the pinned version.
# Env: PROMETHEUS_MODULE_VERSION, PROMETHEUS_VERSION, MOE_CACHE, GO_BUILD_P (2), FORCE=1 to rebuild.
# Prints the bin directory on the last line of stdout.
set -euo pipefail
E2E=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=e2e/bin/versions.sh
source "$E2E/bin/versions.sh"
GO_BUILD_P=${GO_BUILD_P:-2}
log() { echo "[build-prometheus $(date -u +%H:%M:%S)] $*" >&2; }

ready() {
  [[ -z "${FORCE:-}" ]] || return 1
  local b
  for b in prometheus promtool; do
    [[ -x "$PROMETHEUS_BIN/$b" ]] && "$PROMETHEUS_BIN/$b" --version 2>&1 | grep -qF "version ${PROMETHEUS_VERSION} " || return 1
  done
}

if ready; then echo "$PROMETHEUS_BIN"; exit 0; fi
command -v go >/dev/null || { log "go is not installed (Prometheus ${PROMETHEUS_VERSION} needs Go >= 1.26)"; exit 1; }
mkdir -p "$PROMETHEUS_BIN"
exec 9>"$MOE_CACHE/go-build.lock"
log "waiting for $MOE_CACHE/go-build.lock"
flock 9
if ready; then echo "$PROMETHEUS_BIN"; exit 0; fi   # built by another run while this one waited

# GOWORK=off: the module zip carries the repository's go.work, whose other modules the zip lacks.
export CGO_ENABLED=0 GOSUMDB=${GOSUMDB:-off} GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false"
module=github.com/prometheus/prometheus
moddir=$(GOFLAGS=-mod=mod go mod download -json "${module}@${PROMETHEUS_MODULE_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
[[ -n "$moddir" && -d "$moddir/cmd/prometheus" ]] || { log "no module dir for ${module}@${PROMETHEUS_MODULE_VERSION}"; exit 1; }
grep -qx "${PROMETHEUS_VERSION}" "$moddir/VERSION" \
  || { log "${module}@${PROMETHEUS_MODULE_VERSION} is Prometheus $(cat "$moddir/VERSION"), not ${PROMETHEUS_VERSION}: fix versions.sh"; exit 1; }
v=github.com/prometheus/common/version
ldflags="-s -w -X ${v}.Version=${PROMETHEUS_VERSION} -X ${v}.Revision=${PROMETHEUS_MODULE_VERSION}"
ldflags+=" -X ${v}.Branch=module-proxy -X ${v}.BuildUser=moe -X ${v}.BuildDate=19700101-00:00:00"
tmp=$(mktemp -d "$PROMETHEUS_BIN/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT   # an interrupted build leaves nothing half-made in the cache
log "building prometheus, promtool ${PROMETHEUS_VERSION} (-p ${GO_BUILD_P}); a cold build takes a few minutes on 2 cores"
start=$SECONDS
(cd "$moddir" && go build -p "$GO_BUILD_P" -tags remove_all_sd -trimpath -ldflags "$ldflags" -o "$tmp/" \
  ./cmd/prometheus ./cmd/promtool)
mv -f "$tmp/prometheus" "$tmp/promtool" "$PROMETHEUS_BIN/"
log "prometheus and promtool built in $((SECONDS - start)) s"
ready || { log "the built binaries do not report version ${PROMETHEUS_VERSION}"; exit 1; }
echo "$PROMETHEUS_BIN"
