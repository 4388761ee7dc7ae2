#!/bin/sh
# Remote write: per-URL auth, TLS, custom headers, the VictoriaMetrics zstd
# protocol, a full disk, and kube-prometheus recording rules on pushed data.
#   1. protocol: against the real victoria-metrics the agent asks
#      (get_vm_proto_version) and sends zstd (k8smon_remotewrite_vm_protocol 1),
#      the real Prometheus gets snappy (0); both hold the series; a receiver
#      that claims zstd and answers 415 gets snappy from then on, nothing dropped;
#      -remoteWrite.forceVMProto sends zstd without asking (python3-zstandard
#      decodes every body);
#   2. kube-prometheus' instance:node_num_cpu:sum rule (nodeExporter-prometheusRule)
#      evaluated in victoria-metrics over the pushed series equals the host's CPUs;
#   3. per-URL flags (vmagent indexing): basic auth from a password file and
#      custom headers for one URL only (the other URL gets neither); a client
#      certificate for a receiver that requires one (without it: never sent);
#      -remoteWrite.tlsServerName verifies a name the URL does not carry;
#   4. a full disk (1 MiB tmpfs as -remoteWrite.tmpDataPath, receiver down):
#      blocks that cannot be written are counted (reason="io"), the agent keeps
#      running, and once the receiver is back what is queued is delivered and
#      new blocks queue again.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
. tests/lib/realapi.sh
. tests/lib/rw.sh
MNT=""
cleanup_extra() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; }
rw_test_init rwa
real_peers victoria-metrics prometheus
/usr/bin/python3 -c 'import snappy, zstandard' 2>/dev/null ||
	bail "python3-snappy and python3-zstandard (Debian) for tests/lib/rw_receiver.py: ./.ci/deps.sh"

NODE=rwa-node-1
VMP=$(free_port)
PP=$(free_port)
VMURL=http://127.0.0.1:$VMP/api/v1/write
PURL=http://127.0.0.1:$PP/api/v1/write
APORT=""
AGENT_PID=""
# start_agent LOG ARGS...: host mode, 1 s interval
start_agent() {
	log=$1; shift
	rw_agent_start "$log" -remoteWrite.retryMinInterval=200ms -remoteWrite.sendTimeout=5s "$@"
}
stats() { curl -sf "http://127.0.0.1:$1/stats"; }
# stat PORT PATH FIELD
stat() { stats "$1" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin).get('$2', {}).get('$3', 0))"; }

rw_vm_start || bail "victoria-metrics starts"
rw_prom_start /dev/null || bail "prometheus starts"
rw_receiver_start recv RP || bail "rw_receiver.py starts"

# --- 1. protocol per receiver
U415=http://127.0.0.1:$RP/vm415
UF=http://127.0.0.1:$RP/ok
start_agent "$TMP/agent1.log" -remoteWrite.url=$VMURL -remoteWrite.url=$PURL -remoteWrite.url=$U415 \
	-remoteWrite.url=$UF -remoteWrite.forceVMProto= -remoteWrite.forceVMProto= -remoteWrite.forceVMProto= \
	-remoteWrite.forceVMProto=true -remoteWrite.label=cluster=rwa || bail "agent 1 starts"
SEL='job="node-exporter",instance="'$NODE'",cluster="rwa"'
check "victoria-metrics: node_load1{$SEL} arrives" wait_for 30 has vmq "node_load1{$SEL}"
check "prometheus: node_load1{$SEL} arrives" wait_for 30 has pq "node_load1{$SEL}"
check "victoria-metrics answered the handshake: zstd (k8smon_remotewrite_vm_protocol 1)" \
	wait_for 10 is "k8smon_remotewrite_vm_protocol{url=\"$VMURL\"}" 1
check "prometheus did not: snappy (k8smon_remotewrite_vm_protocol 0)" is "k8smon_remotewrite_vm_protocol{url=\"$PURL\"}" 0
check "the agent logged which protocol each receiver speaks" sh -c \
	"grep -q '$VMURL speaks the VictoriaMetrics remote-write protocol (zstd)' '$TMP/agent1.log' &&
	 grep -q '$PURL speaks the Prometheus remote-write protocol (snappy)' '$TMP/agent1.log'"
check "victoria-metrics took the zstd blocks: nothing rejected, nothing retried" sh -c \
	"curl -sf http://127.0.0.1:$APORT/metrics/self >'$TMP/self1.txt' &&
	 grep -q 'k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$VMURL\"} 0' '$TMP/self1.txt' &&
	 grep -q 'k8smon_remotewrite_retries_total{url=\"$VMURL\"} 0' '$TMP/self1.txt'"
