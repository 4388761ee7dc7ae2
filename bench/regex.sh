#!/bin/sh
# Per-match cost of catastrophic and ordinary patterns through src/base/rx.h
# (bench/regex.c), as relabeling uses them. Needs build/libk8smon.a (make).
#   SECONDS_PER_CASE=0.5 bench/regex.sh
set -eu
cd "$(dirname "$0")/.."
make --no-print-directory build/libk8smon.a >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
LIBS=$(make --no-print-directory -s -f Makefile -f - print-libs <<'MK'
print-libs:
	@echo $(LIBK8SMON_LIBS)
MK
)
cc -O2 -std=c17 -D_GNU_SOURCE -Isrc -o "$TMP/regex" bench/regex.c build/libk8smon.a $LIBS
"$TMP/regex" "${SECONDS_PER_CASE:-0.5}"
