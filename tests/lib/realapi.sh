# The real-server tier's set-up (POSIX sh), after tests/lib/common.sh.

# real_tier_init NAME: T0, a fresh $TMP (/tmp/NAME.XXXXXX, kept with KEEP_TMP=1) and
# the exit trap that stops the agent (APID) and kube-state-metrics (KPID) first, so
# that they stop against a live server, then the server (SPID).
# kubectl's discovery and HTTP cache goes to $TMP/kubecache (KUBECACHEDIR, also for
# the python helpers' kubectl): the default ~/.kube/cache is keyed by host_port, and
# an earlier test's server on the same loopback port would leave its resource list.
real_tier_init() {
	T0=$(date +%s)
	TMP=$(mktemp -d "/tmp/$1.XXXXXX")
	KUBECACHEDIR="$TMP/kubecache"
	export KUBECACHEDIR
	SPID="" APID="" KPID=""
	trap real_tier_cleanup EXIT
	trap 'exit 1' INT TERM
}
# When a check failed, the tail of the API server's log and of every log the test
# kept in $TMP (kube-state-metrics', the agents' last: CI reprints a failed test's
# last lines): $TMP is removed, and CI keeps only the test's output. The agents' watches
# cancelled at their SIGTERM ("aborted by an application callback") are left out.
real_tier_diag() {
	[ "${FAILS:-0}" -ne 0 ] || return 0
	for f in "$TMP/api/apiserver.log" "$TMP/apiserver.err" "$TMP"/*.log; do
		case "$f" in */agent*.log|*/[A-Z].log) continue ;; esac
		[ -s "$f" ] || continue
		echo "---- last lines of $f"
		tail -n 10 "$f" | cut -c1-300 | sed 's/^/    /'
	done
	for f in "$TMP"/agent*.log "$TMP"/[A-Z].log; do
		[ -s "$f" ] || continue
		echo "---- last lines of $f (watches cancelled at shutdown left out)"
		grep -v 'aborted by an application callback' "$f" | tail -n 25 | cut -c1-300 | sed 's/^/    /'
	done
}
real_tier_cleanup() {
	real_tier_diag
	for p in $KPID $APID; do kill "$p" 2>/dev/null; done
	for p in $KPID $APID; do wait "$p" 2>/dev/null; done
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null
	[ -n "$SPID" ] && wait "$SPID" 2>/dev/null
	[ "${KEEP_TMP:-0}" = 1 ] && echo "kept $TMP" || rm -rf "$TMP"
}

# real_peers PEER...: the pinned real peers (tests/peers/build.sh, a no-op once
# cached), their paths (KUBERNETES_BIN, ETCD_BIN, ...) loaded into this shell. A
# peer that does not build fails the test; it is never skipped.
real_peers() {
	if ! tests/peers/build.sh --env "$@" >"$TMP/peers.env" 2>"$TMP/peers.err"; then
		fail "tests/peers/build.sh $* (the real peers) build"
		tail -n 30 "$TMP/peers.err"
		finish
	fi
	. "$TMP/peers.env"
}

# real_apiserver_start: a real etcd + kube-apiserver (tests/peers/apiserver.sh,
# with $APISERVER_ARGS if set) in $TMP/api, its pid in SPID; the test fails there
# if it is not ready. apiserver.sh gives up by itself (api/failed, with the reason)
# after its own bounds (certificates, etcd 60 s, kube-apiserver 120 s, each up to
# 3 tries on a port taken meanwhile): this bound is only for a hung script.
real_apiserver_start() {
	sh tests/peers/apiserver.sh "$TMP/api" 2>"$TMP/apiserver.err" &
	SPID=$!
	wait_for 900 sh -c "[ -f '$TMP/api/ready' ] || [ -f '$TMP/api/failed' ] || ! kill -0 $SPID"
	if [ ! -f "$TMP/api/ready" ]; then
		fail "real etcd + kube-apiserver start: $(cat "$TMP/api/failed" 2>/dev/null)"
		tail -n 20 "$TMP/apiserver.err" "$TMP/api/apiserver.log" 2>/dev/null
		finish
	fi
}

# real_token_kubeconfig SERVER_URL: prints a kubeconfig for SERVER_URL (CA
# $TMP/api/ca.crt) with bearer token $TOKEN and namespace k8smon: the agent as
# a ServiceAccount of the chart.
real_token_kubeconfig() {
	cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: real
  cluster: {server: "$1", certificate-authority: "$TMP/api/ca.crt"}
users:
- name: k8smon
  user: {token: "$TOKEN"}
contexts:
- name: k8smon
  context: {cluster: real, user: k8smon, namespace: k8smon}
current-context: k8smon
EOF
}

# real_unexpected_403 LOG KINDS: the lines of the agent's LOG that report a 403 from
# the API server, but for the tolerated kinds KINDS ('|'-joined, tests/peers/rbac_kinds.py;
# may be empty): "resource=K list failed: 403 ..." and "K cannot be listed (403: RBAC)".
# A 403 is a status, not digits of a timestamp (ts=...T20:33:00.403Z), a port or a
# duration: matching those failed about one run in 15 (a line logged at millisecond
# 403 among ~60 lines, or a port with 403 in it).
real_unexpected_403() {
	grep -E '(^|[^0-9.])403([^0-9]|$)|[Ff]orbidden' "$1" 2>/dev/null |
		grep -v -E "resource=(${2:-no-kind-tolerated}) list failed: 403 |(${2:-no-kind-tolerated}) cannot be listed \(403: RBAC\)"
}
