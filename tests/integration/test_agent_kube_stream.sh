#!/bin/sh
# A large /metrics/kube-state is streamed: 20,000 pods (PODS=...) loaded
# through the fake API's bulk POST /_fake/objects; the answer is chunked
# (no Content-Length), identity and gzip decode to the same bytes, promtool
# accepts it, HEAD and /metrics (kube-state in the middle of other sections)
# still work, the same through HTTPS with bearer-token authentication, and a
# slow scrape running while pods are deleted still sees a
# complete, consistent snapshot (every pod of the moment it started).
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
PODS=${PODS:-20000}
TMP=$(mktemp -d)
PID=""
TPID=""
SLOW=""
trap 'kill $PID $TPID $SLOW 2>/dev/null; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds || { fail "fake API server"; finish; }

python3 - "$PODS" >"$TMP/pods.json" <<'PY'
import json, sys
n = int(sys.argv[1])
items = []
for i in range(n):
    ns = f"ns{i % 20}"
    items.append({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"web-{i:06d}", "namespace": ns, "uid": f"00000000-0000-4000-8000-{i:012d}",
                     "labels": {"app": "web"}, "creationTimestamp": "2024-01-01T00:00:00Z",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                                          "uid": "r1", "controller": True}]},
        "spec": {"nodeName": f"node-{i % 50}", "containers": [
            {"name": "app", "image": "nginx:1.25", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                                                "limits": {"memory": "256Mi"}}},
            {"name": "sidecar", "image": "envoy:1.29"}]},
        "status": {"phase": "Running", "hostIP": "10.0.0.1", "podIP": f"10.1.{i // 250 % 256}.{i % 250}",
                   "qosClass": "Burstable", "startTime": "2024-01-01T00:00:01Z",
                   "conditions": [{"type": t, "status": "True"} for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                   "containerStatuses": [{"name": c, "ready": True, "restartCount": 0, "image": "x", "imageID": "y",
                                          "containerID": f"containerd://{i:064d}", "state": {"running": {}}}
                                         for c in ("app", "sidecar")]},
    })
