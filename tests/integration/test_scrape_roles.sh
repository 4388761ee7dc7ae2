#!/bin/sh
# Application scraping end to end for the endpoints, endpointslice, service
# and ingress roles: two agents (nodes n1, n2) with leader election against
# the fake API server, loopback targets from tests/scrape/targets.py.
#  - endpoints / endpointslice: an annotated Service whose ready addresses are
#    on n1 and n2 -> each agent scrapes only its node's address, the target
#    carries the backing pod's labels (pod, container, and
#    __meta_kubernetes_pod_label_* -> labelmap), not-ready addresses and
#    addresses of unannotated services are not scraped;
#  - service / ingress: targets without a node, owned by the leader only;
#    after the leader stops, the other agent takes them over.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
TMP=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds || { fail "fake API server"; finish; }

P_EP=$(free_port); P_ES=$(free_port); P_SVC=$(free_port); P_ING=$(free_port); P_PLAIN=$(free_port)
python3 tests/scrape/targets.py $P_EP:ok:2 $P_ES:ok:3 $P_SVC:ok:4 $P_ING:ok:5 $P_PLAIN:ok:1 >"$TMP/targets.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 60 grep -q READY "$TMP/targets.out"
put() { fake_ctl POST /objects "$1" >/dev/null; }

# Backing pods (not annotated: only the endpoint roles find them), one per
# node and namespace, each declaring the endpoint ports in container "main".
for ns in ep es; do
	for n in 1 2; do
		put "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
		 \"metadata\":{\"name\":\"web-$n\",\"namespace\":\"$ns\",\"uid\":\"$ns-web-$n\",\"labels\":{\"app\":\"web\",\"tier\":\"t$n\"}},
		 \"spec\":{\"nodeName\":\"n$n\",\"containers\":[{\"name\":\"main\",\"image\":\"x\",
		   \"ports\":[{\"name\":\"metrics\",\"containerPort\":$P_EP},{\"name\":\"m2\",\"containerPort\":$P_ES}]}]},
		 \"status\":{\"phase\":\"Running\",\"podIP\":\"127.0.0.1\",\"hostIP\":\"127.0.0.1\"}}"
	done
