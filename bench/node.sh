#!/bin/sh
# Node collector benchmark: CPU seconds per 1000 scrapes and peak RSS (VmHWM)
# of k8smon /metrics/node vs Debian's node-exporter limited to the same
# collectors, in the same run. Writes the "## Node collector" section of
# BENCHMARKS.md (other sections are left alone).
set -eu
cd "$(dirname "$0")/.."
N=${N:-1000}
NE=/usr/bin/prometheus-node-exporter
[ -x "$NE" ] && [ -x bin/k8smon ] || { echo "need $NE and bin/k8smon"; exit 1; }
COLLECTORS="cpu meminfo loadavg filesystem netdev netclass diskstats stat vmstat pressure filefd uname time timex os netstat conntrack"
NEARGS="--collector.disable-defaults"
for c in $COLLECTORS; do NEARGS="$NEARGS --collector.$c"; done
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KP=$(port); NP=$(port)
./bin/k8smon -httpListenAddr=127.0.0.1:$KP >/dev/null 2>&1 &
KPID=$!
# shellcheck disable=SC2086
"$NE" --web.listen-address=127.0.0.1:$NP $NEARGS >/dev/null 2>&1 &
NPID=$!
trap 'kill $KPID $NPID 2>/dev/null' EXIT
sleep 1
python3 - "$N" "$KPID" "$KP" /metrics/node "$NPID" "$NP" /metrics <<'PY' >/tmp/k8smon-bench-node.$$
import http.client, sys, os
n = int(sys.argv[1])
hz = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / hz
def hwm(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmHWM:"):
            return int(l.split()[1])
res = {}
for name, pid, port, path in (("k8smon", sys.argv[2], sys.argv[3], sys.argv[4]),
                              ("node-exporter", sys.argv[5], sys.argv[6], sys.argv[7])):
    c = http.client.HTTPConnection("127.0.0.1", int(port))
    for _ in range(5):  # warm-up
        c.request("GET", path); c.getresponse().read()
    t0 = cpu(pid)
    size = 0
    for _ in range(n):
        c.request("GET", path)
        size = len(c.getresponse().read())
    res[name] = ((cpu(pid) - t0) * 1000 / n, hwm(pid), size)
k, e = res["k8smon"], res["node-exporter"]
print(f"| k8smon /metrics/node | {k[0]:.2f} | {k[1]/1024:.1f} | {k[2]} |")
print(f"| node-exporter 1.5.0 (same collectors) | {e[0]:.2f} | {e[1]/1024:.1f} | {e[2]} |")
print(f"| ratio k8smon / node-exporter | {k[0]/e[0]:.3f} | {k[1]/e[1]:.3f} | |")
PY
ROWS=$(cat /tmp/k8smon-bench-node.$$); rm -f /tmp/k8smon-bench-node.$$
SECTION=$(cat <<EOT
## Node collector

\`bench/node.sh\` ($(date -u +%Y-%m-%d), $(nproc) CPUs, N=$N scrapes each over one keep-alive
connection, same run). CPU = utime+stime of the server process; peak RSS = VmHWM.
node-exporter runs with \`--collector.disable-defaults\` plus: $COLLECTORS.

| server | CPU s / 1000 scrapes | peak RSS MiB | body bytes |
|---|---|---|---|
$ROWS
EOT
)
python3 - "$SECTION" <<'PY'
import re, sys, os
sec = sys.argv[1].rstrip() + "\n"
path = "BENCHMARKS.md"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
pat = re.compile(r"^## Node collector\n.*?(?=^## |\Z)", re.S | re.M)
if pat.search(text):
    text = pat.sub(lambda m: sec + "\n", text, count=1)
else:
    text = text.rstrip() + "\n\n" + sec
open(path, "w").write(text.rstrip() + "\n")
PY
echo "$SECTION"
