#!/bin/sh
# Custom resource state metrics side by side with the real kube-state-metrics
# (issue 17 item 2): two test CRDs (tests/peers/crs/crds.yaml: a namespaced
# Widget, a cluster-scoped Gizmo with an irregular plural) and CRs covering the
# edge cases (numbers, strings, booleans, quantities, percentages, timestamps,
# wrong types, missing fields, maps, lists, list lookups, negative indexes,
# unicode and escaped label values, 10,000 labels, a 200 KiB annotation) in a
# real kube-apiserver. KSM runs with
# --custom-resource-state-only --custom-resource-state-config-file=
# tests/peers/crs/config.yaml; k8smon (leader) gets the same config's spec as
# K8sMonitor spec.kubeState.customResourceState. Every custom resource family
# (series, HELP, TYPE) must be equal but for tests/peers/ksm_crs_known_diff.txt.
# Then updates and deletes, both converge, compared again; then an invalid
# config: InvalidSpec naming the field, the series in effect kept; a valid change
# applies live.
# No namespace filter on either side: KSM v2.20 with --namespaces-denylist cannot
# list a cluster-scoped CR at all (it sends a metadata.namespace field selector,
# which the server refuses for them), k8smon lists them.
# No skip: if the peers cannot be built, this test fails.
set -u
. tests/lib/common.sh
. tests/lib/realapi.sh
real_tier_init test_ksm_crs

real_peers kubernetes etcd kube-state-metrics helm
K="$KUBERNETES_BIN/kubectl --kubeconfig=$TMP/api/admin.kubeconfig --cache-dir=$TMP/cache"

real_apiserver_start
ok "real kube-apiserver ready at $(cat "$TMP/api/url")"

$K apply -f crds/ -f tests/peers/crs/crds.yaml >"$TMP/crd.out" 2>&1 &&
	$K wait --for=condition=Established --timeout=60s crd/k8smonitors.k8smon.io crd/widgets.test.k8smon.io \
		crd/gizmoes.test.k8smon.io >/dev/null 2>&1
check "CRDs installed (k8smon's, Widget, Gizmo)" test $? -eq 0
$K apply -f tests/peers/crs/objects.yaml >"$TMP/objects.out" 2>&1
check "test CRs accepted by the server" test $? -eq 0 || cat "$TMP/objects.out"
# Bad input the server accepts: 10,000 labels (copied by the info family's
# "label_*") and a 200 KiB annotation (copied by Gizmo's "*"): exported as KSM
# exports them, the other objects unaffected. kubectl create: apply would also
# store the object in an annotation, past the 256 KiB limit.
python3 - >"$TMP/big.json" <<'PY'
import json
labels = {"k%05d" % i: "v%d" % i for i in range(10000)}
print(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "test.k8smon.io/v1", "kind": "Widget",
     "metadata": {"name": "many-labels", "namespace": "crs-a", "labels": labels}, "spec": {"replicas": 1}},
    {"apiVersion": "test.k8smon.io/v1alpha1", "kind": "Gizmo",
     "metadata": {"name": "big-annotation", "annotations": {"big": "x" * (200 << 10)}}, "spec": {"size": "1"}}]}))
PY
$K create -f "$TMP/big.json" >"$TMP/big.out" 2>&1
check "a Widget with 10,000 labels and a Gizmo with a 200 KiB annotation accepted by the server" test $? -eq 0 ||
	cat "$TMP/big.out"
$K create namespace k8smon >/dev/null 2>&1

# The K8sMonitor: config.yaml's spec (indented under kubeState.customResourceState).
monitor() { # monitor FILE: K8sMonitor crs with FILE's spec
	{
		printf 'apiVersion: k8smon.io/v1alpha1\nkind: K8sMonitor\nmetadata: {name: crs}\nspec:\n'
		printf '  collectors: [kube-state]\n'
		printf '  kubeState:\n    resources: [namespaces]\n    customResourceState:\n'
		sed -n '/^spec:/,$p' "$1" | tail -n +2 | sed 's/^/    /'
	} >"$TMP/kmon.yaml"
	$K apply -f "$TMP/kmon.yaml"
}
monitor tests/peers/crs/config.yaml >"$TMP/kmon.out" 2>&1
check "K8sMonitor with kubeState.customResourceState accepted by the server (CRD schema)" test $? -eq 0 ||
	cat "$TMP/kmon.out"

