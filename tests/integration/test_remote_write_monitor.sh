#!/bin/sh
# K8sMonitor spec.remoteWrite applied live (fake API server, tests/lib/rw_receiver.py):
#   1. flags first: the -remoteWrite.url destination receives;
#   2. a K8sMonitor with spec.remoteWrite replaces it (monitor over flags): basic auth
#      whose username and password come from a Secret read through the API, custom
#      headers; the flag destination is gone from the self-metrics;
#   3. live change without losing queued data: a destination whose receiver is down
#      queues blocks; the monitor changes that destination's settings and swaps another
#      one; the queue is kept (never smaller across the change), and once the receiver
#      comes up every queued block is delivered;
#   3b. per-destination options, live: externalLabels on one destination reach
#      every series sent there and no other destination's; a maxDiskUsage of 64KiB
#      on a down destination caps its queue (oldest dropped, counted) while another
#      down destination without it keeps every block;
#   4. a Secret rotated (password changed) is read again (every 60 s) and used:
#      the receiver refuses it, the drops are counted;
#   5. a destination whose Secret does not exist is not started (logged), the others run;
#   6. spec.remoteWrite removed: the flags' destination is back.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
. tests/lib/fakeapi.sh
. tests/lib/rw.sh
rw_test_init rwm
/usr/bin/python3 -c 'import snappy, zstandard' 2>/dev/null ||
	bail "python3-snappy and python3-zstandard (Debian) for tests/lib/rw_receiver.py: ./.ci/deps.sh"
absent() { [ -z "$(selfv "$1")" ]; }

rw_receiver_start recv RP || bail "rw_receiver.py starts"
R=http://127.0.0.1:$RP
DEAD=$(free_port)
UD=http://127.0.0.1:$DEAD/ok

fakeapi_start "$TMP/api" --load crds --load examples/cluster || bail "fake API server"
kubectl create namespace rwmon >/dev/null || bail "namespace rwmon"
kubectl -n rwmon create secret generic rw-auth --from-literal=user=alice --from-literal=pass=s3cret >/dev/null ||
	bail "Secret rw-auth"
APORT=$(free_port)
AGENT_PID=""
POD_NAMESPACE=rwmon "$AGENT" -promscrape.kubernetes -kubeconfig="$KUBECONFIG" -nodeName=demo-node-1 \
	-leaderElection=false -httpListenAddr=127.0.0.1:$APORT -promscrape.kubernetes.interval=1s \
	-remoteWrite.url=$R/flagdest -remoteWrite.tmpDataPath="$TMP/queue" -remoteWrite.retryMinInterval=200ms \
	-remoteWrite.sendTimeout=5s >"$TMP/agent.log" 2>&1 &
AGENT_PID=$!
PIDS="$PIDS $AGENT_PID"
wait_http "http://127.0.0.1:$APORT/healthz" 30 || bail "agent starts"

# --- 1. flags
check "flags: -remoteWrite.url receives" wait_for 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$R/flagdest\"}" 2

# --- 2. the monitor replaces the flags
monitor() { # monitor YAML-of-the-remoteWrite-list
	kubectl apply -f - >/dev/null <<YAML
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: default}
spec:
  collectors: [node, container, kube-state, app]
  remoteWrite:
$1
YAML
}
monitor "  - url: $R/basic
    basicAuth: {username: {name: rw-auth, key: user}, password: {name: rw-auth, key: pass}}
    headers: {X-Scope-OrgID: team-a, X-Extra: 'a:b'}
  - url: $UD
  - url: $R/swap1" || bail "kubectl apply K8sMonitor with spec.remoteWrite"
check "monitor: basic auth from the Secret and the headers accepted" wait_for 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$R/basic\"}" 2
check "monitor: nothing rejected there" is "k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$R/basic\"}" 0
check "monitor: the flag destination is replaced (gone from the self-metrics)" absent "k8smon_remotewrite_queue_blocks{url=\"$R/flagdest\"}"
check "monitor: the receiver is down for $UD: blocks queue" wait_for 30 ge "k8smon_remotewrite_queue_blocks{url=\"$UD\"}" 3
check "the applied destinations are logged" grep -q 'spec.remoteWrite applied: 3 destination(s)' "$TMP/agent.log"