check "a receiver that answers 415 to zstd gets snappy afterwards, nothing dropped" sh -c \
	"n=0; until [ \"\$(curl -sf http://127.0.0.1:$RP/stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get(\"/vm415\",{}).get(\"requests\",0))')\" -ge 4 ] || [ \$n -gt 100 ]; do sleep 0.2; n=\$((n+1)); done
	 curl -sf http://127.0.0.1:$APORT/metrics/self >'$TMP/self1b.txt' &&
	 grep -q 'k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$U415\"} 0' '$TMP/self1b.txt' &&
	 grep -q 'k8smon_remotewrite_vm_protocol{url=\"$U415\"} 0' '$TMP/self1b.txt' &&
	 grep -q 'refused zstd (HTTP 415)' '$TMP/agent1.log'"
check "/vm415: exactly one zstd request (the refused one), the rest snappy" [ "$(stat "$RP" /vm415 zstd)" = 1 ]
check "-remoteWrite.forceVMProto=true (4th URL only): zstd without a handshake, every body decodes" sh -c \
	"n=0; until [ \$(curl -sf http://127.0.0.1:$RP/stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get(\"/ok\",{}).get(\"zstd\",0))') -ge 2 ] || [ \$n -gt 100 ]; do sleep 0.2; n=\$((n+1)); done
	 curl -sf http://127.0.0.1:$RP/stats | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); o=s[\"/ok\"]; assert o[\"zstd\"] == o[\"requests\"] >= 2; assert all(v[\"bad\"] == 0 for v in s.values())'"

# --- 2. a kube-prometheus recording rule over the pushed series
NCPU=$(grep -c '^cpu[0-9]' /proc/stat)
RULE='count without (cpu, mode) (node_cpu_seconds_total{job="node-exporter",mode="idle",cluster="rwa"})'
check "kube-prometheus instance:node_num_cpu:sum on pushed data = $NCPU CPUs (victoria-metrics)" \
	wait_for 20 sh -c "[ \"\$(curl -sf http://127.0.0.1:$VMP/api/v1/query --data-urlencode 'query=$RULE' | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)[\"data\"][\"result\"]; print(r[0][\"value\"][1] if len(r) == 1 else \"\")')\" = $NCPU ]"
check "the same rule in prometheus" \
	wait_for 20 sh -c "[ \"\$(curl -sf http://127.0.0.1:$PP/api/v1/query --data-urlencode 'query=$RULE' | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)[\"data\"][\"result\"]; print(r[0][\"value\"][1] if len(r) == 1 else \"\")')\" = $NCPU ]"
stop_agent || fail "agent 1 stops"

# --- 3. per-URL basic auth and headers; client certificate; server name
printf 's3cret\n' >"$TMP/pw"
UB=http://127.0.0.1:$RP/basic
UO=http://127.0.0.1:$RP/plain
start_agent "$TMP/agent2.log" -remoteWrite.url=$UB -remoteWrite.url=$UO \
	-remoteWrite.basicAuth.username=alice -remoteWrite.basicAuth.username= \
	-remoteWrite.basicAuth.passwordFile="$TMP/pw" -remoteWrite.basicAuth.passwordFile= \
	'-remoteWrite.headers=X-Scope-OrgID: team-a^^X-Extra:a:b' -remoteWrite.headers= || bail "agent 2 starts"
check "basic auth from -remoteWrite.basicAuth.passwordFile and custom headers: accepted" \
	wait_for 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$UB\"}" 2
check "... nothing rejected" is "k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$UB\"}" 0
check "the second URL's empty per-URL values: no auth there (it would be 401 at /basic, 204 at /plain)" \
	wait_for 10 ge "k8smon_remotewrite_blocks_sent_total{url=\"$UO\"}" 2
printf 'wrong\n' >"$TMP/pw"
check "a rotated (wrong) password file is used at once: 401, dropped and counted" \
	wait_for 20 ge "k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$UB\"}" 1
stop_agent || fail "agent 2 stops"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=rwa-ca -keyout "$TMP/ca.key" -out "$TMP/ca.pem" >/dev/null 2>&1 &&
openssl req -newkey rsa:2048 -nodes -subj /CN=rw.example -keyout "$TMP/srv.key" -out "$TMP/srv.csr" >/dev/null 2>&1 &&
printf 'subjectAltName=DNS:rw.example\n' >"$TMP/san.ext" &&
openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial -days 1 \
	-extfile "$TMP/san.ext" -out "$TMP/srv.pem" >/dev/null 2>&1 &&
openssl req -newkey rsa:2048 -nodes -subj /CN=k8smon -keyout "$TMP/cli.key" -out "$TMP/cli.csr" >/dev/null 2>&1 &&
openssl x509 -req -in "$TMP/cli.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial -days 1 \
	-out "$TMP/cli.pem" >/dev/null 2>&1 || bail "openssl: test CA, server and client certificates"
rw_receiver_start tls TP "$TMP/srv.pem" "$TMP/srv.key" "$TMP/ca.pem" ||
	bail "rw_receiver.py (https, client certificates required) starts"
