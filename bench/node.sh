#!/bin/sh
# Node collector benchmark: CPU seconds per 1000 scrapes and peak RSS (VmHWM)
# of k8smon /metrics/node vs node-exporter limited to the same collectors, in
# the same run, as ratios. Default peer: Debian's node-exporter 1.5.0, written
# to the "## Node collector" section of BENCHMARKS.md; PEER=latest: the
# node_exporter release pinned in tests/peers/versions (built by
# tests/peers/build.sh), written to "## Node collector vs node_exporter <v>".
# Other sections are left alone.
#
# Fairness: both servers run at the same time on the same host, are warmed up
# with the same number of scrapes, and are scraped by the same client (one
# keep-alive HTTP/1.1 connection each, identical request headers). Rounds
# alternate between the two servers so background load hits both alike; the
# reported CPU figure is the median over the rounds, and the CPU ratio is the
# median of the per-round ratios.
#
# Environment: N scrapes per round (default 1000), ROUNDS (default 5), WARMUP
# (default 50), GZIP=1 to send "Accept-Encoding: gzip" as Prometheus does
# (default: identity), K8SMON binary (default bin/k8smon), NO_WRITE=1 to print
# without touching BENCHMARKS.md.
set -eu
cd "$(dirname "$0")/.."
N=${N:-1000}
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-50}
GZIP=${GZIP:-0}
K8SMON=${K8SMON:-bin/k8smon}
NE=/usr/bin/prometheus-node-exporter
NE_NAME="node-exporter 1.5.0"
TITLE="Node collector"
if [ "${PEER:-}" = latest ]; then
	VER=$(awk '$1 == "node_exporter" { print $2 }' tests/peers/versions)
	NE=${K8SMON_PEERS:-$HOME/.cache/k8smon-peers}/node_exporter-$VER/bin/node_exporter
	NE_NAME="node_exporter $VER"
	TITLE="Node collector vs node_exporter $VER"
fi
[ -x "$NE" ] && [ -x "$K8SMON" ] || { echo "need $NE and $K8SMON"; exit 1; }
# Every collector k8smon has (node_exporter names), textfile without a directory.
COLLECTORS="arp bonding conntrack cpu cpufreq diskstats entropy filefd filesystem hwmon loadavg mdadm meminfo netclass netdev netstat os powersupplyclass pressure schedstat sockstat softnet stat textfile thermal_zone time timex udp_queues uname vmstat"
NEARGS="--collector.disable-defaults"
for c in $COLLECTORS; do NEARGS="$NEARGS --collector.$c"; done
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KP=$(port); NP=$(port)
"$K8SMON" -httpListenAddr=127.0.0.1:$KP >/dev/null 2>&1 &
KPID=$!
# shellcheck disable=SC2086
"$NE" --web.listen-address=127.0.0.1:$NP $NEARGS >/dev/null 2>&1 &
NPID=$!
trap 'kill $KPID $NPID 2>/dev/null' EXIT
OUT=$(mktemp)
python3 - "$N" "$ROUNDS" "$WARMUP" "$GZIP" "$KPID" "$KP" /metrics/node "$NPID" "$NP" /metrics "$NE_NAME" <<'PY' >"$OUT"
import http.client, os, statistics, sys, time
n, rounds, warmup, gz = (int(x) for x in sys.argv[1:5])
hz = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / hz
def status(pid, key):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith(key + ":"):
            return int(l.split()[1])
hdrs = {"Accept-Encoding": "gzip" if gz else "identity"}
def get(s):
    # A server may close a keep-alive connection left idle while the other
    # server's round ran (k8smon's -http.timeout); reconnect once, as
    # Prometheus would, and count it.
    for attempt in (0, 1):
        try:
            s["conn"].request("GET", s["path"], headers=hdrs)
            return s["conn"].getresponse().read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if attempt:
                raise
            s["conn"].close()
            s["conn"] = http.client.HTTPConnection("127.0.0.1", s["port"], timeout=30)
            s["reconnects"] += 1
