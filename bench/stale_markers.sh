#!/bin/sh
# CPU of making staleness markers for a target whose scrape lost a series
# (bench/stale_markers.c), per target size: the cost paid once per
# disappearance; nothing is paid while a target's series stay the same.
#   SIZES="1000 10000 100000" bench/stale_markers.sh
set -eu
cd "$(dirname "$0")/.."
SIZES=${SIZES:-1000 10000 100000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
. bench/cflags.sh
# shellcheck disable=SC2086
cc $CF -o "$TMP/bench" bench/stale_markers.c build/libk8smon.a $LD
for n in $SIZES; do "$TMP/bench" "$n"; done
