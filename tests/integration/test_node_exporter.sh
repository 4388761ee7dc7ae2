#!/bin/sh
# Side-by-side check of k8smon /metrics/node against the pinned upstream
# node_exporter (tests/peers/versions, built by tests/peers/build.sh; default
# collectors) on this machine: families node-exporter has that we lost,
# HELP/TYPE/labels, series SETS (node_network_* included) and values via
# compare_node.py, and promtool lint of our output.
set -u
cd "$(dirname "$0")/../.."
K8SMON_BIN=${K8SMON_BIN:-bin/k8smon}
# No fallback and no skip: a peer that does not build fails the test.
PEERS_ENV=$(tests/peers/build.sh --env node_exporter) || { echo "FAIL: tests/peers/build.sh node_exporter"; exit 1; }
eval "$PEERS_ENV"
NE=$NODE_EXPORTER_BIN/node_exporter
[ -x "$K8SMON_BIN" ] || { echo "FAIL: $K8SMON_BIN not built"; exit 1; }
. tests/lib/ports.sh
TMP=$(mktemp -d)
KP=$(free_port)
NP=$(free_port)
"$K8SMON_BIN" -httpListenAddr=127.0.0.1:$KP >"$TMP/k8smon.log" 2>&1 &
KPID=$!
"$NE" --web.listen-address=127.0.0.1:$NP >"$TMP/ne.log" 2>&1 &
NPID=$!
cleanup() {
	kill "$KPID" "$NPID" 2>/dev/null
	wait "$KPID" "$NPID" 2>/dev/null
	rm -rf "$TMP"
	free_port_cleanup
}
trap cleanup EXIT
# Both up: polled, bounded at 60 s (a loaded machine starts slowly).
up=0
for i in $(seq 600); do
	if curl -sf "http://127.0.0.1:$KP/metrics/node" >/dev/null 2>&1 &&
		curl -sf "http://127.0.0.1:$NP/metrics" >/dev/null 2>&1; then
		up=1
		break
	fi
	sleep 0.1
done
[ $up = 1 ] || { echo "FAIL: k8smon or node_exporter did not answer within 60 s"; cat "$TMP"/*.log; exit 1; }
# Warm both once (node-exporter's CPU cache), then fetch back to back.
curl -sf "http://127.0.0.1:$NP/metrics" >/dev/null
fail=1
# Values are live: on a busy machine (parallel builds) memory can move by more
# than 1 % between the two fetches, so a mismatch must persist over 3 fetches.
# HELP/TYPE/label/series differences are deterministic and fail every time.
for attempt in 1 2 3; do
	curl -sf "http://127.0.0.1:$KP/metrics/node" >"$TMP/ours.txt" || { echo "FAIL: k8smon fetch"; exit 1; }
	curl -sf "http://127.0.0.1:$NP/metrics" >"$TMP/ne.txt" || { echo "FAIL: node-exporter fetch"; exit 1; }
	curl -sf "http://127.0.0.1:$KP/metrics/node" >"$TMP/ours2.txt" || { echo "FAIL: k8smon fetch"; exit 1; }
	if python3 tests/integration/compare_node.py "$TMP/ours.txt" "$TMP/ne.txt" "$TMP/ours2.txt"; then
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
	# node_entropy_*_bits: node_exporter's own names ("use base unit bytes").
	if grep -v -e "metric names should be written in 'snake_case' not 'camelCase'" \
		-e '^node_entropy_[a-z_]*_bits:* use base unit "bytes" instead of "bits"' "$TMP/lint.txt" | grep -q .; then
		echo "FAIL: promtool check metrics:"
		grep -v "camelCase" "$TMP/lint.txt"
		fail=1
	fi
fi
[ $fail -eq 0 ] && echo "node-exporter comparison: ok"
exit $fail
