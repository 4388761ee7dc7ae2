#!/bin/sh
# RSS and cycle time of a kube-state leader pushing by remote write, with
# and without the rendered sections' staleness markers
# (-promscrape.noStaleMarkers): a synthetic cluster (bench/kube_state_gen.py,
# bench/kube_state_api.py), k8smon with the kube-state collector only, no
# leader election, pushing to a sink that accepts every block; RSS and
# k8smon_remotewrite_last_cycle_seconds read after DURATION seconds.
#   NODES=500 PODS=10000 INTERVAL=5 DURATION=60 bench/rendered_stale_rss.sh
set -eu
cd "$(dirname "$0")/.."
NODES=${NODES:-500}
PODS=${PODS:-10000}
INTERVAL=${INTERVAL:-5}
DURATION=${DURATION:-60}
BIN=${K8SMON:-bin/k8smon}
DIR=${BENCH_DIR:-/tmp/k8smon-bench-rstale}
mkdir -p "$DIR"
CL="$DIR/cluster-$NODES-$PODS.jsonl"
[ -s "$CL" ] || python3 bench/kube_state_gen.py "$CL" --nodes "$NODES" --pods "$PODS"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
AP=$(port); SP=$(port)
python3 bench/kube_state_api.py "$CL" "$AP" >"$DIR/api.out" 2>"$DIR/api.err" &
APID=$!
python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204); self.end_headers()
    def do_GET(self):
        self.send_response(404); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$SP" &
SPID=$!
APID2=
trap 'kill $APID $SPID $APID2 2>/dev/null || true' EXIT
i=0
until grep -q READY "$DIR/api.out" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 1200 ] || { cat "$DIR/api.err"; exit 1; }
	sleep 0.1
done
cat >"$DIR/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: bench, cluster: {server: "http://127.0.0.1:$AP"}}]
users: [{name: bench, user: {token: bench}}]
contexts: [{name: bench, context: {cluster: bench, user: bench}}]
current-context: bench
KC
for mode in markers none; do
	extra=
	[ $mode = none ] && extra=-promscrape.noStaleMarkers
	# shellcheck disable=SC2086
	"$BIN" -promscrape.kubernetes -kubeconfig="$DIR/kubeconfig" -nodeName=node-00000 -leaderElection=false \
		-promscrape.kubernetes.collectors=kube-state -promscrape.kubernetes.interval=${INTERVAL}s \
		-httpListenAddr=127.0.0.1:0 -remoteWrite.url="http://127.0.0.1:$SP/api/v1/write" $extra \
		>"$DIR/agent-$mode.log" 2>&1 &
	APID2=$!
	sleep "$DURATION"
	HP=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$DIR/agent-$mode.log" | head -1)
	self=$(curl -sf "http://127.0.0.1:$HP/metrics/self")
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$APID2/status")
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$APID2/status")
	cpu=$(awk '{ print ($14 + $15) / 100 }' "/proc/$APID2/stat")
	echo "$mode: RSS $((rss / 1024)) MiB, HWM $((hwm / 1024)) MiB, CPU ${cpu}s in ${DURATION}s;" \
		"$(echo "$self" | grep -E '^k8smon_remotewrite_(samples_total|cycles_total|last_cycle_seconds|stale_markers_total\{source="kube-state"\}) ' | tr '\n' ' ')"
	kill "$APID2"; wait "$APID2" 2>/dev/null || true
	APID2=
done
