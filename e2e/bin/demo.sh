#!/usr/bin/env bash
# The README's "run the main job": builds what is needed, starts a local control plane with 16 fake 8-GPU nodes
# (KWOK), runs the operator against it, applies crds/ and the example job, and follows the job
# Pending -> Running -> Succeeded, showing where each rank landed (node, rack, clique).
# Env: MOE_DEMO_JOB (default examples/tiny-cpu.yaml, else the first examples/*.yaml), MOE_DEMO_TIMEOUT (300 s),
#      MOE_DEMO_KEEP=1 leaves the cluster and the operator running; MOE_DEMO_TRAINER=local (default) runs the
#      pods' command and env as local processes (the real trainer on CPU, e2e/runner/local_runner.py), so the job
#      succeeds because training finished and status.progress shows real steps and losses; MOE_DEMO_TRAINER=kwok
#      lets KWOK simulate the pods instead (MOE_KWOK_TRAINING_SECONDS, default 10, of "training").
#      Plus the cluster-up.sh variables.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_DIR"
TIMEOUT=${MOE_DEMO_TIMEOUT:-300}
JOB_FILE=${MOE_DEMO_JOB:-}
if [[ -z $JOB_FILE ]]; then
  if [[ -f examples/tiny-cpu.yaml ]]; then JOB_FILE=examples/tiny-cpu.yaml
  else JOB_FILE=$(ls examples/*.yaml 2>/dev/null | head -n 1 || true); fi
fi
[[ -n $JOB_FILE && -f $JOB_FILE ]] || { e2e_log "no example job found (examples/*.yaml); set MOE_DEMO_JOB"; exit 1; }
compgen -G "crds/*.y*ml" >/dev/null || { e2e_log "no CRD in crds/"; exit 1; }

"$E2E_DIR/bin/build-binaries.sh" >/dev/null
cleanup() {
  if [[ -n ${runner_pid:-} ]]; then kill "$runner_pid" 2>/dev/null || true; wait "$runner_pid" 2>/dev/null || true; fi
  if [[ -n "${MOE_DEMO_KEEP:-}" ]]; then
    e2e_log "cluster and operator left running: export KUBECONFIG=$KUBECONFIG_PATH; stop with e2e/bin/cluster-down.sh"
  else "$E2E_DIR/bin/cluster-down.sh"; fi
}
trap cleanup EXIT
"$E2E_DIR/bin/cluster-up.sh" >/dev/null
export KUBECONFIG="$KUBECONFIG_PATH"
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established --timeout=60s -f crds/ >/dev/null
"$E2E_DIR/bin/operator-up.sh"

job_json=$(kubectl create --dry-run=client -o json -f "$JOB_FILE")
name=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["name"])' <<<"$job_json")
ns=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"].get("namespace") or "default")' <<<"$job_json")
runner_pid=""
if [[ ${MOE_DEMO_TRAINER:-local} == local ]]; then
  bash "$REPO_DIR/trainer-image/scripts/ensure-venv.sh" >/dev/null
  runner_work="$WORK/demo-runner"; rm -rf "$runner_work"; mkdir -p "$runner_work"
  python3 "$E2E_DIR/runner/local_runner.py" -n "$ns" --job "$name" --work "$runner_work" \
    --timeout "$TIMEOUT" >"$WORK/logs/runner.log" 2>&1 &
  runner_pid=$!
  for _ in $(seq 1 120); do
    python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("ready") else 1)' \
      "$runner_work/state.json" 2>/dev/null && break
    sleep 0.5
  done
  e2e_log "local runner ready: the pods' processes run the real trainer on CPU (logs in $runner_work/logs)"
fi
kubectl apply -n "$ns" -f "$JOB_FILE"
kind=moetrainingjobs.training.moe.dev

show_ranks() {
  echo
  printf '%-28s %-9s %-12s %-8s %-10s %-10s\n' POD NODE_RANK NODE RACK CLIQUE PHASE
  kubectl get pods -n "$ns" -l "training.moe.dev/job=$name" -o json | python3 -c '
import json, subprocess, sys
pods = json.load(sys.stdin)["items"]
nodes = {n["metadata"]["name"]: n["metadata"].get("labels", {}) for n in
         json.loads(subprocess.run(["kubectl", "get", "nodes", "-o", "json"], capture_output=True, text=True).stdout)["items"]}
def rank(p):
    for c in p["spec"]["containers"]:
        for e in c.get("env", []):
            if e["name"] == "NODE_RANK":
                return e.get("value", "?")
    return p["metadata"].get("labels", {}).get("training.moe.dev/node-rank", "?")
for p in sorted(pods, key=lambda p: (len(str(rank(p))), str(rank(p)))):
    node = p["spec"].get("nodeName") or "-"
    labels = nodes.get(node, {})
    rack = labels.get("topology.kubernetes.io/rack", "-")
    clique = labels.get("nvidia.com/gpu.clique", "-")
    phase = p["status"].get("phase", "-")
    print("%-28s %-9s %-12s %-8s %-10s %-10s" % (p["metadata"]["name"], rank(p), node, rack, clique, phase))
'
  echo
}

show_trainer_log() {
  [[ -n $runner_pid ]] || return 0
  local log; log=$(ls "$runner_work"/logs/"$name"-node-0-a*.log 2>/dev/null | tail -n 1)
  [[ -n $log ]] && { echo "--- rank 0 trainer log (last lines): $log"; tail -n 8 "$log"; echo; }
}

e2e_log "following $kind $ns/$name (timeout ${TIMEOUT}s)"
last=""; shown_running=""; last_progress=""; deadline=$((SECONDS + TIMEOUT))
while :; do
  phase=$(kubectl get "$kind" "$name" -n "$ns" -o jsonpath='{.status.phase}' 2>/dev/null || true)
  if [[ $phase != "$last" ]]; then
    e2e_log "job $name: phase ${phase:-<none>}"
    last=$phase
  fi
  if [[ $phase == Running && -z $shown_running ]]; then show_ranks; shown_running=1; fi
  progress=$(kubectl get "$kind" "$name" -n "$ns" -o jsonpath='{.status.progress.step} {.status.progress.loss} {.status.progress.tokensPerSecond}' 2>/dev/null || true)
  if [[ -n ${progress// /} && $progress != "$last_progress" ]]; then
    read -r step loss tps <<<"$progress"
    e2e_log "job $name: step ${step:-?}  loss ${loss:-?}  tokens/s ${tps:-?}   (status.progress, reported by rank 0)"
    last_progress=$progress
  fi
  case $phase in
    Succeeded) show_ranks; show_trainer_log; kubectl get "$kind" "$name" -n "$ns"; e2e_log "demo: job Succeeded"; exit 0 ;;
    Failed) show_ranks; show_trainer_log; kubectl get "$kind" "$name" -n "$ns" -o yaml | sed -n '/^status:/,$p'
            e2e_log "demo: job Failed"; exit 1 ;;
  esac
  if (( SECONDS > deadline )); then
    show_ranks; e2e_log "demo: timed out after ${TIMEOUT}s in phase '${phase}' (operator log: $WORK/logs/operator.log)"
    tail -n 40 "$WORK/logs/operator.log" >&2 || true; exit 1
  fi
  sleep 1
done
