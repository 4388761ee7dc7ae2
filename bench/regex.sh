#!/bin/sh
# Per-match cost of catastrophic and ordinary patterns through src/base/rx.h
# (bench/regex.c), as relabeling uses them. Needs build/libk8smon.a (make).
#   SECONDS_PER_CASE=0.5 bench/regex.sh
# REV=<commit> measures that commit's src/base/rx.c instead (compiled alone:
# the rx.c before the RE2 check and the limits needs only PCRE2), e.g.
#   REV=acb65a1 bench/regex.sh   (the "before" column of BENCHMARKS.md)
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
if [ -n "${REV:-}" ]; then
	git show "$REV:src/base/rx.c" >"$TMP/rx.c"
	cc -O2 -std=c17 -D_GNU_SOURCE -Isrc -o "$TMP/regex" bench/regex.c "$TMP/rx.c" -lpcre2-8
else
	cc -O2 -std=c17 -D_GNU_SOURCE -Isrc -o "$TMP/regex" bench/regex.c build/libk8smon.a $LIBS
fi
"$TMP/regex" "${SECONDS_PER_CASE:-0.5}"