done
# svc NS NAME PORT ANNOTATED
svc() {
	ann=""
	[ "$4" = yes ] && ann="\"annotations\":{\"victoriametrics.com/scrape\":\"true\",\"victoriametrics.com/port\":\"$3\"},"
	put "{\"apiVersion\":\"v1\",\"kind\":\"Service\",
	 \"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\",\"uid\":\"$1-$2\",$ann\"labels\":{\"svc\":\"$2\"}},
	 \"spec\":{\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"metrics\",\"port\":$3,\"targetPort\":$3,\"protocol\":\"TCP\"}]}}"
}
# Endpoints ep/web: ready on n1 and n2, one not-ready address on n1.
svc ep web $P_EP yes
put "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"web\",\"namespace\":\"ep\",\"uid\":\"ep-web-e\"},
 \"subsets\":[{\"addresses\":[
   {\"ip\":\"127.0.0.1\",\"nodeName\":\"n1\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"web-1\",\"namespace\":\"ep\"}},
   {\"ip\":\"127.0.0.1\",\"nodeName\":\"n2\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"web-2\",\"namespace\":\"ep\"}}],
  \"notReadyAddresses\":[{\"ip\":\"127.0.0.9\",\"nodeName\":\"n1\"}],
  \"ports\":[{\"name\":\"metrics\",\"port\":$P_EP,\"protocol\":\"TCP\"}]}]}"
# An unannotated service with endpoints on n1: never a target.
svc ep plain $P_PLAIN no
put "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"plain\",\"namespace\":\"ep\",\"uid\":\"ep-plain-e\"},
 \"subsets\":[{\"addresses\":[{\"ip\":\"127.0.0.1\",\"nodeName\":\"n1\"}],\"ports\":[{\"port\":$P_PLAIN}]}]}"
# EndpointSlice es/web-abc for Service es/web: ready on n1 and n2, not ready on n1.
svc es web $P_ES yes
put "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"addressType\":\"IPv4\",
 \"metadata\":{\"name\":\"web-abc\",\"namespace\":\"es\",\"uid\":\"es-web-abc\",\"labels\":{\"kubernetes.io/service-name\":\"web\"}},
 \"endpoints\":[
   {\"addresses\":[\"127.0.0.1\"],\"conditions\":{\"ready\":true},\"nodeName\":\"n1\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"web-1\",\"namespace\":\"es\"}},
   {\"addresses\":[\"127.0.0.1\"],\"nodeName\":\"n2\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"web-2\",\"namespace\":\"es\"}},
   {\"addresses\":[\"127.0.0.8\"],\"conditions\":{\"ready\":false},\"nodeName\":\"n1\"}],
 \"ports\":[{\"name\":\"m2\",\"port\":$P_ES,\"protocol\":\"TCP\"}]}"
# Service sv/api and Ingress in/site (no node: the leader's). Their
# addresses (api.sv.svc:PORT, the ingress host) are rewritten to loopback by
# the rules' relabelings so that the scrapes succeed.
svc sv api $P_SVC yes
put "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",
 \"metadata\":{\"name\":\"site\",\"namespace\":\"in\",\"uid\":\"in-site\",\"annotations\":{\"victoriametrics.com/scrape\":\"true\"}},
 \"spec\":{\"rules\":[{\"host\":\"site.example\",\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\",
   \"backend\":{\"service\":{\"name\":\"x\",\"port\":{\"number\":80}}}}]}}]}}"
rule() { # rule NS ROLE [extra spec JSON members]
	put "{\"apiVersion\":\"k8smon.io/v1alpha1\",\"kind\":\"ScrapeRule\",\"metadata\":{\"name\":\"r\",\"namespace\":\"$1\",\"generation\":1},
	 \"spec\":{\"role\":\"$2\",\"interval\":\"1s\"${3:+,$3}}}"
}
LABELMAP='"relabelings":[{"action":"labelmap","regex":"__meta_kubernetes_pod_label_(.+)"}]'
rule ep endpoints "$LABELMAP"
rule es endpointslice "$LABELMAP"
rule sv service "\"relabelings\":[{\"sourceLabels\":[\"__address__\"],\"regex\":\"[^:]+:([0-9]+)\",\"targetLabel\":\"__address__\",\"replacement\":\"127.0.0.1:\$1\"}]"
rule in ingress "\"relabelings\":[{\"targetLabel\":\"__address__\",\"replacement\":\"127.0.0.1:$P_ING\"},{\"targetLabel\":\"__scheme__\",\"replacement\":\"http\"}]"

A1=$(free_port); A2=$(free_port)
start_agent() { # start_agent NODE PORT
	"${K8SMON:-./bin/k8smon}" -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName="$1" \
		-httpListenAddr=127.0.0.1:$2 -leaderElection.namespace=default -leaderElection.leaseDuration=3s \
		-leaderElection.renewDeadline=2s -leaderElection.retryPeriod=500ms -loggerLevel=INFO \
		-promscrape.kubernetes.collectors=app >"$TMP/agent-$1.log" 2>&1 &
	echo $!
}
PID1=$(start_agent n1 $A1); PID2=$(start_agent n2 $A2)
PIDS="$PIDS $PID1 $PID2"
U1=http://127.0.0.1:$A1; U2=http://127.0.0.1:$A2
wait_http "$U1/healthz" || fail "agent n1 did not start"
wait_http "$U2/healthz" || fail "agent n2 did not start"

until_true() { until_ms "$@"; } # MS CMD; tests/lib/common.sh
# Target summary of an agent: one line per target, "job pod health labels...".
cat >"$TMP/T" <<'SH'
#!/bin/sh
curl -s "$1/targets" | python3 -c "
import json,sys
for t in json.load(sys.stdin)['data']['activeTargets']:
    l = t['labels']; d = t.get('discoveredLabels', {})
    print(l.get('job'), l.get('pod', '-'), t['health'], ' '.join('%s=%s' % kv for kv in sorted(l.items())),
          '|', ' '.join('%s=%s' % kv for kv in sorted(d.items()) if kv[0].startswith('__meta_kubernetes_pod_label')))"
SH
chmod +x "$TMP/T"

# ---- endpoints / endpointslice: sharded by the address's node ----------------
for a in "n1 $U1 1" "n2 $U2 2"; do
	set -- $a
	check "$1: endpoints target of its own address, up, with pod web-$3" until_true 8000 \
		"$TMP/T $2 | grep -q '^ep/r web-$3 up .*container=main.*instance=127.0.0.1:$P_EP.*namespace=ep.*node=$1.*service=web'"
	check "$1: endpoints target carries the backing pod's labels (labelmap app, tier)" \
		sh -c "$TMP/T $2 | grep '^ep/r web-$3 ' | grep -q 'app=web .*tier=t$3 .*| .*__meta_kubernetes_pod_label_tier=t$3'"
	check "$1: endpointslice target of its own address, up, with pod web-$3" until_true 5000 \
		"$TMP/T $2 | grep -q '^es/r web-$3 up .*container=main.*instance=127.0.0.1:$P_ES.*namespace=es.*node=$1.*service=web.*tier=t$3'"
	check "$1: exactly one endpoints and one endpointslice target" \
		sh -c "test \$($TMP/T $2 | grep -c '^e[ps]/r ') -eq 2"
	check "$1: samples of the endpoints target with pod and service labels" until_true 5000 \
		"curl -s $2/metrics/apps | grep -q '^app_requests_total{code=\"200\",i=\"1\",port=\"$P_EP\",app=\"web\",container=\"main\",instance=\"127.0.0.1:$P_EP\",job=\"ep/r\",namespace=\"ep\",node=\"$1\",pod=\"web-$3\",service=\"web\",tier=\"t$3\"} 1'"
done
check "no overlap: n1 has no n2 endpoint address" sh -c "! $TMP/T $U1 | grep -q 'web-2'"
check "no overlap: n2 has no n1 endpoint address" sh -c "! $TMP/T $U2 | grep -q 'web-1'"
check "not-ready addresses are not targets" sh -c "! { $TMP/T $U1; $TMP/T $U2; } | grep -q '127.0.0.[89]'"
check "unannotated service's endpoints are not targets" sh -c "! { $TMP/T $U1; $TMP/T $U2; } | grep -q ':$P_PLAIN'"

# ---- service / ingress: the leader only ------------------------------------------
leader_url() {
	for u in $U1 $U2; do
		curl -s "$u/metrics/self" | grep -q '^k8smon_leader{lease="default/k8smon"} 1' && { echo "$u"; return 0; }
	done
	return 1
}
check "one agent is the leader" until_true 10000 "curl -s $U1/metrics/self $U2/metrics/self | grep -c '^k8smon_leader{lease=\"default/k8smon\"} 1' | grep -qx 1"
LU=$(leader_url); if [ "$LU" = "$U1" ]; then FU=$U2; LPID=$PID1; else FU=$U1; LPID=$PID2; fi
echo "     leader: $LU, follower: $FU"
check "leader: service target up, labels namespace/service/job, no node/pod" until_true 8000 \
	"$TMP/T $LU | grep -q '^sv/r - up instance=127.0.0.1:$P_SVC job=sv/r namespace=sv service=api |'"
check "leader: ingress target up, labels namespace/job/instance" until_true 8000 \
	"$TMP/T $LU | grep -q '^in/r - up instance=127.0.0.1:$P_ING job=in/r namespace=in |'"
check "leader: service samples in /metrics/apps" until_true 5000 \
	"curl -s $LU/metrics/apps | grep -q '^app_requests_total{code=\"200\",i=\"3\",port=\"$P_SVC\",instance=\"127.0.0.1:$P_SVC\",job=\"sv/r\",namespace=\"sv\",service=\"api\"} 3'"
check "follower: no service target" sh -c "! $TMP/T $FU | grep -q '^sv/r '"
check "follower: no ingress target" sh -c "! $TMP/T $FU | grep -q '^in/r '"
check "follower: no service/ingress samples" sh -c "! curl -s $FU/metrics/apps | grep -q 'job=\"\\(sv\\|in\\)/r\"'"

# The leader goes away: the other agent takes the Lease and the targets.
kill "$LPID"
check "after the leader stops, the other agent becomes leader" until_true 15000 \
	"curl -s $FU/metrics/self | grep -q '^k8smon_leader{lease=\"default/k8smon\"} 1'"
check "and owns the service target" until_true 8000 "$TMP/T $FU | grep -q '^sv/r - up '"
check "and the ingress target" until_true 8000 "$TMP/T $FU | grep -q '^in/r - up '"
check "and keeps only its own endpoint addresses" sh -c "test \$($TMP/T $FU | grep -c '^e[ps]/r ') -eq 2"
finish
