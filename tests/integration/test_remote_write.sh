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
. tests/lib/rw.sh
rw_test_init rw
real_peers victoria-metrics prometheus
command -v protoc >/dev/null || true
/usr/bin/python3 -c 'import snappy' 2>/dev/null || bail "python3-snappy (Debian) for tests/lib/rw_receiver.py: ./.ci/deps.sh"

NODE=rw-node-1
VMP=$(free_port)
PP=$(free_port)
VMURL=http://127.0.0.1:$VMP/api/v1/write
PURL=http://127.0.0.1:$PP/api/v1/write

# agent LOG: host mode, 1 s interval, both real receivers, disk queues
start_agent() {
	rw_agent_start "$1" -remoteWrite.url=$VMURL -remoteWrite.url=$PURL -remoteWrite.label=cluster=rw-e2e \
		-remoteWrite.tmpDataPath="$TMP/queue" -remoteWrite.retryMinInterval=200ms -remoteWrite.sendTimeout=5s
}
rw_vm_start || bail "victoria-metrics starts"
rw_prom_start /dev/null || bail "prometheus starts"
start_agent "$TMP/agent1.log" || bail "agent starts"

# --- 1. labels
SEL='job="node-exporter",instance="'$NODE'",node="'$NODE'",cluster="rw-e2e"'
check "victoria-metrics: node_load1{$SEL}" wait_for 30 has vmq "node_load1{$SEL}"
check "prometheus: node_load1{$SEL}" wait_for 30 has pq "node_load1{$SEL}"
check "victoria-metrics: node_cpu_seconds_total has mode and cpu labels with the job labels" \
	wait_for 10 has vmq "node_cpu_seconds_total{$SEL,mode=\"idle\",cpu=\"0\"}"
check "victoria-metrics: container_* with job=kubelet, metrics_path=/metrics/cadvisor" \
	wait_for 10 has vmq 'count(container_cpu_usage_seconds_total{job="kubelet",metrics_path="/metrics/cadvisor",instance="'$NODE'",cluster="rw-e2e"})'
check "prometheus: k8smon self-metrics with job=k8smon" \
	wait_for 10 has pq 'k8smon_build_info{job="k8smon",instance="'$NODE'",cluster="rw-e2e",mode="host"}'
check "no series without the external label" wait_for 10 sh -c \
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
check "agent 2: the damaged header is found at start, deleted and counted" wait_for 10 sh -c \
	"curl -sf http://127.0.0.1:$APORT/metrics/self | grep -q 'k8smon_remotewrite_blocks_dropped_total{reason=\"corrupt\",url=\"$VMURL\"} 1'"
