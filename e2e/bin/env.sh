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
