#!/bin/sh
# The agent's HTTP surface in host mode: routes, status codes, content types,
# gzip, flag errors (exit 2, one line), bind errors, clean SIGTERM shutdown,
# and promtool accepting the exposition.
set -u
. tests/lib/common.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
PORT=$(free_port)
TMP=$(mktemp -d)
trap 'kill $PID 2>/dev/null; rm -rf "$TMP"' EXIT

$BIN -httpListenAddr=127.0.0.1:$PORT -loggerLevel=WARN 2>"$TMP/log" &
PID=$!
wait_http "http://127.0.0.1:$PORT/healthz" || { fail "agent did not start"; cat "$TMP/log"; finish; }
U=http://127.0.0.1:$PORT

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
ctype() { curl -s -o /dev/null -w '%{content_type}' "$@"; }

for p in /metrics /metrics/node /metrics/cadvisor /metrics/kube-state /metrics/apps /metrics/self; do
	check "GET $p is 200" test "$(code $U$p)" = 200
	check "GET $p has the 0.0.4 content type" test "$(ctype $U$p)" = "text/plain; version=0.0.4; charset=utf-8"
done
check "/healthz is 200" test "$(code $U/healthz)" = 200
check "/readyz is 200 in host mode" test "$(code $U/readyz)" = 200
check "/config is JSON" sh -c "curl -s $U/config | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"source\"]==\"flags\"'"
check "unknown path is 404" test "$(code $U/nope)" = 404
# Landing page: HTML listing every path served (each answers non-404) and the version.
curl -s -D "$TMP/index.h" $U/ >"$TMP/index.html"
check "/ is HTML" grep -qi '^Content-Type: text/html' "$TMP/index.h"
check "/ names the version of -version" grep -q "Version $($BIN -version | cut -d' ' -f2)," "$TMP/index.html"
for p in /metrics /metrics/node /metrics/cadvisor /metrics/kube-state /metrics/apps /metrics/self /healthz /readyz /config /api/v1/targets /targets; do
	check "/ lists $p with a description" grep -q "<li><a href=\"${p#/}\">$p</a>: [a-z]" "$TMP/index.html"
done
check "every path / links to is served" sh -c "for l in \$(grep -o 'href=\"[^\"]*\"' $TMP/index.html | cut -d'\"' -f2); do test \"\$(curl -s -o /dev/null -w '%{http_code}' $U/\$l)\" != 404 || exit 1; done"
check "POST is 405" test "$(code -X POST $U/metrics)" = 405
check "405 carries Allow" sh -c "curl -s -D - -o /dev/null -X DELETE $U/metrics | grep -qi '^Allow: GET, HEAD'"
check "HEAD is 200 without body" test "$(curl -s -I -o /dev/null -w '%{http_code}' $U/metrics/self)" = 200
check "gzip when accepted" sh -c "curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' $U/metrics | grep -qi '^Content-Encoding: gzip'"
check "gzip body decodes to the same families" sh -c "curl -s -H 'Accept-Encoding: gzip' $U/metrics/node | gunzip | grep -q '^# TYPE node_cpu_seconds_total counter'"
check "no gzip when not asked" sh -c "! curl -s -D - -o /dev/null $U/metrics | grep -qi 'Content-Encoding'"
check "/metrics/node has node_* families" sh -c "curl -s $U/metrics/node | grep -q '^node_load1 '"
check "/metrics/self has build info and process metrics" sh -c "curl -s $U/metrics/self | grep -q '^k8smon_build_info{' && curl -s $U/metrics/self | grep -q '^process_resident_memory_bytes '"
check "/metrics includes node and self" sh -c "curl -s $U/metrics | grep -q '^node_load1 ' && curl -s $U/metrics | grep -q '^process_open_fds '"
if command -v promtool >/dev/null; then
	curl -s $U/metrics >"$TMP/all.prom"
	promtool check metrics <"$TMP/all.prom" >"$TMP/promtool.out" 2>&1
	# node-exporter's own meminfo, netstat and vmstat names (node_memory_MemTotal_bytes ...) are
	# camelCase by design: the only lint we accept, as node-exporter gets it too.
	# cAdvisor's container_memory_failcnt is a counter without _total: its name.
	# node_exporter's entropy collector names its gauges *_bits: its names.
	# The kubelet's cadvisor_version_info has camelCase label names (kernelVersion ...) and
	# its container_cpu_load_d_average_10s reads as an abbreviated unit ("d"), and its
	# container_fs_inodes_total is a gauge: its names.
	grep -Ev "^node_(memory|netstat|vmstat)_[A-Za-z0-9_]* metric names should be written in 'snake_case' not 'camelCase'$" \
		"$TMP/promtool.out" | grep -Ev '^container_memory_failcnt counter metrics should have "_total" suffix$' |
		grep -Ev '^node_entropy_(available|pool_size)_bits use base unit "bytes" instead of "bits"$' |
		grep -Ev "^cadvisor_version_info label names should be written in 'snake_case' not 'camelCase'$" |
		grep -Ev '^container_cpu_load_d_average_10s metric names should not contain abbreviated units$' |
		grep -Ev '^container_fs_inodes_total non-counter metrics should not have "_total" suffix$' >"$TMP/promtool.problems"
	if [ -s "$TMP/promtool.problems" ]; then
		fail "promtool check metrics: $(head -5 "$TMP/promtool.problems")"
	else
		ok "promtool check metrics: no problems in /metrics (beyond node-exporter's camelCase meminfo names)"
	fi
