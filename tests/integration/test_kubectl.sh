#!/usr/bin/env bash
# The fake API server (tests/fakeapi/fakeapi.py) must be faithful enough for the
# installed kubectl: apply/get/watch/patch/delete, printer columns, 401, faults.
# Run from the repository root. Prints one line per check; exits non-zero on failure.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/../.."

KUBECTL=${KUBECTL:-kubectl}
if ! command -v "$KUBECTL" >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
	. tests/lib/skip.sh
	skip_test kubectl "kubectl or openssl not installed"
fi

TMP=$(mktemp -d /tmp/test_kubectl.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

pass=0
fail=0
ok() { echo "ok   - $1"; pass=$((pass + 1)); }
bad() {
	echo "FAIL - $1"
	fail=$((fail + 1))
	[ -n "${2:-}" ] && sed 's/^/       /' "$2" | head -20
	return 0
}
# check NAME CMD...: runs CMD, output in $TMP/out
check() {
	local name=$1
	shift
	if "$@" >"$TMP/out" 2>&1; then ok "$name"; else bad "$name" "$TMP/out"; fi
}

TOKEN=test-token-$$
python3 tests/fakeapi/fakeapi.py --port 0 --state-dir "$TMP/state" --token "$TOKEN" \
	--kubeconfig-out "$TMP/kubeconfig" --load tests/fakeapi/testdata/pods.yaml \
	--bookmark-interval 0.5 >"$TMP/server.out" 2>"$TMP/server.err" &
PIDS="$PIDS $!"
URL=""
for _ in $(seq 1 100); do
	URL=$(sed -n 's/^READY //p' "$TMP/server.out")
	[ -n "$URL" ] && break
	sleep 0.1
done
if [ -z "$URL" ]; then
	bad "fake API server starts" "$TMP/server.err"
	exit 1
fi
ok "fake API server ready at $URL"

export KUBECONFIG="$TMP/kubectl-kubeconfig"
cp "$TMP/kubeconfig" "$KUBECONFIG"
k() { "$KUBECTL" --cache-dir "$TMP/cache" --request-timeout=20s "$@"; }
CA="$TMP/state/ca.crt"
ctl() { curl -sS --cacert "$CA" -X POST -H 'Content-Type: application/json' -d "$2" "$URL/_fake/$1"; }
# Merge patch of kmon/default's status: kubectl patch --subresource (1.24+);
# older clients (Debian's kubernetes-client 1.20) send the same request by curl
# (the test CRD is cluster-scoped).
if k patch --help 2>/dev/null | grep -q -- '--subresource'; then
	kstatus() { k patch kmon default --subresource=status --type=merge -p "$1"; }
else
	. tests/lib/skip.sh
	skip_part kubectl:patch-subresource "this kubectl has no patch --subresource; the status patches go through curl"
	kstatus() {
		curl -sS -f --cacert "$CA" -H "Authorization: Bearer $TOKEN" -X PATCH \
			-H 'Content-Type: application/merge-patch+json' -d "$1" \
			"$URL/apis/k8smon.io/v1alpha1/k8smonitors/default/status" >"$TMP/out" 2>&1
	}
fi

# --- TLS + token -----------------------------------------------------------------
code=$(curl -s -o "$TMP/body" -w '%{http_code}' --cacert "$CA" "$URL/api/v1/pods")
if [ "$code" = 401 ] && grep -q '"reason":"Unauthorized"' "$TMP/body"; then
	ok "request without token -> 401 Status"
else bad "request without token -> 401 (got $code)" "$TMP/body"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$URL/api/v1/pods")
[ "$code" = 200 ] && ok "request with token over verified TLS -> 200" || bad "request with token -> 200 (got $code)"
check "kubectl version talks to the server" k version

# --- built-ins -----------------------------------------------------------------
check "kubectl get nodes" k get nodes
grep -q 'node-a *Ready *control-plane' "$TMP/out" && ok "node table has STATUS/ROLES columns" ||
	bad "node table has STATUS/ROLES columns" "$TMP/out"
check "kubectl get pods -A" k get pods -A
if grep -q '^NAMESPACE' "$TMP/out" && grep -q 'apps *web-1 *1/1 *Running *2' "$TMP/out" &&
	grep -q 'kube-system *coredns-1' "$TMP/out"; then
	ok "pods -A shows namespaces and pod columns"
else bad "pods -A shows namespaces and pod columns" "$TMP/out"; fi
check "kubectl get pods -l app=web" k get pods -n apps -l app=web -o name
[ "$(cat "$TMP/out")" = "pod/web-1" ] && ok "label selector filters" || bad "label selector filters" "$TMP/out"
check "kubectl get pods -l 'app notin (web)'" k get pods -A -l 'app notin (web)' -o name
if grep -q db-1 "$TMP/out" && ! grep -q web-1 "$TMP/out"; then ok "set-based selector"; else bad "set-based selector" "$TMP/out"; fi
check "kubectl get pods --field-selector spec.nodeName=node-b" k get pods -A --field-selector spec.nodeName=node-b -o name
[ "$(cat "$TMP/out")" = "pod/db-1" ] && ok "field selector filters" || bad "field selector filters" "$TMP/out"
check "kubectl get pods --chunk-size=1 (pagination)" k get pods -A --chunk-size=1 -o name
[ "$(wc -l <"$TMP/out")" = 3 ] && ok "paginated list returns every pod" || bad "paginated list returns every pod" "$TMP/out"

cat >"$TMP/cm.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: apps
data:
  a: "1"
EOF
check "kubectl apply built-in (create)" k apply -f "$TMP/cm.yaml"
sed -i 's/a: "1"/a: "2"/' "$TMP/cm.yaml"
check "kubectl apply built-in (update, strategic merge)" k apply -f "$TMP/cm.yaml"
grep -q configured "$TMP/out" && ok "apply reports configured" || bad "apply reports configured" "$TMP/out"
check "kubectl get configmap value" k get cm cfg -n apps -o 'jsonpath={.data.a}'
[ "$(cat "$TMP/out")" = 2 ] && ok "updated value stored" || bad "updated value stored" "$TMP/out"

check "kubectl create namespace (protobuf request body)" k create namespace extra
check "kubectl create configmap (protobuf request body)" k create configmap cm2 -n extra --from-literal=k=v
check "kubectl auth can-i (SelfSubjectAccessReview)" k auth can-i list pods
check "kubectl auth whoami (SelfSubjectReview)" k auth whoami

# --- CRD + custom resource ------------------------------------------------------
check "kubectl apply CRD (plain apply, validation on)" k apply -f tests/fakeapi/testdata/k8smonitor-crd.yaml
check "kubectl wait crd established" k wait --for condition=established --timeout=10s crd/k8smonitors.k8smon.io
check "kubectl apply custom resource" k apply -f tests/fakeapi/testdata/k8smonitor-cr.yaml
grep -q 'k8smonitor.k8smon.io/default created' "$TMP/out" && ok "CR created" || bad "CR created" "$TMP/out"
check "kubectl api-resources lists kmon" k api-resources --api-group=k8smon.io
grep -q 'k8smonitors *kmon *k8smon.io/v1alpha1 *false *K8sMonitor' "$TMP/out" && ok "discovery has the CRD resource" ||
	bad "discovery has the CRD resource" "$TMP/out"

check "kubectl patch --subresource=status" kstatus '{"status":{"targets":3,"conditions":[{"type":"Ready","status":"True","reason":"Scraping"}]}}'
check "kubectl get kmon" k get kmon
if head -1 "$TMP/out" | grep -q 'NAME *READY *REASON *COLLECTORS *AGE' &&
	grep -q 'default *True *Scraping *\["node","container"\]' "$TMP/out"; then
	ok "printer columns Ready/Reason/Collectors/Age"
else bad "printer columns Ready/Reason/Collectors/Age" "$TMP/out"; fi
check "kubectl get kmon -o wide" k get kmon -o wide
grep -q 'TARGETS' "$TMP/out" && grep -q ' 3 ' "$TMP/out" && ok "priority-1 column in -o wide" ||
	bad "priority-1 column in -o wide" "$TMP/out"
check "kubectl get k8smon (category)" k get k8smon -o name
grep -q 'k8smonitor.k8smon.io/default' "$TMP/out" && ok "category resolves" || bad "category resolves" "$TMP/out"

gen0=$(k get kmon default -o 'jsonpath={.metadata.generation}')
check "status patch kept spec" k get kmon default -o 'jsonpath={.spec.scrapeInterval}'
sed 's/scrapeInterval: 30s/scrapeInterval: 10s/' tests/fakeapi/testdata/k8smonitor-cr.yaml >"$TMP/cr2.yaml"
check "kubectl apply changed spec" k apply -f "$TMP/cr2.yaml"
grep -q configured "$TMP/out" && ok "apply reports configured" || bad "apply reports configured" "$TMP/out"
gen1=$(k get kmon default -o 'jsonpath={.metadata.generation}')
[ -n "$gen0" ] && [ "$gen1" = $((gen0 + 1)) ] && ok "spec change bumps generation ($gen0 -> $gen1)" ||
	bad "spec change bumps generation ($gen0 -> $gen1)"
st=$(k get kmon default -o 'jsonpath={.status.targets}')
[ "$st" = 3 ] && ok "apply of main resource keeps status" || bad "apply of main resource keeps status (got '$st')"
check "kubectl apply unchanged" k apply -f "$TMP/cr2.yaml"
grep -q unchanged "$TMP/out" && ok "re-apply is unchanged" || bad "re-apply is unchanged" "$TMP/out"
kstatus '{"status":{"targets":4}}' >/dev/null 2>&1
gen2=$(k get kmon default -o 'jsonpath={.metadata.generation}')
[ "$gen2" = "$gen1" ] && ok "status change keeps generation" || bad "status change keeps generation ($gen1 -> $gen2)"

# --- watch ----------------------------------------------------------------------
timeout 90 "$KUBECTL" --cache-dir "$TMP/cache" get kmon -w >"$TMP/watch.out" 2>&1 &
WPID=$!
PIDS="$PIDS $WPID"
timeout 90 "$KUBECTL" --cache-dir "$TMP/cache" get pods -n apps -w --output-watch-events >"$TMP/watchpods.out" 2>&1 &
WPID2=$!
PIDS="$PIDS $WPID2"
# Both watches have listed (their first rows are out) before anything changes:
# a kubectl that starts slowly on a loaded machine would list the change instead.
for _ in $(seq 1 300); do
	grep -q '^default ' "$TMP/watch.out" && grep -q 'ADDED *db-1' "$TMP/watchpods.out" && break
	sleep 0.2
done
kstatus '{"status":{"conditions":[{"type":"Ready","status":"False","reason":"Degraded"}]}}' >/dev/null 2>&1
k delete pod db-1 -n apps >"$TMP/del.out" 2>&1
for _ in $(seq 1 300); do
	grep -q Degraded "$TMP/watch.out" && grep -q 'DELETED *db-1' "$TMP/watchpods.out" && break
	sleep 0.2
done
grep -q 'default *False *Degraded' "$TMP/watch.out" && ok "kubectl get -w sees the status change" ||
	bad "kubectl get -w sees the status change" "$TMP/watch.out"
grep -q 'deleted' "$TMP/del.out" && ok "kubectl delete (with wait)" || bad "kubectl delete (with wait)" "$TMP/del.out"
grep -q 'DELETED *db-1' "$TMP/watchpods.out" && ok "kubectl get -w sees DELETED" ||
	bad "kubectl get -w sees DELETED" "$TMP/watchpods.out"
kill "$WPID" "$WPID2" 2>/dev/null
check "deleted pod is gone" k get pods -n apps -o name
grep -q db-1 "$TMP/out" && bad "deleted pod is gone" "$TMP/out" || ok "list no longer has the pod"
k get pod db-1 -n apps >"$TMP/out" 2>&1 && bad "get deleted pod -> NotFound" "$TMP/out" ||
	{ grep -q 'NotFound\|not found' "$TMP/out" && ok "get deleted pod -> NotFound" || bad "get deleted pod -> NotFound" "$TMP/out"; }

# raw watch: bookmarks and 410 for a compacted resourceVersion
curl -sS -N --max-time 2 --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
	"$URL/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=$(k get pods -A -o 'jsonpath={.metadata.resourceVersion}')" >"$TMP/raw" 2>&1
grep -q '"type":"BOOKMARK"' "$TMP/raw" && ok "watch sends BOOKMARK events" || bad "watch sends BOOKMARK events" "$TMP/raw"
ctl fault '{"action":"expire"}' >/dev/null
curl -sS -N --max-time 3 --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
	"$URL/api/v1/pods?watch=1&resourceVersion=1" >"$TMP/raw" 2>&1
grep -q '"type":"ERROR".*"code":410' "$TMP/raw" && ok "watch from compacted RV -> ERROR 410" ||
	bad "watch from compacted RV -> ERROR 410" "$TMP/raw"

# --- delete ---------------------------------------------------------------------
check "kubectl delete custom resource" k delete kmon default
check "kubectl delete CRD" k delete -f tests/fakeapi/testdata/k8smonitor-crd.yaml
k get kmon >"$TMP/out" 2>&1 && bad "CRD resource gone from discovery" "$TMP/out" || ok "CRD resource gone from discovery"

# --- fault injection ----------------------------------------------------------------
ctl fault '{"action":"fail","count":2,"code":429,"retry_after":1,"path":"/api/v1/nodes"}' >/dev/null
check "kubectl get nodes retries through two 429 + Retry-After" k get nodes -o name
n429=$(curl -sS --cacert "$CA" "$URL/_fake/requests" | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin)["log"] if r["code"] == 429))')
[ "$n429" = 2 ] && ok "server answered 429 twice" || bad "server answered 429 twice (got $n429)"
ctl fault '{"action":"fail","count":2,"code":500,"path":"/api/v1/nodes"}' >/dev/null
tries=0
until k get nodes -o name >"$TMP/out" 2>&1; do
	tries=$((tries + 1))
	[ $tries -ge 5 ] && break
