#!/usr/bin/env bash
# e2e entry point (make test-e2e): ensures the binaries, brings the local control plane up, runs the suites with
# KUBECONFIG set, and always tears the cluster down. Exits non-zero if any suite fails.
# Suites: smoke = e2e/smoke.sh (control plane + KWOK stages); api = e2e/tests (pytest: CRD/CEL/SSA/status on the
# real apiserver); operator = e2e/operator_tests (pytest: the operator runs jobs on KWOK GPU nodes; starts the
# operator first); contract = e2e/operator_tests/test_contract_run.py (the operator's pods run the real trainer on
# CPU as local processes through e2e/runner/local_runner.py; needs the trainer venv, ensured first);
# hostile = e2e/hostile_tests (pytest: hostile jobs refused or reported, the operator unharmed after each; starts
# the operator first); webhook = e2e/webhook_tests (pytest: the plan engine's admission webhook registered on the
# real apiserver with the chart's configuration and a loopback URL; starts the operator first); chart =
# e2e/chart_tests (pytest: `helm install` of charts/moe-operator into the real apiserver, its objects, RBAC and
# webhook verified, upgrade and uninstall; restarts the operator on the chart's certificate and back); prometheus =
# e2e/operator_tests/test_prometheus_scrape.py (a real Prometheus, e2e/bin/build-prometheus.sh, scrapes the operator
# and a CPU trainer run under it; every dashboard query and alert answers with the labels it uses); kueue =
# e2e/kueue_tests (pytest: a real Kueue manager, e2e/bin/kueue-up.sh, admits the operator's gangs as pod groups:
# quota, topology-aware placement, preemption, waitForPodsReady; Kueue is stopped and its webhooks unregistered
# afterwards, so it runs last).
# Env: MOE_E2E_SUITES (default "smoke api operator contract hostile webhook chart prometheus kueue"),
# MOE_E2E_KEEP_CLUSTER=1 leaves the cluster running afterwards.
set -uo pipefail
source "$(dirname "$0")/bin/env.sh"
SUITES=${MOE_E2E_SUITES:-smoke api operator contract hostile webhook chart prometheus kueue}

"$E2E_DIR/bin/build-binaries.sh" >/dev/null || { e2e_log "building the binaries failed"; exit 1; }
if [[ " $SUITES " == *" kueue "* ]]; then
  "$E2E_DIR/bin/build-kueue.sh" >/dev/null || { e2e_log "building kueue failed"; exit 1; }
fi
cleanup() {
  if [[ -n "${MOE_E2E_KEEP_CLUSTER:-}" ]]; then e2e_log "leaving the cluster up (export KUBECONFIG=$KUBECONFIG_PATH)"
  else "$E2E_DIR/bin/cluster-down.sh"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$E2E_DIR/bin/cluster-up.sh" >/dev/null || { e2e_log "cluster-up failed"; exit 1; }
export KUBECONFIG="$KUBECONFIG_PATH"

failed_suites=()
for suite in $SUITES; do
  e2e_log "=== suite $suite"
  case $suite in
    smoke) "$E2E_DIR/smoke.sh" ;;
    api)   (cd "$REPO_DIR" && python3 -m pytest -q -p no:cacheprovider "$E2E_DIR/tests") ;;
    operator) "$E2E_DIR/bin/operator-up.sh" \
              && (cd "$REPO_DIR" && python3 -m pytest -q -p no:cacheprovider "$E2E_DIR/operator_tests" \
                    --ignore="$E2E_DIR/operator_tests/test_contract_run.py" \
                    --ignore="$E2E_DIR/operator_tests/test_prometheus_scrape.py") ;;
    contract) "$REPO_DIR/trainer-image/scripts/ensure-venv.sh" >/dev/null && "$E2E_DIR/bin/operator-up.sh" \
              && (cd "$REPO_DIR" && python3 -m pytest -q -s -p no:cacheprovider "$E2E_DIR/operator_tests/test_contract_run.py") ;;
    hostile) "$E2E_DIR/bin/operator-up.sh" \
              && (cd "$REPO_DIR" && python3 -m pytest -q -p no:cacheprovider "$E2E_DIR/hostile_tests") ;;
    webhook) "$E2E_DIR/bin/operator-up.sh" \
              && (cd "$REPO_DIR" && python3 -m pytest -q -p no:cacheprovider "$E2E_DIR/webhook_tests") ;;
    chart) "$E2E_DIR/bin/operator-up.sh" \
              && (cd "$REPO_DIR" && python3 -m pytest -q -p no:cacheprovider "$E2E_DIR/chart_tests") ;;
    kueue) ( "$E2E_DIR/bin/kueue-up.sh" && "$E2E_DIR/bin/operator-up.sh" \
              && (cd "$REPO_DIR" && python3 -m pytest -q -p no:cacheprovider "$E2E_DIR/kueue_tests") )
           rc=$?; "$E2E_DIR/bin/kueue-down.sh"; (exit $rc) ;;
    prometheus) "$REPO_DIR/trainer-image/scripts/ensure-venv.sh" >/dev/null \
              && "$E2E_DIR/bin/build-prometheus.sh" >/dev/null && "$E2E_DIR/bin/operator-up.sh" \
              && (cd "$REPO_DIR" && "${MOE_VENV:-$HOME/.cache/moe/venv}/bin/python" -m pytest -q -p no:cacheprovider \
                    "$E2E_DIR/operator_tests/test_prometheus_scrape.py") ;;  # the venv: PyYAML for the chart
    *)     e2e_log "unknown suite $suite"; false ;;
  esac || failed_suites+=("$suite")
done
if (( ${#failed_suites[@]} )); then
  e2e_log "FAILED suites: ${failed_suites[*]} (component logs: $WORK/logs)"
  exit 1
fi
e2e_log "all e2e suites passed: $SUITES"