srv = {}
for name, pid, port, path in (("k8smon", sys.argv[5], sys.argv[6], sys.argv[7]),
                              ("ne", sys.argv[8], sys.argv[9], sys.argv[10])):
    for _ in range(100):  # wait until listening
        try:
            c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
            c.request("GET", path, headers=hdrs); c.getresponse().read()
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit(f"{name} does not answer on port {port}")
    srv[name] = {"pid": pid, "conn": c, "port": int(port), "path": path, "cpu": [],
                 "idle": 0, "reconnects": 0}
time.sleep(0.5)
for s in srv.values():  # RSS after one scrape, before the run
    s["idle"] = status(s["pid"], "VmRSS")
for s in srv.values():
    for _ in range(warmup):
        get(s)
ratios = []
for _ in range(rounds):
    for s in srv.values():
        t0 = cpu(s["pid"])
        for _ in range(n):
            s["size"] = len(get(s))
        s["cpu"].append((cpu(s["pid"]) - t0) * 1000 / n)
    ratios.append(srv["k8smon"]["cpu"][-1] / srv["ne"]["cpu"][-1])
for s in srv.values():
    s["med"] = statistics.median(s["cpu"])
    s["hwm"] = status(s["pid"], "VmHWM")
k, e = srv["k8smon"], srv["ne"]
rng = lambda s: f"{min(s['cpu']):.2f}–{max(s['cpu']):.2f}"
print(f"| k8smon /metrics/node | {k['med']:.3f} ({rng(k)}) | {k['hwm']/1024:.1f} | {k['idle']/1024:.1f} | {k['size']} |")
print(f"| {sys.argv[11]} (same collectors) | {e['med']:.3f} ({rng(e)}) | {e['hwm']/1024:.1f} | {e['idle']/1024:.1f} | {e['size']} |")
print(f"reconnects: k8smon {k['reconnects']}, node-exporter {e['reconnects']}", file=sys.stderr)
print(f"| ratio k8smon / node-exporter | {statistics.median(ratios):.3f} | {k['hwm']/e['hwm']:.3f} | {k['idle']/e['idle']:.3f} | |")
PY
ROWS=$(cat "$OUT"); rm -f "$OUT"
ENC=identity; [ "$GZIP" = 1 ] && ENC=gzip
SECTION=$(cat <<EOT
## $TITLE

\`bench/node.sh\` ($(date -u +%Y-%m-%d), $(nproc) CPUs, same run): both servers up
together, $WARMUP warm-up scrapes each, then $ROUNDS alternating rounds of N=$N scrapes
per server over one keep-alive connection each (same Python client, Accept-Encoding:
$ENC). CPU = utime+stime of the server process per 1000 scrapes, median of the rounds
(min–max in brackets); the CPU ratio is the median of the per-round ratios. Peak RSS =
VmHWM at the end; RSS after 1 scrape = VmRSS before the warm-up.
$NE_NAME runs with \`--collector.disable-defaults\` plus: $COLLECTORS.
Targets (issues 1, 18): CPU ratio ≤ 0.100 vs 1.5.0 and ≤ 0.08 vs the latest release,
peak RSS ratio ≤ 0.250.

| server | CPU s / 1000 scrapes | peak RSS MiB | RSS after 1 scrape MiB | body bytes |
|---|---|---|---|---|
$ROWS
EOT
)
if [ "${NO_WRITE:-0}" != 1 ]; then
python3 - "$SECTION" "$TITLE" <<'PY'
import re, sys, os
sec = sys.argv[1].rstrip() + "\n"
path = "BENCHMARKS.md"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
pat = re.compile(r"^## " + re.escape(sys.argv[2]) + r"\n.*?(?=^## |\Z)", re.S | re.M)
if pat.search(text):
    text = pat.sub(lambda m: sec + "\n", text, count=1)
else:
    text = text.rstrip() + "\n\n" + sec
open(path, "w").write(text.rstrip() + "\n")
PY
fi
echo "$SECTION"
