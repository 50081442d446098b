#!/usr/bin/env bash
# Smoke test of the local control plane (needs a running cluster: KUBECONFIG from cluster-up.sh):
#  - a pod asking for 8 nvidia.com/gpu with a nodeSelector is placed by the real kube-scheduler on a KWOK node
#    and becomes Running; a pod asking for 9 GPUs stays Pending (Unschedulable);
#  - e2e.moe.dev/exit-code: "75" -> pod Failed with exit code 75; e2e.moe.dev/run-seconds: "1" -> Succeeded;
#  - a pod labelled training.moe.dev/job completes after MOE_KWOK_TRAINING_SECONDS (10); e2e.moe.dev/hold keeps it Running;
#    annotating a running pod with e2e.moe.dev/exit-code later fails it (failure injection);
#  - the garbage collector deletes a pod whose owner is deleted (ownerReference GC).
# Prints "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
source "$(dirname "$0")/bin/env.sh"
export KUBECONFIG=${KUBECONFIG:-$KUBECONFIG_PATH}
NS=moe-smoke
passed=0; failed=0
ok()   { echo "PASS: $*"; passed=$((passed + 1)); }
bad()  { echo "FAIL: $*"; failed=$((failed + 1)); }
jp()   { kubectl -n "$NS" get "$1" -o jsonpath="$2" 2>/dev/null; }
wait_jp() {  # wait_jp OBJECT JSONPATH EXPECTED TIMEOUT-SECONDS
  local deadline=$((SECONDS + $4)) v
  while :; do
    v=$(jp "$1" "$2"); [[ "$v" == "$3" ]] && return 0
    (( SECONDS < deadline )) || { echo "  $1 $2 = '$v', expected '$3'"; return 1; }
    sleep 0.5
  done
}
pod() {  # pod NAME GPUS ANNOTATIONS-YAML
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: $NS
  annotations: {$3}
spec:
  restartPolicy: Never
  nodeSelector:
    nvidia.com/gpu.product: $GPU_PRODUCT
  containers:
  - name: main
    image: example.invalid/trainer:latest
    resources:
      limits: {nvidia.com/gpu: "$2"}
YAML
}

kubectl delete namespace "$NS" --ignore-not-found --wait=true >/dev/null 2>&1
kubectl create namespace "$NS" >/dev/null
for _ in $(seq 1 60); do kubectl -n "$NS" get serviceaccount default >/dev/null 2>&1 && break; sleep 0.5; done

# 1. scheduling onto a fake GPU node
pod gpu8 8 "" | kubectl apply -f - >/dev/null
if wait_jp pod/gpu8 '{.status.phase}' Running 60; then
  node=$(jp pod/gpu8 '{.spec.nodeName}')
  rack=$(kubectl get node "$node" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/rack}')
  [[ $node == gpu-node-* && -n $rack ]] && ok "8-GPU pod scheduled on $node ($rack) and Running" || bad "8-GPU pod on unexpected node '$node'"
else bad "8-GPU pod not Running"; fi

pod gpu9 9 "" | kubectl apply -f - >/dev/null
if wait_jp pod/gpu9 '{.status.conditions[?(@.type=="PodScheduled")].reason}' Unschedulable 30; then
  ok "9-GPU pod is Unschedulable (no node has 9 nvidia.com/gpu)"
else bad "9-GPU pod was not reported Unschedulable"; fi

# 2. simulated exit codes
pod fail75 1 '"e2e.moe.dev/exit-code": "75", "e2e.moe.dev/run-seconds": "1"' | kubectl apply -f - >/dev/null
if wait_jp pod/fail75 '{.status.phase}' Failed 60 \
   && wait_jp pod/fail75 '{.status.containerStatuses[0].state.terminated.exitCode}' 75 5; then
  ok "exit-code pod Failed with exitCode 75"
else bad "exit-code pod did not fail with exitCode 75"; fi

pod run1 1 '"e2e.moe.dev/run-seconds": "1"' | kubectl apply -f - >/dev/null
if wait_jp pod/run1 '{.status.phase}' Succeeded 60 \
   && wait_jp pod/run1 '{.status.containerStatuses[0].state.terminated.exitCode}' 0 5; then
  ok "run-seconds pod Succeeded with exitCode 0"
else bad "run-seconds pod did not succeed"; fi

# 3. the operator's pods (label training.moe.dev/job) complete after MOE_KWOK_TRAINING_SECONDS unless held
training_pod() {  # training_pod NAME ANNOTATIONS
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: $NS
  labels: {training.moe.dev/job: smoke}
  annotations: {$2}
spec:
  restartPolicy: Never
  containers: [{name: trainer, image: example.invalid/trainer:latest}]
YAML
}
training_pod train-done "" | kubectl apply -f - >/dev/null
training_pod train-held '"e2e.moe.dev/hold": "true"' | kubectl apply -f - >/dev/null
if wait_jp pod/train-done '{.status.phase}' Succeeded $((TRAINING_SECONDS + 30)); then
  ok "training.moe.dev/job pod Succeeded after ~${TRAINING_SECONDS}s (moe-training-pod-complete stage)"
else bad "training.moe.dev/job pod did not complete"; fi
[[ $(jp pod/train-held '{.status.phase}') == Running ]] && ok "e2e.moe.dev/hold pod still Running" || bad "held pod is not Running"
# failure injection into a running pod (what operator e2e tests do to the operator's pods)
kubectl -n "$NS" annotate pod train-held e2e.moe.dev/exit-code=75 >/dev/null
if wait_jp pod/train-held '{.status.containerStatuses[0].state.terminated.exitCode}' 75 30 \
   && wait_jp pod/train-held '{.status.phase}' Failed 5; then
  ok "annotating a running pod with e2e.moe.dev/exit-code=75 fails it with exitCode 75"
else bad "failure injection by annotation did not fail the pod"; fi

# 4. ownerReference garbage collection (kube-controller-manager's garbage collector)
kubectl -n "$NS" create configmap owner >/dev/null
uid=$(jp configmap/owner '{.metadata.uid}')
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: owned
  namespace: $NS
  annotations: {e2e.moe.dev/hold: "true"}
  ownerReferences:
  - {apiVersion: v1, kind: ConfigMap, name: owner, uid: "$uid"}
spec:
  containers: [{name: main, image: example.invalid/x}]
YAML
kubectl -n "$NS" delete configmap owner --wait=true >/dev/null
deadline=$((SECONDS + 60))
while kubectl -n "$NS" get pod owned >/dev/null 2>&1 && (( SECONDS < deadline )); do sleep 0.5; done
kubectl -n "$NS" get pod owned >/dev/null 2>&1 && bad "owned pod not garbage-collected" || ok "owned pod garbage-collected after its owner was deleted"

kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1
echo "smoke: $passed passed, $failed failed"
(( failed == 0 ))
