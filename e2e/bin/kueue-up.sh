#!/usr/bin/env bash
# Runs the Kueue manager (built by build-kueue.sh) as a local process against the e2e cluster, the way the e2e
# suite `kueue` needs it:
#   - Kueue's CRDs from the module's config/ (conversion webhooks pointed at the local manager);
#   - a Configuration ($MOE_E2E_WORK/kueue/config.yaml): the pod integration only (the operator's gang pods form
#     Kueue pod groups), for namespaces labelled moe.dev/e2e-kueue=true only; waitForPodsReady
#     ($MOE_E2E_KUEUE_PODS_READY_TIMEOUT, 20 s); internal certificate management off, no leader election, no
#     visibility server;
#   - webhooks served on https://127.0.0.1:$MOE_E2E_KUEUE_WEBHOOK_PORT with a certificate from a CA made here
#     (openssl, $MOE_E2E_WORK/kueue/tls), registered as url webhooks with that caBundle (kueue-manifests.py);
#     metrics (HTTPS, the same certificate) on 127.0.0.1:$MOE_E2E_KUEUE_METRICS_PORT, health on
#     127.0.0.1:$MOE_E2E_KUEUE_HEALTH_PORT.
# Log: $MOE_E2E_WORK/logs/kueue.log, pid: pids/kueue.pid (kueue-down.sh and cluster-down.sh stop it).
set -euo pipefail
source "$(dirname "$0")/env.sh"
[[ -f "$KUBECONFIG_PATH" ]] || { e2e_log "no cluster: run e2e/bin/cluster-up.sh first"; exit 1; }
export KUBECONFIG="$KUBECONFIG_PATH"
bash "$E2E_DIR/bin/build-kueue.sh" >/dev/null
config_dir="$KUEUE_CACHE/config"
NS_LABEL=moe.dev/e2e-kueue
PODS_READY_TIMEOUT=${MOE_E2E_KUEUE_PODS_READY_TIMEOUT:-20}
dir="$WORK/kueue"
pidfile="$WORK/pids/kueue.pid"
if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then e2e_log "kueue already running"; exit 0; fi
e2e_require_free_ports "MOE_E2E_KUEUE_*_PORT" "$KUEUE_WEBHOOK_PORT" "$KUEUE_METRICS_PORT" "$KUEUE_HEALTH_PORT"
mkdir -p "$dir/tls" "$WORK/pids" "$WORK/logs"

# ---- serving certificate: one CA per work dir ------------------------------------------------------------------
tls="$dir/tls"
e2e_loopback_serving_cert "$tls" moe-e2e-kueue-ca

# ---- CRDs (conversion webhooks at the local manager) ------------------------------------------------------------
python3 "$E2E_DIR/bin/kueue-manifests.py" crds "$config_dir" "$KUEUE_WEBHOOK_PORT" "$tls/ca.crt" \
  | kubectl apply --server-side --force-conflicts --field-manager=e2e-kueue-install -f - >/dev/null
kubectl wait --for=condition=Established --timeout=60s \
  $(kubectl get crd -o name | grep '\.kueue\.x-k8s\.io$') >/dev/null
kubectl create namespace kueue-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null

# ---- the Configuration ----------------------------------------------------------------------------------------------
cat >"$dir/config.yaml" <<CONFIG
apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: kueue-system
health:
  healthProbeBindAddress: 127.0.0.1:$KUEUE_HEALTH_PORT
metrics:
  bindAddress: 127.0.0.1:$KUEUE_METRICS_PORT
webhook:
  host: 127.0.0.1
  port: $KUEUE_WEBHOOK_PORT
  certDir: $tls
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: false
manageJobsWithoutQueueName: false
managedJobsNamespaceSelector:
  matchLabels:
    $NS_LABEL: "true"
waitForPodsReady:
  timeout: ${PODS_READY_TIMEOUT}s
  blockAdmission: false
  requeuingStrategy:
    timestamp: Eviction
    backoffBaseSeconds: 1
    backoffMaxSeconds: 5
integrations:
  frameworks:
  - pod
clientConnection:
  qps: 50
  burst: 100
CONFIG

log="$WORK/logs/kueue.log"
echo "===== kueue-up $(date -u +%FT%TZ)" >>"$log"
# With internal certificate management off, Kueue v0.17 reads its metrics serving certificate from the fixed path
# /etc/kueue/metrics/certs (cmd/kueue/main.go) and exits without it. So the manager runs in a private mount
# namespace in which our certificate directory is bind-mounted there: nothing is written into /etc but the empty
# mount point, and concurrent harnesses each see their own certificate. Needs root (CI and this VM run as root).
metrics_certs=/etc/kueue/metrics/certs
if [[ $(id -u) != 0 ]] || ! command -v unshare >/dev/null; then
  e2e_log "kueue-up.sh needs root and unshare(1) to give Kueue its metrics certificate at $metrics_certs"; exit 1
fi
mkdir -p "$metrics_certs"
setsid nohup unshare --mount --propagation private \
  sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' kueue-up "$tls" "$metrics_certs" \
  "$KUEUE_BIN/kueue" --config="$dir/config.yaml" --kubeconfig="$KUBECONFIG_PATH" \
  --feature-gates=VisibilityOnDemand=false --zap-log-level="${MOE_E2E_KUEUE_LOG_LEVEL:-2}" \
  >>"$log" 2>&1 </dev/null &
echo $! >"$pidfile"
deadline=$((SECONDS + READY_TIMEOUT))
until curl -fsS --max-time 2 "http://127.0.0.1:$KUEUE_HEALTH_PORT/readyz" >/dev/null 2>&1; do
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    e2e_log "kueue exited during startup; last lines of $log:"; tail -n 40 "$log" >&2; exit 1
  fi
  (( SECONDS < deadline )) || { e2e_log "kueue not ready after ${READY_TIMEOUT}s"; tail -n 40 "$log" >&2; exit 1; }
  sleep 1
done

# ---- webhooks, once the manager serves them ---------------------------------------------------------------------------
python3 "$E2E_DIR/bin/kueue-manifests.py" webhooks "$config_dir" "$KUEUE_WEBHOOK_PORT" "$tls/ca.crt" "$NS_LABEL" \
  | kubectl apply --server-side --force-conflicts --field-manager=e2e-kueue-install -f - >/dev/null
# A server-side dry run goes through the ResourceFlavor webhooks: the manager answers on the URL with our CA.
until kubectl create --dry-run=server -f - >/dev/null 2>&1 <<'RF'
apiVersion: kueue.x-k8s.io/v1beta2
kind: ResourceFlavor
metadata:
  name: e2e-kueue-probe
RF
do
  (( SECONDS < deadline )) || { e2e_log "kueue webhooks not answering after ${READY_TIMEOUT}s"; tail -n 40 "$log" >&2; exit 1; }
  sleep 1
done
e2e_log "kueue ${KUEUE_VERSION} up (pid $(cat "$pidfile"), webhooks https://127.0.0.1:$KUEUE_WEBHOOK_PORT, log $log)"
