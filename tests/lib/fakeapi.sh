# Starts the fake API server for a test (POSIX sh). Source after common.sh.
#   fakeapi_start DIR [fakeapi args...]   sets API_URL, CONTROL (control base URL),
#                                         KUBECONFIG (exported), FAKEAPI_PID
fakeapi_start() {
	dir=$1; shift
	mkdir -p "$dir"
	python3 tests/fakeapi/fakeapi.py --port 0 --state-dir "$dir/api" \
		--kubeconfig-out "$dir/kubeconfig" "$@" >"$dir/fakeapi.out" 2>"$dir/fakeapi.log" &
	FAKEAPI_PID=$!
	i=0
	until grep -q '^READY' "$dir/fakeapi.out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 $FAKEAPI_PID 2>/dev/null; then
			echo "fake API server did not start:"; cat "$dir/fakeapi.log"; return 1
		fi
		sleep 0.1
	done
	API_URL=$(sed -n 's/^READY //p' "$dir/fakeapi.out")
	CONTROL="$API_URL/_fake"
	KUBECONFIG="$dir/kubeconfig"
	export KUBECONFIG
}
# curl to the control API (TLS with the generated CA).
fake_ctl() { # fake_ctl METHOD PATH [JSON]
	if [ $# -ge 3 ]; then
		curl -s --cacert "$(dirname "$KUBECONFIG")/api/ca.crt" -X "$1" -H 'Content-Type: application/json' -d "$3" "$CONTROL$2"
	else
		curl -s --cacert "$(dirname "$KUBECONFIG")/api/ca.crt" -X "$1" "$CONTROL$2"
	fi
}
