#!/bin/sh
# Side by side with the real kube-state-metrics over a corpus (issue 17 item 3):
# tests/peers/ks_corpus.py writes ~320 objects of all 33 kube-state kinds, edge
# cases included, into a real kube-apiserver (tests/peers/apiserver.sh); k8smon
# (leader, every kind, labels and annotations allowlists "*") and KSM (same
# resources and allowlists as flags) read the same server. Every family's series,
# HELP and TYPE must be equal but for tests/peers/ksm_known_diff.txt
# (tests/peers/ksm_compare.py). Then a round of updates and deletes
# (ks_corpus.py churn): once both have converged, the same comparison again.
# Then metricDenylist and metricAllowlist against KSM's --metric-denylist and
# --metric-allowlist with the same regexes, and an invalid regex (InvalidSpec,
# last good list kept).
# The agent's own election Lease lives in k8smon, the API server's identity
# Leases in kube-system: both namespaces are left out on both sides, so no
# renewing Lease makes the two scrapes differ by when they were taken.
# No skip: if the peers cannot be built, this test fails.
set -u
. tests/lib/common.sh
. tests/lib/realapi.sh
real_tier_init test_ksm_corpus

real_peers kubernetes etcd kube-state-metrics
K="$KUBERNETES_BIN/kubectl --kubeconfig=$TMP/api/admin.kubeconfig --cache-dir=$TMP/cache"

real_apiserver_start
ok "real kube-apiserver ready at $(cat "$TMP/api/url")"

python3 tests/peers/ks_corpus.py load "$TMP/api" >"$TMP/load" 2>&1; rc=$?
tail -n 1 "$TMP/load" | sed 's/^/    /'
check "corpus loaded into the real server (every object created, every status written)" test $rc -eq 0
[ $rc -eq 0 ] || head -n 20 "$TMP/load"
NPODS=$($K get pods -A --no-headers 2>/dev/null | wc -l)
check "the server holds the corpus pods ($NPODS >= 60)" test "$NPODS" -ge 60

# Every kind, every label and annotation, on both sides.
RES=$(python3 -c 'import re; s = open("crds/k8smonitors.k8smon.io.yaml").read(); m = re.search(r"enum: \[(certificatesigningrequests[^\]]*)\]", s); print(",".join(x.strip() for x in m.group(1).replace("\n", " ").split(",")))')
ALLOW=$(echo "$RES" | tr ',' '\n' | sed 's/.*/"&":["*"]/' | paste -sd, -)
FLAGS=$(echo "$RES" | tr ',' '\n' | sed 's/.*/&=[*]/' | paste -sd, -)
$K apply -f crds/ >"$TMP/crd.out" 2>&1 &&
	$K wait --for=condition=Established --timeout=60s crd/k8smonitors.k8smon.io crd/scraperules.k8smon.io >/dev/null 2>&1
check "CRDs installed" test $? -eq 0
$K create namespace k8smon >/dev/null 2>&1
$K apply -f - >"$TMP/kmon.out" 2>&1 <<EOF
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: corpus}
spec:
  collectors: [kube-state]
  excludeNamespaces: [k8smon, kube-system]
  kubeState:
    labelsAllowlist: {$ALLOW}
    annotationsAllowlist: {$ALLOW}
EOF
check "K8sMonitor corpus (all kinds, allowlists \"*\") accepted by the server" test $? -eq 0
[ -s "$TMP/kmon.out" ] && grep -qv created "$TMP/kmon.out" && cat "$TMP/kmon.out"

PORT=$(free_port)
"${K8SMON_BIN:-./bin/k8smon}" -promscrape.kubernetes -kubeconfig="$TMP/api/admin.kubeconfig" -nodeName=cn-0 \
	-httpListenAddr=127.0.0.1:$PORT -leaderElection.namespace=k8smon >"$TMP/agent.log" 2>&1 &
APID=$!
KPORT=$(free_port); KTPORT=$(free_port)
"$KUBE_STATE_METRICS_BIN/kube-state-metrics" --kubeconfig="$TMP/api/admin.kubeconfig" \
	--host=127.0.0.1 --port="$KPORT" --telemetry-host=127.0.0.1 --telemetry-port="$KTPORT" \
	--metric-labels-allowlist="$FLAGS" --metric-annotations-allowlist="$FLAGS" \
	--namespaces-denylist=k8smon,kube-system --resources="$RES" >"$TMP/ksm.log" 2>&1 &
