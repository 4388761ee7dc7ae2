#!/bin/sh
# Runs each cmocka unit-test binary from the repository root; fails if any fails.
# A test that calls cmocka's skip() is a SKIP, listed at the end; under CI=true
# as root a skip not in tests/skips-allowed.txt (unit/<binary>/<test>) fails
# the run, like tests/run_integration.sh.
set -u
cd "$(dirname "$0")/.."
fail=0
failed=""
log=$(mktemp)
skips=$(mktemp)
trap 'rm -f "$log" "$skips"' EXIT
for t in "$@"; do
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	[ $rc -eq 0 ] || { echo "FAIL: $t" >&2; fail=1; failed="$failed ${t##*/}"; }
	sed -n 's/^\[  SKIPPED \] \([A-Za-z_][A-Za-z0-9_]*\)$/\1/p' "$log" | sort -u |
		while read -r name; do printf 'unit/%s/%s\tcmocka skip()\n' "${t##*/}" "$name"; done >>"$skips"
done
. tests/lib/skip_summary.sh
skip_summary "$skips" unit || fail=1
# Again at the end: a log is often read from its tail.
[ -z "$failed" ] || echo "unit: failed:$failed" >&2
exit $fail