UC=https://127.0.0.1:$TP/ok
UN=https://127.0.0.1:$TP/nocert
UI=https://127.0.0.1:$TP/insecure
start_agent "$TMP/agent3.log" -remoteWrite.url=$UC -remoteWrite.url=$UN -remoteWrite.url=$UI \
	-remoteWrite.tlsCAFile="$TMP/ca.pem" -remoteWrite.tlsServerName=rw.example \
	-remoteWrite.tlsCertFile="$TMP/cli.pem" -remoteWrite.tlsCertFile= -remoteWrite.tlsCertFile="$TMP/cli.pem" \
	-remoteWrite.tlsKeyFile="$TMP/cli.key" -remoteWrite.tlsKeyFile= -remoteWrite.tlsKeyFile="$TMP/cli.key" || bail "agent 3 starts"
check "client certificate + -remoteWrite.tlsServerName=rw.example (the URL says 127.0.0.1): verified, delivered" \
	wait_for 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$UC\"}" 2
check "the receiver saw the real host in Host: and every body decoded" sh -c \
	"curl -sfk --cert '$TMP/cli.pem' --key '$TMP/cli.key' https://127.0.0.1:$TP/stats | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); assert s[\"/ok\"][\"requests\"] >= 2 and s[\"/ok\"][\"bad\"] == 0 and s[\"/ok\"][\"host\"] == \"127.0.0.1:$TP\"'"
check "without a client certificate (2nd URL): the TLS handshake fails, retried, never sent" sh -c \
	"curl -sf http://127.0.0.1:$APORT/metrics/self >'$TMP/self3.txt' &&
	 grep -q 'k8smon_remotewrite_blocks_sent_total{url=\"$UN\"} 0' '$TMP/self3.txt' &&
	 ! grep -q 'k8smon_remotewrite_retries_total{url=\"$UN\"} 0' '$TMP/self3.txt'"
stop_agent || fail "agent 3 stops"
start_agent "$TMP/agent3b.log" -remoteWrite.url=$UI -remoteWrite.tlsInsecureSkipVerify=true \
	-remoteWrite.tlsCertFile="$TMP/cli.pem" -remoteWrite.tlsKeyFile="$TMP/cli.key" || bail "agent 3b starts"
check "-remoteWrite.tlsInsecureSkipVerify=true: an unverifiable server (no CA, wrong name) is accepted" \
	wait_for 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$UI\"}" 2
stop_agent || fail "agent 3b stops"

# --- 4. a full disk
MNT=$TMP/full
mkdir -p "$MNT"
mount -t tmpfs -o size=1m tmpfs "$MNT" || { MNT=""; bail "mount a 1 MiB tmpfs (the test runs as root)"; }
DEAD=$(free_port)
UD=http://127.0.0.1:$DEAD/ok
start_agent "$TMP/agent4.log" -remoteWrite.url=$UD -remoteWrite.tmpDataPath="$MNT" \
	-remoteWrite.maxDiskUsagePerURL=64MiB || bail "agent 4 starts"
IO="k8smon_remotewrite_blocks_dropped_total{reason=\"io\",url=\"$UD\"}"
check "full disk: blocks that cannot be written are counted (reason=\"io\")" wait_for 120 ge "$IO" 2
check "full disk: the agent keeps serving /metrics/self" curl -sf "http://127.0.0.1:$APORT/metrics/self" -o /dev/null
QB=$(selfv "k8smon_remotewrite_queue_blocks{url=\"$UD\"}")
check "full disk: what was queued before the disk filled stays queued ($QB blocks)" [ "${QB:-0}" -ge 2 ]
RW_RECEIVER_PORT=$DEAD /usr/bin/python3 tests/lib/rw_receiver.py "$TMP/late.port" >"$TMP/late.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$TMP/late.port" || bail "rw_receiver.py on the agent's dead port starts"
check "full disk: once the receiver is up, the queue drains" wait_for 120 is "k8smon_remotewrite_queue_blocks{url=\"$UD\"}" 0
IO1=$(selfv "$IO")
S1=$(selfv "k8smon_remotewrite_blocks_sent_total{url=\"$UD\"}")
check "full disk: every queued block was delivered ($S1 >= $QB)" [ "${S1%.*}" -ge "$QB" ]
check "full disk: with room again, new blocks queue and are sent (3 more)" \
	wait_for 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$UD\"}" $((${S1%.*} + 3))
check "full disk: and none is dropped for io any more ($IO1)" is "$IO" "$IO1"
check "full disk: every body decoded at the receiver" sh -c \
	"curl -sf http://127.0.0.1:$DEAD/stats | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); assert s[\"/ok\"][\"requests\"] >= 3 and s[\"/ok\"][\"bad\"] == 0'"
stop_agent || fail "agent 4 stops"
check "no sanitizer report or crash in any agent log" sh -c \
	"! grep -lE 'AddressSanitizer|LeakSanitizer|runtime error|Segmentation' '$TMP'/agent*.log"
finish
