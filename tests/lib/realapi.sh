# The real-server tier's set-up (POSIX sh), after tests/lib/common.sh, with $TMP set.

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
# with $APISERVER_ARGS if set) in $TMP/api, its pid in SPID; ready within 180 s
# or the test fails there.
real_apiserver_start() {
	sh tests/peers/apiserver.sh "$TMP/api" 2>"$TMP/apiserver.err" &
	SPID=$!
	wait_for 180 sh -c "[ -f '$TMP/api/ready' ] || [ -f '$TMP/api/failed' ]"
	if [ ! -f "$TMP/api/ready" ]; then
		fail "real etcd + kube-apiserver start: $(cat "$TMP/api/failed" 2>/dev/null)"
		tail -n 20 "$TMP/apiserver.err" "$TMP/api/apiserver.log" 2>/dev/null
		finish
	fi
}
