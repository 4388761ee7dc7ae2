#!/bin/sh
# The real-server tier, part 2 (part 1: test_real_apiserver.sh): a real etcd +
# kube-apiserver (tests/peers/apiserver.sh, versions in tests/peers/versions), the
# chart's RBAC (rendered by helm), examples/cluster loaded, agents running as the
# chart's ServiceAccount.
#   1. A watch across an etcd compaction: the agent's connections are cut
#      (tests/peers/tcpcut.py, a TCP relay: a network partition), pods are created,
#      changed and deleted, etcd is compacted at its current revision, the relay
#      reopens. The agent's pods watch resumes at its old resourceVersion and the
#      server answers 410 Expired; the agent must relist (k8smon_kube_relists_total,
#      its log) and then show exactly the server's pods (kube_pod_info uids,
#      kube_pod_status_phase of the changed pod).
#      Why the server runs with --watch-cache-sizes=pods#0: with the watch cache (the
#      default) a watch is served from the apiserver's memory, which still holds the
#      events the agent missed, so etcd's compaction never reaches it; without the
#      cache the watch starts in etcd at the agent's revision, which compaction has
#      removed (the server's reply is the same 410 it sends when a client falls
#      behind the watch cache's window). The tier checks first, with curl, that the
#      server refuses a watch at the old revision, so the agent's part is not vacuous.
#   2. Two agents (different -nodeName = holder identity), one Lease, short lease
#      durations (-leaderElection.* flags): exactly one holds the Lease and serves
#      kube-state, the other serves an empty /metrics/kube-state (DESIGN.md §3);
#      SIGTERM of the leader: the Lease is released and the other takes over;
#      SIGKILL of the (new) leader: nobody releases, the Lease expires and the
#      restarted first agent takes over. Bounds are generous readiness bounds.
#   3. The kube-apiserver crashes (SIGKILL) and restarts on the same port over the
#      same etcd (apiserver.sh, SIGHUP): a starting server answers 403 until its RBAC
#      authorizer has synced and 429 while its watch caches initialize; the agent
#      must ride it out: lead again and show the server's pods (one created and one
#      deleted after the restart).
# No skip: if the peers cannot be built, this test fails.
set -u
. tests/lib/common.sh
. tests/lib/realapi.sh
T0=$(date +%s)
TMP=$(mktemp -d /tmp/test_real_apiserver_ha.XXXXXX)
SPID="" PPID_="" A1="" A2=""
BIN=${K8SMON_BIN:-./bin/k8smon}
stop_pid() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
cleanup() {
	stop_pid "$A1"; stop_pid "$A2"; stop_pid "$PPID_"; stop_pid "$SPID"
	[ "${KEEP_TMP:-0}" = 1 ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

real_peers kubernetes etcd helm
KUBECTL="$KUBERNETES_BIN/kubectl"

APISERVER_ARGS='--watch-cache-sizes=pods#0' real_apiserver_start
URL=$(cat "$TMP/api/url")
ETCD=$(cat "$TMP/api/etcd_url")
ok "real kube-apiserver $("$KUBERNETES_BIN/kube-apiserver" --version 2>&1 | sed 's/^Kubernetes //') ready at $URL (pods not in the watch cache), etcd $("$ETCD_BIN/etcd" --version 2>&1 | sed -n 's/^etcd Version: //p') at $ETCD"
K="$KUBECTL --kubeconfig=$TMP/api/admin.kubeconfig --cache-dir=$TMP/cache"

# ---------------------------------------------------------------- setup
$K apply -f crds/ >"$TMP/setup" 2>&1 &&
	$K wait --for=condition=Established --timeout=60s crd/k8smonitors.k8smon.io crd/scraperules.k8smon.io >>"$TMP/setup" 2>&1 &&
	$K create namespace k8smon >>"$TMP/setup" 2>&1 &&
	"$HELM_BIN/helm" template k8smon helm/k8smon --namespace k8smon >"$TMP/chart.yaml" 2>>"$TMP/setup" &&
	python3 tests/peers/load_cluster.py "$KUBECTL" "$TMP/api/admin.kubeconfig" examples/cluster >>"$TMP/setup" 2>&1 &&
	$K apply -f "$TMP/chart.yaml" >>"$TMP/setup" 2>&1; rc=$?
TOKEN=$($K create token k8smon -n k8smon --duration=1h 2>>"$TMP/setup")
check "CRDs, the chart (helm template, default values) and examples/cluster applied; a token of the chart's ServiceAccount" sh -c "[ $rc -eq 0 ] && [ -n '$TOKEN' ]"
[ $rc -eq 0 ] || sed 's/^/    /' "$TMP/setup"
kubeconfig() { real_token_kubeconfig "$1"; }
kubeconfig "$URL" >"$TMP/direct.kubeconfig"

# self METRIC PORT: the value of one k8smon self-metric series (first match), 0 if absent.
self() {
	curl -s "http://127.0.0.1:$2/metrics/self" | awk -v m="$1" 'index($0, m) == 1 {print $NF; found = 1; exit} END {if (!found) print 0}'
}
# pods_match PORT: kube_pod_info of the agent = the server's pods (namespace, name, uid).
pods_match() {
	curl -s "http://127.0.0.1:$1/metrics/kube-state" >"$TMP/ks.$1" &&
		$K get pods -A -o json >"$TMP/pods.json" &&
		python3 - "$TMP/ks.$1" "$TMP/pods.json" <<'EOF'
import json, re, sys
ours = set()
for line in open(sys.argv[1]):
    if line.startswith("kube_pod_info{"):
        l = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line))
        ours.add((l["namespace"], l["pod"], l["uid"]))
srv = {(p["metadata"]["namespace"], p["metadata"]["name"], p["metadata"]["uid"])
       for p in json.load(open(sys.argv[2]))["items"]}
for x in sorted(srv - ours):
    print("missing", *x)
for x in sorted(ours - srv):
    print("extra", *x)
sys.exit(0 if ours == srv and ours else 1)
EOF
}
is_leader() { [ "$(self 'k8smon_leader{' "$1")" = 1 ]; }
holder() { $K get lease -n k8smon k8smon -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }

