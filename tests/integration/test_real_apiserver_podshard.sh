#!/bin/sh
# kubeState.podSharding=node against a REAL kube-apiserver (tests/peers): the
# field selectors the agents use (spec.nodeName=<node> and spec.nodeName= for
# pods with no node), the label selector of the agents' pods, the chart's RBAC
# (the agents run with the DaemonSet's ServiceAccount token) and the Ready
# condition written through /status as the kubelet would. Two agents in node
# mode (A leads, on demo-node-1; B on demo-node-2; demo-node-3 has no agent) next
# to a reference in leader mode: the union of A's and B's /metrics/kube-state
# equals the reference's series for series, with no series from both; B's pod
# turned not Ready hands demo-node-2 to the leader, and back.
set -u
. tests/lib/common.sh
. tests/lib/realapi.sh
. tests/lib/podshard.sh
TMP=$(mktemp -d /tmp/test_real_apiserver_podshard.XXXXXX)
SPID="" PIDS=""
cleanup() {
	[ -n "$PIDS" ] && kill $PIDS 2>/dev/null
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
BIN=${K8SMON_BIN:-./bin/k8smon}
[ -x "$BIN" ] || make -s bin/k8smon >/dev/null 2>&1 || { fail "make bin/k8smon"; finish; }

real_peers kubernetes etcd helm
KUBECTL="$KUBERNETES_BIN/kubectl"
real_apiserver_start
K="$KUBECTL --kubeconfig=$TMP/api/admin.kubeconfig --cache-dir=$TMP/cache"
$K apply -f crds/ >/dev/null 2>&1 && $K wait --for=condition=Established --timeout=60s crd/k8smonitors.k8smon.io >/dev/null 2>&1
check "CRDs established" test $? -eq 0
python3 tests/peers/load_cluster.py "$KUBECTL" "$TMP/api/admin.kubeconfig" examples/cluster >"$TMP/load" 2>&1
check "examples/cluster loaded" test $? -eq 0
$K create namespace k8smon >/dev/null 2>&1
# podSharding left to each agent's flag (the chart's K8sMonitor would set node for
# all, the leader-mode reference included)
"$HELM_BIN/helm" template k8smon helm/k8smon --namespace k8smon --set kubeState.podSharding= >"$TMP/chart.yaml" 2>"$TMP/tpl.err" &&
	$K apply -f "$TMP/chart.yaml" >"$TMP/chart.apply" 2>&1
check "the chart applied (RBAC, ServiceAccount, K8sMonitor)" test $? -eq 0 || cat "$TMP/chart.apply"
TOKEN=$($K create token k8smon -n k8smon --duration=1h 2>/dev/null)
check "a token of the DaemonSet's ServiceAccount" test -n "$TOKEN"
real_token_kubeconfig "$(cat "$TMP/api/url")" >"$TMP/agent.kubeconfig"

# Agent pods as the DaemonSet makes them (its label), Ready written through /status.
agentpod() { # NAME NODE
	$K -n k8smon create -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app.kubernetes.io/name: k8smon}}
spec: {nodeName: $2, serviceAccountName: k8smon, containers: [{name: k8smon, image: "k8smon:dev"}]}
EOF
}
ready() { # NAME True|False
	$K -n k8smon patch pod "$1" --subresource=status --type=merge \
		-p "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"$2\"}]}}" >/dev/null
}
$K -n k8smon create serviceaccount default >/dev/null 2>&1
agentpod k8smon-a demo-node-1 && agentpod k8smon-b demo-node-2 && ready k8smon-a True && ready k8smon-b True
check "agent pods k8smon-a (demo-node-1) and k8smon-b (demo-node-2) Ready" test $? -eq 0
$K -n default create -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: unscheduled}
spec: {containers: [{name: c, image: "busybox:1.36"}]}
EOF
check "a pod with no node" test $? -eq 0

SHARD_KUBECONFIG=$TMP/agent.kubeconfig SHARD_LEASE_NS=k8smon
shard_agent A demo-node-1 k8smon-a -kubeState.podSharding=node
check "A holds the Lease" until_ms 60000 "curl -s 127.0.0.1:$P_A/metrics/self | grep -q '^k8smon_leader{lease=\"k8smon/k8smon\"} 1'"
shard_agent B demo-node-2 k8smon-b -kubeState.podSharding=node
shard_agent R demo-node-1 ref -leaderElection=false

check "union of A and B equals the leader-mode reference (real server)" poll 90 compare
check "B emits demo-node-2's pods only" sh -c "[ $(pods B) -gt 0 ] && ! grep '^kube_pod_info{' $TMP/ks.B | grep -qv 'node=\"demo-node-2\"'"
check "the pod with no node comes from the leader (spec.nodeName= on the real server)" \
	grep -q '^kube_pod_info{namespace="default",pod="unscheduled"' "$TMP/ks.A"
check "demo-node-3 has no agent: the leader emits its pods" \
	sh -c "grep '^kube_pod_info{' $TMP/ks.A | grep -q 'node=\"demo-node-3\"'"
check "B writes only pod families" sh -c "! grep -qv '^kube_pod_' $TMP/ks.B"
ready k8smon-b False
check "B not Ready: the leader takes demo-node-2 over, B emits nothing" poll 60 "compare && [ \$(pods B) -eq 0 ]"
ready k8smon-b True
check "B Ready again: B emits demo-node-2's pods, the leader drops them" poll 60 "compare && [ \$(pods B) -gt 0 ]"
if [ "${FAILED:-0}" != 0 ]; then tail -n 20 "$TMP/A.log" "$TMP/B.log"; fi
finish
