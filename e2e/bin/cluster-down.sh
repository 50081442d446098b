#!/usr/bin/env bash
# Stops every process that cluster-up.sh started (pid files in $MOE_E2E_WORK/pids), newest first.
# MOE_E2E_KEEP_DATA=1 keeps the etcd data dir; logs and certificates are always kept.
set -uo pipefail
source "$(dirname "$0")/env.sh"
stopped=0
for name in operator kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
  pidfile="$WORK/pids/$name.pid"
  [[ -f $pidfile ]] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then e2e_log "$name ($pid) did not stop on TERM; killing"; kill -KILL "$pid" 2>/dev/null; fi
    stopped=$((stopped + 1))
  fi
  rm -f "$pidfile"
done
[[ -n "${MOE_E2E_KEEP_DATA:-}" ]] || rm -rf "$WORK/etcd-data"
e2e_log "cluster down ($stopped processes stopped)"
