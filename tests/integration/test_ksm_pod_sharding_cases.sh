#!/bin/sh
# kubeState.podSharding=node, case by case (docs/kube-state-sharding.md), against
# the fake API server loaded with examples/cluster: two agents in node mode (A
# leads, on demo-node-1; B on demo-node-2) next to a reference agent in leader
# mode with its own Lease. After each event, the union of A's and B's
# /metrics/kube-state equals the reference's series for series, with no series
# from both, and each one emits the share the rule gives it:
#   - demo-node-3 has no agent pod: the leader emits its pods (logged once);
#   - a pod with no node comes from the leader, and once scheduled from its node's agent;
#   - B's pod not Ready: the leader takes demo-node-2 over, and gives it back;
#   - two Ready agent pods on one node: the smaller name emits (logged once by both);
#   - a live switch to leader mode and back through a K8sMonitor, a bad value refused;
#   - an agent whose -nodeName has no Node object;
#   - remote write: A and B push their shares to a real victoria-metrics, whose
#     union has every pod.
# The >= 20 agent churn test is tests/integration/test_ksm_sharding.sh.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
. tests/lib/podshard.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
PIDS=""
trap 'kill $PIDS 2>/dev/null; kill $FAKEAPI_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
[ -x "$BIN" ] || make -s bin/k8smon >/dev/null 2>&1 || { fail "make bin/k8smon"; finish; }
fakeapi_start "$TMP" --load crds --load examples/cluster || { fail "fake API server"; finish; }

