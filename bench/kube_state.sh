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
#
# SHARD=1: -kubeState.podSharding (issue 21, BENCHMARKS.md "## kube-state
# sharding"). The cluster gets a Ready k8smon agent pod on every node (namespace
# k8smon, label app.kubernetes.io/name=k8smon), PENDING pods with no node, and
# node-00000, node-00001, ... hold exactly SIZES pods; the server answers the
# Lease as held by another instance. Measured one after the other: the leader
# (no election, the agent of node-00000) in podSharding=leader and =node; then
# per size a node agent (elects, stays a follower) in node mode, the same agent
# in leader mode (today's agent, no pod state) and kube-state-metrics in its
# DaemonSet mode (--node=<node> --resources=pods), AGENT_SCRAPES scrapes each.
# With KSM, its counterpart of the node-mode leader too: one instance with every
# kind but pods, one with --resources=pods --track-unscheduled-pods.
# UNCOVERED=K: the agent pods of the last K nodes are not Ready (the leader
# emits those nodes' pods); ONLY=leader|agents runs one half.
#   SHARD=1 NODES=5000 PODS=100000 SIZES=20,110,250 PENDING=100 AGENT_SCRAPES=100 \
#     [UNCOVERED=0] [ONLY=leader|agents] bench/kube_state.sh
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
SIZES=${SIZES:-20,110,250}
PENDING=${PENDING:-100}
if [ "${SHARD:-0}" = 1 ]; then
	UNCOVERED=${UNCOVERED:-0}
	CL="$DIR/cluster-$NODES-$PODS-shard-$SIZES-$PENDING-$UNCOVERED.jsonl"
	[ -s "$CL" ] || python3 bench/kube_state_gen.py "$CL" --nodes "$NODES" --pods "$PODS" \
		--agents k8smon --node-pods "$SIZES" --pending "$PENDING" --agents-not-ready "$UNCOVERED"
	LEASE="--lease-holder bench-leader"
else
	CL="$DIR/cluster-$NODES-$PODS.jsonl"
	[ -s "$CL" ] || python3 bench/kube_state_gen.py "$CL" --nodes "$NODES" --pods "$PODS"
	LEASE=
fi
AP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# shellcheck disable=SC2086 # LEASE is two words or none
python3 bench/kube_state_api.py "$CL" "$AP" $LEASE >"$DIR/api.out" 2>"$DIR/api.err" &
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
if [ "${SHARD:-0}" = 1 ]; then
	python3 bench/kube_state_cmp.py shard "$CL" "$DIR/kubeconfig" "$BIN" "${KSM:-none}" \
		"$SCRAPES" "${AGENT_SCRAPES:-100}" "$DIR" "$SIZES" "${ONLY:-}"
else
	python3 bench/kube_state_cmp.py "$CL" "$DIR/kubeconfig" "$BIN" "${KSM:-none}" "$PODS" "$SCRAPES" "$DIR" "${ONLY:-}"
fi