# The chart's way: kubeState.customResourceState.{config,rules} rendered by the real
# helm; the server accepts the K8sMonitor (dry run) and the ClusterRole grants the CRs.
{
	printf 'kubeState:\n  customResourceState:\n'
	printf '    rules: [{apiGroups: [test.k8smon.io], resources: [widgets, gizmoes], verbs: [list, watch]}]\n'
	printf '    config:\n'
	sed -n '/^spec:/,$p' tests/peers/crs/config.yaml | tail -n +2 | sed 's/^/    /'
} >"$TMP/values.yaml"
"$HELM_BIN/helm" template k8smon helm/k8smon -f "$TMP/values.yaml" >"$TMP/chart.yaml" 2>"$TMP/chart.err"
check "chart renders with kubeState.customResourceState.{config,rules}" test $? -eq 0 || cat "$TMP/chart.err"
python3 - "$TMP/chart.yaml" >"$TMP/chart.kmon.yaml" <<'PY'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
print("\n---\n".join(d for d in docs if "kind: K8sMonitor" in d or "kube-state-crs" in d))
PY
$K apply --dry-run=server -f "$TMP/chart.kmon.yaml" >"$TMP/chart.apply" 2>&1
check "...the server accepts its K8sMonitor and ClusterRole (dry run)" test $? -eq 0 || cat "$TMP/chart.apply"
check "...the ClusterRole k8smon-kube-state-crs grants list/watch on widgets, bound to the agents" sh -c \
	"grep -q 'clusterrole.rbac.authorization.k8s.io/k8smon-kube-state-crs created (server dry run)' $TMP/chart.apply &&
	grep -q 'clusterrolebinding.rbac.authorization.k8s.io/k8smon-kube-state-crs created (server dry run)' $TMP/chart.apply &&
	grep -A8 '^rules:' $TMP/chart.kmon.yaml | grep -q widgets"

PORT=$(free_port)
"${K8SMON_BIN:-./bin/k8smon}" -promscrape.kubernetes -kubeconfig="$TMP/api/admin.kubeconfig" -nodeName=cn-0 \
	-httpListenAddr=127.0.0.1:$PORT -leaderElection.namespace=k8smon >"$TMP/agent.log" 2>&1 &
APID=$!
KPORT=$(free_port); KTPORT=$(free_port)
"$KUBE_STATE_METRICS_BIN/kube-state-metrics" --kubeconfig="$TMP/api/admin.kubeconfig" \
	--host=127.0.0.1 --port="$KPORT" --telemetry-host=127.0.0.1 --telemetry-port="$KTPORT" \
	--custom-resource-state-only --custom-resource-state-config-file=tests/peers/crs/config.yaml \
	>"$TMP/ksm.log" 2>&1 &
KPID=$!
B="http://127.0.0.1:$PORT"

# Custom resource families only (k8smon also serves the namespaces above).
crs_only() { grep -E '^(# (HELP|TYPE) )?(kube_customresource_|gizmo_)' "$1" >"$1.crs"; }
# compare TAG: until equal (both sides converge on their own), up to 90 s.
compare() {
	n=45
	while :; do
		curl -s "http://127.0.0.1:$KPORT/metrics" >"$TMP/ksm.$1"
		curl -s "$B/metrics/kube-state" >"$TMP/ours.$1"
		crs_only "$TMP/ksm.$1"; crs_only "$TMP/ours.$1"
		if [ -s "$TMP/ksm.$1.crs" ] &&
			python3 tests/peers/ksm_compare.py "$TMP/ksm.$1.crs" "$TMP/ours.$1.crs" \
				tests/peers/ksm_crs_known_diff.txt >"$TMP/cmp.$1" 2>&1; then
			return 0
		fi
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 2
	done
}
compare loaded; rc=$?
sed 's/^/    /' "$TMP/cmp.loaded"
NF=$(grep -c '^# TYPE ' "$TMP/ksm.loaded.crs")
NS=$(grep -vc '^#' "$TMP/ours.loaded.crs")
check "custom resource state: k8smon = real kube-state-metrics ($NF families, $NS series of ours)" test $rc -eq 0
check "...every configured family has series (15 of them)" test "$NF" -eq 15
check "...values as KSM converts them: 3, Gi, true-ish strings, timestamps, percent, 1e+21" sh -c "
	grep -q '^kube_customresource_replicas{.*name=\"full\".*} 3\$' $TMP/ours.loaded.crs &&
	grep -q '^kube_customresource_memory_bytes{.*name=\"full\".*} 1.073741824e+09\$' $TMP/ours.loaded.crs &&
	grep -q '^kube_customresource_paused{.*name=\"strings\".*} 1\$' $TMP/ours.loaded.crs &&
	grep -q '^kube_customresource_last_update{.*name=\"full\".*} 1.71455883e+09\$' $TMP/ours.loaded.crs &&
	grep -q '^kube_customresource_memory_bytes{.*name=\"numbers\".*} 0.5\$' $TMP/ours.loaded.crs &&
	grep -q '^kube_customresource_replicas{.*name=\"numbers\".*} 1e+21\$' $TMP/ours.loaded.crs"