# Remote write: A and B push what they serve to a real victoria-metrics.
. tests/lib/realapi.sh
. tests/lib/rw.sh
real_peers victoria-metrics
rw_vm_start || { fail "victoria-metrics starts"; finish; }
RW="-remoteWrite.url=http://127.0.0.1:$VMP/api/v1/write -promscrape.kubernetes.interval=1s"
# vmcount QUERY: the value of count(QUERY) in victoria-metrics, "" when none
vmcount() {
	curl -sf "http://127.0.0.1:$VMP/api/v1/query" --data-urlencode "query=count($1)" |
		/usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
fake_ctl POST /objects "$(fake_agentpod k8smon-a demo-node-1 True)" >/dev/null
fake_ctl POST /objects "$(fake_agentpod k8smon-b demo-node-2 True)" >/dev/null
fake_ctl POST /objects "$(fake_plainpod pending "" Pending)" >/dev/null

shard_agent A demo-node-1 k8smon-a -kubeState.podSharding=node $RW
check "A holds the Lease" until_ms 20000 "curl -s 127.0.0.1:$P_A/metrics/self | grep -q '^k8smon_leader{lease=\"default/k8smon\"} 1'"
shard_agent B demo-node-2 k8smon-b -kubeState.podSharding=node $RW
# The reference: always leader (no Lease), its own kube-state settings from the flags.
shard_agent R demo-node-1 ref -leaderElection=false

check "union of A and B equals the leader-mode reference" settle
check "A (leader) emits demo-node-1's pods (5 + its agent pod), demo-node-3's and the unscheduled one" test "$(pods A)" -eq 8
check "B emits demo-node-2's pods (7 + its agent pod)" test "$(pods B)" -eq 8
check "the pod with no node comes from the leader" has_pod A pending
check "demo-node-3 without an agent: logged once by the leader" \
	test "$(grep -c 'node demo-node-3 has no Ready agent pod' "$TMP/A.log")" -eq 1
curl -s "127.0.0.1:$P_B/metrics/self" >"$TMP/selfB"
check "B: k8smon_kube_state_pod_shard{mode=node,role=node} 1" grep -q '^k8smon_kube_state_pod_shard{mode="node",role="node"} 1' "$TMP/selfB"
check "B: k8smon_kube_state_pods_emitted 8" grep -q '^k8smon_kube_state_pods_emitted 8$' "$TMP/selfB"
check "B writes no other kind and no kube_state_metrics_* series" \
	sh -c "! curl -s 127.0.0.1:$P_B/metrics/kube-state | grep -v '^#' | grep -qv '^kube_pod_'"
curl -s "127.0.0.1:$P_A/metrics/self" >"$TMP/selfA"
check "A: one uncovered node watched" grep -q '^k8smon_kube_state_uncovered_nodes{watched="true"} 1' "$TMP/selfA"
# Each agent pushes its own share: the union in victoria-metrics is every pod;
# demo-node-2's pods can only have come from B.
NPODS=$(grep -c '^kube_pod_info{' "$TMP/ks.R")
check "remote write: victoria-metrics has kube_pod_info of every pod ($NPODS)" \
	poll 60 "test \"\$(vmcount 'kube_pod_info{job=\"kube-state-metrics\"}')\" = $NPODS"
check "remote write: B pushed demo-node-2's pods (8)" \
	poll 30 "test \"\$(vmcount 'kube_pod_info{node=\"demo-node-2\"}')\" = 8"

# The unscheduled pod is bound to demo-node-2: it moves from A to B.
fake_ctl POST /objects "$(fake_plainpod pending demo-node-2 Pending)" >/dev/null
check "after scheduling: union equals the reference" settle
check "after scheduling: B emits it, A not" sh -c "grep -q 'pod=\"pending\"' $TMP/ks.B && ! grep -q 'pod=\"pending\"' $TMP/ks.A"

# B's pod not Ready: demo-node-2 is uncovered, the leader emits it; back again.
fake_ctl POST /objects "$(fake_agentpod k8smon-b demo-node-2 False)" >/dev/null
check "B not Ready: the leader emits demo-node-2's pods, B none" \
	poll 60 "compare && test \$(grep -c '^kube_pod_info' $TMP/ks.B) -eq 0"
fake_ctl POST /objects "$(fake_agentpod k8smon-b demo-node-2 True)" >/dev/null
check "B Ready again: B emits demo-node-2's pods, the leader drops them" \
	poll 60 "compare && test \$(grep -c '^kube_pod_info' $TMP/ks.B) -gt 0"
check "the hand-back is logged by the leader" grep -q 'node demo-node-2 is covered by an agent' "$TMP/A.log"

# Two Ready agent pods on demo-node-2: k8smon-0 (no process behind it) is the
# smaller name, so B stops and nobody emits demo-node-2's pods: that is the rule.
fake_ctl POST /objects "$(fake_agentpod k8smon-0 demo-node-2 True)" >/dev/null
check "two agents on one node: the smaller name is the emitter, B stops" \
	poll 60 "compare; test \$(grep -c '^kube_pod_info' $TMP/ks.B) -eq 0"
check "two agents on one node: logged once by B" \
	until_ms 10000 "test \$(grep -c 'node demo-node-2 has 2 Ready agent pods (k8smon-0, k8smon-b): k8smon-0 emits' $TMP/B.log) -eq 1"
check "two agents on one node: B says who emits instead" grep -q 'pod k8smon-b: agent k8smon-0 emits' "$TMP/B.log"
fake_ctl DELETE "/objects?resource=pods&namespace=default&name=k8smon-0" >/dev/null
check "the second agent gone: union equals the reference again" settle

# A node watch of the leader stopped while its LIST is in flight: B not Ready,
# the leader watches demo-node-2; a labels allowlist change makes it list that
# node's pods again (a new reflector, empty until the list is in) and the fake
# holds that LIST (the monitor leaves podSharding to each agent's flag: the
# reference stays in leader mode); B Ready meanwhile: the leader drops every
# pod the stopped watch gave it, not only those of the new, still empty, list.
fake_ctl POST /objects "$(fake_agentpod k8smon-b demo-node-2 False)" >/dev/null
check "B not Ready again: the leader emits demo-node-2's pods" poll 60 "compare && test \$(pods B) -eq 0"
fake_ctl POST /fault '{"action":"stall","seconds":300,"count":1,"method":"GET","watch":false,"query":{"fieldSelector":"spec.nodeName=demo-node-2"}}' >/dev/null
kubectl apply -f - >/dev/null 2>&1 <<Y
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: shard}
spec: {collectors: [kube-state], kubeState: {labelsAllowlist: {pods: [app]}}}
Y
# faults_taken: no injected fault is pending (the stalled request came)
faults_taken() { fake_ctl GET /state | python3 -c 'import json,sys; sys.exit(1 if json.load(sys.stdin)["faults"] else 0)'; }
check "an allowlist change: the leader lists demo-node-2's pods again, and that LIST hangs" poll 60 faults_taken
fake_ctl POST /objects "$(fake_agentpod k8smon-b demo-node-2 True)" >/dev/null
check "B Ready mid-list: the leader stops its demo-node-2 watch (logged)" \
	poll 60 "test \$(grep -c 'node demo-node-2 is covered by an agent' $TMP/A.log) -ge 2"
