#!/usr/bin/env bash
# Starts a local control plane on loopback from the binaries of build-binaries.sh:
#   etcd, kube-apiserver (TLS, client-cert admin), kube-controller-manager (GC, SA tokens), kube-scheduler,
#   kwok (fake nodes, pod lifecycle from e2e/kwok/stages), and registers MOE_E2E_NODES fake GPU nodes.
# Writes $MOE_E2E_WORK/kubeconfig (default e2e/.work/kubeconfig) and prints `export KUBECONFIG=...` on stdout.
# Ports: MOE_E2E_{ETCD,ETCD_PEER,APISERVER,KCM,SCHEDULER,KWOK}_PORT. Stop with cluster-down.sh.
# MOE_E2E_APISERVER_EXTRA_ARGS: more kube-apiserver flags (e2e/bench/run.sh turns on an audit log with it).
# MOE_E2E_KCM_EXTRA_ARGS: more kube-controller-manager flags (e2e/bench/fleet.sh raises its client rate limit with
#   "--kube-api-qps=500 --kube-api-burst=500"; default: none, i.e. the controller-manager's own 20 QPS / burst 30).
# MOE_E2E_KWOK_POD_PARALLELISM: pod stages kwok plays at a time (default: MOE_E2E_NODES, a kubelet per node).
# MOE_E2E_SCHEDULER_EXTRA_ARGS: more kube-scheduler flags (fleet.sh raises its client rate limit the same way; default:
#   none, i.e. the scheduler's own 50 QPS / burst 100).
# MOE_E2E_FEATURE_GATES: --feature-gates of apiserver, controller-manager and scheduler (default: the alpha gang
#   scheduling API, scheduling.k8s.io/v1alpha2 Workload/PodGroup, and the scheduler's gang and topology plugins);
#   when non-empty the apiserver also serves scheduling.k8s.io/v1alpha2. Set it to "" for a cluster without them.
# MOE_E2E_EXTRA_FEATURE_GATES: gates added to those (e2e/bench/fleet.sh --job-gang: "WorkloadWithJob=true", the Job
#   controller's own gang for Indexed Jobs).
set -euo pipefail
source "$(dirname "$0")/env.sh"

for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
  [[ -x "$K8S_BIN/$b" ]] || { e2e_log "missing $K8S_BIN/$b: run e2e/bin/build-binaries.sh (make deps-k8s)"; exit 1; }
done
command -v openssl >/dev/null || { e2e_log "openssl is required"; exit 1; }

# A previous cluster (or its leftovers) goes first.
if compgen -G "$WORK/pids/*.pid" >/dev/null; then
  e2e_log "stopping the previous cluster in $WORK"
  "$E2E_DIR/bin/cluster-down.sh" >&2
