# Sourced by the e2e scripts: one place for the versions and the cache location.
K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.8}          # what k8s.io/kubernetes ${K8S_VERSION} pins
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
MOE_CACHE=${MOE_CACHE:-$HOME/.cache/moe}
K8S_CACHE="$MOE_CACHE/k8s-${K8S_VERSION}"
K8S_BIN="$K8S_CACHE/bin"
# Kueue (e2e suite `kueue`): the newest release on the Go module proxy; its go.mod pins k8s.io/* v0.35.3 and
# controller-runtime v0.23.3 (client skew +/-1 minor against the v1.36 apiserver built here).
KUEUE_VERSION=${KUEUE_VERSION:-v0.17.0}
KUEUE_CACHE="$MOE_CACHE/kueue-${KUEUE_VERSION}"
KUEUE_BIN="$KUEUE_CACHE/bin"
# Prometheus 3.x and promtool (e2e/bin/build-prometheus.sh): the Go module's v0.3MM.P is Prometheus 3.MM.P.
PROMETHEUS_MODULE_VERSION=${PROMETHEUS_MODULE_VERSION:-v0.316.0}   # = Prometheus 3.16.0
PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-3.16.0}
PROMETHEUS_BIN="$MOE_CACHE/prometheus-${PROMETHEUS_VERSION}/bin"
# JobSet (benchmark only, e2e/bench/fleet.sh: not part of CI): its go.mod pins k8s.io/* v0.36.0 and
# controller-runtime v0.24.0.
JOBSET_VERSION=${JOBSET_VERSION:-v0.12.0}
JOBSET_CACHE="$MOE_CACHE/jobset-${JOBSET_VERSION}"
JOBSET_BIN="$JOBSET_CACHE/bin"
