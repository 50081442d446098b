# Sourced by the e2e scripts: versions, cache, work dir, ports. Every value can be overridden from the env.
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$E2E_DIR/.." && pwd)
# shellcheck source=e2e/bin/versions.sh
source "$E2E_DIR/bin/versions.sh"
WORK=${MOE_E2E_WORK:-$E2E_DIR/.work}             # certs, kubeconfig, etcd data, logs, pid files (gitignored)
export KUBECONFIG_PATH="$WORK/kubeconfig"
# Loopback ports (override if they collide with something else on the machine)
ETCD_PORT=${MOE_E2E_ETCD_PORT:-23790}
ETCD_PEER_PORT=${MOE_E2E_ETCD_PEER_PORT:-23800}
APISERVER_PORT=${MOE_E2E_APISERVER_PORT:-16443}
KCM_PORT=${MOE_E2E_KCM_PORT:-20257}
SCHEDULER_PORT=${MOE_E2E_SCHEDULER_PORT:-20259}
KWOK_PORT=${MOE_E2E_KWOK_PORT:-20247}
OPERATOR_PORT=${MOE_E2E_OPERATOR_PORT:-18080}     # the operator's HTTP: health, metrics
WEBHOOK_PORT=${MOE_E2E_WEBHOOK_PORT:-18443}       # the operator's HTTPS: the admission webhook (e2e/webhook_tests)
KUEUE_WEBHOOK_PORT=${MOE_E2E_KUEUE_WEBHOOK_PORT:-19443}  # Kueue's HTTPS webhooks (e2e/bin/kueue-up.sh, suite kueue)
KUEUE_METRICS_PORT=${MOE_E2E_KUEUE_METRICS_PORT:-18082}  # Kueue's metrics (HTTPS)
KUEUE_HEALTH_PORT=${MOE_E2E_KUEUE_HEALTH_PORT:-18081}    # Kueue's /healthz, /readyz (HTTP)
JOBSET_WEBHOOK_PORT=${MOE_E2E_JOBSET_WEBHOOK_PORT:-19444}  # JobSet's HTTPS webhooks (e2e/bin/jobset-up.sh, benchmark only)
JOBSET_METRICS_PORT=${MOE_E2E_JOBSET_METRICS_PORT:-18084}  # JobSet's metrics (HTTPS)
JOBSET_HEALTH_PORT=${MOE_E2E_JOBSET_HEALTH_PORT:-18083}    # JobSet's /healthz, /readyz (HTTP)
PROMETHEUS_PORT=${MOE_E2E_PROMETHEUS_PORT:-19090} # Prometheus' HTTP API (suite prometheus: e2e/operator_tests/test_prometheus_scrape.py)
# Fake GPU fleet
NODES=${MOE_E2E_NODES:-16}
GPUS_PER_NODE=${MOE_E2E_GPUS_PER_NODE:-8}
NODES_PER_RACK=${MOE_E2E_NODES_PER_RACK:-4}
GPU_PRODUCT=${MOE_E2E_GPU_PRODUCT:-NVIDIA-H100-80GB-HBM3}
TRAINING_SECONDS=${MOE_KWOK_TRAINING_SECONDS:-10}   # how long a training.moe.dev/job pod "runs" in KWOK
READY_TIMEOUT=${MOE_E2E_READY_TIMEOUT:-90}         # seconds per component
export PATH="$K8S_BIN:$PATH"
e2e_log() { echo "[e2e $(date -u +%H:%M:%S)] $*" >&2; }
# Exits 1 when one of the loopback ports is taken; $1 names the env vars that move them (for the message).
e2e_require_free_ports() {
  local hint=$1 p; shift
  for p in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      e2e_log "port 127.0.0.1:$p is already in use; set $hint (see e2e/bin/env.sh)"; exit 1
    fi
  done
}
# A serving certificate for 127.0.0.1 signed by a CA of its own (ca.crt, tls.crt, tls.key in dir $1; CA named $2),
# made once per dir: what the API server needs to call a webhook served on loopback.
e2e_loopback_serving_cert() {
  local tls=$1 cn=$2
  [[ -s $tls/tls.crt ]] && return 0
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$cn" \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/tls.key" -out "$tls/tls.csr" 2>/dev/null
  openssl x509 -req -in "$tls/tls.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 30 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') -out "$tls/tls.crt" 2>/dev/null
}
# Stops the process of $WORK/pids/$1.pid: TERM, KILL after 10 s.
e2e_stop_pidfile() {
  local name=$1 pidfile="$WORK/pids/$1.pid" pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile"); rm -f "$pidfile"
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { e2e_log "$name ($pid) did not stop on TERM; killing"; kill -KILL "$pid"; }
  fi
  return 0
}
