#!/bin/sh
# Records the /metrics output of REAL Kubernetes components into
# tests/fakecomp/fixtures/<component>/<path>.prom (+ .ctype, the Content-Type they
# sent), which tests/fakecomp/fakecomp.py serves. Run by hand (as root) when a peer
# version changes; the fixtures are committed. Needs what tests/peers/cluster.sh needs.
#
#   tests/fakecomp/record.sh [OUTDIR]     (default tests/fakecomp/fixtures)
#
# Sources (all built by tests/peers/build.sh, versions in tests/peers/versions):
#   kubelet /metrics, /metrics/probes, /metrics/resource, /metrics/cadvisor,
#   kube-scheduler, kube-controller-manager, kube-apiserver, etcd: a real single-node
#     cluster (tests/peers/cluster.sh with K8SMON_CLUSTER_SERVE=1) running a pod with a
#     failing readiness probe and a local PersistentVolume (so that the kubelet has
#     kubelet_volume_stats_* and prober series), and an APIService whose Service does
#     not exist (503s: apiserver_request_total{code="503"}, aggregator_unavailable_apiservice);
#   kube-proxy (iptables mode) in a network namespace of its own, so that it does not
#     program the host's iptables; it reaches the API server through relay.py;
#   CoreDNS with the kubernetes plugin against the same API server, after a few
#     queries (an existing Service, a missing name, a name forwarded to a dead upstream).
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT=${1:-$ROOT/tests/fakecomp/fixtures}
[ "$(id -u)" = 0 ] || { echo "record.sh: needs root (tests/peers/cluster.sh)" >&2; exit 1; }
eval "$(tests/peers/build.sh --env kubernetes kubernetes-node etcd kube-proxy coredns)"
TMP=$(mktemp -d /tmp/fakecomp-rec.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	[ -n "${CPID:-}" ] && { kill "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null || true; }
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
K8SMON_CLUSTER_SERVE=1 tests/peers/cluster.sh "$TMP/c" 2>"$TMP/cluster.err" &
CPID=$!
i=0
until [ -f "$TMP/c/ready" ]; do
	[ -f "$TMP/c/failed" ] && { echo "record.sh: cluster.sh failed: $(cat "$TMP/c/failed")" >&2; exit 1; }
	i=$((i + 1)); [ $i -gt 900 ] && { echo "record.sh: cluster not ready after 900 s" >&2; exit 1; }
	sleep 1
done
KC=$TMP/c/api/admin.kubeconfig
K="$KUBERNETES_BIN/kubectl --kubeconfig $KC"
CERT="--cert $TMP/c/api/admin.crt --key $TMP/c/api/admin.key"
API=$(cat "$TMP/c/api/url")
APORT=${API##*:}
KLPORT=$(sed -n 's/^port: //p' "$TMP/c/kubelet/config.yaml")
mkdir -p "$TMP/pv"
$K apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: rec-pv}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: rec-local
  local: {path: "$TMP/pv"}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [k8smon-node]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: rec-data, namespace: default}
spec:
  storageClassName: rec-local
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: rec-pod, namespace: default, labels: {app: rec}}
spec:
  containers:
  - name: main
    image: k8smon.local/pause:1
    imagePullPolicy: Never
    readinessProbe: {tcpSocket: {port: 81}, periodSeconds: 2}
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: rec-data}
EOF
# the kubelet computes volume stats once a minute; prober series come with the first probe
kget() { curl -sk $CERT "https://127.0.0.1:$KLPORT$1"; }
i=0
until kget /metrics | grep -q '^kubelet_volume_stats_capacity_bytes{' &&
	kget /metrics/probes | grep -q '^prober_probe_total{'; do
	i=$((i + 1)); [ $i -gt 300 ] && { echo "record.sh: no kubelet_volume_stats / prober series after 300 s" >&2; $K get pod,pvc -A >&2; exit 1; }
	sleep 1
done

# An aggregated API whose Service does not exist: the API server answers its requests
# with 503 (apiserver_request_total{code="503"}, the SLO burn-rate rules' errors) and
# reports it in aggregator_unavailable_apiservice.
$K apply -f - >/dev/null <<EOF
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.broken.k8smon.test}
spec:
  group: broken.k8smon.test
  version: v1
  groupPriorityMinimum: 1000
  versionPriority: 15
  insecureSkipTLSVerify: true
  service: {name: nothing, namespace: default, port: 443}
EOF
for _ in 1 2 3 4 5; do
	$K get --raw /apis/broken.k8smon.test/v1/widgets >/dev/null 2>&1 || true
done