json.dump(items, sys.stdout)
PY
fake_ctl POST /objects "@$TMP/pods.json" >"$TMP/post.out"
N0=$(fake_ctl GET '/objects?resource=pods&namespace=ns0' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
check "bulk POST of $PODS pods" test "$N0" -eq $((PODS / 20))

PORT=$(free_port)
U=http://127.0.0.1:$PORT
./bin/k8smon -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=node-1 \
	-leaderElection=false -promscrape.kubernetes.collectors=kube-state \
	-httpListenAddr=127.0.0.1:$PORT -loggerLevel=WARN >"$TMP/k8smon.log" 2>&1 &
PID=$!
wait_http "$U/healthz" || { fail "agent did not start"; cat "$TMP/k8smon.log"; finish; }

i=0
until [ "$(curl -s "$U/metrics/kube-state" | grep -c '^kube_pod_info{')" -eq "$PODS" ]; do
	i=$((i + 1))
	[ $i -lt 240 ] || { fail "kube_pod_info for all $PODS pods within 120 s"; cat "$TMP/k8smon.log"; finish; }
	sleep 0.5
done
ok "kube_pod_info for all $PODS pods"

curl -s -D "$TMP/h.id" -o "$TMP/ks.id" "$U/metrics/kube-state"
curl -s -D "$TMP/h.gz" -H 'Accept-Encoding: gzip' -o "$TMP/ks.gz" "$U/metrics/kube-state"
check "identity: HTTP 200" grep -q '^HTTP/1.1 200' "$TMP/h.id"
# HTTP/1.1 keep-alive: chunked. libmicrohttpd may also decide the
# connection must close, then the end of the body is the end of the
# connection (still no Content-Length).
stream_check() {
	if grep -qi '^Transfer-Encoding: chunked' "$2"; then ok "$1: chunked transfer encoding"
	elif grep -qi '^Connection: close' "$2"; then ok "$1: streamed, end of body = connection close"
	else fail "$1: chunked transfer encoding"; cat "$2"; fi
}
stream_check identity "$TMP/h.id"
check "identity: no Content-Length" sh -c "! grep -qi '^Content-Length' '$TMP/h.id'"
check "identity: 0.0.4 content type" grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$TMP/h.id"
check "gzip: Content-Encoding gzip" grep -qi '^Content-Encoding: gzip' "$TMP/h.gz"
stream_check gzip "$TMP/h.gz"
check "gzip: no Content-Length" sh -c "! grep -qi '^Content-Length' '$TMP/h.gz'"
gzip -dc <"$TMP/ks.gz" >"$TMP/ks.gunzip" 2>"$TMP/gunzip.err"
check "gzip body is a complete gzip stream" test ! -s "$TMP/gunzip.err"
check "gzip and identity decode to the same bytes" cmp -s "$TMP/ks.id" "$TMP/ks.gunzip"
check "body is large (> 8 MB)" test "$(wc -c <"$TMP/ks.id")" -gt 8000000
check "body ends with a complete line" sh -c "test \"\$(tail -c 1 '$TMP/ks.id' | od -An -c | tr -d ' ')\" = '\\n'"
check "one kube_pod_info per pod" test "$(grep -c '^kube_pod_info{' "$TMP/ks.id")" -eq "$PODS"
check "self series after the store (tail of the stream)" sh -c "tail -n 20 '$TMP/ks.id' | grep -q '^kube_state_metrics_total_shards 1'"
promtool check metrics <"$TMP/ks.id" >"$TMP/promtool.out" 2>&1
check "promtool accepts the streamed exposition" test ! -s "$TMP/promtool.out"
[ -s "$TMP/promtool.out" ] && head -5 "$TMP/promtool.out"
check "HEAD is 200 without a body" test "$(curl -s -I -o /dev/null -w '%{http_code}:%{size_download}' "$U/metrics/kube-state")" = "200:0"
check "HTTP/1.0 client gets the whole body (connection close)" sh -c "test \$(curl -s -0 '$U/metrics/kube-state' | grep -c '^kube_pod_info{') -eq $PODS"
curl -s "$U/metrics" >"$TMP/all"
# Section order in /metrics (only kube-state collected here): the streamed
# store, then the self section rendered into the tail.
check "/metrics: self section after the streamed kube-state" sh -c "awk '
	/^kube_pod_info[{ ]/ { k = NR }
	/^k8smon_build_info[{ ]/ { b = NR }
	END { exit !(k && b && k < b) }' '$TMP/all'"
# The synthetic series of the component jobs (up, scrape_*) have no HELP, as
# Prometheus stores them (test_scrape.sh accepts the same for /metrics/apps).
promtool check metrics <"$TMP/all" 2>&1 | grep -Ev '^(up|scrape_[a-z_]+) no help text$' >"$TMP/promtool.all"
check "promtool accepts /metrics" test ! -s "$TMP/promtool.all"
[ -s "$TMP/promtool.all" ] && head -5 "$TMP/promtool.all"
check "unknown path still 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$U/nope")" = 404
check "POST still 405" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/metrics/kube-state")" = 405

# The same through HTTPS with bearer-token authentication: the auth check
# runs before the handler, the stream goes through TLS.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=k8smon-stream" \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$TMP/tls.key" -out "$TMP/tls.crt" >/dev/null 2>&1
TPORT=$(free_port)
T=https://127.0.0.1:$TPORT
./bin/k8smon -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=node-1 \
	-leaderElection=false -promscrape.kubernetes.collectors=kube-state -http.auth=kubernetes \
	-tls -tlsCertFile="$TMP/tls.crt" -tlsKeyFile="$TMP/tls.key" \
	-httpListenAddr=127.0.0.1:$TPORT -loggerLevel=WARN >"$TMP/k8smon-tls.log" 2>&1 &
TPID=$!
tcurl() { curl -s --cacert "$TMP/tls.crt" "$@"; }
AUTH="Authorization: Bearer fakeapi-token"
i=0
until [ "$(tcurl -H "$AUTH" "$T/metrics/kube-state" | grep -c '^kube_pod_info{')" -eq "$PODS" ]; do
	i=$((i + 1))
	[ $i -lt 240 ] || { fail "HTTPS: kube_pod_info for all $PODS pods within 120 s"; cat "$TMP/k8smon-tls.log"; break; }
	sleep 0.5
done
check "HTTPS: no token is 401" test "$(tcurl -o /dev/null -w '%{http_code}' "$T/metrics/kube-state")" = 401
tcurl -H "$AUTH" -D "$TMP/h.tls" -o "$TMP/ks.tls" "$T/metrics/kube-state"
tcurl -H "$AUTH" -H 'Accept-Encoding: gzip' -D "$TMP/h.tlsgz" -o "$TMP/ks.tlsgz" "$T/metrics/kube-state"
stream_check "HTTPS identity" "$TMP/h.tls"
stream_check "HTTPS gzip" "$TMP/h.tlsgz"
check "HTTPS gzip: Content-Encoding gzip" grep -qi '^Content-Encoding: gzip' "$TMP/h.tlsgz"
check "HTTPS: gzip and identity decode to the same bytes" sh -c "gzip -dc <'$TMP/ks.tlsgz' | cmp -s - '$TMP/ks.tls'"
check "HTTPS: same series as over plain HTTP" sh -c "grep -v '^#' '$TMP/ks.tls' | sort >'$TMP/a' && grep -v '^#' '$TMP/ks.id' | sort >'$TMP/b' && cmp -s '$TMP/a' '$TMP/b'"
kill $TPID 2>/dev/null
wait $TPID 2>/dev/null
TPID=""

# A slow scraper (about 60 s for the body) while a quarter of the pods are
# deleted: the scrape sees the snapshot of its start. The deletes wait for its
# first bytes (the snapshot is taken), not for a fixed time.
RATE=$(( $(wc -c <"$TMP/ks.id") / 60 ))
curl -s --limit-rate "$RATE" "$U/metrics/kube-state" >"$TMP/slow" &
SLOW=$!
wait_for 60 test -s "$TMP/slow" || fail "the slow scrape got no first bytes"
fake_ctl DELETE '/objects?resource=pods&namespace=ns1' >/dev/null
fake_ctl DELETE '/objects?resource=pods&namespace=ns2' >/dev/null
fake_ctl DELETE '/objects?resource=pods&namespace=ns3' >/dev/null
fake_ctl DELETE '/objects?resource=pods&namespace=ns4' >/dev/null
fake_ctl DELETE '/objects?resource=pods&namespace=ns5' >/dev/null
check "deletes reach the store during the slow scrape" sh -c "i=0; until [ \$(curl -s '$U/metrics/kube-state' | grep -c '^kube_pod_info{') -eq $((PODS * 3 / 4)) ]; do i=\$((i+1)); [ \$i -lt 100 ] || exit 1; sleep 0.2; done"
check "slow scrape was still running" kill -0 $SLOW
wait $SLOW
SLOW=""
check "slow scrape: every pod of its start" test "$(grep -c '^kube_pod_info{' "$TMP/slow")" -eq "$PODS"
promtool check metrics <"$TMP/slow" >"$TMP/promtool.slow" 2>&1
check "slow scrape: promtool accepts it" test ! -s "$TMP/promtool.slow"
check "no stream errors counted" sh -c "curl -s '$U/metrics/self' | grep -q '^k8smon_http_stream_errors_total{reason=\"size_limit\"} 0'"
check "no errors logged" sh -c "! grep -q 'ERROR' '$TMP/k8smon.log'"
kill $PID 2>/dev/null
wait $PID 2>/dev/null

# -http.maxSeries below the streamed kube-state: the stream ends with an
# error (curl sees a failed transfer, never a short but complete-looking
# exposition), counted by path and as a stream error, logged.
PORT=$(free_port)
U=http://127.0.0.1:$PORT
./bin/k8smon -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=node-1 \
	-leaderElection=false -promscrape.kubernetes.collectors=kube-state -http.maxSeries=10000 \
	-httpListenAddr=127.0.0.1:$PORT -loggerLevel=WARN >"$TMP/k8smon-cap.log" 2>&1 &
PID=$!
wait_http "$U/healthz" || { fail "capped agent did not start"; finish; }
i=0
until curl -s "$U/metrics/self" | grep -q '^k8smon_ready 1'; do
	i=$((i + 1))
	[ $i -lt 240 ] || { fail "capped agent ready within 120 s"; break; }
	sleep 0.5
done
curl -s -o "$TMP/capped" "$U/metrics/kube-state"
rc=$?
check "stream over -http.maxSeries: failed transfer (curl $rc)" test $rc -ne 0
check "stream over -http.maxSeries: not every pod sent" test "$(grep -c '^kube_pod_info{' "$TMP/capped")" -lt "$PODS"
curl -s "$U/metrics/self" >"$TMP/self-cap"
check "series-cap failure counted by path" grep -q '^k8smon_http_series_limit_exceeded_total{path="/metrics/kube-state"} 1$' "$TMP/self-cap"
check "and as a stream error" grep -q '^k8smon_http_stream_errors_total{reason="producer"} 1$' "$TMP/self-cap"
check "series-cap failure logged" grep -q 'over -http.maxSeries=10000 series' "$TMP/k8smon-cap.log"
finish
