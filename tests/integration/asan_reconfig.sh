#!/bin/sh
# Leak check of live reconfiguration (run by hand or by CI when an ASan build
# of the agent exists): K8SMON_BIN=<asan binary> N=1000 asan_reconfig.sh.
# 1000 K8sMonitor changes through the API (every field varied, an invalid
# spec every 10th change, a ScrapeRule changed alongside), then SIGTERM; any
# sanitizer or leak report in the agent's output fails the run.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
BIN=${K8SMON_BIN:?set K8SMON_BIN to an ASan build}
N=${N:-1000}
TMP=$(mktemp -d)
PID=""
trap 'kill $PID 2>/dev/null; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds --load examples/cluster || { fail "fake API server"; finish; }
PORT=$(free_port)
ASAN_OPTIONS=detect_leaks=1:exitcode=23 $BIN -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" \
	-nodeName=demo-node-1 -httpListenAddr=127.0.0.1:$PORT -leaderElection.namespace=default \
	-loggerLevel=WARN >"$TMP/k8smon.log" 2>&1 &
PID=$!
wait_http "http://127.0.0.1:$PORT/readyz" 30
sleep 2
K8SMON_RECONFIG_MIXED=1 python3 bench/reconfig.py "$TMP" "http://127.0.0.1:$PORT" "$N" >"$TMP/reconfig.json"; rc=$?
check "$N reconfigurations applied" test $rc = 0
cat "$TMP/reconfig.json"
check "no /metrics request failed while they were applied" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["concurrent_scrapes_ok"] > 0 and r["concurrent_scrapes_failed"] == 0, r' "$TMP/reconfig.json"
kill -TERM $PID
wait $PID; rc=$?
PID=""
check "clean exit under ASan (status $rc)" test $rc = 0
check "no sanitizer or leak report" sh -c "! grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' '$TMP/k8smon.log'"
[ "$FAILS" -ne 0 ] && grep -A30 -E 'ERROR: |runtime error' "$TMP/k8smon.log" | head -60
finish
