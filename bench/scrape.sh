#!/bin/sh
# Application scraping benchmark: N loopback targets x S series each, served
# by tests/scrape/bench_targets.c (one epoll thread, ports BASE..BASE+N-1, one
# precomputed body), scraped at the same time, at the same interval, by three
# agents in one window:
#  - k8smon "pull": N annotated pods on its node in the fake API server
#    (built-in annotation rule, podIP 127.0.0.1, one port annotation each);
#    its /metrics/apps is read once per interval with gzip, as a Prometheus
#    would, and that read is counted in its CPU (its delivery path);
#  - k8smon "push": the same pods, no reader, -remoteWrite.url to the sink
#    (protobuf + snappy at every interval);
#  - vmagent, the latest release from the real-peers cache
#    (tests/peers/versions, built by tests/peers/build.sh): a static config
#    of the same N URLs, remote write to the same sink, a server that reads
#    each request and answers 204.
# Every target must be up on all three before the window starts. Over the
# window: scrapes, samples (k8smon_scrape_samples_total vs
# vm_promscrape_scraped_samples_sum), CPU (utime+stime of /proc/PID/stat),
# samples per CPU-second; RSS at the end and peak (VmHWM). Printed: both
# k8smon modes against the one vmagent, as ratios.
#   N=1000 S=1000 INTERVAL=30 DURATION=120 PERF= bench/scrape.sh
# Scale knobs for a small machine: N, S, INTERVAL (the CPU per sample does
# not depend on them much; RSS grows with N*S). MODES="pull push" (default)
# or one of them. PERF="pull push" (or one): a CPU profile of that k8smon
# over the window, perf-MODE.log in $LOGS.
# VMAGENT=path overrides the peer-cache binary. (The interval and scrape
# timeout are the same for every agent.)
set -eu
cd "$(dirname "$0")/.."
. tests/lib/common.sh
. tests/lib/fakeapi.sh
N=${N:-1000}; S=${S:-1000}; IV=${INTERVAL:-30}; DUR=${DURATION:-120}
BASE=${BASE_PORT:-20000}; MODES=${MODES:-pull push}; PERF=${PERF:-}
K8SMON=${K8SMON:-./bin/k8smon}; LOGS=${LOGS:-/tmp/k8smon-bench-scrape}
PEERS=${K8SMON_PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8smon-peers}
VMV=$(awk '$1 == "victoria-metrics" {print $2}' tests/peers/versions)
VMAGENT=${VMAGENT:-$PEERS/victoria-metrics-$VMV/bin/vmagent}
[ -x "$VMAGENT" ] || { echo "no vmagent at $VMAGENT: run tests/peers/build.sh (or set VMAGENT=)"; exit 1; }
for m in $MODES; do case $m in pull|push) ;; *) echo "MODES: pull and/or push, not $m"; exit 1 ;; esac; done
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
[ "$(ulimit -n)" -ge $((N * 4 + 200)) ] 2>/dev/null || { echo "ulimit -n $(ulimit -n) too low for $N targets"; exit 1; }

# ---- targets and the remote-write sink ----------------------------------------
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
echo "targets: $N ports $BASE-$((BASE + N - 1)), $S series each, $(sed -n 's/^READY //p' "$TMP/t.out"); sink port $SINK"

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

# port_<mode>, pid_<mode>: one k8smon per mode.
for m in $MODES; do
	port=$(free_port)
	extra=""
	[ "$m" = push ] && extra="-remoteWrite.url=http://127.0.0.1:$SINK/api/v1/write"
	# shellcheck disable=SC2086 # extra is one flag or none
	"$K8SMON" -promscrape.kubernetes -kubeconfig="$KUBECONFIG" -nodeName=bench -leaderElection=false \
		-promscrape.kubernetes.collectors=app -promscrape.kubernetes.interval=${IV}s \
		-httpListenAddr=127.0.0.1:$port -loggerLevel=WARN $extra >"$TMP/k8smon-$m.log" 2>&1 &
	eval "pid_$m=$! port_$m=$port"; PIDS="$PIDS $!"