fi
e2e_require_free_ports "MOE_E2E_*_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHEDULER_PORT" "$KWOK_PORT"
mkdir -p "$WORK"/{pki,logs,pids}
FEATURE_GATES=${MOE_E2E_FEATURE_GATES-GenericWorkload=true,GangScheduling=true,TopologyAwareWorkloadScheduling=true}
[[ -n ${MOE_E2E_EXTRA_FEATURE_GATES:-} ]] && FEATURE_GATES="${FEATURE_GATES:+$FEATURE_GATES,}$MOE_E2E_EXTRA_FEATURE_GATES"
gate_args=()
[[ -n $FEATURE_GATES ]] && gate_args=(--feature-gates="$FEATURE_GATES")
apiserver_gate_args=("${gate_args[@]}")
[[ -n $FEATURE_GATES ]] && apiserver_gate_args+=(--runtime-config=scheduling.k8s.io/v1alpha2=true)
rm -rf "$WORK/etcd-data" "$WORK"/logs/*.log

dump_logs() {
  e2e_log "cluster-up failed; last lines of each log in $WORK/logs:"
  for f in "$WORK"/logs/*.log; do [[ -f $f ]] && { echo "===== $f" >&2; tail -n 40 "$f" >&2; }; done
}
fail() { e2e_log "ERROR: $*"; dump_logs; "$E2E_DIR/bin/cluster-down.sh" >&2 || true; exit 1; }

# ---- PKI (generated once per work dir, reused afterwards) ----------------------------------------------
pki="$WORK/pki"
if [[ ! -f "$pki/admin.crt" ]]; then
  e2e_log "generating certificates in $pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=moe-e2e-ca" 2>/dev/null
    cat > apiserver.ext <<EXT
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
keyUsage=digitalSignature,keyEncipherment
EXT
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 -extfile apiserver.ext 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' > client.ext
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=moe-e2e-admin" 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 3650 -extfile client.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr
  ) || fail "openssl failed"
fi

kubectl config --kubeconfig="$KUBECONFIG_PATH.tmp" set-cluster moe-e2e --server="https://127.0.0.1:$APISERVER_PORT" \
  --certificate-authority="$pki/ca.crt" --embed-certs=true >/dev/null
kubectl config --kubeconfig="$KUBECONFIG_PATH.tmp" set-credentials moe-e2e-admin \
  --client-certificate="$pki/admin.crt" --client-key="$pki/admin.key" --embed-certs=true >/dev/null
kubectl config --kubeconfig="$KUBECONFIG_PATH.tmp" set-context moe-e2e --cluster=moe-e2e --user=moe-e2e-admin >/dev/null
kubectl config --kubeconfig="$KUBECONFIG_PATH.tmp" use-context moe-e2e >/dev/null
mv "$KUBECONFIG_PATH.tmp" "$KUBECONFIG_PATH"
export KUBECONFIG="$KUBECONFIG_PATH"

start() {  # start NAME BINARY ARGS... : runs in its own session, logs to logs/NAME.log, pid in pids/NAME.pid
  local name=$1 bin=$2; shift 2
  setsid nohup "$K8S_BIN/$bin" "$@" >"$WORK/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$WORK/pids/$name.pid"
}
wait_for() {  # wait_for NAME CHECK-COMMAND...
  local name=$1; shift
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if [[ -f "$WORK/pids/$name.pid" ]] && ! kill -0 "$(cat "$WORK/pids/$name.pid")" 2>/dev/null; then
      fail "$name exited during startup (log: $WORK/logs/$name.log)"
    fi
    (( SECONDS < deadline )) || fail "$name not ready after ${READY_TIMEOUT}s (log: $WORK/logs/$name.log)"
    sleep 0.5
  done
  e2e_log "$name ready"
}
curl_admin() { curl -fsS --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$@"; }

# ---- etcd ----------------------------------------------------------------------------------------------------
start etcd etcd --name=moe-e2e --data-dir="$WORK/etcd-data" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="moe-e2e=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync=true --quota-backend-bytes=2147483648
wait_for etcd curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"

# ---- kube-apiserver -------------------------------------------------------------------------------------------
start kube-apiserver kube-apiserver \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" --client-ca-file="$pki/ca.crt" \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range=10.96.0.0/16 --authorization-mode=RBAC --allow-privileged=true \
  --enable-priority-and-fairness=false --profiling=false --endpoint-reconciler-type=none \
  "${apiserver_gate_args[@]}" ${MOE_E2E_APISERVER_EXTRA_ARGS:-}
wait_for kube-apiserver curl_admin "https://127.0.0.1:$APISERVER_PORT/readyz"

# ---- kube-controller-manager, kube-scheduler --------------------------------------------------------------------
start kube-controller-manager kube-controller-manager \
  --kubeconfig="$KUBECONFIG_PATH" --authentication-kubeconfig="$KUBECONFIG_PATH" --authorization-kubeconfig="$KUBECONFIG_PATH" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --controllers='*' --use-service-account-credentials=false --enable-garbage-collector=true \
  --node-monitor-grace-period=60s --concurrent-gc-syncs=10 "${gate_args[@]}" ${MOE_E2E_KCM_EXTRA_ARGS:-}
start kube-scheduler kube-scheduler \
  --kubeconfig="$KUBECONFIG_PATH" --authentication-kubeconfig="$KUBECONFIG_PATH" --authorization-kubeconfig="$KUBECONFIG_PATH" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false "${gate_args[@]}" \
  ${MOE_E2E_SCHEDULER_EXTRA_ARGS:-}
wait_for kube-controller-manager curl -fsSk --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz"
wait_for kube-scheduler curl -fsSk --max-time 2 "https://127.0.0.1:$SCHEDULER_PORT/healthz"

# ---- kwok ----------------------------------------------------------------------------------------------------------
stages="$WORK/kwok-stages.yaml"
# Every node of a real cluster has its own kubelet; one kwok plays them all, by default with 4 pod stages at a time,
# so a gang's 64 pods bound at once queued for ~1.5 s before they ran (a controller that creates pods one by one
# never meets that queue). One stage worker per node puts the queue back where a cluster has it. kwok v0.8.0 does
# not default the options of a KwokConfiguration it reads: the others are given with their documented defaults.
cat >"$stages" <<KWOKCONF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  podPlayStageParallelism: ${MOE_E2E_KWOK_POD_PARALLELISM:-$NODES}
  nodePlayStageParallelism: 4
  nodeLeaseParallelism: 4
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
KWOKCONF
for f in "$E2E_DIR"/kwok/stages/*.yaml; do
  echo "---" >>"$stages"
  sed "s/\${MOE_KWOK_TRAINING_MS}/$((TRAINING_SECONDS * 1000))/g" "$f" >>"$stages"
done
start kwok kwok --config="$stages" --kubeconfig="$KUBECONFIG_PATH" \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --server-address="127.0.0.1:$KWOK_PORT" --node-ip=127.0.0.1 --node-port="$KWOK_PORT" --cidr=10.244.0.1/16 \
  --node-lease-duration-seconds=40
wait_for kwok curl -fsS --max-time 2 "http://127.0.0.1:$KWOK_PORT/healthz"

# ---- fake GPU nodes --------------------------------------------------------------------------------------------------
nodes="$WORK/nodes.yaml"
: >"$nodes"
for ((i = 0; i < NODES; i++)); do
  rack=$((i / NODES_PER_RACK))
  cat >>"$nodes" <<NODE
---
apiVersion: v1
kind: Node
metadata:
  name: gpu-node-$(printf %02d "$i")
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: gpu-node-$(printf %02d "$i")
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
    nvidia.com/gpu.present: "true"
    nvidia.com/gpu.product: $GPU_PRODUCT
    nvidia.com/gpu.count: "$GPUS_PER_NODE"
    nvidia.com/gpu.clique: clique-$rack
    topology.kubernetes.io/rack: rack-$rack
    topology.kubernetes.io/zone: zone-0
spec: {}
status:
  allocatable:
    cpu: "96"
    memory: 1800Gi
    ephemeral-storage: 3Ti
    pods: "110"
    nvidia.com/gpu: "$GPUS_PER_NODE"
  capacity:
    cpu: "96"
    memory: 1800Gi
    ephemeral-storage: 3Ti
    pods: "110"
    nvidia.com/gpu: "$GPUS_PER_NODE"
NODE
done
kubectl apply -f "$nodes" >/dev/null || fail "registering nodes failed"
deadline=$((SECONDS + READY_TIMEOUT))
until [[ $(kubectl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c True) -ge $NODES ]]; do
  (( SECONDS < deadline )) || fail "fake nodes not Ready after ${READY_TIMEOUT}s"
  sleep 0.5
done
# Ready is not schedulable yet: the node lifecycle controller lifts each new node's not-ready taint after it sees
# Ready, at its own client rate limit (64 nodes take seconds); a gang placed before that finds tainted nodes.
until [[ -z $(kubectl get nodes -o jsonpath='{range .items[*]}{.spec.taints}{end}' 2>/dev/null) ]]; do
  (( SECONDS < deadline )) || fail "fake nodes still tainted after ${READY_TIMEOUT}s: $(kubectl get nodes -o jsonpath='{.items[*].spec.taints}')"
  sleep 0.5
done
e2e_log "$NODES fake GPU nodes Ready and untainted (${GPUS_PER_NODE}x nvidia.com/gpu each, $NODES_PER_RACK per rack)"
# The default ServiceAccount must exist before pods can be created in the default namespace.
deadline=$((SECONDS + READY_TIMEOUT))
until kubectl get serviceaccount default -n default >/dev/null 2>&1; do
  (( SECONDS < deadline )) || fail "serviceaccount default/default not created by kube-controller-manager"
  sleep 0.5
done
e2e_log "cluster up: kube-apiserver https://127.0.0.1:$APISERVER_PORT (Kubernetes $K8S_VERSION), logs in $WORK/logs"
echo "export KUBECONFIG=$KUBECONFIG_PATH"
