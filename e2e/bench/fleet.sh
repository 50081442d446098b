#!/usr/bin/env bash
# Fleet scale side by side with JobSet, start to finish (benchmark only, not part of CI): per controller-manager
# setting, one 64-node KWOK cluster with an apiserver audit log, then one controller at a time on it:
#   JobSet (e2e/bin/jobset-up.sh) -> e2e/bench/bench_jobset.py (jobset-512.yaml) -> JobSet stopped (jobset-down.sh),
#   the operator (e2e/bin/operator-up.sh) -> e2e/bench/bench_gang.py (job-512.yaml) -> the cluster down;
# then a side-by-side table of the medians (fleet_table.py), and the JSON of every run under $MOE_E2E_WORK/fleet/.
#   e2e/bench/fleet.sh [--runs 5] [--kcm default|tuned|both] [--job-gang] [--jobset FILE] [--baseline-app DIR]
# --kcm: kube-controller-manager as cluster-up.sh starts it ("default": its own client rate limit, 20 QPS / burst 30),
# "tuned": MOE_E2E_KCM_EXTRA_ARGS="$MOE_FLEET_KCM_TUNED" (default "--kube-api-qps=500 --kube-api-burst=500") and
# kube-scheduler's the same (MOE_FLEET_SCHEDULER_TUNED, same default; its own is 50 QPS / burst 100); "both" (the
# default): two clusters, default first. The Job controller inside the controller-manager creates and deletes
# JobSet's pods, so its rate limit is JobSet's; the operator writes its pods itself. Both controllers share the
# scheduler: a gang costs it more writes (a nominated node per pod before the bindings), so it is tuned alike.
# --job-gang: the clusters also run with feature gate WorkloadWithJob, so kube-controller-manager's Job controller gives
# JobSet's Indexed Job (completions = parallelism = 64) its own Workload and PodGroup (minCount 64): both controllers
# then start all-or-nothing gangs through the same kube-scheduler path (bench_jobset.py counts the pods in a group).
# --jobset: the JobSet to apply (default e2e/bench/jobset-512.yaml, bare pods; jobset-512-like-ours.yaml gives its pods
# what the operator's carry: environment, volumes, ports, tolerations, affinity).
# --baseline-app: also an operator built elsewhere (DIR: its quarkus-app directory, e.g. a worktree of the commit
# before a change), on the same cluster after JobSet, in two rounds of alternating starts (baseline, this checkout,
# baseline, this checkout), so that a change is measured against its baseline in one run (files
# <mode>-operator-r<round>.json and <mode>-operator-baseline-r<round>.json, one column each).
# Each benchmark's first run is a warm-up, left out of the table (--warmup of bench_gang.py / bench_jobset.py).
# Env: everything e2e/bin/env.sh reads (ports, MOE_E2E_WORK, ...); MOE_E2E_NODES defaults to 64 here.
# On a shared machine run it under one lock with every other benchmark (e.g. flock FILE e2e/bench/fleet.sh ...).
set -uo pipefail
# What ran, for the rows fleet_table.py writes: the arguments and the environment that changes the cluster.
fleet_env=""
for v in MOE_E2E_FEATURE_GATES MOE_E2E_EXTRA_FEATURE_GATES MOE_FLEET_KCM_TUNED MOE_FLEET_SCHEDULER_TUNED; do
  [[ -n ${!v+set} ]] && fleet_env+="$v=${!v} "
done
export MOE_FLEET_COMMAND="${fleet_env}bash e2e/bench/fleet.sh $*"
export MOE_E2E_NODES=${MOE_E2E_NODES:-64}
source "$(dirname "$0")/../bin/env.sh"
runs=5 kcm=both job_gang=false jobset="$E2E_DIR/bench/jobset-512.yaml" baseline_app=""
while (($#)); do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --kcm) kcm=$2; shift 2 ;;
    --job-gang) job_gang=true; shift ;;
    --jobset) jobset=$2; shift 2 ;;
    --baseline-app) baseline_app=$(realpath "$2"); shift 2 ;;
    *) echo "usage: $0 [--runs N] [--kcm default|tuned|both] [--job-gang] [--jobset FILE] [--baseline-app DIR]" >&2; exit 2 ;;
  esac
