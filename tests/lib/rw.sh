# The remote-write tests' set-up (POSIX sh), after tests/lib/common.sh (and
# tests/lib/realapi.sh's real_peers for victoria-metrics and prometheus): the
# receivers, the agent in host mode, and reading what arrived. Uses the
# caller's TMP and AGENT (the binary); each process started is added to PIDS.

# rw_test_init NAME: the common set-up of a remote-write test: TMP (a fresh
# /tmp/k8smon-NAME.XXXXXX, kept with KEEP=1), PIDS and FAKEAPI_PID (stopped
# at exit, then the caller's cleanup_extra if it defines one), bail, and AGENT
# (K8SMON_BIN or ./bin/k8smon, built when missing).
rw_test_init() {
	TMP=$(mktemp -d "/tmp/k8smon-$1.XXXXXX")
	PIDS=""
	FAKEAPI_PID=""
	trap rw_test_cleanup EXIT
	trap 'exit 130' INT TERM
	AGENT=${K8SMON_BIN:-./bin/k8smon}
	[ -x "$AGENT" ] || make -s bin/k8smon >/dev/null || bail "make bin/k8smon"
}
rw_test_cleanup() {
	# shellcheck disable=SC2086
	stop_pids $PIDS $FAKEAPI_PID
	command -v cleanup_extra >/dev/null && cleanup_extra
	[ -n "${KEEP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
}
bail() { fail "$*"; finish; }

# rw_vm_start [ARGS...]: the real victoria-metrics on 127.0.0.1:$VMP (a free
# port chosen the first time; a restart keeps it and its data in $TMP/vm, log
# appended to $TMP/vm.log), its pid in VM_PID; 1 when it does not answer.
rw_vm_start() {
	VMP=${VMP:-$(free_port)}
	"$VICTORIA_METRICS_BIN/victoria-metrics" -httpListenAddr=127.0.0.1:$VMP -storageDataPath="$TMP/vm" \
		-search.latencyOffset=0 -search.disableCache -loggerLevel=ERROR "$@" >>"$TMP/vm.log" 2>&1 &
	VM_PID=$!
	PIDS="${PIDS:-} $VM_PID"
	wait_http "http://127.0.0.1:$VMP/health" 30
}

# rw_prom_start CONFIG: the real Prometheus with its remote-write receiver on
# 127.0.0.1:$PP (a free port unless set), data in $TMP/prom, its pid in PROM_PID.
rw_prom_start() {
	PP=${PP:-$(free_port)}
	"$PROMETHEUS_BIN/prometheus" --config.file="$1" --storage.tsdb.path="$TMP/prom" \
		--web.listen-address=127.0.0.1:$PP --web.enable-remote-write-receiver --log.level=error >"$TMP/prom.log" 2>&1 &
	PROM_PID=$!
	PIDS="${PIDS:-} $PROM_PID"
	wait_http "http://127.0.0.1:$PP/-/ready" 30
}

# rw_receiver_start NAME VAR [CERT KEY]: tests/lib/rw_receiver.py (https with
# CERT and KEY), its port in $TMP/NAME.port and in the variable VAR, its log in
# $TMP/NAME.log.
rw_receiver_start() {
	name=$1 var=$2; shift 2
	/usr/bin/python3 tests/lib/rw_receiver.py "$TMP/$name.port" "$@" >"$TMP/$name.log" 2>&1 &
	PIDS="${PIDS:-} $!"
	wait_for 10 test -s "$TMP/$name.port" || return 1
	eval "$var=\$(cat \"\$TMP/\$name.port\")"
}

# rw_agent_start LOG ARGS...: the agent in host mode (node $NODE, 1 s
# interval) with ARGS, on a port it picks (APORT, read from its log), its pid
# in AGENT_PID; 1 when it does not say where it listens.
rw_agent_start() {
	log=$1; shift
	"$AGENT" -httpListenAddr=127.0.0.1:0 -nodeName=$NODE -promscrape.kubernetes.interval=1s "$@" >"$log" 2>&1 &
	AGENT_PID=$!
	PIDS="${PIDS:-} $AGENT_PID"
	wait_for 60 grep -q 'listening on' "$log"
	APORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$log" | head -1)
	[ -n "$APORT" ]
}
# stop_agent: SIGTERM to AGENT_PID; 1 when it has not exited 10 s later.
stop_agent() {
	kill "$AGENT_PID"
	i=0; while kill -0 "$AGENT_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	! kill -0 "$AGENT_PID" 2>/dev/null
}

# selfv NAME_WITH_LABELS: the value of that series on the agent's /metrics/self.
selfv() { curl -sf "http://127.0.0.1:$APORT/metrics/self" | awk -v m="$1" '$1 == m { print $2 }'; }
ge() { v=$(selfv "$1"); [ -n "$v" ] && [ "${v%.*}" -ge "$2" ]; }
is() { [ "$(selfv "$1")" = "$2" ]; }
# vmq / pq QUERY: an instant query to victoria-metrics / Prometheus (JSON).
vmq() { curl -sf "http://127.0.0.1:$VMP/api/v1/query" --data-urlencode "query=$1"; }
pq() { curl -sf "http://127.0.0.1:$PP/api/v1/query" --data-urlencode "query=$1"; }
# val: the first value of a query result on stdin, "" when none.
val() { /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'; }
# has vmq|pq QUERY: the query has a result.
has() { [ -n "$($1 "$2" | val)" ]; }
