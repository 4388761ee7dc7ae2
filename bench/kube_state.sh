#!/bin/sh
# kube-state collector benchmark, side by side with the real kube-state-metrics:
# a synthetic cluster (default 5,000 nodes, 100,000 pods, 10,000 deployments,
# 20,000 replicasets, 200 namespaces) served by a static list/watch server
# (bench/kube_state_api.py); k8smon in Kubernetes mode with only the kube-state
# collector and no leader election, then kube-state-metrics v2.20.0 (built by
# tests/peers/build.sh) with the same resources, one after the other against the
# same server. bench/kube_state_cmp.py measures both the same way and prints a
# table with the ratios: time to the first complete scrape, RSS then and after
# the scrapes, CPU per full scrape (plain and gzip), bytes per scrape, and the
# series: object families per family (any whose count differs is printed) and
# the kube_state_metrics_* self families apart (KSM's from its telemetry port,
# k8smon's from /metrics/kube-state).
# BENCHMARKS.md's "## kube-state collector" section is written from it by hand.
#   NODES=5000 PODS=100000 SCRAPES=3 [K8SMON=bin/k8smon] [ONLY=k8smon|ksm] bench/kube_state.sh
set -eu
cd "$(dirname "$0")/.."
NODES=${NODES:-5000}
PODS=${PODS:-100000}
SCRAPES=${SCRAPES:-3}
DIR=${BENCH_DIR:-/tmp/k8smon-bench-ks}
mkdir -p "$DIR"
BIN=${K8SMON:-bin/k8smon}
[ -x "$BIN" ] || { echo "need $BIN (make)"; exit 1; }
KSM=${KSM:-}
if [ -z "$KSM" ] && [ "${ONLY:-}" != k8smon ]; then
	tests/peers/build.sh --env kube-state-metrics >"$DIR/peers.env" || { echo "tests/peers/build.sh kube-state-metrics failed"; exit 1; }
	. "$DIR/peers.env"
	KSM=$KUBE_STATE_METRICS_BIN/kube-state-metrics
fi
CL="$DIR/cluster-$NODES-$PODS.jsonl"
[ -s "$CL" ] || python3 bench/kube_state_gen.py "$CL" --nodes "$NODES" --pods "$PODS"
AP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 bench/kube_state_api.py "$CL" "$AP" >"$DIR/api.out" 2>"$DIR/api.err" &
APID=$!
trap 'kill $APID 2>/dev/null || true' EXIT
i=0
until grep -q READY "$DIR/api.out" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 1200 ] || { cat "$DIR/api.err"; exit 1; }
	sleep 0.1
done
cat >"$DIR/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: bench, cluster: {server: "http://127.0.0.1:$AP"}}]
users: [{name: bench, user: {token: bench}}]
contexts: [{name: bench, context: {cluster: bench, user: bench}}]
current-context: bench
KC
python3 bench/kube_state_cmp.py "$CL" "$DIR/kubeconfig" "$BIN" "${KSM:-none}" "$PODS" "$SCRAPES" "$DIR" "${ONLY:-}"
