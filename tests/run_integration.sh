#!/bin/sh
# Runs every tests/integration/test_*.sh from the repository root; fails if any fails.
# K8SMON_SKIP_INTEGRATION=1 skips them (unit tests only).
set -u
cd "$(dirname "$0")/.."
[ "${K8SMON_SKIP_INTEGRATION:-0}" = 1 ] && exit 0
fail=0
for t in tests/integration/test_*.sh; do
	[ -e "$t" ] || continue
	echo "== $t"
	if ! sh "$t"; then
		echo "FAIL: $t" >&2
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "integration: all passed"
exit $fail