done
VP=$(free_port)
"$VMAGENT" -promscrape.config="$TMP/vmagent.yml" -remoteWrite.url=http://127.0.0.1:$SINK/api/v1/write \
	-remoteWrite.tmpDataPath="$TMP/vmdata" -httpListenAddr=127.0.0.1:$VP -loggerLevel=ERROR >"$TMP/vmagent.log" 2>&1 &
VPID=$!; PIDS="$PIDS $VPID"
for m in $MODES; do
	eval "port=\$port_$m"
	wait_http "http://127.0.0.1:$port/healthz" 20 || { echo "k8smon ($m) did not start:"; tail "$TMP/k8smon-$m.log"; exit 1; }
done
wait_http "http://127.0.0.1:$VP/metrics" 20 || { echo "vmagent did not start:"; tail "$TMP/vmagent.log"; exit 1; }

# Sum of the values of every series whose line starts with the given text.
kmet() { eval "port=\$port_$1"; curl -s "http://127.0.0.1:$port/metrics/self" | awk -v m="$2" 'index($0, m) == 1 {s += $NF} END {printf "%.0f\n", s}'; }
vmet() { curl -s "http://127.0.0.1:$VP/metrics" | awk -v m="$1" 'index($0, m) == 1 {s += $NF} END {printf "%.0f\n", s}'; }
KUP='k8smon_scrape_targets{health="up"}'; VUP='vm_promscrape_targets{type="static_configs", status="up"}'
# Warm-up: every target up on every agent (and scraped at least twice).
deadline=$(( $(date +%s) + IV * 4 + 60 ))
while :; do
	ok=1; state=""
	for m in $MODES; do u=$(kmet "$m" "$KUP"); state="$state k8smon-$m ${u:-0}"; [ "${u:-0}" -ge "$N" ] || ok=0; done
	vup=$(vmet "$VUP"); state="$state vmagent ${vup:-0}"; [ "${vup:-0}" -ge "$N" ] || ok=0
	[ $ok = 1 ] && break
	[ "$(date +%s)" -lt $deadline ] || {
		echo "warm-up: not every target up ($state of $N)"
		for m in $MODES; do grep -v '^$' "$TMP/k8smon-$m.log" | tail -5; done
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
# Everything measured, one "key value" per line, before (0) and after (1).
snap() {
	for m in $MODES; do
		eval "pid=\$pid_$m"
		echo "$m.cpu $(cpu "$pid")"
		echo "$m.samples $(kmet "$m" 'k8smon_scrape_samples_total ')"
		echo "$m.scrapes $(kmet "$m" 'k8smon_scrapes_total ')"
		echo "$m.up $(kmet "$m" "$KUP")"
		echo "$m.errors $(kmet "$m" 'k8smon_scrape_errors_total')"
		echo "$m.rw_samples $(kmet "$m" 'k8smon_remotewrite_samples_total ')"
		echo "$m.rw_bytes $(kmet "$m" 'k8smon_remotewrite_bytes_sent_total')"
		echo "$m.rss $(awk '/^VmRSS/{print $2}' "/proc/$pid/status")"
		echo "$m.hwm $(awk '/^VmHWM/{print $2}' "/proc/$pid/status")"
	done
	echo "vmagent.cpu $(cpu $VPID)"
	echo "vmagent.samples $(vmet 'vm_promscrape_scraped_samples_sum ')"
	echo "vmagent.scrapes $(vmet 'vm_promscrape_scrapes_total{')"
	echo "vmagent.up $(vmet "$VUP")"
	echo "vmagent.errors $(vmet 'vm_promscrape_scrapes_failed_total')"
	echo "vmagent.rw_samples $(vmet 'vmagent_remotewrite_rows_pushed_after_relabel_total')"
	echo "vmagent.rw_bytes $(vmet 'vmagent_remotewrite_bytes_sent_total')"
	echo "vmagent.rss $(awk '/^VmRSS/{print $2}' "/proc/$VPID/status")"
	echo "vmagent.hwm $(awk '/^VmHWM/{print $2}' "/proc/$VPID/status")"
	echo "targets.cpu $(cpu $TPID)"
}
case " $MODES " in *" pull "*)
	# One line per read: HTTP code, bytes received (gzip), seconds, lines.
	( while :; do curl -s --compressed -o "$TMP/apps.out" -w '%{http_code} %{size_download} %{time_total}' \
		"http://127.0.0.1:$port_pull/metrics/apps" >>"$TMP/reads.log"; echo " $(wc -l <"$TMP/apps.out")" >>"$TMP/reads.log"
		sleep "$IV"; done ) &
	RPID=$!; PIDS="$PIDS $RPID" ;;
