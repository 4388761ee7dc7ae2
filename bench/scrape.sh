#!/bin/sh
# Application scraping benchmark: N loopback targets x S series each, served
# by tests/scrape/bench_targets.c (one epoll thread, ports BASE..BASE+N-1, one
# precomputed body), scraped at the same time, at the same interval, by
#  - k8smon: N annotated pods on its node in the fake API server (built-in
#    annotation rule, podIP 127.0.0.1, one port annotation each);
#  - Debian's vmagent: a static config of the same N URLs, remote write to a
#    sink on the target server that reads and drops.
# Both must have every target up before the window starts. Over the window:
# scrapes, samples (k8smon_scrape_samples_total vs
# vm_promscrape_scraped_samples_sum), CPU (utime+stime of /proc/PID/stat),
# samples per CPU-second; RSS at the end and peak (VmHWM).
# READ_APPS=1 also reads k8smon's /metrics/apps once per interval (gzip, as a
# Prometheus would), counted in k8smon's CPU: its delivery path, the
# counterpart of vmagent's remote write.
#   N=1000 S=1000 INTERVAL=30 DURATION=120 READ_APPS=0 PERF= bench/scrape.sh
# (the interval and scrape timeout are the same for both agents)
set -eu
cd "$(dirname "$0")/.."
. tests/lib/common.sh
. tests/lib/fakeapi.sh
N=${N:-1000}; S=${S:-1000}; IV=${INTERVAL:-30}; DUR=${DURATION:-120}
BASE=${BASE_PORT:-20000}; READ_APPS=${READ_APPS:-0}
K8SMON=${K8SMON:-./bin/k8smon}; LOGS=${LOGS:-/tmp/k8smon-bench-scrape}
command -v vmagent >/dev/null || apt-get install -y victoria-metrics >/dev/null 2>&1 || true
command -v vmagent >/dev/null || { echo "vmagent not available (apt-get install victoria-metrics)"; exit 1; }
TMP=$(mktemp -d)
PIDS=""
FAKEAPI_PID=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	[ -n "$FAKEAPI_PID" ] && kill "$FAKEAPI_PID" 2>/dev/null || true
	# Our children: wait, so vmagent stops writing its queue before rm.
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	# Logs of the last run stay for a post-mortem.
	mkdir -p "$LOGS" && cp "$TMP"/*.log "$TMP"/*.out "$LOGS"/ 2>/dev/null || true
	rm -rf "$TMP" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true
[ "$(ulimit -n)" -ge $((N * 3 + 200)) ] 2>/dev/null || { echo "ulimit -n $(ulimit -n) too low for $N targets"; exit 1; }

# ---- targets ---------------------------------------------------------------
cc -O2 -o "$TMP/bench_targets" tests/scrape/bench_targets.c
SINK=$((BASE + N))
"$TMP/bench_targets" "$BASE" "$N" "$S" "$SINK" >"$TMP/t.out" 2>"$TMP/t.err" &
TPID=$!; PIDS="$PIDS $TPID"
i=0; until grep -q READY "$TMP/t.out" 2>/dev/null; do
	kill -0 $TPID 2>/dev/null && [ $i -lt 100 ] || { echo "target server did not start:"; cat "$TMP/t.err"; exit 1; }
	sleep 0.1; i=$((i + 1))
done
# Every port answers with S samples (a sample of ports: first, last, 50 spread).
for p in $(python3 -c "n,b=$N,$BASE; print(' '.join(str(b+i*n//50) for i in range(50)), b+n-1)"); do
	got=$(curl -s --max-time 5 "http://127.0.0.1:$p/metrics" | grep -vc '^#' || true)
	[ "$got" -eq "$S" ] || { echo "target 127.0.0.1:$p answered $got samples, want $S"; exit 1; }
done
echo "targets: $N ports $BASE-$((BASE + N - 1)), $S series each, $(sed -n 's/^READY //p' "$TMP/t.out")"

# ---- k8smon: pods in the fake API server ---------------------------------------
fakeapi_start "$TMP" --load crds >/dev/null
python3 - "$N" "$BASE" "$IV" >"$TMP/pods.json" <<'PY'
import json, sys
n, base, iv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
print(json.dumps([{"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "t%d" % i, "namespace": "bench", "uid": "u%d" % i, "labels": {"app": "bench"},
               "annotations": {"victoriametrics.com/scrape": "true", "victoriametrics.com/port": str(base + i),
                               "victoriametrics.com/interval": iv + "s",
                               "victoriametrics.com/timeout": iv + "s"}},
  "spec": {"nodeName": "bench", "containers": [{"name": "c", "ports": [{"containerPort": base + i}]}]},
  "status": {"phase": "Running", "podIP": "127.0.0.1"}} for i in range(n)]))
PY
curl -sf --cacert "$TMP/api/ca.crt" -X POST -H 'Content-Type: application/json' \
	--data-binary "@$TMP/pods.json" "$CONTROL/objects" >/dev/null || { echo "bulk pod load failed"; exit 1; }
# The targets listen on 127.0.0.1 and are many, all in one namespace, with
# 1,000 series each: the admin lifts the tenant-safety defaults (loopback
# refused, 200 targets per namespace, 1,000 per agent, 64Mi of samples) as
# an operator scraping this many targets would (docs/limits.md).
curl -sf --cacert "$TMP/api/ca.crt" -X POST -H 'Content-Type: application/json' --data-binary \
	'[{"apiVersion":"k8smon.io/v1alpha1","kind":"K8sMonitor","metadata":{"name":"bench"},"spec":{"collectors":["app"],
	  "scrape":{"allowLoopback":true,"maxTargets":0,"maxTargetsPerNamespace":0,"memoryBudget":0}}}]' \
	"$CONTROL/objects" >/dev/null || { echo "K8sMonitor load failed"; exit 1; }
npods=$(curl -s --cacert "$TMP/api/ca.crt" "$CONTROL/objects?resource=pods&namespace=bench" |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
[ "$npods" -eq "$N" ] || { echo "fake API server holds $npods pods, want $N"; exit 1; }

# ---- vmagent: the same URLs -------------------------------------------------------
{
	echo "global: {scrape_interval: ${IV}s, scrape_timeout: ${IV}s}"
	echo "scrape_configs:"
	echo "- job_name: bench"
	echo "  static_configs:"
	echo "  - targets:"
	i=0; while [ $i -lt "$N" ]; do echo "    - 127.0.0.1:$((BASE + i))"; i=$((i + 1)); done
} >"$TMP/vmagent.yml"

KP=$(free_port); VP=$(free_port)
"$K8SMON" -promscrape.kubernetes -kubeconfig="$KUBECONFIG" -nodeName=bench -leaderElection=false \
	-promscrape.kubernetes.collectors=app -httpListenAddr=127.0.0.1:$KP -loggerLevel=WARN >"$TMP/k8smon.log" 2>&1 &
KPID=$!; PIDS="$PIDS $KPID"
vmagent -promscrape.config="$TMP/vmagent.yml" -remoteWrite.url=http://127.0.0.1:$SINK/api/v1/write \
	-remoteWrite.tmpDataPath="$TMP/vmdata" -httpListenAddr=127.0.0.1:$VP -loggerLevel=ERROR >"$TMP/vmagent.log" 2>&1 &
VPID=$!; PIDS="$PIDS $VPID"
wait_http "http://127.0.0.1:$KP/healthz" 20 || { echo "k8smon did not start:"; tail "$TMP/k8smon.log"; exit 1; }
wait_http "http://127.0.0.1:$VP/metrics" 20 || { echo "vmagent did not start:"; tail "$TMP/vmagent.log"; exit 1; }

# Sum of the values of every series whose line starts with the given text.
kmet() { curl -s "http://127.0.0.1:$KP/metrics/self" | awk -v m="$1" 'index($0, m) == 1 {s += $NF} END {print s + 0}'; }
vmet() { curl -s "http://127.0.0.1:$VP/metrics" | awk -v m="$1" 'index($0, m) == 1 {s += $NF} END {print s + 0}'; }
# Warm-up: every target up on both agents (and scraped at least twice).
deadline=$(( $(date +%s) + IV * 4 + 60 ))
while :; do
	kup=$(kmet 'k8smon_scrape_targets{health="up"}'); vup=$(vmet 'vm_promscrape_targets{type="static_configs", status="up"}')
	[ "${kup:-0}" -ge "$N" ] && [ "${vup:-0}" -ge "$N" ] && break
	[ "$(date +%s)" -lt $deadline ] || {
		echo "warm-up: not every target up (k8smon ${kup:-0}, vmagent ${vup:-0} of $N)"
		grep -v '^$' "$TMP/k8smon.log" | tail -5
		curl -s "http://127.0.0.1:$VP/api/v1/targets" | python3 -c '
import collections, json, sys
c = collections.Counter(t.get("lastError", "")[:120] for t in json.load(sys.stdin)["data"]["activeTargets"] if t["health"] != "up")
for e, n in c.most_common(5): print("vmagent: %d targets down: %s" % (n, e))'
		exit 1; }
	sleep 1
done
sleep "$IV"

# ---- measured window ---------------------------------------------------------------
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
if [ "$READ_APPS" = 1 ]; then
	# One line per read: HTTP code, bytes received (gzip), seconds.
	( while :; do curl -s --compressed -o "$TMP/apps.out" -w '%{http_code} %{size_download} %{time_total}\n' \
		"http://127.0.0.1:$KP/metrics/apps" >>"$TMP/reads.log"; lines=$(wc -l <"$TMP/apps.out")
		echo "lines $lines" >>"$TMP/reads.log"; sleep "$IV"; done ) &
	RPID=$!; PIDS="$PIDS $RPID"
fi
k0=$(cpu $KPID); v0=$(cpu $VPID); t0=$(cpu $TPID)
ks0=$(kmet 'k8smon_scrape_samples_total '); vs0=$(vmet 'vm_promscrape_scraped_samples_sum ')
kn0=$(kmet 'k8smon_scrapes_total '); vn0=$(vmet 'vm_promscrape_scrapes_total{')
if [ -n "${PERF:-}" ]; then
	# PERF=1: a CPU profile of k8smon over the window (report in $LOGS).
	perf record -F 499 -g -p $KPID -o "$TMP/perf.data" -- sleep "$DUR" >/dev/null 2>&1 || sleep "$DUR"
	perf report -i "$TMP/perf.data" --no-children --percent-limit 0.5 --stdio >"$TMP/perf.log" 2>/dev/null || true
else
	sleep "$DUR"
fi
k1=$(cpu $KPID); v1=$(cpu $VPID); t1=$(cpu $TPID)
ks1=$(kmet 'k8smon_scrape_samples_total '); vs1=$(vmet 'vm_promscrape_scraped_samples_sum ')
kn1=$(kmet 'k8smon_scrapes_total '); vn1=$(vmet 'vm_promscrape_scrapes_total{')
kup=$(kmet 'k8smon_scrape_targets{health="up"}'); vup=$(vmet 'vm_promscrape_targets{type="static_configs", status="up"}')
kerr=$(curl -s "http://127.0.0.1:$KP/metrics/self" | awk '/^k8smon_scrape_errors_total/ {s += $2} END {print s + 0}')
verr=$(vmet 'vm_promscrape_scrapes_failed_total')
krss=$(awk '/^VmRSS/{print $2}' /proc/$KPID/status); khwm=$(awk '/^VmHWM/{print $2}' /proc/$KPID/status)
vrss=$(awk '/^VmRSS/{print $2}' /proc/$VPID/status); vhwm=$(awk '/^VmHWM/{print $2}' /proc/$VPID/status)
HZ=$(getconf CLK_TCK)
python3 - <<PY
hz = $HZ
kc, vc, tc = ($k1 - $k0) / hz, ($v1 - $v0) / hz, ($t1 - $t0) / hz
ks, vs = float("${ks1:-0}") - float("${ks0:-0}"), float("${vs1:-0}") - float("${vs0:-0}")
kn, vn = float("${kn1:-0}") - float("${kn0:-0}"), float("${vn1:-0}") - float("${vn0:-0}")
print("%d targets x %d series, interval %ds, window %ds; up at the end: k8smon %s, vmagent %s; "
      "errors (total): k8smon %s, vmagent %s; target server %.2f CPU-s; READ_APPS=%s"
      % ($N, $S, $IV, $DUR, "${kup:-0}", "${vup:-0}", "$kerr", "${verr:-0}", tc, "$READ_APPS"))
print("%-8s %8s %12s %8s %14s %8s %9s" % ("agent", "scrapes", "samples", "cpu_s", "samples/cpu_s", "rss_MiB", "hwm_MiB"))
for name, n, s, c, r, h in (("k8smon", kn, ks, kc, $krss, $khwm), ("vmagent", vn, vs, vc, $vrss, $vhwm)):
    print("%-8s %8d %12d %8.2f %14.0f %8.1f %9.1f" % (name, n, s, c, s / c if c else 0, r / 1024, h / 1024))
if "$READ_APPS" == "1":
    reads = open("$TMP/reads.log").read().split("\n")
    codes = [l.split() for l in reads if l and not l.startswith("lines")]
    lines = [int(l.split()[1]) for l in reads if l.startswith("lines")]
    print("reads of /metrics/apps: %d, HTTP 200: %d, gzip MB each: %s, seconds each: %s, lines each: %s"
          % (len(codes), sum(c[0] == "200" for c in codes), " ".join("%.1f" % (int(c[1]) / 1e6) for c in codes),
             " ".join(c[2][:5] for c in codes), " ".join(str(n) for n in lines)))
kr, vr = (ks / kc if kc else 0), (vs / vc if vc else 0)
print("ratio k8smon/vmagent: samples per CPU-second %.2fx, RSS %.2fx" % (kr / vr if vr else 0, $krss / $vrss))
PY
