#!/bin/sh
# kube-state store: update latency while scrapes render the store back to
# back (bench/store_rwlock.c), for the store.c of BEFORE (default: the commit
# before the writer-preferring lock) and of the working tree. Prints one line
# per build: updates done in SECONDS (one per ms at most), p50 / p99 / max
# upsert latency in ms and scrapes per second, for scrapes rendering under the
# read lock (whole: ks_store_write) and streamed (stream: the ks_cursor that
# /metrics/kube-state uses).
#   PODS=3000 READERS=4 SECONDS_RUN=10 ROUNDS=3 bench/store_rwlock.sh
set -eu
cd "$(dirname "$0")/.."
PODS=${PODS:-3000}
READERS=${READERS:-4}
SECS=${SECONDS_RUN:-10}
ROUNDS=${ROUNDS:-3}
BEFORE=${BEFORE:-$(git log -1 --format=%H -S PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP -- src/collect/kubestate/store.c)^}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
. bench/cflags.sh
mkdir -p "$TMP/src/collect/kubestate"
git show "$BEFORE:src/collect/kubestate/store.c" >"$TMP/src/collect/kubestate/store.c"
# store.o first: the archive's own store.o is then never pulled in.
# shellcheck disable=SC2086
cc $CF -Isrc -c -o "$TMP/store_before.o" "$TMP/src/collect/kubestate/store.c"
# shellcheck disable=SC2086
cc $CF -c -o "$TMP/store_after.o" src/collect/kubestate/store.c
for v in before after; do
	# shellcheck disable=SC2086
	cc $CF -o "$TMP/bench_$v" bench/store_rwlock.c "$TMP/store_$v.o" build/libk8smon.a $LD
done
echo "pods=$PODS readers=$READERS seconds=$SECS (updates 1 ms apart); before=$(git rev-parse --short "$BEFORE")"
echo "mode build updates p50_ms p99_ms max_ms scrapes/s"
for mode in whole stream; do
	for r in $(seq "$ROUNDS"); do
		for v in before after; do
			echo "$mode $v $("$TMP/bench_$v" "$PODS" "$READERS" "$SECS" $mode)"
		done
	done
done