sleep $((OUTAGE - OUTAGE * 2 / 5 - 2))
rw_vm_start || bail "victoria-metrics restarts"
ok "victoria-metrics restarted after ~$OUTAGE s"
drained() { [ "$(selfv "k8smon_remotewrite_queue_blocks{url=\"$VMURL\"}")" = 0 ]; }
check "agent 2 drains its queue to victoria-metrics" wait_for 120 drained
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
wait_for 20 export_is "$EXPECT"
read -r GOT UNIQ <"$TMP/export.txt"
echo "     # blocks: run 1 $B1, run 2 $B2, damaged 2, left queued $LEFT; expected $EXPECT samples; victoria-metrics has $GOT ($UNIQ distinct timestamps)"
check "victoria-metrics holds every node_load1 sample of both runs but the 2 damaged blocks ($EXPECT)" [ "$GOT" = "$EXPECT" ]
check "no sample twice in victoria-metrics" [ "$GOT" = "$UNIQ" ]
PC=$(pq "count_over_time(node_load1{$SEL}[30m])" | val)
PLEFT=$(ls "$TMP/queue" | while read -r d; do [ "$TMP/queue/$d" = "$VMQ" ] || ls "$TMP/queue/$d"; done | grep -c '\.blk$')
check "prometheus (up throughout) holds every block of both runs ($((B1 + B2 - PLEFT)), has $PC)" [ "$PC" = "$((B1 + B2 - PLEFT))" ]

# --- 2b. a cap too small for the outage: only the oldest blocks go, counted exactly
CSEL='job="node-exporter",instance="'$NODE'",cluster="rw-cap"'
rw_agent_start "$TMP/agent5.log" -remoteWrite.url=$VMURL -remoteWrite.label=cluster=rw-cap \
	-remoteWrite.tmpDataPath="$TMP/queue5" -remoteWrite.maxDiskUsagePerURL=96KiB \
	-remoteWrite.retryMinInterval=200ms || bail "cap-run agent starts"
check "cap run: node_load1{$CSEL} arrives" wait_for 30 has vmq "node_load1{$CSEL}"
T_OUT=$(($(date +%s%3N)))
kill "$VM_PID"; wait "$VM_PID" 2>/dev/null
OVF="k8smon_remotewrite_blocks_dropped_total{reason=\"overflow\",url=\"$VMURL\"}"
check "cap run: the queue reaches its 96 KiB cap and the oldest blocks are dropped" wait_for 60 ge "$OVF" 3
sleep 3
rw_vm_start || bail "victoria-metrics restarts (cap run)"
check "cap run: the queue drains" wait_for 120 drained
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
wait_for 20 cap_is "$EXPECT5"
read -r GOT UNIQ NGAPS OLDEST <"$TMP/export5.txt"
echo "     # cap run: $B5 blocks, $OV dropped for the cap, $LEFT5 left; expected $EXPECT5, victoria-metrics has $GOT ($UNIQ distinct, $NGAPS gap(s))"
check "cap run: victoria-metrics holds every block but the $OV dropped ($EXPECT5)" [ "$GOT" = "$EXPECT5" ]
check "cap run: none twice" [ "$GOT" = "$UNIQ" ]
check "cap run: the dropped blocks are the oldest of the outage (one gap, opening at the outage)" [ "$OLDEST" = yes ]

# --- 3. a receiver that answers 400, one that hangs
rw_receiver_start recv RP || bail "rw_receiver.py starts"
printf 'secret-token\n' >"$TMP/token"
rw_agent_start "$TMP/agent3.log" -remoteWrite.url=http://127.0.0.1:$RP/400 -remoteWrite.url=http://127.0.0.1:$RP/hang \
	-remoteWrite.url=http://127.0.0.1:$RP/413 -remoteWrite.url=http://127.0.0.1:$RP/garbage \
	-remoteWrite.url=http://127.0.0.1:$RP/auth -remoteWrite.url=http://127.0.0.1:$RP/429 \
	-remoteWrite.url=http://127.0.0.1:$RP/503 -remoteWrite.bearerTokenFile="$TMP/token" \
	-remoteWrite.sendTimeout=2s -remoteWrite.retryMinInterval=200ms || bail "agent 3 starts"
AGENT3_PID=$AGENT_PID
U400="http://127.0.0.1:$RP/400"
UH="http://127.0.0.1:$RP/hang"
check "400: blocks dropped and counted (rejected >= 3)" wait_for 30 ge "k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$U400\"}" 3
check "400: nothing retried, nothing left queued" sh -c \
	"[ \"\$(curl -sf http://127.0.0.1:$APORT/metrics/self | awk '\$1 == \"k8smon_remotewrite_retries_total{url=\\\"$U400\\\"}\" { print \$2 }')\" = 0 ]"
check "400: one rate-limited log line names the status and the body" sh -c \
	"[ \$(grep -c '$U400 rejected a block' '$TMP/agent3.log') = 1 ] && grep -q 'HTTP 400: bad series' '$TMP/agent3.log'"
U413="http://127.0.0.1:$RP/413"
UG="http://127.0.0.1:$RP/garbage"
check "413: dropped and counted like 400" wait_for 30 ge "k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$U413\"}" 2
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
	check "$code (three times): retried, then delivered" wait_for 60 ge "k8smon_remotewrite_blocks_sent_total{url=\"$UB\"}" 2
	check "$code: the refusals counted as retries (>= 3)" ge "k8smon_remotewrite_retries_total{url=\"$UB\"}" 3
	check "$code: nothing dropped" [ "$(selfv "k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$UB\"}")" = 0 ]
done
check "hang: the send times out (2 s) and is retried" wait_for 30 ge "k8smon_remotewrite_retries_total{url=\"$UH\"}" 1
check "hang: then blocks are delivered" wait_for 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$UH\"}" 2
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
rw_receiver_start tls TP "$TMP/srv.pem" "$TMP/srv.key" || bail "rw_receiver.py (https) starts"
UT="https://127.0.0.1:$TP/ok"
UTH="https://localhost:$TP/ok"
rw_agent_start "$TMP/agent6.log" -remoteWrite.url=$UT -remoteWrite.url=$UTH -remoteWrite.tlsCAFile="$TMP/ca.pem" \
	-remoteWrite.retryMinInterval=200ms || bail "https agent starts"
check "https: the receiver's certificate verifies against -remoteWrite.tlsCAFile, blocks delivered" \
	wait_for 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$UT\"}" 2
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
check "kubernetes mode: kube_pod_info{$KS} in victoria-metrics" wait_for 60 has vmq "kube_pod_info{$KS}"
check "kubernetes mode: kube-state series carry no agent instance label" sh -c \
	"curl -sf http://127.0.0.1:$VMP/api/v1/query --data-urlencode 'query=count(kube_pod_info{$KS,instance!=\"\"})' | grep -q '\"result\":\[\]'"
check "kubernetes mode: node_load1 with instance=$KNODE" wait_for 30 has vmq "node_load1{job=\"node-exporter\",instance=\"$KNODE\",cluster=\"rw-kube\"}"
check "kubernetes mode: application targets' up series with their own job and node=$KNODE" \
	wait_for 60 has vmq "up{node=\"$KNODE\",cluster=\"rw-kube\",job!~\"node-exporter|kubelet|k8smon|kube-state-metrics\"}"
check "kubernetes mode, prometheus: kube_pod_info{$KS}" wait_for 60 has pq "kube_pod_info{$KS}"
check "kubernetes mode, prometheus: application targets' up series with their own job and node=$KNODE" \
	wait_for 60 has pq "up{node=\"$KNODE\",cluster=\"rw-kube\",job!~\"node-exporter|kubelet|k8smon|kube-state-metrics\"}"
# every agent stops cleanly (senders mid-retry, a hanging POST) with no sanitizer
# report (K8SMON_BIN=build-asan/k8smon: make asan)
AGENT_PID=$AGENT3_PID && stop_agent && AGENT_PID=$AGENT4_PID && stop_agent
check "agents 3 and 4 exit on SIGTERM while sends are pending" [ $? = 0 ]
check "no sanitizer report or crash in any agent log" sh -c \
	"! grep -lE 'AddressSanitizer|LeakSanitizer|runtime error|Segmentation' '$TMP'/agent*.log"
finish
