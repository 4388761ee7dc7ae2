#!/bin/sh
# kubeState.podSharding=node past the cap of per-node watches
# (-kubeState.uncoveredNodeWatches, docs/kube-state-sharding.md): the leader
# switches to one cluster-wide pod watch kept to the uncovered nodes' pods,
# and back to per-node watches at half the cap. Against the fake API server
# loaded with examples/cluster plus nodes x1..x3 (one pod each): A leads on
# demo-node-1, B runs on demo-node-2, the cap is 2. After every event the
# union of A's and B's /metrics/kube-state equals a leader-mode reference,
# series for series, with no series from both:
#   - 4 uncovered nodes (demo-node-3, x1..x3) > 2: wide watch, every pod emitted once;
#   - a pod created on an uncovered node while wide: the leader emits it;
#   - B not Ready (5 uncovered): the leader takes demo-node-2 over; Ready again:
#     the leader drops its pods (the wide filter follows coverage);
#   - x1..x3 deleted (1 uncovered <= 2/2): back to one watch per node.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
. tests/lib/podshard.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
PIDS=""
trap 'kill $PIDS 2>/dev/null; kill $FAKEAPI_PID 2>/dev/null; wait 2>/dev/null; [ "${K8SMON_KEEP_TMP:-0}" = 1 ] && echo "kept $TMP" || rm -rf "$TMP"' EXIT
[ -x "$BIN" ] || make -s bin/k8smon >/dev/null 2>&1 || { fail "make bin/k8smon"; finish; }
fakeapi_start "$TMP" --load crds --load examples/cluster || { fail "fake API server"; finish; }

node() {
	printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s","labels":{"kubernetes.io/hostname":"%s"}},"status":{"conditions":[{"type":"Ready","status":"True"}]}}' "$1" "$1"
}
for x in x1 x2 x3; do
	fake_ctl POST /objects "$(node $x)" >/dev/null
	fake_ctl POST /objects "$(fake_plainpod pod-$x $x Running)" >/dev/null
done
fake_ctl POST /objects "$(fake_agentpod k8smon-a demo-node-1 True)" >/dev/null
fake_ctl POST /objects "$(fake_agentpod k8smon-b demo-node-2 True)" >/dev/null

check "a cap over 64 is refused with its reason" \
	sh -c "$BIN -kubeState.uncoveredNodeWatches=65 -httpListenAddr=127.0.0.1:0 2>&1 | grep -q 'uncoveredNodeWatches: want 1 to 64'"
shard_agent A demo-node-1 k8smon-a -kubeState.podSharding=node -kubeState.uncoveredNodeWatches=2
check "A holds the Lease" until_ms 20000 "curl -s 127.0.0.1:$P_A/metrics/self | grep -q '^k8smon_leader{lease=\"default/k8smon\"} 1'"
shard_agent B demo-node-2 k8smon-b -kubeState.podSharding=node -kubeState.uncoveredNodeWatches=2
shard_agent R demo-node-1 ref -leaderElection=false

check "4 uncovered nodes over a cap of 2: union of A and B equals the reference" settle
check "... the leader says it switched to one cluster-wide pod watch" \
	grep -q '4 nodes have no Ready agent pod (over 2): the leader watches every pod' "$TMP/A.log"
check "... A emits x1..x3's pods" sh -c "grep -q 'pod=\"pod-x1\"' $TMP/ks.A && grep -q 'pod=\"pod-x3\"' $TMP/ks.A"
check "... B emits demo-node-2's pods (7 + its agent pod), A none of them" \
	sh -c "test $(pods B) -eq 8 && ! grep '^kube_pod_info{' $TMP/ks.A | grep -q 'node=\"demo-node-2\"'"
check "... k8smon_kube_state_uncovered_nodes: 4 emitted, none left out" \
	sh -c "curl -s 127.0.0.1:$P_A/metrics/self >$TMP/selfA; grep -q '^k8smon_kube_state_uncovered_nodes{watched=\"true\"} 4' $TMP/selfA && grep -q '^k8smon_kube_state_uncovered_nodes{watched=\"false\"} 0' $TMP/selfA"

fake_ctl POST /objects "$(fake_plainpod late-x2 x2 Running)" >/dev/null
check "a pod created on an uncovered node while wide: union equals the reference" settle
check "... A emits it" has_pod A late-x2

fake_ctl POST /objects "$(fake_agentpod k8smon-b demo-node-2 False)" >/dev/null
check "B not Ready (5 uncovered): the leader emits demo-node-2's pods, B none" \
	poll 60 "compare && test \$(pods B) -eq 0"
fake_ctl POST /objects "$(fake_agentpod k8smon-b demo-node-2 True)" >/dev/null
check "B Ready again: B emits demo-node-2's pods, the leader's wide watch drops them" \
	poll 60 "compare && test \$(pods B) -eq 8"

for x in x1 x2 x3; do
	fake_ctl DELETE "/objects?resource=pods&namespace=default&name=pod-$x" >/dev/null
	fake_ctl DELETE "/objects?resource=nodes&name=$x" >/dev/null
done
fake_ctl DELETE "/objects?resource=pods&namespace=default&name=late-x2" >/dev/null
check "1 uncovered node (<= 2/2): union equals the reference" settle
check "... the leader is back to one watch per node (logged)" \
	until_ms 30000 "grep -q '1 nodes have no Ready agent pod: the leader is back to one watch per node' $TMP/A.log"
check "... and still emits demo-node-3's pods" sh -c "grep '^kube_pod_info{' $TMP/ks.A | grep -q 'node=\"demo-node-3\"'"
check "after the way back: union equals the reference" settle

# Over the cap again: the wide watch returns.
for x in x1 x2 x3; do
	fake_ctl POST /objects "$(node $x)" >/dev/null
	fake_ctl POST /objects "$(fake_plainpod pod-$x $x Running)" >/dev/null
done
check "over the cap again: union equals the reference" settle
check "... wide again (logged twice in all)" \
	test "$(grep -c 'nodes have no Ready agent pod (over 2): the leader watches every pod' "$TMP/A.log")" -eq 2
finish
