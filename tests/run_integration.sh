#!/bin/sh
# Runs every tests/integration/test_*.sh from the repository root; fails if any fails.
# K8SMON_SKIP_INTEGRATION=1 skips them (unit tests only).
# First builds the real peers the real-server tier needs (tests/peers/build.sh:
# a no-op once they are in ~/.cache/k8smon-peers; a cold build takes minutes).
# A peer that does not build is not skipped: test_real_apiserver*.sh then fail.
# Prints each test's wall time.
set -u
cd "$(dirname "$0")/.."
[ "${K8SMON_SKIP_INTEGRATION:-0}" = 1 ] && exit 0
fail=0
t0=$(date +%s)
if tests/peers/build.sh; then
	echo "== peers ready ($(($(date +%s) - t0)) s)"
else
	echo "FAIL: tests/peers/build.sh (real peers); test_real_apiserver*.sh will fail" >&2
fi
for t in tests/integration/test_*.sh; do
	[ -e "$t" ] || continue
	echo "== $t"
	s=$(date +%s)
	if ! sh "$t"; then
		echo "FAIL: $t" >&2
		fail=1
	fi
	echo "== $t: $(($(date +%s) - s)) s"
done
[ $fail -eq 0 ] && echo "integration: all passed"
echo "integration wall time: $(($(date +%s) - t0)) s"
exit $fail