check "... and emits none of demo-node-2's pods: union equals the reference, none twice" \
	poll 60 "compare && test \$(pods B) -gt 0"
fake_ctl POST /fault '{"action":"clear"}' >/dev/null

# Live switch through a K8sMonitor (the reference picks it up too: it is
# always leader, so in leader mode it stays complete).
kubectl apply -f - >/dev/null <<Y
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: shard}
spec: {collectors: [kube-state], kubeState: {podSharding: leader}}
Y
check "live switch to leader: A emits every pod, B none" \
	poll 60 "compare && test \$(grep -c '^kube_pod_info' $TMP/ks.B) -eq 0 && test \$(grep -c '^kube_pod_info' $TMP/ks.A) -eq \$(grep -c '^kube_pod_info' $TMP/ks.R)"
# The CRD's enum refuses a bad value at the API server; one that gets past
# it (an older CRD; the fake's bulk upsert skips validation) is refused by
# the agent, which keeps the running mode.
check "the CRD refuses podSharding: nodes" sh -c "! kubectl apply -f - >/dev/null 2>&1 <<Y
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: shard}
spec: {collectors: [kube-state], kubeState: {podSharding: nodes}}
Y"
fake_ctl POST /objects '{"apiVersion":"k8smon.io/v1alpha1","kind":"K8sMonitor","metadata":{"name":"shard","generation":5},"spec":{"collectors":["kube-state"],"kubeState":{"podSharding":"nodes"}}}' >"$TMP/post.out"
check "a bad podSharding is refused (leader mode stays)" \
	until_ms 30000 "grep -q 'spec.kubeState.podSharding: must be' $TMP/A.log"
check "after the refusal: A still emits every pod" poll 10 "compare && test \$(grep -c '^kube_pod_info' $TMP/ks.B) -eq 0"
kubectl apply -f - >/dev/null 2>&1 <<Y
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: shard}
spec: {collectors: [kube-state], kubeState: {podSharding: node}}
Y
check "live switch back to node: B emits its node's pods again" \
	until_ms 30000 "curl -s 127.0.0.1:$P_B/metrics/kube-state | grep -q '^kube_pod_info{namespace=\"default\",pod=\"pending\"'"
check "live switch back to node: A no longer emits demo-node-2's pods" \
	until_ms 30000 "! curl -s 127.0.0.1:$P_A/metrics/kube-state | grep -q '^kube_pod_info{namespace=\"default\",pod=\"pending\"'"

# An agent whose -nodeName names no Node: said once, and it emits nothing.
shard_agent G ghost-node k8smon-ghost -kubeState.podSharding=node
check "an agent on a node with no Node object: logged once" \
	until_ms 30000 "test \$(grep -c 'no Node named ghost-node' $TMP/G.log) -eq 1"
check "... and it is not among its node's pods: logged once" \
	until_ms 30000 "test \$(grep -c 'pod default/k8smon-ghost is not among node ghost-node' $TMP/G.log) -eq 1"
check "... and it emits no series" sh -c "! curl -s 127.0.0.1:$P_G/metrics/kube-state | grep -q '^kube_'"
finish
