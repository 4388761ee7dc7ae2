#!/bin/sh
# kube-state collector benchmark: a synthetic cluster (default 5,000 nodes,
# 100,000 pods, 10,000 deployments, 20,000 replicasets, 200 namespaces) served
# by a static list/watch server (bench/kube_state_api.py), k8smon in
# Kubernetes mode with only the kube-state collector and no leader election.
# Measures: time until the store holds every object, time to the first
# complete /metrics/kube-state, RSS (VmRSS, VmHWM) after sync, wall time and
# CPU per full scrape (average of SCRAPES), bytes per scrape, store bytes per
# object (k8smon_kube_state_store_bytes). Prints the figures; BENCHMARKS.md's
# "## kube-state collector" section is written from them by hand.
#   NODES=5000 PODS=100000 SCRAPES=5 [K8SMON=bin/k8smon] bench/kube_state.sh
set -eu
cd "$(dirname "$0")/.."
NODES=${NODES:-5000}
PODS=${PODS:-100000}
SCRAPES=${SCRAPES:-5}
DIR=${BENCH_DIR:-/tmp/k8smon-bench-ks}
mkdir -p "$DIR"
BIN=${K8SMON:-bin/k8smon}
[ -x "$BIN" ] || { echo "need $BIN (make)"; exit 1; }
CL="$DIR/cluster-$NODES-$PODS.jsonl"
[ -s "$CL" ] || python3 bench/kube_state_gen.py "$CL" --nodes "$NODES" --pods "$PODS"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
AP=$(port)
KP=$(port)
python3 bench/kube_state_api.py "$CL" "$AP" >"$DIR/api.out" 2>"$DIR/api.err" &
APID=$!
KPID=""
trap 'kill $APID $KPID 2>/dev/null || true' EXIT
i=0
until grep -q READY "$DIR/api.out" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 1200 ] || { cat "$DIR/api.err"; exit 1; }
	sleep 0.1
done
cat >"$DIR/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: bench, cluster: {server: "http://127.0.0.1:$AP"}}]
users: [{name: bench, user: {token: bench}}]
contexts: [{name: bench, context: {cluster: bench, user: bench}}]
current-context: bench
KC
"$BIN" -promscrape.kubernetes -kubeconfig="$DIR/kubeconfig" -nodeName=bench-node \
	-leaderElection=false -promscrape.kubernetes.collectors=kube-state \
	-httpListenAddr=127.0.0.1:$KP >"$DIR/k8smon.log" 2>&1 &
KPID=$!
python3 - "$KPID" "$KP" "$NODES" "$PODS" "$SCRAPES" "$CL" <<'PY'
import http.client, json, os, re, sys, time
pid, port, nodes, pods, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
t_start = time.time()
hz = os.sysconf("SC_CLK_TCK")
def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / hz
def status(key):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith(key + ":"):
            return int(l.split()[1]) * 1024
status_codes = []
def get(path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("GET", path)
    r = c.getresponse()
    status_codes.append(r.status)
    return r.read()
want = {}
with open(sys.argv[6], "rb") as f:
    for line in f:
        k = line[:line.index(b"\t")].decode().split("/")[-1]
        want[k] = want.get(k, 0) + 1
# 1. store synced: every object counted by k8smon_kube_state_store_objects
while True:
    try:
        body = get("/metrics/self").decode()
        have = dict(re.findall(r'^k8smon_kube_state_store_objects\{resource="(\w+)"\} (\d+)', body, re.M))
        if all(int(have.get(r, 0)) >= c for r, c in want.items()):
            break
    except (ConnectionError, OSError):
        pass
    if time.time() - t_start > 1800:
        sys.exit("no sync after 30 min")
    time.sleep(0.2)
t_sync = time.time() - t_start
cpu_sync = cpu()
store = float(re.search(r'^k8smon_kube_state_store_bytes (\S+)', body, re.M).group(1))
nobj = sum(int(v) for v in have.values())
# 2. first complete scrape (every pod's kube_pod_info in it)
while True:
    b = get("/metrics/kube-state")
    if b.count(b"\nkube_pod_info{") >= pods:
        break
    if status_codes[-1] != 200:
        print(f"/metrics/kube-state answers HTTP {status_codes[-1]}: {b[:200]!r}")
        print(f"RSS after sync           VmRSS {status('VmRSS') / 2**20:.0f} MiB, VmHWM {status('VmHWM') / 2**20:.0f} MiB")
        print(f"store bytes              {store / 2**20:.1f} MiB = {store / nobj:.0f} B/object, synced after {t_sync:.1f} s (CPU {cpu_sync:.1f} s)")
        sys.exit(1)
    time.sleep(0.5)
t_first = time.time() - t_start
rss, hwm = status("VmRSS"), status("VmHWM")
# 3. full scrapes
walls, cpus, sizes = [], [], []
for _ in range(n):
    c0, w0 = cpu(), time.time()
    b = get("/metrics/kube-state")
    walls.append(time.time() - w0); cpus.append(cpu() - c0); sizes.append(len(b))
series = sum(1 for l in b.split(b"\n") if l and not l.startswith(b"#"))
rss2, hwm2 = status("VmRSS"), status("VmHWM")
# 4. gzip scrape
c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
c0, w0 = cpu(), time.time()
c.request("GET", "/metrics/kube-state", headers={"Accept-Encoding": "gzip"})
gz = c.getresponse().read()
gz_wall, gz_cpu = time.time() - w0, cpu() - c0
M = 1024 * 1024
avg = lambda v: sum(v) / len(v)
print(f"objects                  {nobj} ({', '.join(f'{k}={v}' for k, v in sorted(have.items()) if int(v))})")
print(f"store synced after       {t_sync:.1f} s (CPU {cpu_sync:.1f} s)")
print(f"first complete scrape    {t_first:.1f} s after start")
print(f"RSS after sync           VmRSS {rss / M:.0f} MiB, VmHWM {hwm / M:.0f} MiB")
print(f"RSS after {n} scrapes      VmRSS {rss2 / M:.0f} MiB, VmHWM {hwm2 / M:.0f} MiB")
print(f"store bytes              {store / M:.1f} MiB = {store / nobj:.0f} B/object")
print(f"scrape wall (avg of {n})   {avg(walls):.3f} s (min {min(walls):.3f}, max {max(walls):.3f})")
print(f"scrape CPU (avg of {n})    {avg(cpus):.3f} s")
print(f"scrape size              {avg(sizes) / M:.1f} MiB, {series} series, {avg(sizes) / nobj:.0f} B/object")
print(f"gzip scrape              {len(gz) / M:.1f} MiB, wall {gz_wall:.3f} s, CPU {gz_cpu:.3f} s")
PY