esac
snap >"$TMP/snap0.out"
if [ -n "$PERF" ]; then
	# One perf per profiled mode, over the window; reports in $LOGS.
	PERFP=""
	for m in $PERF; do
		eval "ppid=\${pid_$m:-}"
		[ -n "$ppid" ] || { echo "PERF=$m: not one of MODES ($MODES)"; exit 1; }
		perf record -F 499 -g -p "$ppid" -o "$TMP/perf-$m.data" -- sleep "$DUR" >/dev/null 2>&1 &
		PERFP="$PERFP $!"
	done
	sleep "$DUR"
	for p in $PERFP; do wait "$p" || true; done
	for m in $PERF; do
		perf report -i "$TMP/perf-$m.data" --no-children --percent-limit 0.5 --stdio -g none \
			>"$TMP/perf-$m.log" 2>/dev/null || true
	done
else
	sleep "$DUR"
fi
snap >"$TMP/snap1.out"
python3 - "$TMP" "$N" "$S" "$IV" "$DUR" "$(getconf CLK_TCK)" "$MODES" "$VMV ($VMAGENT)" <<'PY'
import sys
tmp, n, s, iv, dur, hz, modes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7].split()
def load(f):
    return {k: float(v or 0) for k, v in (l.split(" ", 1) if " " in l else (l, "0") for l in open(f).read().split("\n") if l)}
a, b = load(tmp + "/snap0.out"), load(tmp + "/snap1.out")
d = lambda k: b[k] - a[k]
print("%d targets x %d series, interval %ss, window %ss; vmagent %s; target server %.2f CPU-s"
      % (n, s, iv, dur, sys.argv[8], d("targets.cpu") / hz))
print("%-13s %8s %12s %8s %14s %8s %8s %12s %10s %4s %6s" % ("agent", "scrapes", "samples", "cpu_s", "samples/cpu_s",
      "rss_MiB", "hwm_MiB", "rw_samples", "rw_MB", "up", "errors"))
rate = {}
for name in modes + ["vmagent"]:
    c = d(name + ".cpu") / hz
    rate[name] = d(name + ".samples") / c if c else 0
    label = name if name == "vmagent" else "k8smon-" + name
    print("%-13s %8d %12d %8.2f %14.0f %8.1f %8.1f %12d %10.1f %4d %6d" % (label, d(name + ".scrapes"), d(name + ".samples"), c,
          rate[name], b[name + ".rss"] / 1024, b[name + ".hwm"] / 1024, d(name + ".rw_samples"), d(name + ".rw_bytes") / 1e6,
          b[name + ".up"], b[name + ".errors"]))
if "pull" in modes:
    reads = [l.split() for l in open(tmp + "/reads.log").read().split("\n") if l]
    print("pull: reads of /metrics/apps %d, HTTP 200 %d; gzip MB each: %s; seconds each: %s; lines each: %s"
          % (len(reads), sum(r[0] == "200" for r in reads), " ".join("%.1f" % (int(r[1]) / 1e6) for r in reads),
             " ".join(r[2][:5] for r in reads), " ".join(r[3] for r in reads if len(r) > 3)))
for name in modes:
    want = {"pull": "1.5x, RSS <= 0.5x", "push": "2x, RSS <= 0.5x"}[name]
    print("ratio k8smon-%s/vmagent: samples per CPU-second %.2fx, RSS %.2fx, peak RSS %.2fx (goal: >= %s)"
          % (name, rate[name] / rate["vmagent"] if rate["vmagent"] else 0, b[name + ".rss"] / b["vmagent.rss"],
             b[name + ".hwm"] / b["vmagent.hwm"], want))
PY