done
if [ $tries -ge 1 ] && [ $tries -lt 5 ] && grep -q node/node-a "$TMP/out"; then
	ok "500 faults fail kubectl, then it succeeds ($tries failed runs)"
else bad "500 faults fail kubectl, then it succeeds ($tries failed runs)" "$TMP/out"; fi

# --- token rotation via control API ---------------------------------------------------
ctl tokens '{"set":["rotated-token"]}' >/dev/null
k get ns >"$TMP/out" 2>&1 && bad "old token rejected after rotation" "$TMP/out" ||
	{ grep -qi unauthorized "$TMP/out" && ok "old token rejected after rotation" || bad "old token rejected after rotation" "$TMP/out"; }
check "new token accepted" k --token rotated-token get ns default -o name
ctl tokens "{\"set\":[\"$TOKEN\"]}" >/dev/null

# --- control API dump -------------------------------------------------------------------
curl -sS --cacert "$CA" "$URL/_fake/objects?resource=pods&namespace=apps" >"$TMP/out"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [i["metadata"]["name"] for i in d["items"]]==["web-1"], d' "$TMP/out" \
	2>/dev/null && ok "control API dumps objects" || bad "control API dumps objects" "$TMP/out"

if grep -q Traceback "$TMP/server.err"; then bad "server logged no exceptions" "$TMP/server.err"; else ok "server logged no exceptions"; fi
echo "# $pass passed, $fail failed"
[ $fail -eq 0 ]