# --- 3. live change of the down destination's settings, another swapped: queue kept
Q0=$(selfv "k8smon_remotewrite_queue_blocks{url=\"$UD\"}")
monitor "  - url: $R/basic
    basicAuth: {username: {name: rw-auth, key: user}, password: {name: rw-auth, key: pass}}
    headers: {X-Scope-OrgID: team-a, X-Extra: 'a:b'}
  - url: $UD
    headers: {X-Changed: 'yes'}
    protocol: prometheus
  - url: $R/swap2" || bail "kubectl apply (changed)"
check "live change: $R/swap2 starts, $R/swap1 stops" sh -c \
	"n=0; until curl -sf http://127.0.0.1:$APORT/metrics/self | grep -q 'k8smon_remotewrite_blocks_sent_total{url=\"$R/swap2\"} [1-9]' || [ \$n -gt 150 ]; do sleep 0.2; n=\$((n+1)); done
	 curl -sf http://127.0.0.1:$APORT/metrics/self >'$TMP/self3.txt' &&
	 grep -q 'k8smon_remotewrite_blocks_sent_total{url=\"$R/swap2\"} [1-9]' '$TMP/self3.txt' &&
	 ! grep -q 'url=\"$R/swap1\"' '$TMP/self3.txt'"
Q1=$(selfv "k8smon_remotewrite_queue_blocks{url=\"$UD\"}")
check "live change: the changed destination kept its queue ($Q0 blocks before, $Q1 after)" [ "${Q1:-0}" -ge "$Q0" ]
RW_RECEIVER_PORT=$DEAD /usr/bin/python3 tests/lib/rw_receiver.py "$TMP/late.port" >"$TMP/late.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$TMP/late.port" || bail "receiver on the down destination's port starts"
check "live change: once its receiver is up, the queue drains" wait_for 120 is "k8smon_remotewrite_queue_blocks{url=\"$UD\"}" 0
S=$(selfv "k8smon_remotewrite_blocks_sent_total{url=\"$UD\"}")
check "live change: every block queued before the change was delivered ($S >= $Q1)" [ "${S%.*}" -ge "$Q1" ]
check "live change: sent with the new settings (protocol: prometheus, so snappy although the receiver would take zstd)" sh -c \
	"curl -sf http://127.0.0.1:$DEAD/stats | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin)[\"/ok\"]; assert s[\"requests\"] >= 1 and s[\"bad\"] == 0 and s[\"zstd\"] == 0'"

# --- 3b. per-destination externalLabels and maxDiskUsage, live
DOWN1=http://127.0.0.1:$(free_port)/ok
DOWN2=http://127.0.0.1:$(free_port)/ok
monitor "  - url: $R/basic
    basicAuth: {username: {name: rw-auth, key: user}, password: {name: rw-auth, key: pass}}
    headers: {X-Scope-OrgID: team-a, X-Extra: 'a:b'}
  - url: $R/labeled
    externalLabels: {tenant: t1, node: overridden}
  - url: $DOWN1
    maxDiskUsage: 64KiB
  - url: $DOWN2" || bail "kubectl apply (per-destination options)"
labels_of() { # labels_of PATH: the labels every series of PATH's last body carried
	curl -sf "$R/stats" | /usr/bin/python3 -c "import json,sys; print(' '.join(json.load(sys.stdin).get('$1', {}).get('common', [])))"
}
check "externalLabels: the destination receives" wait_for 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$R/labeled\"}" 2
SB=$(selfv "k8smon_remotewrite_blocks_sent_total{url=\"$R/basic\"}")
wait_for 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$R/basic\"}" $((${SB%.*} + 2))
L1=$(labels_of /labeled)
L2=$(labels_of /basic)
echo "   common labels at /labeled: $L1"
echo "   common labels at /basic: $L2"
check "externalLabels: every series sent there carries tenant=t1 and the overridden node" \
	sh -c "echo ' $L1 ' | grep -q ' tenant=t1 ' && echo ' $L1 ' | grep -q ' node=overridden '"
