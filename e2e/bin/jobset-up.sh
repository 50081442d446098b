#!/usr/bin/env bash
# Runs the JobSet controller (built by build-jobset.sh) as a local process against the e2e cluster, for the
# benchmark e2e/bench/fleet.sh (not part of CI):
#   - JobSet's CRD from the module's config/ (one served version, v1alpha2, so no conversion webhook);
#   - a Configuration ($MOE_E2E_WORK/jobset/config.yaml): internal certificate management off, no leader election,
#     clientConnection qps/burst $MOE_E2E_JOBSET_QPS (default 500, JobSet's own default);
#   - webhooks served on https://127.0.0.1:$MOE_E2E_JOBSET_WEBHOOK_PORT with a certificate from a CA made here
#     (openssl, $MOE_E2E_WORK/jobset/tls), registered as url webhooks with that caBundle (jobset-manifests.py);
#     metrics (HTTPS, the same certificate) on 127.0.0.1:$MOE_E2E_JOBSET_METRICS_PORT, health (HTTP) on
#     127.0.0.1:$MOE_E2E_JOBSET_HEALTH_PORT.
# Log: $MOE_E2E_WORK/logs/jobset.log, pid: pids/jobset.pid (jobset-down.sh and cluster-down.sh stop it).
set -euo pipefail
source "$(dirname "$0")/env.sh"
[[ -f "$KUBECONFIG_PATH" ]] || { e2e_log "no cluster: run e2e/bin/cluster-up.sh first"; exit 1; }
export KUBECONFIG="$KUBECONFIG_PATH"
bash "$E2E_DIR/bin/build-jobset.sh" >/dev/null
config_dir="$JOBSET_CACHE/config"
QPS=${MOE_E2E_JOBSET_QPS:-500}
dir="$WORK/jobset"
pidfile="$WORK/pids/jobset.pid"
if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then e2e_log "jobset already running"; exit 0; fi
e2e_require_free_ports "MOE_E2E_JOBSET_*_PORT" "$JOBSET_WEBHOOK_PORT" "$JOBSET_METRICS_PORT" "$JOBSET_HEALTH_PORT"
mkdir -p "$dir/tls" "$WORK/pids" "$WORK/logs"

# ---- serving certificate: one CA per work dir ------------------------------------------------------------------
tls="$dir/tls"
e2e_loopback_serving_cert "$tls" moe-e2e-jobset-ca

# ---- CRD --------------------------------------------------------------------------------------------------------
kubectl apply --server-side --force-conflicts --field-manager=e2e-jobset-install -f "$config_dir/crd/" >/dev/null
# Right after the apply the CRD may have no status.conditions yet, which `kubectl wait` reports as an error: retry.
deadline=$((SECONDS + READY_TIMEOUT))
until kubectl wait --for=condition=Established --timeout=10s crd/jobsets.jobset.x-k8s.io >/dev/null 2>&1; do
  (( SECONDS < deadline )) || { e2e_log "crd/jobsets.jobset.x-k8s.io not Established after ${READY_TIMEOUT}s"; exit 1; }
  sleep 1
done

# ---- the Configuration (api/config/v1alpha1 of the module) -----------------------------------------------------------
cat >"$dir/config.yaml" <<CONFIG
apiVersion: config.jobset.x-k8s.io/v1alpha1
kind: Configuration
webhook:
  host: 127.0.0.1
  port: $JOBSET_WEBHOOK_PORT
  certDir: $tls
metrics:
  bindAddress: 127.0.0.1:$JOBSET_METRICS_PORT
  certDir: $tls
health:
  healthProbeBindAddress: 127.0.0.1:$JOBSET_HEALTH_PORT
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: false
clientConnection:
  qps: $QPS
  burst: $QPS
CONFIG

log="$WORK/logs/jobset.log"
echo "===== jobset-up $(date -u +%FT%TZ)" >>"$log"
# --zap-devel=false: JSON logs at info level (the module's default is development mode: debug level, console).
setsid nohup "$JOBSET_BIN/jobset" --config="$dir/config.yaml" --kubeconfig="$KUBECONFIG_PATH" \
  --zap-devel=false --zap-log-level="${MOE_E2E_JOBSET_LOG_LEVEL:-info}" >>"$log" 2>&1 </dev/null &
echo $! >"$pidfile"
deadline=$((SECONDS + READY_TIMEOUT))
until curl -fsS --max-time 2 "http://127.0.0.1:$JOBSET_HEALTH_PORT/readyz" >/dev/null 2>&1; do
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    e2e_log "jobset exited during startup; last lines of $log:"; tail -n 40 "$log" >&2; exit 1
  fi
  (( SECONDS < deadline )) || { e2e_log "jobset not ready after ${READY_TIMEOUT}s"; tail -n 40 "$log" >&2; exit 1; }
  sleep 1
done

# ---- webhooks, once the controller serves them ------------------------------------------------------------------------
python3 "$E2E_DIR/bin/jobset-manifests.py" webhooks "$config_dir" "$JOBSET_WEBHOOK_PORT" "$tls/ca.crt" \
  | kubectl apply --server-side --force-conflicts --field-manager=e2e-jobset-install -f - >/dev/null
# A server-side dry run goes through JobSet's mutating and validating webhooks: the controller answers on the URL
# with our CA.
until kubectl create --dry-run=server -n default -f - >/dev/null 2>&1 <<'JS'
apiVersion: jobset.x-k8s.io/v1alpha2
kind: JobSet
metadata:
  name: e2e-jobset-probe
spec:
  replicatedJobs:
  - name: w
    template:
      spec:
        template:
          spec:
            restartPolicy: Never
            containers:
            - name: c
              image: registry.invalid/probe:0
JS
do
  (( SECONDS < deadline )) || { e2e_log "jobset webhooks not answering after ${READY_TIMEOUT}s"; tail -n 40 "$log" >&2; exit 1; }
  sleep 1
done
e2e_log "jobset ${JOBSET_VERSION} up (pid $(cat "$pidfile"), webhooks https://127.0.0.1:$JOBSET_WEBHOOK_PORT, log $log)"
