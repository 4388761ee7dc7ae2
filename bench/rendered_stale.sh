#!/bin/sh
# CPU and memory of the rendered sections' staleness tracking
# (bench/rendered_stale.c), per section size.
#   SIZES="1000 10000 100000" bench/rendered_stale.sh
set -eu
cd "$(dirname "$0")/.."
SIZES=${SIZES:-1000 10000 100000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
. bench/cflags.sh
# shellcheck disable=SC2086
cc $CF -o "$TMP/bench" bench/rendered_stale.c build/libk8smon.a $LD
for n in $SIZES; do "$TMP/bench" "$n"; done
