#!/bin/sh
# CPU of making staleness markers for a target whose scrape lost a series
# (bench/stale_markers.c), per target size: the cost paid once per
# disappearance; nothing is paid while a target's series stay the same.
#   SIZES="1000 10000 100000" bench/stale_markers.sh
set -eu
cd "$(dirname "$0")/.."
SIZES=${SIZES:-1000 10000 100000}
make -s build/libk8smon.a >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
FLAGS=$(printf 'k8smon-print-flags:\n\t@echo "$(CFLAGS)"; echo "$(LIBK8SMON_LIBS)"\n' |
	make -s -f Makefile -f - k8smon-print-flags)
CF=$(echo "$FLAGS" | sed -n 1p | sed "s/-DK8SMON_VERSION=[^ ]*//")
LD=$(echo "$FLAGS" | sed -n 2p)
# shellcheck disable=SC2086
cc $CF -o "$TMP/bench" bench/stale_markers.c build/libk8smon.a $LD
for n in $SIZES; do "$TMP/bench" "$n"; done
