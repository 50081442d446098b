#!/usr/bin/env bash
# Operator control-plane benchmark, start to finish (no Makefile): a 64-node KWOK cluster with an apiserver audit
# log (writes per client), the operator, e2e/bench/bench_gang.py, teardown (always, by trap).
#   e2e/bench/run.sh [bench_gang.py args, e.g. --runs 5]
# Env: everything e2e/bin/env.sh reads (ports, MOE_E2E_WORK, ...); MOE_E2E_NODES defaults to 64 here.
# Builds the operator jar if it is missing (mvn -DskipTests package); MOE_OPERATOR_APP runs another build.
set -uo pipefail
export MOE_E2E_NODES=${MOE_E2E_NODES:-64}
source "$(dirname "$0")/../bin/env.sh"
export MOE_E2E_APISERVER_EXTRA_ARGS="--audit-policy-file=$E2E_DIR/bench/audit-policy.yaml --audit-log-path=$WORK/logs/audit.log --audit-log-format=json --audit-log-maxsize=0 ${MOE_E2E_APISERVER_EXTRA_ARGS:-}"
"$E2E_DIR/bin/build-binaries.sh" >/dev/null || { e2e_log "building the binaries failed"; exit 1; }
trap '"$E2E_DIR/bin/cluster-down.sh"' EXIT
trap 'exit 130' INT TERM
"$E2E_DIR/bin/cluster-up.sh" >/dev/null || { e2e_log "cluster-up failed"; exit 1; }
export KUBECONFIG="$KUBECONFIG_PATH" MOE_E2E_WORK="$WORK" MOE_E2E_APISERVER_PORT="$APISERVER_PORT"
"$E2E_DIR/bin/operator-up.sh" || exit 1
e2e_log "benchmark on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
python3 "$E2E_DIR/bench/bench_gang.py" "$@"
