#!/bin/sh
# Application scraping benchmark: N loopback targets x S series each (one
# Python process, one port per target), scraped at the same time by k8smon
# (pods in the fake API server, built-in annotation rule) and by Debian's
# vmagent (static config of the same URLs, remote write to a dropping sink).
# Reports samples per CPU-second and RSS of both.
#   N=1000 S=1000 INTERVAL=10s DURATION=60 bench/scrape.sh
set -eu
cd "$(dirname "$0")/.."
. tests/lib/common.sh
. tests/lib/fakeapi.sh
N=${N:-1000}; S=${S:-1000}; IV=${INTERVAL:-10}; DUR=${DURATION:-60}
command -v vmagent >/dev/null || { apt-get install -y victoria-metrics >/dev/null 2>&1 || true; }
command -v vmagent >/dev/null || { echo "vmagent not available (apt-get install victoria-metrics)"; exit 1; }
TMP=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
ulimit -n 65536 2>/dev/null || true
BASE=${BASE_PORT:-30000}
SINK=$(free_port)
python3 tests/scrape/targets.py $BASE-$((BASE + N - 1)):ok:$S $SINK:sink >"$TMP/t.out" 2>&1 &
PIDS="$PIDS $!"
i=0; until grep -q READY "$TMP/t.out" || [ $i -gt 600 ]; do sleep 0.1; i=$((i+1)); done
fakeapi_start "$TMP" --load crds >/dev/null
python3 - "$N" "$BASE" "$IV" >"$TMP/pods.json" <<'PY'
import json, sys
n, base, iv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
print(json.dumps([{"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "t%d" % i, "namespace": "bench", "uid": "u%d" % i,
               "annotations": {"victoriametrics.com/scrape": "true", "victoriametrics.com/port": str(base + i),
                               "victoriametrics.com/interval": iv + "s"}},
  "spec": {"nodeName": "bench", "containers": [{"name": "c", "ports": [{"containerPort": base + i}]}]},
  "status": {"phase": "Running", "podIP": "127.0.0.1"}} for i in range(n)]))
PY
fake_ctl POST /objects "@$TMP/pods.json" >/dev/null 2>&1 || curl -s --cacert "$TMP/api/ca.crt" -X POST -H 'Content-Type: application/json' --data-binary "@$TMP/pods.json" "$CONTROL/objects" >/dev/null
{
	echo "global: {scrape_interval: ${IV}s, scrape_timeout: ${IV}s}"
	echo "scrape_configs:"
	echo "- job_name: bench"
	echo "  static_configs:"
	echo "  - targets:"
	for i in $(seq 0 $((N - 1))); do echo "    - 127.0.0.1:$((BASE + i))"; done
} >"$TMP/vmagent.yml"
KP=$(free_port); VP=$(free_port)
"${K8SMON:-./bin/k8smon}" -promscrape.kubernetes -kubeconfig="$KUBECONFIG" -nodeName=bench -leaderElection=false \
	-promscrape.kubernetes.collectors=app -httpListenAddr=127.0.0.1:$KP >"$TMP/k8smon.log" 2>&1 &
KPID=$!; PIDS="$PIDS $KPID"
vmagent -promscrape.config="$TMP/vmagent.yml" -remoteWrite.url=http://127.0.0.1:$SINK/api/v1/write \
	-remoteWrite.tmpDataPath="$TMP/vmdata" -httpListenAddr=127.0.0.1:$VP -loggerLevel=ERROR >"$TMP/vmagent.log" 2>&1 &
VPID=$!; PIDS="$PIDS $VPID"
# Warm-up: every target discovered and scraped once.
sleep $((IV * 2 + 5))
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }
ksamp() { curl -s http://127.0.0.1:$KP/metrics/self | awk '/^k8smon_scrape_samples_total /{print $2}'; }
vsamp() { curl -s http://127.0.0.1:$VP/metrics | awk '/^vm_promscrape_scraped_samples_sum /{print $2}'; }
k0=$(cpu $KPID); v0=$(cpu $VPID); ks0=$(ksamp); vs0=$(vsamp)
sleep "$DUR"
k1=$(cpu $KPID); v1=$(cpu $VPID); ks1=$(ksamp); vs1=$(vsamp)
HZ=$(getconf CLK_TCK)
up=$(curl -s http://127.0.0.1:$KP/metrics/apps | grep -c '^up{.* 1$' || true)
krss=$(awk '/VmRSS/{print $2}' /proc/$KPID/status); vrss=$(awk '/VmRSS/{print $2}' /proc/$VPID/status)
python3 - "$k0" "$k1" "$v0" "$v1" "${ks0:-0}" "${ks1:-0}" "${vs0:-0}" "${vs1:-0}" "$HZ" "$krss" "$vrss" "$up" "$N" "$S" "$IV" "$DUR" <<'PY'
import sys
k0,k1,v0,v1,ks0,ks1,vs0,vs1,hz,krss,vrss = map(float, sys.argv[1:12])
up,n,s,iv,dur = map(int, sys.argv[12:17])
kc, vc = (k1-k0)/hz, (v1-v0)/hz
ks, vs = ks1-ks0, vs1-vs0
print("targets %d x %d series, interval %ds, measured %ds; k8smon targets up: %d" % (n, s, iv, dur, up))
print("%-8s %12s %10s %16s %10s" % ("agent", "samples", "cpu_s", "samples/cpu_s", "rss_MiB"))
print("%-8s %12d %10.2f %16.0f %10.1f" % ("k8smon", ks, kc, ks/kc if kc else 0, krss/1024))
print("%-8s %12d %10.2f %16.0f %10.1f" % ("vmagent", vs, vc, vs/vc if vc else 0, vrss/1024))
PY
