#!/bin/sh
# The agent makes itself non-dumpable at startup (prctl(PR_SET_DUMPABLE, 0) in
# cmd/k8smon/main.c): another process of the *same* UID cannot read its
# /proc/<pid>/environ, /proc/<pid>/root (where the service-account token is
# mounted), while the agent's own /proc/self reads
# (process_* self-metrics) keep working. Control: a plain process of that UID
# is readable by its neighbour, so a failure here is the agent's doing.
# Needs root (to run both sides as an unprivileged UID with setpriv).
set -u
. tests/lib/common.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
UID_T=10642
TMP=$(mktemp -d)
PID=""
CTRL=""
trap 'kill $PID $CTRL 2>/dev/null; rm -rf "$TMP"' EXIT
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	. tests/lib/skip.sh
	skip_test nondumpable "needs root and setpriv (util-linux)"
fi
chmod 755 "$TMP"
cp "$BIN" "$TMP/k8smon" && chmod 755 "$TMP/k8smon"
AS="setpriv --reuid=$UID_T --regid=$UID_T --clear-groups"

PORT=$(free_port)
$AS env K8SMON_TEST_SECRET=s3cr3t-env "$TMP/k8smon" -httpListenAddr=127.0.0.1:$PORT >"$TMP/log" 2>&1 &
PID=$!
wait_http "http://127.0.0.1:$PORT/healthz" || { fail "agent did not start as uid $UID_T"; cat "$TMP/log"; finish; }
$AS env K8SMON_TEST_SECRET=s3cr3t-env sleep 60 &
CTRL=$!

# (once setpriv, env and sleep have all exec'd: polled)
check "control: a plain uid-$UID_T process's environ is readable by another uid-$UID_T process" \
	wait_for 10 sh -c "$AS cat /proc/$CTRL/environ | tr '\0' '\n' | grep -q s3cr3t-env"
check "the agent runs as uid $UID_T" sh -c "grep -q '^Uid:[[:space:]]*$UID_T[[:space:]]' /proc/$PID/status"
check "agent's /proc/<pid>/environ not readable by another uid-$UID_T process" \
	sh -c "! $AS cat /proc/$PID/environ >/dev/null 2>&1"
check "agent's /proc/<pid>/root not readable by another uid-$UID_T process" \
	sh -c "! $AS ls /proc/$PID/root/ >/dev/null 2>&1"
check "agent's /proc/<pid> files belong to root (the kernel's mark of a non-dumpable task)" \
	test "$(stat -c %u /proc/$PID/environ)" = 0
curl -s "http://127.0.0.1:$PORT/metrics/self" >"$TMP/self"
check "own /proc/self reads still work: process_open_fds > 0" \
	sh -c "grep -q '^process_open_fds [1-9]' '$TMP/self'"
check "own /proc/self reads still work: process_resident_memory_bytes > 0" \
	sh -c "grep -q '^process_resident_memory_bytes [1-9]' '$TMP/self'"
finish