# ---------------------------------------------------------------- 1. etcd compaction
mkdir -p "$TMP/cut"
python3 tests/peers/tcpcut.py "$TMP/cut" "127.0.0.1:${URL##*:}" 2>"$TMP/cut.err" &
PPID_=$!
wait_for 30 test -s "$TMP/cut/port"
kubeconfig "https://127.0.0.1:$(cat "$TMP/cut/port")" >"$TMP/cut.kubeconfig"
P1=$(free_port)
"$BIN" -promscrape.kubernetes -kubeconfig="$TMP/cut.kubeconfig" -nodeName=demo-node-1 \
	-httpListenAddr=127.0.0.1:$P1 -leaderElection.namespace=k8smon >"$TMP/a1.log" 2>&1 &
A1=$!
wait_for 60 curl -sf "http://127.0.0.1:$P1/readyz"
wait_for 60 is_leader "$P1"
wait_for 60 pods_match "$P1"
check "agent (through the relay) leads and serves kube_pod_info = the server's pods" pods_match "$P1"
R0=$(self 'k8smon_kube_relists_total{resource="pods"}' "$P1")
# the list's resourceVersion (kubectl get -A shows a client-side List without one)
OLDRV=$($K get --raw '/api/v1/pods?limit=1' | python3 -c 'import json, sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')