save() { # component name url [curl args...]
	comp=$1 name=$2 url=$3; shift 3
	mkdir -p "$OUT/$comp"
	curl -sS --fail -D "$TMP/h" -o "$OUT/$comp/$name.prom" "$@" "$url"
	tr -d '\r' <"$TMP/h" | sed -n 's/^[Cc]ontent-[Tt]ype: //p' | tail -1 >"$OUT/$comp/$name.ctype"
	echo "record.sh: $comp $name: $(grep -vc '^#' "$OUT/$comp/$name.prom") samples" >&2
}
for p in /metrics /metrics/probes /metrics/resource /metrics/cadvisor; do
	n=$(echo "${p#/}" | tr / _)
	save kubelet "$n" "https://127.0.0.1:$KLPORT$p" -k $CERT
done
save kube-scheduler metrics "https://127.0.0.1:$(cat "$TMP/c/scheduler.port")/metrics" -k $CERT
save kube-controller-manager metrics "https://127.0.0.1:$(cat "$TMP/c/kcm.port")/metrics" -k $CERT
save kube-apiserver metrics "$API/metrics" --cacert "$TMP/c/api/ca.crt" $CERT
save etcd metrics "$(cat "$TMP/c/api/etcd_url")/metrics"

# ---- kube-proxy in its own network namespace
python3 tests/fakecomp/relay.py unix-to-tcp "$TMP/api.sock" 127.0.0.1 "$APORT" &
PIDS="$PIDS $!"
unshare --net sh -c '
	ip link set lo up
	python3 "$1" tcp-to-unix "$2" "$3" & R=$!
	"$4/kube-proxy" --kubeconfig="$5" --hostname-override=k8smon-node --proxy-mode=iptables \
		--metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256 \
		--conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 \
		--conntrack-tcp-timeout-close-wait=0 --v=1 >"$6/kube-proxy.log" 2>&1 & P=$!
	i=0
	until curl -s http://127.0.0.1:10249/metrics | grep -q "^kubeproxy_sync_proxy_rules_duration_seconds_count.* [1-9]"; do
		i=$((i + 1)); [ $i -gt 120 ] && { echo "record.sh: kube-proxy did not sync in 120 s" >&2; tail -5 "$6/kube-proxy.log" >&2; kill $P $R; exit 1; }
		sleep 1
	done
	curl -sS -D "$6/kp.h" -o "$6/kp.prom" http://127.0.0.1:10249/metrics
	kill $P $R
' sh "$ROOT/tests/fakecomp/relay.py" "$APORT" "$TMP/api.sock" "$KUBE_PROXY_BIN" "$KC" "$TMP"
mkdir -p "$OUT/kube-proxy"
cp "$TMP/kp.prom" "$OUT/kube-proxy/metrics.prom"
tr -d '\r' <"$TMP/kp.h" | sed -n 's/^[Cc]ontent-[Tt]ype: //p' | tail -1 >"$OUT/kube-proxy/metrics.ctype"
echo "record.sh: kube-proxy metrics: $(grep -vc '^#' "$OUT/kube-proxy/metrics.prom") samples" >&2

# ---- CoreDNS (kubernetes plugin, cache, forward to a port nobody answers)
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
DPORT=$(free) MPORT=$(free) DEAD=$(free)
cat >"$TMP/Corefile" <<EOF
.:$DPORT {
    bind 127.0.0.1
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KC admin
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    prometheus 127.0.0.1:$MPORT
    forward . 127.0.0.1:$DEAD {
        max_fails 0
    }
    cache 30
}
EOF
"$COREDNS_BIN/coredns" -conf "$TMP/Corefile" >"$TMP/coredns.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until curl -s "http://127.0.0.1:$MPORT/metrics" | grep -q '^coredns_build_info'; do
	i=$((i + 1)); [ $i -gt 120 ] && { echo "record.sh: CoreDNS not serving: $(tail -5 "$TMP/coredns.log")" >&2; exit 1; }
	sleep 1
done
python3 - "$DPORT" <<'PY'
import random, socket, struct, sys
port = int(sys.argv[1])
def q(name, qtype=1):
    qid = random.randrange(65536)
    pkt = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    pkt += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(10)
    s.sendto(pkt, ("127.0.0.1", port))
    try:
        s.recvfrom(4096)
    except socket.timeout:
        pass
for _ in range(3):
    q("kubernetes.default.svc.cluster.local")
    q("kubernetes.default.svc.cluster.local", 28)
    q("missing.default.svc.cluster.local")
q("example.com")
PY
save coredns metrics "http://127.0.0.1:$MPORT/metrics"

cat >"$OUT/SOURCES" <<EOF
Recorded by tests/fakecomp/record.sh on $(date -u +%Y-%m-%d) from the real components:
$(grep -E '^(kubernetes|kubernetes-node|etcd|kube-proxy|coredns) ' tests/peers/versions | awk '{print "  " $1 " " $2 " (" $3 ")"}')
EOF
echo "record.sh: fixtures in $OUT" >&2
