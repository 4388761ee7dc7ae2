#!/bin/sh
# kube-state with a kind the API server forbids (403), which is the default since the
# chart no longer grants Secrets and ConfigMaps (docs/security.md, "Least privilege
# on the node"); src/collect/kubestate/watch.c skips forbidden/absent kinds in
# readiness and watches only the kinds kubeState.resources names.
#
# The agent authenticates as its ServiceAccount to the fake API server, which enforces
# "everything but secrets and configmaps" (the chart's default RBAC):
#   1. the chart's K8sMonitor (kubeState.resources without them): /readyz 200, kube_*
#      served, no request at all for secrets/configmaps;
#   2. a K8sMonitor without kubeState.resources (all kinds): still ready, other kinds
#      served, kube_secret_*/kube_configmap_* absent, the 403 retried slowly;
#   3. the grant arrives (kubeState.secretsAndConfigMaps.enabled): kube_secret_* appears
#      without a restart.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
PID=""
trap 'kill $PID 2>/dev/null; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds || { fail "fake API server"; finish; }
SA=system:serviceaccount:k8smon:k8smon
deny() { # deny true|false: the agent may not / may read secrets and configmaps
	fake_ctl POST /auth "{\"users\": {\"tok-agent\": {\"username\": \"$SA\", \"groups\": [\"system:serviceaccounts\"]}},
	  \"rules\": [{\"user\": \"$SA\", \"resource\": [\"secrets\", \"configmaps\"], \"allowed\": $([ $1 = true ] && echo false || echo true)}],
	  \"default_allowed\": true, \"enforce\": true}" >/dev/null
}
deny true
sed 's/token: .*/token: tok-agent/' "$KUBECONFIG" >"$TMP/kc-agent"
K="kubectl --kubeconfig=$KUBECONFIG --cache-dir=$TMP/cache"
$K create namespace team-a >/dev/null 2>&1
$K -n team-a create secret generic s1 --from-literal=k=v >/dev/null 2>&1
$K -n team-a create configmap c1 --from-literal=k=v >/dev/null 2>&1
python3 tests/helm/render.py --out "$TMP/chart" >/dev/null
$K apply -f "$TMP/chart/templates_k8smonitor.yaml" >/dev/null 2>&1 || fail "apply the chart's K8sMonitor"
count() { fake_ctl GET /requests | python3 -c 'import json,sys; c=json.load(sys.stdin)["counts"]; print(sum(v for k,v in c.items() if k.startswith("GET") and ("/secrets" in k or "/configmaps" in k)))'; }
fake_ctl POST /requests/reset >/dev/null

PORT=$(free_port)
U=http://127.0.0.1:$PORT
$BIN -promscrape.kubernetes -kubeconfig="$TMP/kc-agent" -nodeName=n1 -httpListenAddr=127.0.0.1:$PORT \
	-leaderElection=false >"$TMP/log" 2>&1 &
PID=$!
wait_http "$U/healthz" || { fail "agent did not start"; cat "$TMP/log"; finish; }
ready() { test "$(curl -s -o /dev/null -w '%{http_code}' $U/readyz)" = 200; }
ks() { curl -s $U/metrics/kube-state; }

check "1. chart K8sMonitor, no grant: /readyz 200 within 10 s" until_ms 10000 "test \$(curl -s -o /dev/null -w '%{http_code}' $U/readyz) = 200"
check "1. kube_namespace_created served" sh -c "curl -s $U/metrics/kube-state | grep -q '^kube_namespace_created{namespace=\"team-a\"'"
# Ideally none; the agent may list each once with the flag defaults (all kinds) before
# the K8sMonitor's list arrives.
check "1. at most one LIST each for secrets and configmaps ($(count))" test "$(count)" -le 2
fake_ctl POST /requests/reset >/dev/null
sleep 10
check "1. and none afterwards ($(count) in 10 s)" test "$(count)" = 0

forbidden() { curl -s $U/metrics/self | sed -n 's/^k8smon_kube_errors_total{resource="secrets",cause="forbidden"} //p'; }
F0=$(forbidden)
$K patch k8smonitor k8smon --type=json -p '[{"op": "remove", "path": "/spec/kubeState/resources"}]' >/dev/null 2>&1 ||
	fail "remove kubeState.resources from the K8sMonitor"
# Counted from the first refused LIST of secrets on: the backoff (0.8 s
# doubling, jittered) then allows at most ~5 LISTs a kind in the 20 s below,
# however long the change took to apply. Meanwhile, and for 2 s after (the
# refused kinds are given up on within 1 s), the kinds served before the
# change must stay served while the new ones list.
reads=0 gone=0 after=0 i=0
served() { curl -s $U/metrics/kube-state | grep -q '^kube_namespace_created{namespace="team-a"'; }
while [ $i -lt 600 ] && [ $after -lt 20 ]; do
	[ $after -gt 0 ] || [ "$(forbidden)" != "$F0" ] && after=$((after + 1))
	reads=$((reads + 1))
	served || gone=$((gone + 1))
	sleep 0.1
	i=$((i + 1))
done
check "2. kube_namespace_created stays served while the added kinds list ($gone of $reads reads without it)" [ "$gone" = 0 ]
fake_ctl POST /requests/reset >/dev/null
check "2. all kinds asked for, secrets/configmaps forbidden: still ready" until_ms 10000 "test \$(curl -s -o /dev/null -w '%{http_code}' $U/readyz) = 200"
check "2. other kinds served" sh -c "curl -s $U/metrics/kube-state | grep -q '^kube_namespace_created{namespace=\"team-a\"'"
check "2. kube_secret_* and kube_configmap_* absent" sh -c "! curl -s $U/metrics/kube-state | grep -q '^kube_secret_\|^kube_configmap_'"
check "2. the 403 is counted" sh -c "curl -s $U/metrics/self | grep -q 'k8smon_kube_errors_total{resource=\"secrets\",cause=\"forbidden\"} [1-9]'"
sleep 20
n=$(count)
check "2. the forbidden LISTs back off (no 403 loop): $n in 20 s for both kinds (at most 10)" test "$n" -le 10

deny false
check "3. after the grant, kube_secret_info appears without a restart (within 60 s)" \
	until_ms 60000 "curl -s $U/metrics/kube-state | grep -q '^kube_secret_info{namespace=\"team-a\",secret=\"s1\"'"
check "3. and kube_configmap_info" \
	until_ms 60000 "curl -s $U/metrics/kube-state | grep -q '^kube_configmap_info{namespace=\"team-a\",configmap=\"c1\"'"
finish
