#!/bin/sh
# Runs each cmocka unit-test binary from the repository root; fails if any fails.
set -u
cd "$(dirname "$0")/.."
fail=0
for t in "$@"; do
	if ! "$t"; then
		echo "FAIL: $t" >&2
		fail=1
	fi
done
exit $fail
