#!/bin/sh
# CRDs and examples: structural schema checks (tests/helm/crdcheck.py), every example
# validates against the schemas, and kubectl (against tests/fakeapi) applies the CRDs,
# the simulated cluster and every example, and shows the printer columns.
set -u
. tests/lib/common.sh
TMP=$(mktemp -d)
FPID=""
trap '[ -n "$FPID" ] && kill $FPID 2>/dev/null; rm -rf "$TMP"' EXIT

# ---- offline checks
python3 tests/helm/crdcheck.py crds crds >"$TMP/c1" 2>&1; rc=$?
cat "$TMP/c1"; [ $rc -eq 0 ] || fail "crdcheck crds"
python3 tests/helm/crdcheck.py selftest crds >"$TMP/c2" 2>&1; rc=$?
cat "$TMP/c2"; [ $rc -eq 0 ] || fail "crdcheck selftest"
CASES=""; [ -d tests/argocd/cases ] && CASES=tests/argocd/cases
python3 tests/helm/crdcheck.py objects crds examples/*.yaml $CASES >"$TMP/c3" 2>&1; rc=$?
cat "$TMP/c3"; [ $rc -eq 0 ] || fail "crdcheck objects"
for f in examples/argocd/*.yaml examples/flux/*.yaml; do
	[ -e "$f" ] || continue
	check "$f parses as Kubernetes YAML" kubectl label --local -o json -f "$f" k8smon-dummy- --kubeconfig=/dev/null
done

# ---- against the fake API server, preloaded with the simulated cluster
python3 tests/fakeapi/fakeapi.py --state-dir "$TMP/api" --kubeconfig-out "$TMP/kc" \
	--load examples/cluster >"$TMP/fake.out" 2>"$TMP/fake.err" &
FPID=$!
i=0; while [ $i -lt 100 ] && ! grep -q '^READY' "$TMP/fake.out"; do sleep 0.1; i=$((i + 1)); done
if ! grep -q '^READY' "$TMP/fake.out"; then fail "fake API server starts with --load examples/cluster"; cat "$TMP/fake.err"; finish; fi
ok "fake API server starts with --load examples/cluster"
K="kubectl --kubeconfig=$TMP/kc --cache-dir=$TMP/cache"

check "simulated cluster: 3 nodes, one NotReady" sh -c "$K get nodes --no-headers | grep -c ' Ready ' | grep -qx 2 && $K get nodes --no-headers | grep -q 'demo-node-3 *NotReady'"
check "simulated cluster: a CrashLoopBackOff pod" sh -c "$K get pods -A --no-headers | grep -q CrashLoopBackOff"
check "simulated cluster: 3 scrape-annotated pods on demo-node-1 at 127.0.0.1" sh -c \
	"$K get pods -A -o jsonpath='{range .items[*]}{.spec.nodeName} {.status.podIP} {.metadata.annotations}{\"\\n\"}{end}' | grep '^demo-node-1 127.0.0.1 ' | grep -c '/scrape\":\"true\"' | grep -qx 3"

$K apply -f crds/ >"$TMP/apply1" 2>&1; rc=$?
check "kubectl apply -f crds/ creates both CRDs" sh -c "[ $rc -eq 0 ] && grep -c created $TMP/apply1 | grep -qx 2"
$K apply -f crds/ >"$TMP/apply2" 2>&1
check "re-applying crds/ is unchanged" sh -c "grep -c unchanged $TMP/apply2 | grep -qx 2"
check "discovery: kmon short name, cluster-scoped" sh -c "$K api-resources --api-group=k8smon.io --no-headers | grep -Eq '^k8smonitors +kmon +k8smon.io/v1alpha1 +false +K8sMonitor'"
check "discovery: sr short name, namespaced" sh -c "$K api-resources --api-group=k8smon.io --no-headers | grep -Eq '^scraperules +sr +k8smon.io/v1alpha1 +true +ScrapeRule'"

$K apply -f examples/cluster/ >"$TMP/apply3" 2>&1; rc=$?
check "kubectl apply -f examples/cluster/ succeeds" test $rc -eq 0
for f in examples/*.yaml; do
	$K apply -f "$f" >"$TMP/apply.f" 2>&1; rc=$?
	check "kubectl apply -f $f" test $rc -eq 0
	[ $rc -eq 0 ] || cat "$TMP/apply.f"
done

$K get kmon >"$TMP/kmon" 2>&1
check "kubectl get kmon shows NAME READY REASON COLLECTORS AGE" sh -c "head -1 $TMP/kmon | grep -Eq '^NAME +READY +REASON +COLLECTORS +AGE$'"
check "kubectl get kmon lists default and full" sh -c "grep -q '^default ' $TMP/kmon && grep -q '^full ' $TMP/kmon"
$K get sr -A >"$TMP/sr" 2>&1
check "kubectl get sr -A shows NAMESPACE NAME ROLE READY REASON TARGETS AGE" sh -c "head -1 $TMP/sr | grep -Eq '^NAMESPACE +NAME +ROLE +READY +REASON +TARGETS +AGE$'"
check "kubectl get sr -A lists the 4 example rules" sh -c "[ \$(tail -n +2 $TMP/sr | wc -l) -eq 4 ]"
check "kubectl get k8smon (category) lists both kinds" sh -c "$K get k8smon -A 2>&1 | grep -q 'k8smonitor.k8smon.io/default' && $K get k8smon -A 2>&1 | grep -q 'scraperule.k8smon.io/pods'"

# status written the way the leader agent writes it -> printer columns show it
TS=2026-11-28T06:00:00Z
$K patch kmon default --subresource=status --type=merge -p "{\"status\":{\"observedGeneration\":1,\"collectors\":4,\"nodes\":3,\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Accepted\",\"message\":\"applied on 3 nodes\",\"lastTransitionTime\":\"$TS\",\"observedGeneration\":1}]}}" >/dev/null 2>&1
$K patch kmon full --subresource=status --type=merge -p "{\"status\":{\"observedGeneration\":1,\"collectors\":0,\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"Conflict\",\"message\":\"K8sMonitor default is older and selects the same nodes\",\"lastTransitionTime\":\"$TS\",\"observedGeneration\":1},{\"type\":\"Stalled\",\"status\":\"True\",\"reason\":\"Conflict\",\"message\":\"K8sMonitor default is older and selects the same nodes\",\"lastTransitionTime\":\"$TS\",\"observedGeneration\":1}]}}" >/dev/null 2>&1
$K patch sr pods -n shop --subresource=status --type=merge -p "{\"status\":{\"observedGeneration\":1,\"targets\":0,\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"NoTargets\",\"message\":\"no pod matches\",\"lastTransitionTime\":\"$TS\",\"observedGeneration\":1}]}}" >/dev/null 2>&1
check "kmon default row: True Accepted 4" sh -c "$K get kmon default --no-headers | grep -Eq '^default +True +Accepted +4 '"
check "kmon full row: False Conflict 0" sh -c "$K get kmon full --no-headers | grep -Eq '^full +False +Conflict +0 '"
check "kmon -o wide adds Nodes and Message" sh -c "$K get kmon default -o wide | grep -q 'applied on 3 nodes' && $K get kmon -o wide | head -1 | grep -q NODES"
check "sr pods row: True NoTargets 0" sh -c "$K get sr -n shop pods --no-headers | grep -Eq '^pods +pod +True +NoTargets +0 '"

$K delete -f examples/scraperule-full.yaml >/dev/null 2>&1; rc=$?
check "kubectl delete -f examples/scraperule-full.yaml" test $rc -eq 0
check "deleted rule is gone" sh -c "! $K get sr -n monitoring full >/dev/null 2>&1"
finish
