#!/bin/sh
# Shortened chaos run (issue 9 items 4 and 6), part of `make test`:
#  1. tests/chaos/chaos.py for CHAOS_SECONDS (default 75) with a CHAOS_OUTAGE-second
#     (default 10) API server outage (killed, restarted with a new resourceVersion
#     history): every endpoint answers 200 throughout, the agent's kube-state view and
#     /config equal the server's objects and the final K8sMonitor, same PID.
#  2. Graceful shutdown: SIGTERM during a scrape loop (tests/chaos/shutdown.py) exits 0
#     within 2 s, every response in flight completes, and the Lease is released.
# The full run is tests/chaos/run.sh (10 min, 60 s outage; writes BENCHMARKS.md).
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
FAKEAPI_PID=""
trap 'kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT

if python3 tests/chaos/chaos.py --binary "$BIN" --seconds "${CHAOS_SECONDS:-75}" \
	--outage "${CHAOS_OUTAGE:-10}" --converge 60 --tmp "$TMP/chaos" --out "$TMP/chaos.json" \
	>"$TMP/chaos.out" 2>"$TMP/chaos.err"; then
	sed 's/^/     /' "$TMP/chaos.out" | grep -v '^     ok' | head -5
	ok "chaos run: endpoints always 200, final diff empty, same PID (seed $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seed"])' "$TMP/chaos.json"))"
else
	cat "$TMP/chaos.out" "$TMP/chaos.err"
	[ -f "$TMP/chaos.json" ] && python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(r["failed_requests"][:10], indent=1))' "$TMP/chaos.json"
	tail -30 "$TMP/chaos/k8smon.log" 2>/dev/null
	fail "chaos run"
fi

fakeapi_start "$TMP/sd" --load crds --load examples/cluster || { fail "fake API server"; finish; }
# 3000 more pods: /metrics/kube-state is then ~4 MB, larger than the socket buffers, so a
# response is really in flight when SIGTERM comes.
python3 -c 'import json
print(json.dumps([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big-%d" % i, "namespace": "default"},
  "spec": {"nodeName": "demo-node-2", "containers": [{"name": "c%d" % j, "image": "busybox"} for j in range(3)]},
  "status": {"phase": "Running"}} for i in range(3000)]))' >"$TMP/pods.json"
curl -s --cacert "$TMP/sd/api/ca.crt" -H 'Content-Type: application/json' --data-binary @"$TMP/pods.json" \
	"$CONTROL/objects" | grep -q '"loaded": *3000' || fail "bulk load of 3000 pods"
if python3 tests/chaos/shutdown.py "$BIN" "$KUBECONFIG" "$TMP/sd.json" >"$TMP/sd.out" 2>&1; then
	ok "SIGTERM in a scrape loop: exit 0 in $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["exit_seconds"])' "$TMP/sd.json") s, no in-flight response cut"
else
	cat "$TMP/sd.out"; tail -20 "$TMP/sd.json.log"
	fail "SIGTERM in a scrape loop: exit 0 within 2 s with every in-flight response complete"
fi
check "Lease released on SIGTERM" sh -c "test -z \"\$(kubectl get lease k8smon -n default -o jsonpath='{.spec.holderIdentity}')\""
check "Lease existed (was held)" kubectl get lease k8smon -n default

# SIGTERM while the API server stalls Lease writes: the release is given up after 1 s
# (the Lease expires by itself) and the process still exits 0 within 2 s.
PORT=$(free_port)
"$BIN" -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=demo-node-1 -httpListenAddr=127.0.0.1:$PORT \
	-leaderElection.namespace=default >"$TMP/stall.log" 2>&1 &
PID=$!
i=0; until curl -s "127.0.0.1:$PORT/metrics/self" | grep -q '^k8smon_leader{lease="default/k8smon"} 1' || [ $i -gt 150 ]; do sleep 0.2; i=$((i + 1)); done
fake_ctl POST /fault '{"action":"stall","seconds":120,"count":10,"path":"leases","method":"PUT"}' >/dev/null
sleep 0.2
t0=$(date +%s%N); kill -TERM $PID; wait $PID; rc=$?; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
fake_ctl POST /fault '{"action":"clear"}' >/dev/null
# Not a speed check: the writes stall for 120 s, an exit well before that did
# not wait for them (the shutdown budget itself is 1 s).
if [ $rc -eq 0 ] && [ $ms -le 60000 ]; then ok "SIGTERM with stalled Lease writes: exit 0 in $ms ms (the writes stall 120 s)"
else fail "SIGTERM with stalled Lease writes: exit $rc after $ms ms (want 0 before the 120 s stall ends)"; tail -5 "$TMP/stall.log"; fi
finish