check "externalLabels: not on another destination's series" sh -c "! echo ' $L2 ' | grep -q 'tenant='"
check "maxDiskUsage 64KiB: the down destination drops its oldest blocks, counted" \
	wait_for 120 ge "k8smon_remotewrite_blocks_dropped_total{reason=\"overflow\",url=\"$DOWN1\"}" 1
QB=$(selfv "k8smon_remotewrite_queue_bytes{url=\"$DOWN1\"}")
check "maxDiskUsage 64KiB: its queue stays under the cap ($QB bytes)" [ "${QB%.*}" -le 65536 ]
check "maxDiskUsage: the other down destination (default cap) dropped nothing" \
	is "k8smon_remotewrite_blocks_dropped_total{reason=\"overflow\",url=\"$DOWN2\"}" 0
QB2=$(selfv "k8smon_remotewrite_queue_bytes{url=\"$DOWN2\"}")
check "maxDiskUsage: ... and holds more than the capped one ($QB2 bytes)" [ "${QB2%.*}" -gt "${QB%.*}" ]

# --- 4. the Secret rotated
kubectl -n rwmon create secret generic rw-auth --from-literal=user=alice --from-literal=pass=wrong \
	--dry-run=client -o yaml | kubectl apply -f - >/dev/null 2>&1 || bail "rotate Secret rw-auth"
check "rotated Secret: read again within 60 s, the new (wrong) password is sent and refused, counted" \
	wait_for 100 ge "k8smon_remotewrite_blocks_dropped_total{reason=\"rejected\",url=\"$R/basic\"}" 1

# --- 5. a missing Secret: that destination is not started, the others run
kubectl -n rwmon create secret generic rw-auth --from-literal=user=alice --from-literal=pass=s3cret \
	--dry-run=client -o yaml | kubectl apply -f - >/dev/null 2>&1 || bail "restore Secret rw-auth"
monitor "  - url: $R/basic
    basicAuth: {username: {name: rw-auth, key: user}, password: {name: rw-auth, key: pass}}
    headers: {X-Scope-OrgID: team-a, X-Extra: 'a:b'}
  - url: $R/nosecret
    bearerTokenSecret: {name: does-not-exist, key: token}" || bail "kubectl apply (missing Secret)"
check "missing Secret: the destination is not started, with the reason logged" wait_for 30 sh -c \
	"grep -q 'spec.remoteWrite\[1\]: Secret rwmon/does-not-exist.*(not started)' '$TMP/agent.log'"
check "missing Secret: not in the self-metrics" absent "k8smon_remotewrite_queue_blocks{url=\"$R/nosecret\"}"
SB=$(selfv "k8smon_remotewrite_blocks_sent_total{url=\"$R/basic\"}")
check "missing Secret: the other destination still runs (sends again with the restored password)" \
	wait_for 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$R/basic\"}" $((${SB%.*} + 2))

# --- 6. spec.remoteWrite removed: the flags again
kubectl patch kmon default --type=json -p '[{"op":"remove","path":"/spec/remoteWrite"}]' >/dev/null || bail "kubectl patch (remove)"
check "no spec.remoteWrite: the flag destination is back" wait_for 30 ge "k8smon_remotewrite_blocks_sent_total{url=\"$R/flagdest\"}" 1
check "... and the monitor's are gone" absent "k8smon_remotewrite_queue_blocks{url=\"$R/basic\"}"
check "every body decoded at the receivers" sh -c \
	"curl -sf $R/stats | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin); assert all(v[\"bad\"] == 0 for v in s.values())'"
# stopped before the last check: LeakSanitizer reports at exit
kill "$AGENT_PID"
i=0; while kill -0 "$AGENT_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "the agent exits on SIGTERM (Secret reads and senders stopped)" sh -c "! kill -0 $AGENT_PID 2>/dev/null"
check "no sanitizer report or crash" sh -c "! grep -E 'AddressSanitizer|LeakSanitizer|runtime error|Segmentation' '$TMP/agent.log'"
finish
