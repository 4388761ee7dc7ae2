#!/bin/sh
# The K8sMonitor CRD installed after the agent started, and removed while it
# runs: the agent is ready without it (flags rule), says clearly that the
# resource is not served, picks the CRD up within seconds once installed,
# and stays up when it goes away.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
PID=""
trap 'kill $PID 2>/dev/null; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load examples/cluster || { fail "fake API server"; finish; }
PORT=$(free_port)
U=http://127.0.0.1:$PORT
$BIN -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=demo-node-1 \
	-httpListenAddr=127.0.0.1:$PORT -leaderElection=false >"$TMP/k8smon.log" 2>&1 &
PID=$!
wait_http "$U/healthz" || { fail "agent did not start"; finish; }
i=0; until [ "$(curl -s -o /dev/null -w '%{http_code}' $U/readyz)" = 200 ] || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
check "ready without the K8sMonitor CRD" test "$(curl -s -o /dev/null -w '%{http_code}' $U/readyz)" = 200
check "one clear line: resource not served, CRD not installed" grep -q 'resource=k8smonitors.k8smon.io is not served by the API server (CRD not installed?)' "$TMP/k8smon.log"
check "the same for the ScrapeRule CRD" grep -q 'resource=scraperules.k8smon.io is not served by the API server (CRD not installed?)' "$TMP/k8smon.log"
check "configuration from the flags" sh -c "curl -s $U/config | grep -q '\"source\": \"flags\"'"

kubectl apply -f crds/k8smonitors.k8smon.io.yaml >/dev/null
printf 'apiVersion: k8smon.io/v1alpha1\nkind: K8sMonitor\nmetadata:\n  name: late\nspec:\n  collectors: [node]\n' | kubectl apply -f - >/dev/null
i=0; until curl -s $U/config | grep -q '"source": "K8sMonitor/late"' || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
check "CRD installed later: logged" grep -q 'resource=k8smonitors.k8smon.io is served now (CRD installed)' "$TMP/k8smon.log"
check "CRD installed later: K8sMonitor applied within 60 s" sh -c "curl -s $U/config | grep -q '\"source\": \"K8sMonitor/late\"'"
check "its status is written" until_ms 60000 "kubectl get kmon late --no-headers | grep -q True"

kubectl apply -f crds/scraperules.k8smon.io.yaml >/dev/null
printf 'apiVersion: k8smon.io/v1alpha1\nkind: ScrapeRule\nmetadata:\n  name: late\n  namespace: shop\nspec:\n  annotationPrefix: prometheus.io\n' | kubectl apply -f - >/dev/null
i=0; until curl -s $U/config | grep -q '"source": "ScrapeRule/shop/late"' || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
check "ScrapeRule CRD installed later: the rule is in effect within 60 s" sh -c "curl -s $U/config | grep -q '\"from\": \"ScrapeRules\"' && curl -s $U/config | grep -q '\"source\": \"ScrapeRule/shop/late\"'"

lines=$(wc -l <"$TMP/k8smon.log")
kubectl delete -f crds/ >/dev/null 2>&1
i=0; until curl -s $U/config | grep -q '"source": "flags"' || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
check "CRDs removed (their objects with them): configuration back to the flags" sh -c "curl -s $U/config | grep -q '\"source\": \"flags\"' && curl -s $U/config | grep -q '\"from\": \"flags (built-in rule'"
check "CRDs removed: says so in the log" until_ms 60000 "tail -n +$((lines + 1)) '$TMP/k8smon.log' | grep -q 'resource=k8smonitors.k8smon.io is not served'"
check "CRDs removed: agent still up and serving" sh -c "kill -0 $PID && curl -s $U/metrics/node | grep -q '^node_load1 '"
finish
