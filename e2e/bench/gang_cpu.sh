#!/usr/bin/env bash
# CPU seconds each local process (operator, kube-apiserver, scheduler, kwok, ...) spends while one gang starts
# (benchmark only, not part of CI): a 64-node KWOK cluster with the controller-manager and scheduler at 500 QPS
# (as fleet.sh --kcm tuned), the operator, then N times: `kubectl apply` of e2e/bench/job-512.yaml -> all 64 pods
# Running -> one line of CPU seconds per process (utime + stime from /proc/<pid>/stat) -> the job deleted.
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
cpu_ticks() {  # name=ticks for every process in $WORK/pids
  for f in "$WORK"/pids/*.pid; do
    n=$(basename "$f" .pid)
    awk -v n="$n" '{printf "%s=%d ", n, $14 + $15}' "/proc/$(cat "$f")/stat" 2>/dev/null
  done
}
e2e_log "gang start CPU on $(nproc) cores, $starts starts of job-512 (64 pods)"
for ((i = 0; i < starts; i++)); do
  before=$(cpu_ticks) t0=$(date +%s.%N)
  kubectl apply -n "$ns" -f "$E2E_DIR/bench/job-512.yaml" >/dev/null
  until (($(kubectl get pods -n "$ns" --field-selector=status.phase=Running -o name | wc -l) >= 64)); do sleep 0.1; done
  t1=$(date +%s.%N) after=$(cpu_ticks)
  python3 - "$i" "$t0" "$t1" "$before" "$after" "$(getconf CLK_TCK)" <<'PY'
import sys
i, t0, t1, before, after, hz = sys.argv[1:]
b = dict(x.split("=") for x in before.split())
a = dict(x.split("=") for x in after.split())
cpu = ", ".join(f"{k} {(int(a[k]) - int(b[k])) / int(hz):.2f}" for k in sorted(a) if k in b)
print(f"start {i}: {float(t1) - float(t0):.2f} s wall to 64 pods Running; CPU seconds: {cpu}", flush=True)
PY
  kubectl delete -n "$ns" moetrainingjob bench-512 --wait=true >/dev/null
  until [[ -z $(kubectl get pods -n "$ns" -o name) ]]; do sleep 0.5; done
  sleep 3
done
