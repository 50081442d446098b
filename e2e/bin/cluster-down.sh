#!/usr/bin/env bash
# Stops every process that cluster-up.sh / operator-up.sh started (pid files in $MOE_E2E_WORK/pids):
# first the clients (operator, Kueue, JobSet of e2e/bench/fleet.sh, Prometheus of the prometheus suite, kwok,
# scheduler, controller-manager) together, then the pod processes of e2e/runner/local_runner.py still running
# (found by the mark in their environment), then kube-apiserver, then etcd.
# MOE_E2E_KEEP_DATA=1 keeps the etcd data dir; logs and certificates are always kept.
set -uo pipefail
source "$(dirname "$0")/env.sh"
stopped=0
stop_group() {  # TERM all of the group, wait up to 10 s, then KILL what is left
  local pids=() name pidfile pid
  for name in "$@"; do
    pidfile="$WORK/pids/$name.pid"
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile"); rm -f "$pidfile"
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null && pids+=("$pid:$name")
    fi
  done
  for _ in $(seq 1 100); do
    local alive=0 p
    for p in "${pids[@]}"; do kill -0 "${p%%:*}" 2>/dev/null && alive=1; done
    (( alive )) || break
    sleep 0.1
  done
  for p in "${pids[@]}"; do
    if kill -0 "${p%%:*}" 2>/dev/null; then e2e_log "${p#*:} (${p%%:*}) did not stop on TERM; killing"; kill -KILL "${p%%:*}" 2>/dev/null; fi
    stopped=$((stopped + 1))
  done
}
stop_group operator kueue jobset prometheus kwok kube-scheduler kube-controller-manager
# Pod processes of e2e/runner/local_runner.py run in their own sessions and outlive a runner that was killed: find
# them by the mark the runner puts in their environment (this cluster's kubeconfig) and stop their process groups.
reap_runner_pods() {
  local mark="MOE_E2E_RUNNER_KUBECONFIG=$(realpath -m "$KUBECONFIG_PATH")" own env pid pgids=()
  own=$(ps -o pgid= -p $$ | tr -d ' ')
  for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}; pid=${pid%/environ}
    { tr '\0' '\n' <"$env"; } 2>/dev/null | grep -qxF "$mark" || continue
    pgids+=("$(ps -o pgid= -p "$pid" | tr -d ' ')")
  done
  (( ${#pgids[@]} )) || return 0
  local pg; for pg in $(printf '%s\n' "${pgids[@]}" | sort -u); do
    [[ $pg =~ ^[0-9]+$ && $pg != "$own" ]] && kill -KILL -- "-$pg" 2>/dev/null && stopped=$((stopped + 1))
  done
  e2e_log "reaped the process groups of ${#pgids[@]} local-runner pod processes left running"
}
reap_runner_pods
stop_group kube-apiserver
stop_group etcd
[[ -n "${MOE_E2E_KEEP_DATA:-}" ]] || rm -rf "$WORK/etcd-data"
e2e_log "cluster down ($stopped processes stopped)"