fi

# Concurrent scrapes are all answered.
i=0; : >"$TMP/codes"
while [ $i -lt 20 ]; do code $U/metrics >>"$TMP/codes" & i=$((i + 1)); done
# every answer in, however long a loaded machine takes (each curl appends one line)
wait_for 60 sh -c "test \$(wc -l <'$TMP/codes') -ge 20"
check "20 concurrent scrapes all 200" test "$(grep -o 200 "$TMP/codes" | wc -l)" = 20

# Request size: over HTTP_URI_MAX (8 KiB) / HTTP_HEADERS_MAX (32 KiB) we answer 414 / 431 and
# count; over HTTP_CONN_MEMORY (64 KiB) libmicrohttpd answers itself: counted when the request
# line was read (431, 400), not when the request line alone is over it (414, no callback).
sizes=$(python3 - "$PORT" <<'PY'
import socket, sys
port = int(sys.argv[1])
def status(data):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    s.settimeout(5)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError:
        pass
    s.close()
    return out.split(b" ", 2)[1].decode() if out.startswith(b"HTTP/") else "none"
print(status(b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      status(b"GET /metrics/self HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-A: " + b"a" * 40000 + b"\r\n\r\n"),
      status(b"GET /metrics/self HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 70000 + b"\r\n\r\n"),
      status(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"))
PY
)
check "URI over HTTP_URI_MAX is 414, headers over HTTP_HEADERS_MAX 431, over HTTP_CONN_MEMORY 431/414 from libmicrohttpd" test "$sizes" = "414 431 431 414"
curl -s $U/metrics/self >"$TMP/self.prom"
check "rejected requests are counted by reason" sh -c "grep -q '^k8smon_http_rejected_requests_total{reason=\"uri_too_long\"} 1\$' $TMP/self.prom && grep -q '^k8smon_http_rejected_requests_total{reason=\"headers_too_large\"} 1\$' $TMP/self.prom && grep -q '^k8smon_http_rejected_requests_total{reason=\"libmicrohttpd\"} 1\$' $TMP/self.prom"
check "a rejected request is logged" grep -q 'request refused' "$TMP/log"

# Connection limit: at -http.maxConnections an idle connection (no request in progress, oldest
# first) is closed to admit a new one: new requests are served, evictions counted (refusal when
# every slot is busy: tests/unit/test_http_conns.c).
P2=$(free_port)
$BIN -httpListenAddr=127.0.0.1:$P2 -http.maxConnections=3 -loggerLevel=WARN 2>>"$TMP/log" &
PID2=$!
wait_http "http://127.0.0.1:$P2/healthz"
served=$(python3 - "$P2" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
time.sleep(0.3)
served = 0
for _ in range(2):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(5)
    try:
        d = s.recv(100)
    except OSError:
        d = b""
    served += d.startswith(b"HTTP/1.1 200")
print(served)
for h in held:
    h.close()
PY
)
sleep 0.3
check "new requests past -http.maxConnections idle connections are served" test "$served" = 2
check "evicted idle connections are counted" sh -c "curl -s http://127.0.0.1:$P2/metrics/self | grep -q '^k8smon_http_closed_connections_total{reason=\"evicted\"} 2$'"
kill $PID2 2>/dev/null

# Series cap: a response over -http.maxSeries fails whole (500 naming the cap, never a shortened
# exposition), is counted by path and logged; /metrics/self stays served.
P3=$(free_port)
$BIN -httpListenAddr=127.0.0.1:$P3 -http.maxSeries=50 -loggerLevel=WARN 2>"$TMP/log3" &
PID3=$!
wait_http "http://127.0.0.1:$P3/healthz"
check "response over -http.maxSeries is 500" test "$(code http://127.0.0.1:$P3/metrics/node)" = 500
check "the 500 names the cap" sh -c "curl -s http://127.0.0.1:$P3/metrics | grep -q 'over -http.maxSeries=50'"
check "/metrics/self is not capped" test "$(code http://127.0.0.1:$P3/metrics/self)" = 200
curl -s http://127.0.0.1:$P3/metrics/self >"$TMP/self3.prom"
check "series-cap failures are counted by path" sh -c "grep -q '^k8smon_http_series_limit_exceeded_total{path=\"/metrics/node\"} 1\$' $TMP/self3.prom && grep -q '^k8smon_http_series_limit_exceeded_total{path=\"/metrics\"} 1\$' $TMP/self3.prom"
check "a series-cap failure is logged" grep -q 'over -http.maxSeries=50 series' "$TMP/log3"
check "under the default cap /metrics/node is 200" test "$(code $U/metrics/node)" = 200
kill $PID3 2>/dev/null

# Bind error: same port again -> exit 2, one line naming the flag.
$BIN -httpListenAddr=127.0.0.1:$PORT >"$TMP/out" 2>"$TMP/err"; rc=$?
check "busy port exits 2" test $rc = 2
check "busy port message names the flag" grep -q -- "-httpListenAddr=127.0.0.1:$PORT: listen tcp" "$TMP/err"
check "busy port message is one line" test "$(wc -l <"$TMP/err")" = 1

for bad in "-promscrape.kubernetes.interval=abc" "-promscrape.kubernetes.collectors=node,bogus" "--nope=1" "-httpListenAddr=nohost"; do
	$BIN "$bad" >"$TMP/out" 2>"$TMP/err"; rc=$?
	if [ "$bad" = "-httpListenAddr=nohost" ]; then want="-httpListenAddr"; else want=$(echo "$bad" | sed 's/^-*//; s/=.*//'); fi
	check "bad flag $bad exits 2" test $rc = 2
	check "bad flag $bad: one line naming the flag" sh -c "test \$(wc -l <'$TMP/err') = 1 && grep -q -- '$want' '$TMP/err'"
done
check "-help lists the flags with defaults" sh -c "$BIN -help | grep -q 'promscrape.kubernetes.interval' && $BIN --help | grep -q 'default \"15s\"'"
check "-version prints the version" sh -c "$BIN -version | grep -q '^k8smon '"

# SIGTERM: exits 0 within 2 s.
kill -TERM $PID
i=0; while kill -0 $PID 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $PID 2>/dev/null; then fail "SIGTERM: still running after 2 s"; else
	wait $PID; rc=$?
	check "SIGTERM exits 0 within 2 s" test $rc = 0
fi
finish
