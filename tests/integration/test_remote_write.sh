#!/bin/sh
# Remote write end to end with the real receivers (tests/peers: victoria-metrics
# single-node and Prometheus with --web.enable-remote-write-receiver) and a
# misbehaving one (tests/lib/rw_receiver.py). bin/k8smon in host mode pushes
# every second to both real receivers (two URLs, two disk queues):
#   1. the pushed series carry the scrape-job labels of the chart's PodMonitor
#      (node-exporter / kubelet / k8smon, instance = node) and the external label;
#   2. outage: VictoriaMetrics is stopped for RW_OUTAGE_S seconds (default 60:
#      dozens of sends and several backoff doublings; RW_OUTAGE_S=600 for the
#      issue's full 10 minutes); during it the agent is
#      restarted and two of the queued block files are damaged (one header, one
#      payload); after VictoriaMetrics comes back, the node_load1 samples it
#      holds are exactly the blocks the two agent runs made, minus the two
#      damaged ones (counted as corrupt) and whatever is still queued -- no
#      sample lost, none twice (raw timestamps from /api/v1/export);
#      Prometheus, up throughout, holds every block;
#   2b. the same with -remoteWrite.maxDiskUsagePerURL too small for the outage:
#      VictoriaMetrics holds exactly the blocks made minus those counted as
#      dropped for the cap, and what is missing is the oldest part of the outage;
#   3. a receiver answering 400 or 413: blocks dropped and counted, not retried;
#      one answering 429 or 503 (three times, then 204): retried, nothing dropped,
#      then delivered;
#      one that wants the bearer token of -remoteWrite.bearerTokenFile gets it;
#      one answering garbage: retried; one that hangs: the send times out, is
#      retried, and then delivered; https verified with -remoteWrite.tlsCAFile.
#   4. Kubernetes mode (fake API server with examples/cluster, this agent the
#      kube-state emitter): kube_* series arrive with job="kube-state-metrics"
#      and application target series (up) with their own job and the node label,
#      in victoria-metrics and in Prometheus;
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
. tests/lib/realapi.sh
. tests/lib/fakeapi.sh
TMP=$(mktemp -d /tmp/k8smon-rw.XXXXXX)
PIDS=""
FAKEAPI_PID=""
cleanup() {
	# shellcheck disable=SC2086
	stop_pids $PIDS $FAKEAPI_PID
	[ -n "${KEEP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bail() { fail "$*"; finish; }

AGENT=${K8SMON_BIN:-./bin/k8smon}
[ -x "$AGENT" ] || make -s bin/k8smon >/dev/null || bail "make bin/k8smon"
real_peers victoria-metrics prometheus
command -v protoc >/dev/null || true
/usr/bin/python3 -c 'import snappy' 2>/dev/null || bail "python3-snappy (Debian) for tests/lib/rw_receiver.py: ./.ci/deps.sh"

NODE=rw-node-1
VMP=$(free_port)
PP=$(free_port)
VMURL=http://127.0.0.1:$VMP/api/v1/write
PURL=http://127.0.0.1:$PP/api/v1/write

start_vm() {
	"$VICTORIA_METRICS_BIN/victoria-metrics" -httpListenAddr=127.0.0.1:$VMP -storageDataPath="$TMP/vm" \
		-search.latencyOffset=0 -search.disableCache -loggerLevel=ERROR >>"$TMP/vm.log" 2>&1 &
	VM_PID=$!
	PIDS="$PIDS $VM_PID"
	wait_http "http://127.0.0.1:$VMP/health" 30
}
# agent LOG: host mode, 1 s interval, both real receivers, disk queues
start_agent() {
	"$AGENT" -httpListenAddr=127.0.0.1:0 -nodeName=$NODE -promscrape.kubernetes.interval=1s \
		-remoteWrite.url=$VMURL -remoteWrite.url=$PURL -remoteWrite.label=cluster=rw-e2e \
		-remoteWrite.tmpDataPath="$TMP/queue" -remoteWrite.retryMinInterval=200ms \
		-remoteWrite.sendTimeout=5s >"$1" 2>&1 &
	AGENT_PID=$!
	PIDS="$PIDS $AGENT_PID"
	i=0; while ! grep -q 'listening on' "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	APORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$1" | head -1)
	[ -n "$APORT" ]
}
stop_agent() {
	kill "$AGENT_PID"
	i=0; while kill -0 "$AGENT_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	! kill -0 "$AGENT_PID" 2>/dev/null
}
self() { curl -sf "http://127.0.0.1:$APORT/metrics/self"; }
# metric value from /metrics/self: selfv NAME_WITH_LABELS
selfv() { self | awk -v m="$1" '$1 == m { print $2 }'; }
vmq() { curl -sf "http://127.0.0.1:$VMP/api/v1/query" --data-urlencode "query=$1"; }
pq() { curl -sf "http://127.0.0.1:$PP/api/v1/query" --data-urlencode "query=$1"; }
# the first value of a query result, "" when none
val() { /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'; }
poll() { # poll SECONDS CMD...
	n=$(( $1 * 5 )); shift
	while [ $n -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; n=$((n - 1)); sleep 0.2; done
	return 1
}

ge() { v=$(selfv "$1"); [ -n "$v" ] && [ "${v%.*}" -ge "$2" ]; }
start_vm || bail "victoria-metrics starts"
"$PROMETHEUS_BIN/prometheus" --config.file=/dev/null --storage.tsdb.path="$TMP/prom" \
	--web.listen-address=127.0.0.1:$PP --web.enable-remote-write-receiver --log.level=error >"$TMP/prom.log" 2>&1 &
PIDS="$PIDS $!"
wait_http "http://127.0.0.1:$PP/-/ready" 30 || bail "prometheus starts"
start_agent "$TMP/agent1.log" || bail "agent starts"

# --- 1. labels
SEL='job="node-exporter",instance="'$NODE'",node="'$NODE'",cluster="rw-e2e"'
has() { [ -n "$($1 "$2" | val)" ]; }
check "victoria-metrics: node_load1{$SEL}" poll 30 has vmq "node_load1{$SEL}"
check "prometheus: node_load1{$SEL}" poll 30 has pq "node_load1{$SEL}"
check "victoria-metrics: node_cpu_seconds_total has mode and cpu labels with the job labels" \
	poll 10 has vmq "node_cpu_seconds_total{$SEL,mode=\"idle\",cpu=\"0\"}"
check "victoria-metrics: container_* with job=kubelet, metrics_path=/metrics/cadvisor" \
	poll 10 has vmq 'count(container_cpu_usage_seconds_total{job="kubelet",metrics_path="/metrics/cadvisor",instance="'$NODE'",cluster="rw-e2e"})'
check "prometheus: k8smon self-metrics with job=k8smon" \
	poll 10 has pq 'k8smon_build_info{job="k8smon",instance="'$NODE'",cluster="rw-e2e",mode="host"}'
check "no series without the external label" poll 10 sh -c \
	"[ \"\$(curl -sf http://127.0.0.1:$VMP/api/v1/query --data-urlencode 'query=count({__name__=~\"node_.+\",cluster!=\"rw-e2e\"})' | grep -c '\"result\":\[\]')\" = 1 ]"

# --- 2. outage with an agent restart and damaged queue files
VMQ=$(sed -n "s|.*msg=\"$VMURL: queue in \(.*\)\"|\1|p" "$TMP/agent1.log")
[ -d "$VMQ" ] || bail "agent logged its VictoriaMetrics queue directory"
kill "$VM_PID"; wait "$VM_PID" 2>/dev/null
ok "victoria-metrics stopped (outage starts)"
OUTAGE=${RW_OUTAGE_S:-60}
[ "$OUTAGE" -ge 10 ] 2>/dev/null || bail "RW_OUTAGE_S=$OUTAGE: want a whole number of seconds >= 10"
sleep $((OUTAGE * 2 / 5))
stop_agent || bail "agent 1 stops"
B1=$(sed -n 's/.*stopped after [0-9]* cycles (\([0-9]*\) blocks).*/\1/p' "$TMP/agent1.log")
NQ=$(ls "$VMQ" | grep -c '\.blk$')
check "blocks of the outage queued on disk ($NQ files)" [ "$NQ" -ge 5 ]
# one header, one payload damaged (the 2nd and 3rd oldest)
F2=$(ls "$VMQ" | grep '\.blk$' | sort | sed -n 2p)
F3=$(ls "$VMQ" | grep '\.blk$' | sort | sed -n 3p)
printf 'XXXX' | dd of="$VMQ/$F2" bs=1 seek=0 conv=notrunc 2>/dev/null
printf 'X' | dd of="$VMQ/$F3" bs=1 seek=20 conv=notrunc 2>/dev/null
start_agent "$TMP/agent2.log" || bail "agent 2 starts"
check "agent 2: the damaged header is found at start, deleted and counted" poll 10 sh -c \
	"curl -sf http://127.0.0.1:$APORT/metrics/self | grep -q 'k8smon_remotewrite_blocks_dropped_total{reason=\"corrupt\",url=\"$VMURL\"} 1'"
sleep $((OUTAGE - OUTAGE * 2 / 5 - 2))
start_vm || bail "victoria-metrics restarts"
ok "victoria-metrics restarted after ~$OUTAGE s"
drained() { [ "$(selfv "k8smon_remotewrite_queue_blocks{url=\"$VMURL\"}")" = 0 ]; }
check "agent 2 drains its queue to victoria-metrics" poll 120 drained
check "the damaged payload is found when read, skipped and counted (corrupt = 2)" \
	[ "$(selfv "k8smon_remotewrite_blocks_dropped_total{reason=\"corrupt\",url=\"$VMURL\"}")" = 2 ]
sleep 3
stop_agent || bail "agent 2 stops"
B2=$(sed -n 's/.*stopped after [0-9]* cycles (\([0-9]*\) blocks).*/\1/p' "$TMP/agent2.log")
LEFT=$(ls "$VMQ" | grep -c '\.blk$')
EXPECT=$((B1 + B2 - 2 - LEFT))
# raw samples: timestamps of node_load1 as VictoriaMetrics stored them (it makes
# the newest rows searchable within a few seconds: polled)
export_counts() {
	curl -sf "http://127.0.0.1:$VMP/api/v1/export" --data-urlencode "match[]=node_load1{$SEL}" >"$TMP/export.json" &&
	/usr/bin/python3 - "$TMP/export.json" >"$TMP/export.txt" <<'PY'
import json, sys
ts = []
for line in open(sys.argv[1]):
    if line.strip():
        ts += json.loads(line)["timestamps"]
print(len(ts), len(set(ts)))
PY
}
export_is() { export_counts && read -r GOT UNIQ <"$TMP/export.txt" && [ "$GOT" = "$1" ]; }
poll 20 export_is "$EXPECT"
read -r GOT UNIQ <"$TMP/export.txt"
echo "     # blocks: run 1 $B1, run 2 $B2, damaged 2, left queued $LEFT; expected $EXPECT samples; victoria-metrics has $GOT ($UNIQ distinct timestamps)"
check "victoria-metrics holds every node_load1 sample of both runs but the 2 damaged blocks ($EXPECT)" [ "$GOT" = "$EXPECT" ]
check "no sample twice in victoria-metrics" [ "$GOT" = "$UNIQ" ]
PC=$(pq "count_over_time(node_load1{$SEL}[30m])" | val)
PLEFT=$(ls "$TMP/queue" | while read -r d; do [ "$TMP/queue/$d" = "$VMQ" ] || ls "$TMP/queue/$d"; done | grep -c '\.blk$')
check "prometheus (up throughout) holds every block of both runs ($((B1 + B2 - PLEFT)), has $PC)" [ "$PC" = "$((B1 + B2 - PLEFT))" ]

# --- 2b. a cap too small for the outage: only the oldest blocks go, counted exactly
CSEL='job="node-exporter",instance="'$NODE'",cluster="rw-cap"'
"$AGENT" -httpListenAddr=127.0.0.1:0 -nodeName=$NODE -promscrape.kubernetes.interval=1s \
	-remoteWrite.url=$VMURL -remoteWrite.label=cluster=rw-cap -remoteWrite.tmpDataPath="$TMP/queue5" \
	-remoteWrite.maxDiskUsagePerURL=96KiB -remoteWrite.retryMinInterval=200ms >"$TMP/agent5.log" 2>&1 &
AGENT_PID=$!
PIDS="$PIDS $AGENT_PID"
i=0; while ! grep -q 'listening on' "$TMP/agent5.log" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
APORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$TMP/agent5.log" | head -1)
check "cap run: node_load1{$CSEL} arrives" poll 30 has vmq "node_load1{$CSEL}"
T_OUT=$(($(date +%s%3N)))
kill "$VM_PID"; wait "$VM_PID" 2>/dev/null
OVF="k8smon_remotewrite_blocks_dropped_total{reason=\"overflow\",url=\"$VMURL\"}"
check "cap run: the queue reaches its 96 KiB cap and the oldest blocks are dropped" poll 60 ge "$OVF" 3
sleep 3
start_vm || bail "victoria-metrics restarts (cap run)"
check "cap run: the queue drains" poll 120 drained
OV=$(selfv "$OVF")
QB=$(selfv "k8smon_remotewrite_queue_bytes{url=\"$VMURL\"}")
stop_agent || bail "cap-run agent stops"
B5=$(sed -n 's/.*stopped after [0-9]* cycles (\([0-9]*\) blocks).*/\1/p' "$TMP/agent5.log")
LEFT5=$(find "$TMP/queue5" -name '*.blk' | wc -l)
EXPECT5=$((B5 - OV - LEFT5))
cap_counts() {
	curl -sf "http://127.0.0.1:$VMP/api/v1/export" --data-urlencode "match[]=node_load1{$CSEL}" >"$TMP/export5.json" &&
	/usr/bin/python3 - "$TMP/export5.json" "$T_OUT" >"$TMP/export5.txt" <<'PY'
import json, sys
ts = []
for line in open(sys.argv[1]):
    if line.strip():
        ts += json.loads(line)["timestamps"]
ts.sort()
t_out = int(sys.argv[2])
gaps = [(a, b) for a, b in zip(ts, ts[1:]) if b - a > 1500]
# one gap, opening at the outage: what was lost is its oldest part
oldest = len(gaps) == 1 and gaps[0][0] <= t_out + 1000
print(len(ts), len(set(ts)), len(gaps), "yes" if oldest else "no")
PY
}
cap_is() { cap_counts && read -r GOT UNIQ NGAPS OLDEST <"$TMP/export5.txt" && [ "$GOT" = "$1" ]; }
poll 20 cap_is "$EXPECT5"
read -r GOT UNIQ NGAPS OLDEST <"$TMP/export5.txt"
echo "     # cap run: $B5 blocks, $OV dropped for the cap, $LEFT5 left; expected $EXPECT5, victoria-metrics has $GOT ($UNIQ distinct, $NGAPS gap(s))"
check "cap run: victoria-metrics holds every block but the $OV dropped ($EXPECT5)" [ "$GOT" = "$EXPECT5" ]
check "cap run: none twice" [ "$GOT" = "$UNIQ" ]
check "cap run: the dropped blocks are the oldest of the outage (one gap, opening at the outage)" [ "$OLDEST" = yes ]

# --- 3. a receiver that answers 400, one that hangs
/usr/bin/python3 tests/lib/rw_receiver.py "$TMP/recv.port" >"$TMP/recv.log" 2>&1 &
PIDS="$PIDS $!"
poll 10 test -s "$TMP/recv.port" || bail "rw_receiver.py starts"
RP=$(cat "$TMP/recv.port")
printf 'secret-token\n' >"$TMP/token"
"$AGENT" -httpListenAddr=127.0.0.1:0 -nodeName=$NODE -promscrape.kubernetes.interval=1s \
	-remoteWrite.url=http://127.0.0.1:$RP/400 -remoteWrite.url=http://127.0.0.1:$RP/hang \
	-remoteWrite.url=http://127.0.0.1:$RP/413 -remoteWrite.url=http://127.0.0.1:$RP/garbage \
	-remoteWrite.url=http://127.0.0.1:$RP/auth -remoteWrite.url=http://127.0.0.1:$RP/429 \
	-remoteWrite.url=http://127.0.0.1:$RP/503 -remoteWrite.bearerTokenFile="$TMP/token" \
	-remoteWrite.sendTimeout=2s -remoteWrite.retryMinInterval=200ms >"$TMP/agent3.log" 2>&1 &
AGENT_PID=$!
PIDS="$PIDS $AGENT_PID"
AGENT3_PID=$AGENT_PID
i=0; while ! grep -q 'listening on' "$TMP/agent3.log" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
APORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$TMP/agent3.log" | head -1)
U400="http://127.0.0.1:$RP/400"
UH="http://127.0.0.1:$RP/hang"
check "400: blocks dropped and counted (rejected >= 3)" poll 30 ge "k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$U400\"}" 3
check "400: nothing retried, nothing left queued" sh -c \
	"[ \"\$(curl -sf http://127.0.0.1:$APORT/metrics/self | awk '\$1 == \"k8smon_remotewrite_retries_total{url=\\\"$U400\\\"}\" { print \$2 }')\" = 0 ]"
check "400: one rate-limited log line names the status and the body" sh -c \
	"[ \$(grep -c '$U400 rejected a block' '$TMP/agent3.log') = 1 ] && grep -q 'HTTP 400: bad series' '$TMP/agent3.log'"
U413="http://127.0.0.1:$RP/413"
UG="http://127.0.0.1:$RP/garbage"
check "413: dropped and counted like 400" poll 30 ge "k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$U413\"}" 2
check "garbage answer: a transport error, retried, nothing counted as sent or dropped" sh -c \
	"curl -sf http://127.0.0.1:$APORT/metrics/self >'$TMP/self3.txt' &&
	 grep -q 'k8smon_remotewrite_blocks_sent_total{url=\"$UG\"} 0' '$TMP/self3.txt' &&
	 grep -q 'k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$UG\"} 0' '$TMP/self3.txt' &&
	 ! grep -q 'k8smon_remotewrite_retries_total{url=\"$UG\"} 0' '$TMP/self3.txt'"
UA="http://127.0.0.1:$RP/auth"
check "bearer token from -remoteWrite.bearerTokenFile: accepted, nothing rejected" sh -c \
	"ge() { v=\$(curl -sf http://127.0.0.1:$APORT/metrics/self | awk -v m=\"\$1\" '\$1 == m { print \$2 }'); [ -n \"\$v\" ] && [ \"\$v\" -ge \$2 ]; }
	 n=0; until ge 'k8smon_remotewrite_blocks_sent_total{url=\"$UA\"}' 2 || [ \$n -gt 150 ]; do sleep 0.2; n=\$((n + 1)); done
	 ge 'k8smon_remotewrite_blocks_sent_total{url=\"$UA\"}' 2 && ! ge 'k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$UA\"}' 1"
for code in 429 503; do
	UB="http://127.0.0.1:$RP/$code"
	check "$code (three times): retried, then delivered" poll 60 ge "k8smon_remotewrite_blocks_sent_total{url=\"$UB\"}" 2
	check "$code: the refusals counted as retries (>= 3)" ge "k8smon_remotewrite_retries_total{url=\"$UB\"}" 3
	check "$code: nothing dropped" [ "$(selfv "k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$UB\"}")" = 0 ]
done
check "hang: the send times out (2 s) and is retried" poll 30 ge "k8smon_remotewrite_retries_total{url=\"$UH\"}" 1
check "hang: then blocks are delivered" poll 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$UH\"}" 2
check "hang: the receiver's queue is independent of the 400 one (blocks still dropped there meanwhile)" \
	ge "k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$U400\"}" 3
check "every request had the remote-write 1.0 headers and a body that python-snappy decodes" sh -c \
	"curl -sf http://127.0.0.1:$RP/stats | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); assert s[\"/400\"][\"requests\"] >= 3 and s[\"/hang\"][\"requests\"] >= 2; assert all(v[\"bad\"] == 0 for v in s.values())'"

# --- 3b. https with -remoteWrite.tlsCAFile: verified against that CA only
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=rw-test-ca -keyout "$TMP/ca.key" \
	-out "$TMP/ca.pem" >/dev/null 2>&1 &&
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$TMP/srv.key" -out "$TMP/srv.csr" >/dev/null 2>&1 &&
printf 'subjectAltName=IP:127.0.0.1\n' >"$TMP/san.ext" &&
openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial -days 1 \
	-extfile "$TMP/san.ext" -out "$TMP/srv.pem" >/dev/null 2>&1 || bail "openssl: test CA and server certificate"
/usr/bin/python3 tests/lib/rw_receiver.py "$TMP/tls.port" "$TMP/srv.pem" "$TMP/srv.key" >"$TMP/tls.log" 2>&1 &
PIDS="$PIDS $!"
poll 10 test -s "$TMP/tls.port" || bail "rw_receiver.py (https) starts"
TP=$(cat "$TMP/tls.port")
UT="https://127.0.0.1:$TP/ok"
UTH="https://localhost:$TP/ok"
"$AGENT" -httpListenAddr=127.0.0.1:0 -nodeName=$NODE -promscrape.kubernetes.interval=1s \
	-remoteWrite.url=$UT -remoteWrite.url=$UTH -remoteWrite.tlsCAFile="$TMP/ca.pem" \
	-remoteWrite.retryMinInterval=200ms >"$TMP/agent6.log" 2>&1 &
AGENT_PID=$!
PIDS="$PIDS $AGENT_PID"
i=0; while ! grep -q 'listening on' "$TMP/agent6.log" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
APORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$TMP/agent6.log" | head -1)
check "https: the receiver's certificate verifies against -remoteWrite.tlsCAFile, blocks delivered" \
	poll 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$UT\"}" 2
check "https: a name the certificate does not carry (localhost) fails verification: retried, never sent" sh -c \
	"curl -sf http://127.0.0.1:$APORT/metrics/self >'$TMP/self6.txt' &&
	 grep -q 'k8smon_remotewrite_blocks_sent_total{url=\"$UTH\"} 0' '$TMP/self6.txt' &&
	 ! grep -q 'k8smon_remotewrite_retries_total{url=\"$UTH\"} 0' '$TMP/self6.txt'"
stop_agent || fail "https agent stops"

# --- 4. Kubernetes mode: kube-state and application sections
fakeapi_start "$TMP/api" --load crds --load examples/cluster || bail "fake API server"
KNODE=demo-node-1
"$AGENT" -promscrape.kubernetes -kubeconfig="$KUBECONFIG" -nodeName=$KNODE -leaderElection=false \
	-httpListenAddr=127.0.0.1:0 -promscrape.kubernetes.interval=1s -remoteWrite.url=$VMURL -remoteWrite.url=$PURL \
	-remoteWrite.label=cluster=rw-kube >"$TMP/agent4.log" 2>&1 &
AGENT4_PID=$!
PIDS="$PIDS $AGENT4_PID"
KS='job="kube-state-metrics",cluster="rw-kube"'
check "kubernetes mode: kube_pod_info{$KS} in victoria-metrics" poll 60 has vmq "kube_pod_info{$KS}"
check "kubernetes mode: kube-state series carry no agent instance label" sh -c \
	"curl -sf http://127.0.0.1:$VMP/api/v1/query --data-urlencode 'query=count(kube_pod_info{$KS,instance!=\"\"})' | grep -q '\"result\":\[\]'"
check "kubernetes mode: node_load1 with instance=$KNODE" poll 30 has vmq "node_load1{job=\"node-exporter\",instance=\"$KNODE\",cluster=\"rw-kube\"}"
check "kubernetes mode: application targets' up series with their own job and node=$KNODE" \
	poll 60 has vmq "up{node=\"$KNODE\",cluster=\"rw-kube\",job!~\"node-exporter|kubelet|k8smon|kube-state-metrics\"}"
check "kubernetes mode, prometheus: kube_pod_info{$KS}" poll 60 has pq "kube_pod_info{$KS}"
check "kubernetes mode, prometheus: application targets' up series with their own job and node=$KNODE" \
	poll 60 has pq "up{node=\"$KNODE\",cluster=\"rw-kube\",job!~\"node-exporter|kubelet|k8smon|kube-state-metrics\"}"
# every agent stops cleanly (senders mid-retry, a hanging POST) with no sanitizer
# report (K8SMON_BIN=build-asan/k8smon: make asan)
AGENT_PID=$AGENT3_PID && stop_agent && AGENT_PID=$AGENT4_PID && stop_agent
check "agents 3 and 4 exit on SIGTERM while sends are pending" [ $? = 0 ]
check "no sanitizer report or crash in any agent log" sh -c \
	"! grep -lE 'AddressSanitizer|LeakSanitizer|runtime error|Segmentation' '$TMP'/agent*.log"
finish
