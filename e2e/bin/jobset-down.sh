#!/usr/bin/env bash
# Undoes jobset-up.sh: unregisters JobSet's webhook configurations first (so no pod or JobSet waits on a webhook
# that is gone), then stops the controller (TERM, KILL after 10 s). The CRD and any JobSets stay until the cluster
# goes (cluster-down.sh deletes the etcd data).
set -uo pipefail
source "$(dirname "$0")/env.sh"
if [[ -f "$KUBECONFIG_PATH" ]]; then
  KUBECONFIG="$KUBECONFIG_PATH" kubectl delete --ignore-not-found --wait=false \
    mutatingwebhookconfiguration/moe-e2e-jobset-mutating validatingwebhookconfiguration/moe-e2e-jobset-validating \
    >/dev/null 2>&1 || true
fi
e2e_stop_pidfile jobset
e2e_log "jobset down"
