#!/bin/sh
# Issue 21: kube-state pod sharding across >= 20 agents and one Lease against the
# fake API server, with a churning cluster, bad inputs, a leader hand-over and an
# agent restart: the union of every agent's /metrics/kube-state equals what one
# agent with sharding off serves, series for series, none served twice; the gap
# and overlap during the transitions are measured per pod and printed.
# The driver (tests/integration/ksm_sharding.py) stands in for the kubelet: it
# writes the agents' own Pods and their Ready condition.
# Knobs: KSM_SHARD_AGENTS (20), KSM_SHARD_PODS (pods per node, 4),
# KSM_SHARD_MODE (node|leader), KSM_SHARD_SAMPLE_S (0.2), KSM_SHARD_LEASE_S (5),
# KSM_SHARD_KEEP_GOING (1: do not stop at the first phase that does not settle);
# K8SMON_KEEP_TMP=1 keeps the work dir (logs, transitions.json).
set -u
cd "$(dirname "$0")/../.."
BIN=${K8SMON_BIN:-./bin/k8smon}
[ -x "$BIN" ] || { echo "FAIL - $BIN not built (make)"; exit 1; }
TMP=$(mktemp -d)
trap '[ "${K8SMON_KEEP_TMP:-0}" = 1 ] && echo "kept $TMP" || rm -rf "$TMP"' EXIT
python3 tests/integration/ksm_sharding.py "$BIN" "$TMP"