KPID=$!
B="http://127.0.0.1:$PORT"
wait_for 90 sh -c "curl -sf $B/metrics/kube-state | grep -c '^kube_pod_info{' | grep -qx $NPODS"
check "k8smon (leader) serves kube_pod_info for the $NPODS pods" sh -c "curl -sf $B/metrics/kube-state | grep -c '^kube_pod_info{' | grep -qx $NPODS"
wait_for 90 sh -c "curl -sf http://127.0.0.1:$KPORT/metrics | grep -c '^kube_pod_info{' | grep -qx $NPODS"

# compare TAG: until equal (both sides converge on their own), up to 60 s.
compare() {
	n=30
	while :; do
		curl -s "http://127.0.0.1:$KPORT/metrics" >"$TMP/ksm.$1"
		curl -s "$B/metrics/kube-state" >"$TMP/ours.$1"
		python3 tests/peers/ksm_compare.py "$TMP/ksm.$1" "$TMP/ours.$1" tests/peers/ksm_known_diff.txt >"$TMP/cmp.$1" 2>&1 && return 0
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 2
	done
}
compare loaded; rc=$?
sed 's/^/    /' "$TMP/cmp.loaded"
NS_OURS=$(grep -c '^kube_' "$TMP/ours.loaded")
NF=$(grep -c '^# TYPE kube_' "$TMP/ksm.loaded")
check "corpus: /metrics/kube-state = real kube-state-metrics ($NF families, $NS_OURS series of ours; known differences listed)" test $rc -eq 0
check "the comparison covers every kind (a family of each of the 33 resources has series)" sh -c "
	for f in certificatesigningrequest configmap cronjob daemonset deployment endpoint endpointslice horizontalpodautoscaler \
		ingress job lease limitrange mutatingadmissionpolicy mutatingadmissionpolicybinding mutatingwebhookconfiguration \
		namespace networkpolicy node persistentvolumeclaim persistentvolume poddisruptionbudget pod replicaset \
		replicationcontroller resourcequota secret service statefulset storageclass validatingadmissionpolicy \
		validatingadmissionpolicybinding validatingwebhookconfiguration volumeattachment; do
		grep -q \"^kube_\${f}_[a-z_]*{\" $TMP/ksm.loaded || { echo \$f; exit 1; }
	done"

python3 tests/peers/ks_corpus.py churn "$TMP/api" >"$TMP/churn" 2>&1; rc=$?
tail -n 1 "$TMP/churn" | sed 's/^/    /'
check "churn: updates and deletes accepted by the server" test $rc -eq 0
[ $rc -eq 0 ] || head -n 20 "$TMP/churn"
compare churned; rc=$?
sed 's/^/    /' "$TMP/cmp.churned"
check "after updates and deletes, once converged: /metrics/kube-state = real kube-state-metrics" test $rc -eq 0
check "the churn is visible (a churned label, a deleted pod gone)" sh -c "grep -q 'label_churn=\"round-1\"' $TMP/ours.churned && [ \$(grep -c '^kube_pod_info{' $TMP/ours.churned) -lt $NPODS ]"

