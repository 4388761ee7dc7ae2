# Shared helpers for integration tests (POSIX sh). Source from the repo root.
# ok/fail print one line per check; finish exits non-zero if any check failed.

FAILS=0
FAILED=""
ok() { echo "ok   - $*"; }
# The failed checks are listed again by finish: CI shows the tail of a log.
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); FAILED="$FAILED
    failed: $*"; }
# A failed check prints the last lines its command wrote (stdout and stderr, "    | "):
# a command that says what it saw (want/seen) makes the failure diagnosable from the log.
check() { # check "description" command...
	desc=$1; shift
	_ck="${TMPDIR:-/tmp}/k8smon-check.$$"
	if "$@" >"$_ck" 2>&1; then ok "$desc"; else fail "$desc"; tail -n 15 "$_ck" | cut -c1-300 | sed 's/^/    | /'; fi
	rm -f "$_ck"
}
finish() {
	free_port_cleanup
	if [ "$FAILS" -ne 0 ]; then echo "$FAILS check(s) failed:$FAILED"; exit 1; fi
	echo "all checks passed"
}
. tests/lib/ports.sh
# stop_pids PID...: SIGTERM, up to 5 s to exit, then SIGKILL.
stop_pids() {
	for p in "$@"; do kill "$p" 2>/dev/null; done
	for p in "$@"; do
		i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null
	done
	return 0
}
# wait_for SECONDS CMD...: run CMD (quietly) until it succeeds, up to SECONDS; a
# readiness bound for slow starts (real API servers, clusters), not a timing assertion.
wait_for() {
	n=$(($1 * 5)); shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		n=$((n - 1)); sleep 0.2
	done
	return 1
}
# Wait until URL answers (any status), up to $2 seconds (default 10).
# Bounds below 60 s are raised to 60 s (also in until_ms): on 2 loaded cores a
# start or a reconfiguration can take seconds; a test asserts that something
# happens, never how fast (speed is measured in bench/).
wait_http() {
	i=0; limit=$(( ${2:-60} * 10 ))
	[ $limit -lt 600 ] && limit=600
	while [ $i -lt $limit ]; do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}
# until_ms MS CMD: polls sh -c CMD every 50 ms until it succeeds (prints the
# elapsed ms, returns 0) or MS milliseconds (at least 60 s) have passed
# (returns 1).
until_ms() {
	limit=$1; shift
	[ "$limit" -lt 60000 ] && limit=60000
	start=$(date +%s%N)
	while :; do
		if sh -c "$*" >/dev/null 2>&1; then
			echo $(( ($(date +%s%N) - start) / 1000000 ))
			return 0
		fi
		[ $(( ($(date +%s%N) - start) / 1000000 )) -ge "$limit" ] && return 1
		sleep 0.05
	done
}
