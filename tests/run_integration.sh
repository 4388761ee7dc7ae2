#!/bin/sh
# Runs every tests/integration/test_*.sh from the repository root; fails if any fails.
# K8SMON_SKIP_INTEGRATION=1 skips them (unit tests only).
# First builds the real peers the real-server tier needs (tests/peers/build.sh:
# a no-op once they are in ~/.cache/k8smon-peers; a cold build takes minutes).
# A peer that does not build is not skipped: test_real_apiserver*.sh then fail.
# Prints each test's wall time, and at the end, again, what each failed test
# printed last (its failed checks and the lines before them), so that a log
# cut to its tail still says why.
# Skips: a test that cannot run exits 77 (tests/lib/skip.sh), never 0; skipped
# parts of a test are recorded the same way. The summary lists every skip;
# under CI=true as root a skip not in tests/skips-allowed.txt fails the run.
set -u
cd "$(dirname "$0")/.."
if [ "${K8SMON_SKIP_INTEGRATION:-0}" = 1 ]; then
	if [ "${CI:-}" = true ]; then
		echo "FAIL: K8SMON_SKIP_INTEGRATION=1 under CI=true: the integration tests must run" >&2
		exit 1
	fi
	echo "SKIP: every integration test (K8SMON_SKIP_INTEGRATION=1)"
	exit 0
fi
fail=0
t0=$(date +%s)
K8SMON_SKIP_LOG=$(mktemp)
export K8SMON_SKIP_LOG
OUT=$(mktemp) FAILED_OUT=$(mktemp)
trap 'rm -f "$K8SMON_SKIP_LOG" "$OUT" "$OUT.rc" "$FAILED_OUT"' EXIT
npass=0 nfail=0 nskip=0
if tests/peers/build.sh; then
	echo "== peers ready ($(($(date +%s) - t0)) s)"
else
	echo "FAIL: tests/peers/build.sh (real peers); test_real_apiserver*.sh will fail" >&2
fi
for t in tests/integration/test_*.sh; do
	[ -e "$t" ] || continue
	echo "== $t"
	s=$(date +%s)
	before=$(wc -l <"$K8SMON_SKIP_LOG")
	{ sh "$t" 2>&1; echo $? >"$OUT.rc"; } | tee "$OUT"
	rc=$(cat "$OUT.rc")
	if [ $rc -eq 77 ]; then
		nskip=$((nskip + 1))
		# exit 77 with no recorded reason still counts as a skip
		[ "$(wc -l <"$K8SMON_SKIP_LOG")" -gt "$before" ] ||
			printf '%s\t%s\n' "$(basename "$t" .sh)" "exit 77 without a reason" >>"$K8SMON_SKIP_LOG"
		echo "SKIP: $t"
	elif [ $rc -ne 0 ]; then
		nfail=$((nfail + 1))
		echo "FAIL: $t" >&2
		fail=1
		{
			echo "-- $t (exit $rc): its failed checks, then its last 40 lines"
			grep -E '^(FAIL|    failed:)' "$OUT" | head -n 40
			echo "   ..."
			tail -n 40 "$OUT"
		} >>"$FAILED_OUT"
	else
		npass=$((npass + 1))
	fi
	echo "== $t: $(($(date +%s) - s)) s"
done
if [ -s "$FAILED_OUT" ]; then
	echo "== failed tests, what they printed"
	cat "$FAILED_OUT"
fi
echo "integration: $npass passed, $nfail failed, $nskip skipped whole"
. tests/lib/skip_summary.sh
skip_summary "$K8SMON_SKIP_LOG" integration || fail=1
[ $fail -eq 0 ] && echo "integration: all passed"
echo "integration wall time: $(($(date +%s) - t0)) s"
exit $fail
