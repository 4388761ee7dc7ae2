#!/bin/sh
# Objects per resource: past the warning threshold the reflector logs once and
# sets k8smon_kube_store_objects_over_threshold; back under it, the gauge
# returns to 0. The store is never truncated.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
TMP=$(mktemp -d)
KW=""
trap 'kill $KW 2>/dev/null; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
BIN=$(sh tests/kube/build.sh "$TMP/build" | tail -1) || { fail "build kubewatch"; finish; }
fakeapi_start "$TMP" --load examples/cluster || { fail "fake API server"; finish; }
mkfifo "$TMP/in"
"$BIN" --kubeconfig "$KUBECONFIG" --resource v1/pods --warn-objects 10 <"$TMP/in" >"$TMP/out" 2>"$TMP/err" &
KW=$!
exec 3>"$TMP/in"
i=0; until grep -q '^SYNCED' "$TMP/out" || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
# The new lines kubewatch printed after a "metrics" command, once its END
# line is there (polled, 60 s bound).
metrics() {
	before=$(wc -l <"$TMP/out")
	echo metrics >&3
	i=0; until tail -n +$((before + 1)) "$TMP/out" | grep -q '^END$' || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
	tail -n +$((before + 1)) "$TMP/out"
}
n=$(kubectl get pods -A --no-headers | wc -l)
check "more pods ($n) than the threshold (10)" test "$n" -gt 10
check "one warning naming the resource and the threshold" sh -c "test \$(grep -c 'resource=pods: [0-9]* objects in the store, over the warning threshold of 10' '$TMP/err') = 1"
metrics >"$TMP/m1"
check "k8smon_kube_store_objects_over_threshold{resource=\"pods\"} 1" grep -q '^k8smon_kube_store_objects_over_threshold{resource="pods"} 1$' "$TMP/m1"
check "store not truncated" grep -q "^k8smon_kube_store_objects{resource=\"pods\"} $n\$" "$TMP/m1"
for p in $(kubectl get pods -A --no-headers -o custom-columns=NS:.metadata.namespace,N:.metadata.name | tr -s " " "/"); do kubectl -n "${p%%/*}" delete pod "${p#*/}" --wait=false >/dev/null 2>&1; done
# The deletes reach the store through the watch: polled, 60 s bound.
i=0; while [ $i -lt 120 ]; do
	metrics >"$TMP/m2"
	grep -q '^k8smon_kube_store_objects_over_threshold{resource="pods"} 0$' "$TMP/m2" && break
	sleep 0.5; i=$((i + 1))
done
check "gauge back to 0 under the threshold" grep -q '^k8smon_kube_store_objects_over_threshold{resource="pods"} 0$' "$TMP/m2"
echo quit >&3
[ "$FAILS" -ne 0 ] && { tail -5 "$TMP/err"; grep "store_objects" "$TMP/m2"; }
finish
