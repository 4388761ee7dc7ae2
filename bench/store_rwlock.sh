#!/bin/sh
# kube-state store: update latency while scrapes render the store back to
# back (bench/store_rwlock.c), for the store.c of BEFORE (default: the commit
# before the writer-preferring lock) and of the working tree. Prints one line
# per build: p50 / p99 / max upsert latency in ms and scrapes per second.
#   PODS=3000 READERS=4 UPDATES=1000 ROUNDS=3 bench/store_rwlock.sh
set -eu
cd "$(dirname "$0")/.."
PODS=${PODS:-3000}
READERS=${READERS:-4}
UPDATES=${UPDATES:-1000}
ROUNDS=${ROUNDS:-3}
BEFORE=${BEFORE:-$(git log -1 --format=%H -S PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP -- src/collect/kubestate/store.c)^}
make -s build/libk8smon.a >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
FLAGS=$(printf 'k8smon-print-flags:\n\t@echo "$(CFLAGS)"; echo "$(LIBK8SMON_LIBS)"\n' |
	make -s -f Makefile -f - k8smon-print-flags)
CF=$(echo "$FLAGS" | sed -n 1p | sed "s/-DK8SMON_VERSION=[^ ]*//")
LD=$(echo "$FLAGS" | sed -n 2p)
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
echo "pods=$PODS readers=$READERS updates=$UPDATES (1 ms apart); before=$(git rev-parse --short "$BEFORE")"
echo "build  p50_ms p99_ms max_ms scrapes/s"
for r in $(seq "$ROUNDS"); do
	for v in before after; do
		echo "$v $("$TMP/bench_$v" "$PODS" "$READERS" "$UPDATES")"
	done
done
