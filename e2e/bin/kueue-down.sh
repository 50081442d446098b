#!/usr/bin/env bash
# Undoes kueue-up.sh: unregisters Kueue's webhook configurations first (so no pod or Kueue object waits on a
# webhook that is gone), then stops the manager (TERM, KILL after 10 s). Kueue's CRDs and objects stay until the
# cluster goes (cluster-down.sh deletes the etcd data); their conversion webhooks are only called for v1beta1.
set -uo pipefail
source "$(dirname "$0")/env.sh"
if [[ -f "$KUBECONFIG_PATH" ]]; then
  KUBECONFIG="$KUBECONFIG_PATH" kubectl delete --ignore-not-found --wait=false \
    mutatingwebhookconfiguration/moe-e2e-kueue-mutating validatingwebhookconfiguration/moe-e2e-kueue-validating \
    >/dev/null 2>&1 || true
fi
e2e_stop_pidfile kueue
e2e_log "kueue down"