done
case $kcm in default) modes=(default) ;; tuned) modes=(tuned) ;; both) modes=(default tuned) ;;
  *) echo "--kcm: default, tuned or both, not '$kcm'" >&2; exit 2 ;; esac
TUNED=${MOE_FLEET_KCM_TUNED:-"--kube-api-qps=500 --kube-api-burst=500"}
SCHEDULER_TUNED=${MOE_FLEET_SCHEDULER_TUNED:-"--kube-api-qps=500 --kube-api-burst=500"}
audit_args="--audit-policy-file=$E2E_DIR/bench/audit-policy.yaml --audit-log-path=$WORK/logs/audit.log --audit-log-format=json --audit-log-maxsize=0"
base_apiserver_args=${MOE_E2E_APISERVER_EXTRA_ARGS:-}
out="$WORK/fleet"
$job_gang && export MOE_E2E_EXTRA_FEATURE_GATES="WorkloadWithJob=true"
mkdir -p "$out"
"$E2E_DIR/bin/build-binaries.sh" >/dev/null || { e2e_log "building the binaries failed"; exit 1; }
"$E2E_DIR/bin/build-jobset.sh" >/dev/null || { e2e_log "building JobSet failed"; exit 1; }
trap '"$E2E_DIR/bin/cluster-down.sh"' EXIT
trap 'exit 130' INT TERM
export KUBECONFIG="$KUBECONFIG_PATH" MOE_E2E_WORK="$WORK" MOE_E2E_APISERVER_PORT="$APISERVER_PORT"
e2e_log "fleet benchmark on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $runs runs, kube-controller-manager: ${modes[*]}"
for mode in "${modes[@]}"; do
  if [[ $mode == tuned ]]; then
    export MOE_E2E_KCM_EXTRA_ARGS="$TUNED" MOE_E2E_SCHEDULER_EXTRA_ARGS="$SCHEDULER_TUNED"
  else
    export MOE_E2E_KCM_EXTRA_ARGS="" MOE_E2E_SCHEDULER_EXTRA_ARGS=""
  fi
  export MOE_E2E_APISERVER_EXTRA_ARGS="$audit_args $base_apiserver_args"
  echo "{\"kcm\": \"$mode\", \"kcm_args\": \"$MOE_E2E_KCM_EXTRA_ARGS\", \"scheduler_args\": \"$MOE_E2E_SCHEDULER_EXTRA_ARGS\", \"job_gang\": $job_gang, \"load_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >"$out/$mode-meta.json"
  e2e_log "[$mode] cluster up (extra args of kube-controller-manager: '${MOE_E2E_KCM_EXTRA_ARGS}', kube-scheduler: '${MOE_E2E_SCHEDULER_EXTRA_ARGS}')"
  "$E2E_DIR/bin/cluster-up.sh" >/dev/null || { e2e_log "cluster-up failed"; exit 1; }
  "$E2E_DIR/bin/jobset-up.sh" || exit 1
  python3 "$E2E_DIR/bench/bench_jobset.py" --runs "$runs" --jobset "$jobset" --json "$out/$mode-jobset.json" || exit 1
  "$E2E_DIR/bin/jobset-down.sh"
  if [[ -n $baseline_app ]]; then
    for round in 1 2; do
      for which in baseline this; do
        if [[ $which == baseline ]]; then app=$baseline_app file="$out/$mode-operator-baseline-r$round.json"
        else app="" file="$out/$mode-operator-r$round.json"; fi
        MOE_OPERATOR_APP=$app "$E2E_DIR/bin/operator-up.sh" || exit 1
        python3 "$E2E_DIR/bench/bench_gang.py" --runs "$runs" --json "$file" || exit 1
        pid=$(cat "$WORK/pids/operator.pid"); kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
      done
    done
  else
    "$E2E_DIR/bin/operator-up.sh" || exit 1
    python3 "$E2E_DIR/bench/bench_gang.py" --runs "$runs" --json "$out/$mode-operator.json" || exit 1
  fi
  "$E2E_DIR/bin/cluster-down.sh"
  python3 - "$out/$mode-meta.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
json.dump(m, open(sys.argv[1], "w"))
PY
done
python3 "$E2E_DIR/bench/fleet_table.py" "$out" "${modes[@]}"
