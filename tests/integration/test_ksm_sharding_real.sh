#!/bin/sh
# Issue 21 against the REAL kube-apiserver (tests/peers/apiserver.sh): three agents
# (the chart's RBAC and ServiceAccount token, POD_NAME, one Lease) and a reference
# agent with pod sharding off; the union of the agents' /metrics/kube-state equals
# the reference's, series for series, none twice (ksm_sharding.py compare), and in
# node mode each agent serves its node's pods, the leader the pending pod and the
# pod on a node with no agent; a pending pod scheduled through the pods/binding
# subresource (what the scheduler does) moves to its node's agent; an agent pod
# turned Ready=False hands its node's pods to the leader.
# Also the fact the fake-server test builds on: the real server refuses a change of
# spec.nodeName on a bound pod (so ksm_sharding.py moves pods by delete + recreate).
# This script writes the agents' pods and their Ready condition (/status): there is
# no kubelet. No skip: if the peers cannot be built, this test fails.
set -u
. tests/lib/common.sh
. tests/lib/realapi.sh
TMP=$(mktemp -d /tmp/test_ksm_sharding_real.XXXXXX)
SPID="" PIDS=""
BIN=${K8SMON_BIN:-./bin/k8smon}
cleanup() {
	# shellcheck disable=SC2086
	stop_pids $PIDS $SPID
	[ "${K8SMON_KEEP_TMP:-0}" = 1 ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
N=3
MODE=leader
"$BIN" -help 2>&1 | grep -q podSharding && MODE=node
[ $MODE = node ] || echo "NOTE: $BIN has no -kubeState.podSharding: today's behaviour (the leader emits every pod); node mode NOT verified"

real_peers kubernetes etcd helm
K="$KUBERNETES_BIN/kubectl --kubeconfig=$TMP/api/admin.kubeconfig --cache-dir=$TMP/cache"
real_apiserver_start
URL=$(cat "$TMP/api/url")
ok "real kube-apiserver ready at $URL"

$K apply -f crds/ >"$TMP/setup" 2>&1 &&
	$K wait --for=condition=Established --timeout=60s crd/k8smonitors.k8smon.io crd/scraperules.k8smon.io >>"$TMP/setup" 2>&1 &&
	$K create namespace k8smon >>"$TMP/setup" 2>&1 &&
	"$HELM_BIN/helm" template k8smon helm/k8smon --namespace k8smon --set kubeState.podSharding= >"$TMP/chart.yaml" 2>>"$TMP/setup" &&
	$K apply -f "$TMP/chart.yaml" >>"$TMP/setup" 2>&1 &&
	mkdir -p "$TMP/objs" && python3 tests/integration/ksm_sharding.py manifests "$TMP/objs/cluster.yaml" $N &&
	python3 tests/peers/load_cluster.py "$KUBERNETES_BIN/kubectl" "$TMP/api/admin.kubeconfig" "$TMP/objs" >>"$TMP/setup" 2>&1
rc=$?
TOKEN=$($K create token k8smon -n k8smon --duration=1h 2>>"$TMP/setup")
check "the chart, $N nodes with a Ready agent pod each, their pods, a pending pod and a pod on a node with no agent loaded" \
	sh -c "[ $rc -eq 0 ] && [ -n '$TOKEN' ]"
[ $rc -eq 0 ] || { sed 's/^/    /' "$TMP/setup"; finish; }
real_token_kubeconfig "$URL" >"$TMP/agent.kubeconfig"

# The fact behind delete + recreate in test_ksm_sharding.sh.
$K -n work patch pod w-01-0 --type=merge -p '{"spec":{"nodeName":"node-02"}}' >"$TMP/move.out" 2>&1
check "the real server refuses a new spec.nodeName on a bound pod ($(grep -o 'Forbidden: pod updates may not change fields[^(]*' "$TMP/move.out" | head -n 1))" \
	grep -q 'Forbidden: pod updates may not change fields' "$TMP/move.out"

# agent NODE POD_NAME [flags]: starts one agent, its URL appended to URLS.
URLS=""
agent() {
	p=$(free_port) an=$1 ap=$2
	shift 2
	POD_NAME=$ap POD_NAMESPACE=k8smon "$BIN" -promscrape.kubernetes -kubeconfig="$TMP/agent.kubeconfig" -nodeName="$an" \
		-httpListenAddr=127.0.0.1:$p -promscrape.kubernetes.collectors=kube-state -components= \
		-leaderElection.leaseDuration=6s -leaderElection.renewDeadline=4s -leaderElection.retryPeriod=1s \
		"$@" >"$TMP/agent-$ap.log" 2>&1 &
	PIDS="$PIDS $!"
	AURL=http://127.0.0.1:$p
}
SHARD=""
[ $MODE = node ] && SHARD="-kubeState.podSharding=node"
REFFLAG=""
[ $MODE = node ] && REFFLAG="-kubeState.podSharding=leader"
# shellcheck disable=SC2086
agent reference-node reference -leaderElection=false $REFFLAG
REF=$AURL
i=1
while [ $i -le $N ]; do
	# shellcheck disable=SC2086
	agent node-0$i k8smon-node-0$i $SHARD
	URLS="$URLS $AURL"
	eval "URL_$i=$AURL"
	i=$((i + 1))
done
# shellcheck disable=SC2086
for u in $REF $URLS; do wait_http "$u/readyz" 90 || fail "agent $u did not start"; done

# same WHAT: polls until the union equals the reference (generous bound: the agents
# list and watch a real server on loaded cores), prints the last comparison.
same() {
	# shellcheck disable=SC2086
	if wait_for 90 python3 tests/integration/ksm_sharding.py compare $REF $URLS; then
		ok "$1: union of $N agents == reference, none twice ($(python3 tests/integration/ksm_sharding.py compare $REF $URLS | python3 -c 'import json,sys; print(json.load(sys.stdin)["series"])') series)"
	else
		fail "$1: $(python3 tests/integration/ksm_sharding.py compare $REF $URLS)"
	fi
}
# serves URL POD...: the agent at URL serves exactly these pods (ns/name, sorted).
serves() {
	u=$1; shift
	want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	# shellcheck disable=SC2086
	got=$(python3 tests/integration/ksm_sharding.py compare $REF $URLS | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["pods"][sys.argv[1]]))' "$u")
	[ "$got " = "$want" ] && return 0
	echo "    $u serves: $got; want: $want"
	return 1
}
leader_url() {
	for u in $URLS; do
		curl -s "$u/metrics/self" | grep -q '^k8smon_leader{[^}]*} 1' && echo "$u"
	done
}

same "initial"
L=$(leader_url)
check "exactly one agent leads" test "$(echo "$L" | wc -w)" = 1
if [ $MODE = node ]; then
	i=1
	while [ $i -le $N ]; do
		eval "u=\$URL_$i"
		extra=""
		[ "$u" = "$L" ] && extra="work/pending-0 work/on-noagent"
		# shellcheck disable=SC2086
		check "node-0$i's agent serves node-0$i's pods$( [ -n "$extra" ] && echo ' and (the leader) the pending pod and the pod on a node with no agent')" \
			serves "$u" k8smon/k8smon-node-0$i work/w-0$i-0 work/w-0$i-1 $extra
		i=$((i + 1))
	done
fi

# Scheduled through the binding subresource, as kube-scheduler does.
curl -s --cacert "$TMP/api/ca.crt" --cert "$TMP/api/admin.crt" --key "$TMP/api/admin.key" \
	-H 'Content-Type: application/json' -X POST "$URL/api/v1/namespaces/work/pods/pending-0/binding" \
	-d '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"pending-0"},"target":{"apiVersion":"v1","kind":"Node","name":"node-02"}}' >"$TMP/bind.out"
check "pods/binding of the pending pod to node-02 accepted" test "$($K -n work get pod pending-0 -o jsonpath='{.spec.nodeName}')" = node-02
same "after the binding"
if [ $MODE = node ]; then
	extra=""
	[ "$URL_2" = "$L" ] && extra="work/on-noagent"
	# shellcheck disable=SC2086
	check "the bound pod moved to node-02's agent" serves "$URL_2" k8smon/k8smon-node-02 work/w-02-0 work/w-02-1 work/pending-0 $extra
fi

# node-03's agent pod not Ready: the leader takes node-03's pods.
$K -n k8smon patch pod k8smon-node-03 --subresource=status --type=merge \
	-p '{"status":{"conditions":[{"type":"Ready","status":"False","lastTransitionTime":"2026-12-06T06:00:00Z"}]}}' >>"$TMP/setup" 2>&1
same "node-03's agent pod Ready=False"
if [ $MODE = node ] && [ "$URL_3" != "$L" ]; then
	check "node-03's agent serves no pod once its pod is not Ready" serves "$URL_3"
fi
finish
