#!/bin/sh
# Side-by-side check of k8smon /metrics/node against Debian's node-exporter
# (1.5.0, Debian defaults) on this machine: HELP/TYPE/labels/series/values via
# compare_node.py, and promtool lint of our output.
set -u
cd "$(dirname "$0")/../.."
NE=/usr/bin/prometheus-node-exporter
if [ ! -x "$NE" ] || [ ! -x bin/k8smon ]; then
	echo "skip: need $NE and bin/k8smon"
	exit 0
fi
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
TMP=$(mktemp -d)
KP=$(free_port)
NP=$(free_port)
./bin/k8smon -httpListenAddr=127.0.0.1:$KP >"$TMP/k8smon.log" 2>&1 &
KPID=$!
"$NE" --web.listen-address=127.0.0.1:$NP >"$TMP/ne.log" 2>&1 &
NPID=$!
cleanup() {
	kill "$KPID" "$NPID" 2>/dev/null
	wait "$KPID" "$NPID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
for i in $(seq 50); do
	curl -sf "http://127.0.0.1:$KP/metrics/node" >/dev/null 2>&1 &&
		curl -sf "http://127.0.0.1:$NP/metrics" >/dev/null 2>&1 && break
	sleep 0.1
done
# Warm both once (node-exporter's CPU cache), then fetch back to back.
curl -sf "http://127.0.0.1:$NP/metrics" >/dev/null
fail=1
# Values are live: on a busy machine (parallel builds) memory can move by more
# than 1 % between the two fetches, so a mismatch must persist over 3 fetches.
# HELP/TYPE/label/series differences are deterministic and fail every time.
for attempt in 1 2 3; do
	curl -sf "http://127.0.0.1:$KP/metrics/node" >"$TMP/ours.txt" || { echo "FAIL: k8smon fetch"; exit 1; }
	curl -sf "http://127.0.0.1:$NP/metrics" >"$TMP/ne.txt" || { echo "FAIL: node-exporter fetch"; exit 1; }
	if python3 tests/integration/compare_node.py "$TMP/ours.txt" "$TMP/ne.txt"; then
		fail=0
		break
	fi
	echo "attempt $attempt failed"
	sleep 1
done
# promtool: the only accepted lint is camelCase in names node-exporter itself
# defines (node_memory_MemTotal_bytes, node_netstat_Tcp_InSegs, ...), which
# compatibility requires; anything else is a problem.
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <"$TMP/ours.txt" >"$TMP/lint.txt" 2>&1
	if grep -v "metric names should be written in 'snake_case' not 'camelCase'" "$TMP/lint.txt" | grep -q .; then
		echo "FAIL: promtool check metrics:"
		grep -v "camelCase" "$TMP/lint.txt"
		fail=1
	fi
fi
[ $fail -eq 0 ] && echo "node-exporter comparison: ok"
exit $fail
