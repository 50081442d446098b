#!/usr/bin/env bash
# Starts the operator (operator/target/quarkus-app/quarkus-run.jar) against the local cluster, in the
# background, logging to $MOE_E2E_WORK/logs/operator.log (pid in pids/operator.pid; cluster-down.sh stops it).
# Installs crds/ first. Builds the jar with Maven if it is missing. HTTP (health, metrics) on 127.0.0.1:$MOE_E2E_OPERATOR_PORT (18080);
# HTTPS (the admission webhook) on 127.0.0.1:$MOE_E2E_WEBHOOK_PORT (18443), with a certificate for 127.0.0.1 signed by
# a CA made here with openssl ($MOE_E2E_WORK/webhook-tls/ca.crt: e2e/webhook_tests registers the webhook with it).
# MOE_OPERATOR_APP=<dir> runs another quarkus-app directory (e.g. a build in a separate checkout).
# MOE_OPERATOR_RBAC=chart (default) runs the operator as the Helm chart's ServiceAccount under the chart's own
# ClusterRole (rendered by helm, applied here), so every suite also proves the chart's RBAC is enough;
# MOE_OPERATOR_RBAC=admin uses the cluster-admin kubeconfig.
set -euo pipefail
source "$(dirname "$0")/env.sh"
jar="${MOE_OPERATOR_APP:-$REPO_DIR/operator/target/quarkus-app}/quarkus-run.jar"
if [[ ! -f $jar && -z ${MOE_OPERATOR_APP:-} ]]; then
  e2e_log "operator jar missing; building it (mvn -DskipTests package)"
  (cd "$REPO_DIR" && mvn -B -ntp -q -DskipTests package) >&2 || { e2e_log "operator build failed"; exit 1; }
  [[ -f $jar ]] || { e2e_log "mvn package did not produce $jar"; exit 1; }
fi
[[ -f "$KUBECONFIG_PATH" ]] || { e2e_log "no cluster: run e2e/bin/cluster-up.sh first"; exit 1; }
# The operator does not install its CRD (quarkus.operator-sdk.crd.apply=false) and stops if it is missing.
KUBECONFIG="$KUBECONFIG_PATH" kubectl apply --server-side --force-conflicts --field-manager=e2e-crd-install -f "$REPO_DIR/crds/" >/dev/null
KUBECONFIG="$KUBECONFIG_PATH" kubectl wait --for=condition=Established --timeout=60s -f "$REPO_DIR/crds/" >/dev/null
operator_kubeconfig="$KUBECONFIG_PATH"
if [[ ${MOE_OPERATOR_RBAC:-chart} == chart ]]; then
  helm=$(bash "$REPO_DIR/charts/scripts/ensure-helm.sh")
  export KUBECONFIG="$KUBECONFIG_PATH"
  kubectl create namespace moe-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  "$helm" template moe-operator "$REPO_DIR/charts/moe-operator" --namespace moe-system --kube-version "${K8S_VERSION#v}" \
    --show-only templates/serviceaccount.yaml --show-only templates/rbac.yaml | kubectl apply -f - >/dev/null
  operator_kubeconfig="$WORK/operator.kubeconfig"
  kubectl config view --raw --minify --flatten >"$operator_kubeconfig.tmp"
  kubectl config --kubeconfig="$operator_kubeconfig.tmp" set-credentials moe-operator \
    --token="$(kubectl create token moe-operator -n moe-system --duration=24h)" >/dev/null
  kubectl config --kubeconfig="$operator_kubeconfig.tmp" set-context --current --user=moe-operator >/dev/null
  mv "$operator_kubeconfig.tmp" "$operator_kubeconfig"
  e2e_log "operator runs as system:serviceaccount:moe-system:moe-operator with the chart's RBAC"
fi
pidfile="$WORK/pids/operator.pid"
alive() {  # a killed operator may linger as a zombie until reaped: that is not running
  kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
if [[ -f $pidfile ]] && alive "$(cat "$pidfile")"; then e2e_log "operator already running"; exit 0; fi
# Run a snapshot of quarkus-app, so that a `mvn package` running meanwhile cannot pull jars from under it.
rm -rf "$WORK/operator-app" && cp -r "$(dirname "$jar")" "$WORK/operator-app"
# The webhook's serving certificate (the chart makes its own, or cert-manager does): one CA per work dir.
# MOE_E2E_WEBHOOK_TLS_DIR=<dir with tls.crt, tls.key> serves another pair (e2e/chart_tests: the one helm made).
tls="${MOE_E2E_WEBHOOK_TLS_DIR:-$WORK/webhook-tls}"
e2e_loopback_serving_cert "$tls" moe-e2e-webhook-ca
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
# Appended, not overwritten: a test that restarts the operator keeps the evidence of the run before.
log="$WORK/logs/operator.log"
offset=$(stat -c %s "$log" 2>/dev/null || echo 0)
echo "===== operator-up $(date -u +%FT%TZ)" >>"$log"
# The JVM and glibc as the chart's Deployment runs them: values.yaml jvmOptions (the collector, heap bounds, 8 MiB
# stacks) and mallocArenaMax (unless MALLOC_ARENA_MAX is set here already); MOE_OPERATOR_JAVA_OPTS comes after them.
values="$REPO_DIR/charts/moe-operator/values.yaml"
read -r -a chart_jvm <<<"$(sed -n 's/^jvmOptions: *"\(.*\)"$/\1/p' "$values")"
((${#chart_jvm[@]})) || { e2e_log "no jvmOptions in $values"; exit 1; }
arenas=$(sed -n 's/^mallocArenaMax: *\([0-9]*\).*/\1/p' "$values")
if [[ ${arenas:-0} != 0 ]]; then export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-$arenas}; fi
KUBECONFIG="$operator_kubeconfig" MOE_WEBHOOK_PORT="$WEBHOOK_PORT" MOE_WEBHOOK_TLS_CERT="$tls/tls.crt" \
  MOE_WEBHOOK_TLS_KEY="$tls/tls.key" setsid nohup "$JAVA" \
  "${chart_jvm[@]}" -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$OPERATOR_PORT" ${MOE_OPERATOR_JAVA_OPTS:-} \
  -jar "$WORK/operator-app/quarkus-run.jar" >>"$WORK/logs/operator.log" 2>&1 </dev/null &
echo $! >"$pidfile"
deadline=$((SECONDS + ${MOE_E2E_READY_TIMEOUT:-90}))
until curl -fsS --max-time 2 "http://127.0.0.1:$OPERATOR_PORT/q/health/ready" >/dev/null 2>&1 \
      || tail -c +$((offset + 1)) "$log" | grep -qE 'Installed features|Operator .*started|Profile prod activated'; do
  if ! alive "$(cat "$pidfile")"; then
    e2e_log "operator exited during startup; last lines of $WORK/logs/operator.log:"; tail -n 60 "$WORK/logs/operator.log" >&2; exit 1
  fi
  (( SECONDS < deadline )) || { e2e_log "operator not ready in time"; tail -n 60 "$WORK/logs/operator.log" >&2; exit 1; }
  sleep 1
done
e2e_log "operator started (pid $(cat "$pidfile"), log $WORK/logs/operator.log)"
