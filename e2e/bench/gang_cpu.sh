#!/usr/bin/env bash
# CPU seconds each local process (operator, kube-apiserver, scheduler, kwok, ...) spends while one gang starts
# (benchmark only, not part of CI): a 64-node KWOK cluster with the controller-manager and scheduler at 500 QPS
# (as fleet.sh --kcm tuned), the operator, then N times: `kubectl apply` of e2e/bench/job-512.yaml -> all 64 pods
# Running -> CPU seconds per process (utime + stime from /proc/<pid>/stat) and of the operator's threads by name
# (e2e/bench/cpu_ticks.py) -> the job deleted.
# The wall time includes kubectl's polling (0.1 s). The first start includes the operator's JIT warm-up.
#   e2e/bench/gang_cpu.sh [--starts 4]
# Env: everything e2e/bin/env.sh reads (ports, MOE_E2E_WORK, ...); MOE_E2E_NODES defaults to 64 here.
set -uo pipefail
export MOE_E2E_NODES=${MOE_E2E_NODES:-64}
source "$(dirname "$0")/../bin/env.sh"
starts=4
[[ ${1:-} == --starts ]] && starts=$2
export MOE_E2E_KCM_EXTRA_ARGS=${MOE_E2E_KCM_EXTRA_ARGS-"--kube-api-qps=500 --kube-api-burst=500"}
export MOE_E2E_SCHEDULER_EXTRA_ARGS=${MOE_E2E_SCHEDULER_EXTRA_ARGS-"--kube-api-qps=500 --kube-api-burst=500"}
"$E2E_DIR/bin/build-binaries.sh" >/dev/null || { e2e_log "building the binaries failed"; exit 1; }
trap '"$E2E_DIR/bin/cluster-down.sh"' EXIT
trap 'exit 130' INT TERM
"$E2E_DIR/bin/cluster-up.sh" >/dev/null || { e2e_log "cluster-up failed"; exit 1; }
export KUBECONFIG="$KUBECONFIG_PATH" MOE_E2E_WORK="$WORK" MOE_E2E_APISERVER_PORT="$APISERVER_PORT"
"$E2E_DIR/bin/operator-up.sh" || exit 1
ns=bench-cpu
kubectl create namespace "$ns" >/dev/null
e2e_log "gang start CPU on $(nproc) cores, $starts starts of job-512 (64 pods)"
for ((i = 0; i < starts; i++)); do
  python3 "$E2E_DIR/bench/cpu_ticks.py" snapshot "$WORK/pids" >"$WORK/cpu-before.json"
  t0=$(date +%s.%N)
  kubectl apply -n "$ns" -f "$E2E_DIR/bench/job-512.yaml" >/dev/null
  until (($(kubectl get pods -n "$ns" --field-selector=status.phase=Running -o name | wc -l) >= 64)); do sleep 0.1; done
  t1=$(date +%s.%N)
  python3 "$E2E_DIR/bench/cpu_ticks.py" snapshot "$WORK/pids" >"$WORK/cpu-after.json"
  echo "start $i: $(python3 -c "print(f'{$t1 - $t0:.2f}')") s wall to 64 pods Running"
  python3 "$E2E_DIR/bench/cpu_ticks.py" diff "$WORK/cpu-before.json" "$WORK/cpu-after.json"
  kubectl delete -n "$ns" moetrainingjob bench-512 --wait=true >/dev/null
  until [[ -z $(kubectl get pods -n "$ns" -o name) ]]; do sleep 0.5; done
  sleep 3
done
