# Sourced by the e2e scripts: one place for the versions and the cache location.
K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.8}          # what k8s.io/kubernetes ${K8S_VERSION} pins
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
MOE_CACHE=${MOE_CACHE:-$HOME/.cache/moe}
K8S_CACHE="$MOE_CACHE/k8s-${K8S_VERSION}"
K8S_BIN="$K8S_CACHE/bin"
