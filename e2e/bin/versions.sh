# Sourced by the e2e scripts: one place for the versions and the cache location.
K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.8}          # what k8s.io/kubernetes ${K8S_VERSION} pins
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
MOE_CACHE=${MOE_CACHE:-$HOME/.cache/moe}
K8S_CACHE="$MOE_CACHE/k8s-${K8S_VERSION}"
K8S_BIN="$K8S_CACHE/bin"
# Prometheus 3.x and promtool (e2e/bin/build-prometheus.sh): the Go module's v0.3MM.P is Prometheus 3.MM.P.
PROMETHEUS_MODULE_VERSION=${PROMETHEUS_MODULE_VERSION:-v0.316.0}   # = Prometheus 3.16.0
PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-3.16.0}
PROMETHEUS_BIN="$MOE_CACHE/prometheus-${PROMETHEUS_VERSION}/bin"