kill -USR1 "$PPID_"
wait_for 10 grep -qx cut "$TMP/cut/state"
check "relay cut: the agent's connections to the server are reset" grep -qx cut "$TMP/cut/state"
# while the agent cannot see it: one pod created, one changed, one deleted
RUNNING=$($K get pods -A --field-selector=status.phase=Running -o jsonpath='{range .items[0]}{.metadata.namespace}/{.metadata.name}{end}')
GONE=$($K get pods -A --field-selector=status.phase!=Running -o jsonpath='{range .items[0]}{.metadata.namespace}/{.metadata.name}{end}')
$K apply -f - >"$TMP/mut" 2>&1 <<'EOF' &&
apiVersion: v1
kind: Pod
metadata: {name: born-while-cut, namespace: default}
spec:
  nodeName: demo-node-1
  containers: [{name: c, image: registry.example/c:1}]
EOF
	$K patch pod -n "${RUNNING%%/*}" "${RUNNING#*/}" --subresource=status --type=merge -p '{"status":{"phase":"Failed"}}' >>"$TMP/mut" 2>&1 &&
	$K delete pod -n "${GONE%%/*}" "${GONE#*/}" --wait=false >>"$TMP/mut" 2>&1; rc=$?
check "while cut: pod default/born-while-cut created, $RUNNING set Failed (status), $GONE deleted" sh -c "[ $rc -eq 0 ] && [ -n '$RUNNING' ] && [ -n '$GONE' ]"
[ $rc -eq 0 ] || sed 's/^/    /' "$TMP/mut"
# etcd v3 JSON gateway: the current revision, then a physical compaction at it
REV=$(curl -s -X POST "$ETCD/v3/kv/range" -d '{"key":"AA==","limit":1}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["header"]["revision"])' 2>/dev/null)
curl -s -X POST "$ETCD/v3/kv/compaction" -d "{\"revision\":\"$REV\",\"physical\":true}" >"$TMP/compact" 2>&1
# REV is read after the writes made while cut: above every resourceVersion the agent saw
check "etcd compacted at its current revision $REV (pods listed at $OLDRV before the cut)" sh -c "[ -n '$REV' ] && [ '$REV' -gt '$OLDRV' ] && grep -q '\"header\"' $TMP/compact"
# the server itself refuses a watch at the old revision: 410 Expired (an ERROR event)
curl -s --max-time 10 --cacert "$TMP/api/ca.crt" --cert "$TMP/api/admin.crt" --key "$TMP/api/admin.key" \
	"$URL/api/v1/pods?watch=1&resourceVersion=$OLDRV&timeoutSeconds=2" >"$TMP/oldwatch" 2>&1
check "the real server answers a pods watch at resourceVersion $OLDRV with 410 Expired" grep -q '"type":"ERROR".*"code":410' "$TMP/oldwatch"
[ -s "$TMP/oldwatch" ] && head -c 400 "$TMP/oldwatch" | sed 's/^/    /' && echo

kill -USR2 "$PPID_"
wait_for 10 grep -qx open "$TMP/cut/state"
relisted() { [ "$(self 'k8smon_kube_relists_total{resource="pods"}' "$P1")" -gt "$R0" ]; }
wait_for 90 relisted
R1=$(self 'k8smon_kube_relists_total{resource="pods"}' "$P1")
check "after the relay reopens: k8smon_kube_relists_total{resource=\"pods\"} rose ($R0 -> $R1)" test "$R1" -gt "$R0"
check "agent log: pods relisting because the resourceVersion expired (410)" grep -q 'resource=pods relisting: resourceVersion expired' "$TMP/a1.log"
wait_for 60 pods_match "$P1"
pods_match "$P1" >"$TMP/diff" 2>&1; rc=$?
check "after the relist kube_pod_info = the server's pods (created one present, deleted one gone, uids equal)" test $rc -eq 0
sed 's/^/    /' "$TMP/diff"
check "the pod changed while cut shows phase Failed" grep -q "^kube_pod_status_phase{namespace=\"${RUNNING%%/*}\",pod=\"${RUNNING#*/}\",.*phase=\"Failed\"} 1" "$TMP/ks.$P1"
check "agent still running" kill -0 "$A1"
kill "$A1"; wait "$A1" 2>/dev/null; A1=""
stop_pid "$PPID_"; PPID_=""

