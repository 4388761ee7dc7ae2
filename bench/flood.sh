#!/bin/sh
# Connection flood benchmark (issue 16 item 5): the load of tests/integration/test_http_flood.sh
# (500 idle + 50 slowloris connections from 127.0.0.1, reopened when closed, while 50 scrapes run
# one after another, each on a new connection; tests/integration/flood.py) against k8smon
# /metrics/node and the real node_exporter (tests/peers/build.sh) /metrics with the same
# collectors, one server at a time, ROUNDS rounds alternating. Reports per server the scrapes
# answered, the median and worst scrape time under the flood, the worst unloaded scrape just
# before, and the peak RSS during the flood (VmRSS). Writes the "## Connection floods" section of
# BENCHMARKS.md (NO_WRITE=1: print only). K8SMON_BEFORE=path adds a row for another binary
# (e.g. the agent before this change).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
K8SMON=${K8SMON:-bin/k8smon}
NE=$(ls -d "$HOME"/.cache/k8smon-peers/node_exporter-*/bin/node_exporter 2>/dev/null | tail -1)
[ -x "$NE" ] && [ -x "$K8SMON" ] || { echo "need node_exporter (tests/peers/build.sh) and $K8SMON"; exit 1; }
NEV=$(basename "$(dirname "$(dirname "$NE")")")
COLLECTORS="cpu meminfo loadavg filesystem netdev netclass diskstats stat vmstat pressure filefd uname time timex os netstat conntrack"
NEARGS="--collector.disable-defaults"
for c in $COLLECTORS; do NEARGS="$NEARGS --collector.$c"; done
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
run() { # name cmd... (the server listens on $P)
	name=$1; shift
	"$@" >/dev/null 2>&1 &
	pid=$!
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$P/"; do i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.1; done
	python3 tests/integration/flood.py "$P" "$pid" "$path" 500 50 50 >>"$OUT/$name.jsonl"
	kill $pid; wait $pid 2>/dev/null || true
}
r=0
while [ $r -lt "$ROUNDS" ]; do
	P=$(port); path=/metrics/node; run k8smon "$K8SMON" -httpListenAddr=127.0.0.1:$P
	# shellcheck disable=SC2086
	P=$(port); path=/metrics; run node_exporter "$NE" --web.listen-address=127.0.0.1:$P $NEARGS
	if [ -n "${K8SMON_BEFORE:-}" ]; then
		P=$(port); path=/metrics/node; run before "$K8SMON_BEFORE" -httpListenAddr=127.0.0.1:$P
	fi
	r=$((r + 1))
done
ROWS=$(python3 - "$OUT" "$NEV" <<'PY'
import json, os, statistics, sys
out, nev = sys.argv[1], sys.argv[2]
names = [("k8smon", "k8smon (this branch)"), ("node_exporter", nev), ("before", "k8smon before (plain cap, 64)")]
for key, label in names:
    p = os.path.join(out, key + ".jsonl")
    if not os.path.exists(p):
        continue
    runs = [json.loads(l) for l in open(p)]
    ok = [sum(1 for s in r["status"] if s == 200) for r in runs]
    secs = [t for r in runs for t, s in zip(r["seconds"], r["status"]) if s == 200]
    med = statistics.median(secs) * 1000 if secs else float("nan")
    worst = max(secs) * 1000 if secs else float("nan")
    base = max(r["baseline_max_s"] for r in runs) * 1000
    rss = max(r["rss_peak_kib"] for r in runs) / 1024
    rss0 = min(r["rss_before_kib"] for r in runs) / 1024
    held = max(r["held_at_end"]["idle"] + r["held_at_end"]["slow"] for r in runs)
    reopened = max(r["held_at_end"]["reopened"] for r in runs)
    print("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d |" % (
        label, "/".join(str(o) for o in ok), med, worst, base, rss0, rss, held, reopened))
PY
)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
SECTION=$(cat <<EOT
## Connection floods

\`bench/flood.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores, load average $LOAD at the end): per
round and server, 500 idle connections plus 50 slowloris connections (a byte of request head
every 2 s, never complete) from 127.0.0.1, each reopened as soon as the server closes it, while
50 scrapes run one after another on new connections (tests/integration/flood.py). One server at
a time, $ROUNDS rounds alternating. k8smon serves /metrics/node with its shipped defaults
(-http.maxConnections=512, -http.maxConnectionsPerAddress=256, -http.headerTimeout=10s);
node_exporter /metrics with the same collectors as bench/node.sh and its defaults.
Answered = scrapes answered 200 per round (of 50); times in ms; RSS in MiB (VmRSS before the
flood, peak during it). Held = flood connections still open at the end (most of 550);
reopened = flood connections the server closed and the flood reopened (most of the rounds).
k8smon keeps at most 256 from one address and evicts the oldest idle one for each new
connection, so the flood churns; node_exporter (Go net/http) holds them all.

| server | answered | median scrape | worst scrape | worst unloaded scrape | RSS before | peak RSS | held | reopened |
|---|---|---|---|---|---|---|---|---|
$ROWS

The test (tests/integration/test_http_flood.sh, in make test) asserts the k8smon row's
behaviour: all 50 answered, each within 1 s, peak RSS under 32 MiB.
EOT
)
if [ "${NO_WRITE:-0}" != 1 ]; then
python3 - "$SECTION" <<'PY'
import re, sys, os
sec = sys.argv[1].rstrip() + "\n"
path = "BENCHMARKS.md"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
pat = re.compile(r"^## Connection floods\n.*?(?=^## |\Z)", re.S | re.M)
if pat.search(text):
    text = pat.sub(lambda m: sec + "\n", text, count=1)
else:
    text = text.rstrip() + "\n\n" + sec
open(path, "w").write(text.rstrip() + "\n")
PY
fi
echo "$SECTION"