check "...10,000 labels on one info series and the 200 KiB annotation as a label, as KSM" sh -c "
	grep '^kube_customresource_info{.*name=\"many-labels\"' $TMP/ours.loaded.crs | grep -o 'label_k[0-9]*=' | wc -l | grep -qx 10000 &&
	grep '^gizmo_size{big=\"' $TMP/ours.loaded.crs | cut -d'\"' -f2 | tr -d '\n' | wc -c | grep -qx 204800"
check "...wrong types and unparsable values left out (no replicas series of wrong-types), and counted" sh -c "
	! grep -q '^kube_customresource_replicas{.*name=\"wrong-types\"' $TMP/ours.loaded.crs &&
	curl -s $B/metrics | grep -q '^k8smon_kube_state_custom_resource_values_skipped_total [1-9]'"

# Updates and deletes: both converge.
$K -n crs-a patch widget full --type=merge -p '{"spec":{"replicas":5,"limits":{"cpu":"750m"}},"status":{"phase":"Failed"}}' >/dev/null &&
	$K -n crs-b delete widget numbers >/dev/null && $K delete gizmo empty >/dev/null &&
	$K -n crs-b apply -f - >/dev/null <<'YAML'
apiVersion: test.k8smon.io/v1
kind: Widget
metadata: {name: late, namespace: crs-b}
spec: {replicas: 9}
YAML
check "updates, deletes and a create accepted by the server" test $? -eq 0
compare churned; rc=$?
sed 's/^/    /' "$TMP/cmp.churned"
check "after updates and deletes, once converged: k8smon = real kube-state-metrics" test $rc -eq 0
check "...the changes are visible (replicas 5, no numbers, a late widget)" sh -c "
	grep -q '^kube_customresource_replicas{.*name=\"full\".*} 5\$' $TMP/ours.churned.crs &&
	! grep -q 'name=\"numbers\"' $TMP/ours.churned.crs && grep -q 'name=\"late\"' $TMP/ours.churned.crs"

# An invalid config: InvalidSpec naming the field; the series in effect stay.
sed 's/type: StateSet/type: Histogram/' tests/peers/crs/config.yaml >"$TMP/bad.yaml"
monitor "$TMP/bad.yaml" >/dev/null 2>&1
check "each.type Histogram: InvalidSpec naming spec.kubeState.customResourceState.resources[0].metrics[10].each.type" wait_for 60 sh -c \
	"$K get kmon crs -o wide --no-headers | grep -q 'False *InvalidSpec.*spec.kubeState.customResourceState.resources\\[0\\].metrics\\[10\\].each.type: unknown metric type'"
compare kept; rc=$?
check "...and the last good config stays in effect (still = KSM)" test $rc -eq 0
# A valid change applies live: the Gizmo families renamed, the old name gone.
sed 's/metricNamePrefix: gizmo$/metricNamePrefix: gizmo2/' tests/peers/crs/config.yaml >"$TMP/renamed.yaml"
monitor "$TMP/renamed.yaml" >/dev/null 2>&1
check "a valid config change applies live (gizmo2_size replaces gizmo_size, widgets kept)" wait_for 60 sh -c \
	"curl -s $B/metrics/kube-state >$TMP/ours.renamed && grep -q '^gizmo2_size{' $TMP/ours.renamed &&
	! grep -q 'gizmo_size' $TMP/ours.renamed && grep -q '^kube_customresource_replicas{' $TMP/ours.renamed"
check "agent still running" kill -0 "$APID"
if grep -E 'level=(error|fatal)' "$TMP/agent.log" | grep -v 'rejected: spec.kubeState.customResourceState' >/dev/null; then
	fail "agent logged errors"; grep -E 'level=(error|fatal)' "$TMP/agent.log" | head -5 | sed 's/^/    /'
else
	ok "agent logged no unexpected errors"
fi
echo "    ksm-crs tier wall time: $(($(date +%s) - T0)) s"
finish