# ---------------------------------------------------------------- 2. two agents
# -leaderElection.leaseDuration 6s (renew deadline 4s, retry 1s): the SIGKILL case
# waits for one lease duration instead of the default 15 s.
LEASE="-leaderElection.namespace=k8smon -leaderElection.leaseDuration=6s -leaderElection.renewDeadline=4s -leaderElection.retryPeriod=1s"
P2=$(free_port)
start_agent() { # NODE PORT LOG
	# shellcheck disable=SC2086
	"$BIN" -promscrape.kubernetes -kubeconfig="$TMP/direct.kubeconfig" -nodeName="$1" \
		-httpListenAddr=127.0.0.1:$2 $LEASE >>"$3" 2>&1 &
}
start_agent demo-node-1 "$P1" "$TMP/n1.log"; A1=$!
start_agent demo-node-2 "$P2" "$TMP/n2.log"; A2=$!
one_leader() {
	l1=$(self 'k8smon_leader{' "$P1"); l2=$(self 'k8smon_leader{' "$P2")
	h=$(holder)
	{ [ "$l1" = 1 ] && [ "$l2" = 0 ] && [ "$h" = demo-node-1 ]; } || { [ "$l1" = 0 ] && [ "$l2" = 1 ] && [ "$h" = demo-node-2 ]; }
}
wait_for 60 sh -c "curl -sf http://127.0.0.1:$P1/readyz && curl -sf http://127.0.0.1:$P2/readyz"
wait_for 60 one_leader
check "two agents: exactly one holds the Lease (k8smon_leader 1 on it, 0 on the other; holderIdentity names it)" one_leader
T0L=$($K get lease -n k8smon k8smon -o jsonpath='{.spec.leaseTransitions}')
if is_leader "$P1"; then LP=$P1 LPID=$A1 LN=demo-node-1 FP=$P2 FN=demo-node-2 FLOG=$TMP/n2.log
else LP=$P2 LPID=$A2 LN=demo-node-2 FP=$P1 FN=demo-node-1 FLOG=$TMP/n1.log; fi
wait_for 60 pods_match "$LP"
check "the leader ($LN) serves kube_pod_info = the server's pods" pods_match "$LP"
check "the other ($FN) serves /metrics/kube-state empty (200, no kube_* series)" sh -c "
	[ \"\$(curl -s -o $TMP/fks -w '%{http_code}' http://127.0.0.1:$FP/metrics/kube-state)\" = 200 ] && ! grep -q '^kube_' $TMP/fks"
# Three retry periods later the Lease has not changed hands (a follower that took a
# held Lease would make it flip back and forth).
sleep 3
check "while both run the Lease stays with $LN (leaseTransitions still $T0L)" sh -c "
	[ '$(holder)' = $LN ] && [ '$($K get lease -n k8smon k8smon -o jsonpath='{.spec.leaseTransitions}')' = '$T0L' ] && [ '$(self 'k8smon_leader{' "$FP")' = 0 ]"

# SIGTERM: the leader releases the Lease, the other takes it
kill "$LPID"; wait "$LPID"; rc=$?
check "SIGTERM: the leader ($LN) exits 0" test $rc -eq 0
if [ "$LPID" = "$A1" ]; then A1=""; else A2=""; fi
wait_for 30 sh -c "[ \"\$($K get lease -n k8smon k8smon -o jsonpath='{.spec.holderIdentity}')\" = $FN ]"
check "after SIGTERM of $LN the Lease is held by $FN" test "$(holder)" = "$FN"
wait_for 30 is_leader "$FP"
wait_for 60 pods_match "$FP"
check "$FN leads (k8smon_leader 1)" is_leader "$FP"
check "$FN serves kube_pod_info = the server's pods" pods_match "$FP"
check "$FN logged that it became the leader" grep -q "identity=$FN became leader" "$FLOG"

# SIGKILL: nobody releases; the restarted $LN takes over once the Lease expires
if [ "$LN" = demo-node-1 ]; then start_agent "$LN" "$LP" "$TMP/n1.log"; A1=$!; NPID=$A1
else start_agent "$LN" "$LP" "$TMP/n2.log"; A2=$!; NPID=$A2; fi
wait_for 60 sh -c "curl -sf http://127.0.0.1:$LP/readyz"
check "$LN restarted: a follower (k8smon_leader 0, Lease still held by $FN, /metrics/kube-state empty)" sh -c "
	[ '$(self 'k8smon_leader{' "$LP")' = 0 ] && [ '$(holder)' = $FN ] &&
	[ \"\$(curl -s -o $TMP/fks2 -w '%{http_code}' http://127.0.0.1:$LP/metrics/kube-state)\" = 200 ] && ! grep -q '^kube_' $TMP/fks2"
T1=$($K get lease -n k8smon k8smon -o jsonpath='{.spec.leaseTransitions}')
if [ "$FN" = demo-node-1 ]; then KPID=$A1; A1=""; else KPID=$A2; A2=""; fi
kill -9 "$KPID"; wait "$KPID" 2>/dev/null
check "SIGKILL of $FN: the Lease is not released (holderIdentity still $FN)" test "$(holder)" = "$FN"
wait_for 60 sh -c "[ \"\$($K get lease -n k8smon k8smon -o jsonpath='{.spec.holderIdentity}')\" = $LN ]"
check "after the Lease expired, $LN holds it" test "$(holder)" = "$LN"
T2=$($K get lease -n k8smon k8smon -o jsonpath='{.spec.leaseTransitions}')
check "Lease spec.leaseTransitions counted the take-over ($T1 -> $T2)" test "${T2:-0}" -gt "${T1:-0}"
wait_for 30 is_leader "$LP"
wait_for 60 pods_match "$LP"
check "$LN leads again and serves kube_pod_info = the server's pods" pods_match "$LP"

# ---------------------------------------------------------------- 3. apiserver restart
codes() { curl -s "http://127.0.0.1:$LP/metrics/self" | awk '/^k8smon_kube_requests_total\{/ && !/code="2/ {print}' | sort; }
codes >"$TMP/codes.before"
kill -HUP "$SPID"
wait_for 150 sh -c "[ \"\$(cat $TMP/api/restarts 2>/dev/null)\" = 1 ]"
check "kube-apiserver crashed (SIGKILL) and restarted on the same port" test "$(cat "$TMP/api/restarts" 2>/dev/null)" = 1
$K apply -f - >"$TMP/mut2" 2>&1 <<'EOF' &&
apiVersion: v1
kind: Pod
metadata: {name: born-after-restart, namespace: default}
spec:
  nodeName: demo-node-2
  containers: [{name: c, image: registry.example/c:1}]
EOF
	$K delete pod -n default born-while-cut --wait=false >>"$TMP/mut2" 2>&1; rc=$?
check "after the restart: pod default/born-after-restart created, default/born-while-cut deleted" test $rc -eq 0
[ $rc -eq 0 ] || sed 's/^/    /' "$TMP/mut2"
wait_for 60 is_leader "$LP"
wait_for 60 pods_match "$LP"
pods_match "$LP" >"$TMP/diff2" 2>&1; rc=$?
check "$LN leads again after the restart and kube_pod_info = the server's pods" sh -c "[ $rc -eq 0 ] && [ '$(self 'k8smon_leader{' "$LP")' = 1 ]"
sed 's/^/    /' "$TMP/diff2"
codes >"$TMP/codes.after"
echo "    API answers other than 2xx around the restart (k8smon_kube_requests_total, new or grown):"
diff "$TMP/codes.before" "$TMP/codes.after" | sed -n 's/^> /      /p'
check "agent $LN still running" kill -0 "$NPID"
echo "    real-apiserver HA tier wall time: $(($(date +%s) - T0)) s"
finish
