#!/bin/sh
# ScrapeRule status written by the leader: target counts, NoTargets,
# InvalidSpec with the field path while the last accepted version keeps
# running, and back to Accepted when fixed.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
PID=""
trap 'kill $PID 2>/dev/null; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds --load examples/cluster || { fail "fake API server"; finish; }
PORT=$(free_port)
U=http://127.0.0.1:$PORT
$BIN -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=demo-node-1 \
	-httpListenAddr=127.0.0.1:$PORT -leaderElection=false >"$TMP/k8smon.log" 2>&1 &
PID=$!
wait_http "$U/healthz" || { fail "agent did not start"; finish; }
until_ok() { # until_ok SECONDS CMD...
	n=$(( $1 * 10 )); shift
	i=0; while [ $i -lt $n ]; do sh -c "$*" >/dev/null 2>&1 && return 0; sleep 0.1; i=$((i + 1)); done
	return 1
}
for f in examples/scraperule-pods.yaml examples/scraperule-service.yaml; do kubectl apply -f "$f" >/dev/null; done
check "rule selecting an annotated pod: Ready=True Accepted, 1 target" until_ok 5 \
	"kubectl -n shop get sr pods --no-headers | grep -Eq 'True +Accepted +1 '"
check "status.observedGeneration written" until_ok 5 \
	"test \"\$(kubectl -n shop get sr pods -o jsonpath='{.status.observedGeneration}')\" = \"\$(kubectl -n shop get sr pods -o jsonpath='{.metadata.generation}')\""
check "rule selecting nothing: Ready=True NoTargets, TargetsSelected=False" until_ok 5 \
	"kubectl -n shop get sr shop-services --no-headers | grep -Eq 'True +NoTargets +0 ' && kubectl -n shop get sr shop-services -o jsonpath='{.status.conditions[?(@.type==\"TargetsSelected\")].status}' | grep -qx False"
check "the target is scraped" until_ok 10 "curl -s $U/api/v1/targets | grep -q '\"scrapePool\"'"
# The API server refuses this edit (CEL rule of the CRD); the agent must refuse it too
# when a looser (older) CRD let it in, which the fake plays with validation off.
check "the API server refuses scrapeTimeout > interval (422 naming spec.scrapeTimeout)" sh -c \
	"kubectl -n shop patch sr pods --type=merge -p '{\"spec\":{\"interval\":\"15s\",\"scrapeTimeout\":\"30s\"}}' 2>&1 | grep -q 'spec.scrapeTimeout: Invalid value: scrapeTimeout must not be greater than interval'"
fake_ctl POST /fault '{"action":"cr_validation","enabled":false}' >/dev/null
kubectl -n shop patch sr pods --type=merge -p '{"spec":{"interval":"15s","scrapeTimeout":"30s"}}' >/dev/null
fake_ctl POST /fault '{"action":"cr_validation","enabled":true}' >/dev/null
check "invalid edit: Ready=False InvalidSpec naming the field" until_ok 5 \
	"kubectl -n shop get sr pods -o wide --no-headers | grep -q 'False *InvalidSpec.*spec.scrapeTimeout: 30s is longer than spec.interval 15s'"
check "invalid edit: Stalled=True" sh -c "kubectl -n shop get sr pods -o jsonpath='{.status.conditions[?(@.type==\"Stalled\")].status}' | grep -qx True"
check "invalid edit: the last accepted version keeps scraping" sh -c "curl -s $U/api/v1/targets | grep -q 'shop/pods'"
kubectl -n shop patch sr pods --type=merge -p '{"spec":{"scrapeTimeout":"5s"}}' >/dev/null
check "fixed: Accepted again" until_ok 5 "kubectl -n shop get sr pods --no-headers | grep -Eq 'True +Accepted +1 '"
kubectl -n shop delete sr pods >/dev/null
check "deleted rule: its targets go" until_ok 5 "! curl -s $U/api/v1/targets | grep -q 'shop/pods'"
check "agent up" kill -0 $PID
[ "$FAILS" -ne 0 ] && tail -20 "$TMP/k8smon.log"
finish
