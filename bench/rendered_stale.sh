#!/bin/sh
# CPU and memory of the rendered sections' staleness tracking
# (bench/rendered_stale.c), per section size.
#   SIZES="1000 10000 100000" bench/rendered_stale.sh
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
cc $CF -o "$TMP/bench" bench/rendered_stale.c build/libk8smon.a $LD
for n in $SIZES; do "$TMP/bench" "$n"; done