# metricDenylist / metricAllowlist as KSM's --metric-denylist / --metric-allowlist
# (issue 17 item 2): the same regexes on both sides, KSM restarted with the flag,
# the K8sMonitor patched live. The entries are chosen where anchoring would
# matter: "kube_pod_status_ready" also selects kube_pod_status_ready_time in
# KSM (pkg/allowdenylist matches anywhere), "secret" selects every kube_secret_*.
# restart_ksm FLAG: KSM again with the corpus flags plus FLAG.
restart_ksm() {
	kill "$KPID" 2>/dev/null; wait "$KPID" 2>/dev/null
	KPORT=$(free_port); KTPORT=$(free_port)
	"$KUBE_STATE_METRICS_BIN/kube-state-metrics" --kubeconfig="$TMP/api/admin.kubeconfig" \
		--host=127.0.0.1 --port="$KPORT" --telemetry-host=127.0.0.1 --telemetry-port="$KTPORT" \
		--metric-labels-allowlist="$FLAGS" --metric-annotations-allowlist="$FLAGS" \
		--namespaces-denylist=k8smon,kube-system --resources="$RES" "$1" >"$TMP/ksm.$2.log" 2>&1 &
	KPID=$!
}
DENY='kube_pod_status_ready,^kube_node_,secret,_created$,^kube_(job|cronjob)_.*(time|timestamp)'
restart_ksm "--metric-denylist=$DENY" deny
$K patch kmon corpus --type=merge -p "{\"spec\":{\"kubeState\":{\"metricDenylist\":[$(echo "$DENY" | sed 's/[^,]*/"&"/g')]}}}" >/dev/null
check "metricDenylist patched into the K8sMonitor (server accepted it)" test $? -eq 0
compare deny; rc=$?
sed 's/^/    /' "$TMP/cmp.deny"
check "metricDenylist $DENY = KSM --metric-denylist: same families, same series" test $rc -eq 0
check "...and it left out kube_pod_status_ready_time, kube_secret_info, kube_pod_created, kept kube_pod_info" sh -c \
	"! grep -q -e ' kube_pod_status_ready_time ' -e ' kube_secret_info ' -e ' kube_pod_created ' -e ' kube_node_' $TMP/ours.deny && grep -q '^kube_pod_info{' $TMP/ours.deny"
ALLOW_RX='kube_pod_status,^kube_deployment_spec_replicas$,namespace_'
restart_ksm "--metric-allowlist=$ALLOW_RX" allow
$K patch kmon corpus --type=json -p "[{\"op\":\"remove\",\"path\":\"/spec/kubeState/metricDenylist\"},{\"op\":\"add\",\"path\":\"/spec/kubeState/metricAllowlist\",\"value\":[$(echo "$ALLOW_RX" | sed 's/[^,]*/"&"/g')]}]" >/dev/null
check "metricAllowlist patched into the K8sMonitor (server accepted it)" test $? -eq 0
compare allow; rc=$?
sed 's/^/    /' "$TMP/cmp.allow"
check "metricAllowlist $ALLOW_RX = KSM --metric-allowlist: same families, same series" test $rc -eq 0
check "...kube_pod_status_phase, kube_deployment_spec_replicas, kube_namespace_status_phase there; kube_pod_info, kube_deployment_spec_paused not" sh -c \
	"grep -q '^kube_pod_status_phase{' $TMP/ours.allow && grep -q '^kube_deployment_spec_replicas{' $TMP/ours.allow && grep -q '^kube_namespace_status_phase{' $TMP/ours.allow && ! grep -q -e ' kube_pod_info ' -e ' kube_deployment_spec_paused ' $TMP/ours.allow"
# A regex that does not compile: InvalidSpec naming the field, the allowlist in effect kept.
$K patch kmon corpus --type=merge -p '{"spec":{"kubeState":{"metricAllowlist":["kube_pod_("]}}}' >/dev/null
check "metricAllowlist [kube_pod_(]: InvalidSpec naming spec.kubeState.metricAllowlist[0]" wait_for 60 sh -c \
	"$K get kmon corpus -o wide --no-headers | grep -q 'False *InvalidSpec.*spec.kubeState.metricAllowlist\\[0\\]: invalid regex kube_pod_('"
compare allow_kept; rc=$?
check "...and the last good allowlist stays in effect (still = KSM --metric-allowlist)" test $rc -eq 0
check "agent still running" kill -0 "$APID"
# The one expected error: the invalid metricAllowlist above, rejected.
if grep -E 'level=(error|fatal)' "$TMP/agent.log" | grep -v 'rejected: spec.kubeState.metricAllowlist\[0\]: invalid regex' >/dev/null; then
	fail "agent logged errors"; grep -E 'level=(error|fatal)' "$TMP/agent.log" | head -5 | sed 's/^/    /'
else
	ok "agent logged no errors"
fi
echo "    ksm-corpus tier wall time: $(($(date +%s) - T0)) s"
finish
