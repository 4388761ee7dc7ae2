#!/bin/sh
# Cost of the component jobs (issue 19) against vmagent doing kube-prometheus's
# component monitoring on the same node. One run, both sides at once, same
# endpoints:
#   - tests/fakecomp serves the recorded kubelet (/metrics, /metrics/cadvisor,
#     /metrics/probes, /metrics/resource), kube-apiserver, kube-scheduler,
#     kube-controller-manager, kube-proxy, CoreDNS and etcd (bearer token checked by
#     TokenReview/SubjectAccessReview against the fake API server, etcd client
#     certificate), set up by tests/lib/comp_env.sh as the tests do;
#   - k8smon: every component job (-components.kubelet.cadvisor so that it scrapes
#     the same four kubelet paths), collectors reduced to app (no rules: idle), its
#     /metrics/components read once per INTERVAL with gzip (delivery counted);
#   - vmagent v1.151.0: a static config with the same targets, labels, intervals,
#     bearer token file, CA, etcd client certificate and, as metric_relabel_configs,
#     the agent's own drop lists (bench/components_vmagent.py reads drops.c),
#     remote-writing to a null sink.
# After WARMUP seconds, CPU seconds (utime+stime of /proc/PID/stat) over DURATION
# seconds, RSS sampled every second (mean = steady, max = peak) and VmHWM.
# Prints figures and k8smon/vmagent ratios; BENCHMARKS.md's "Component jobs vs
# vmagent" section is written from them by hand.
# K8SMON_FLAGS adds agent flags (K8SMON_FLAGS=-components= : the agent's cost
# without any component job, the base the jobs add to).
#   INTERVAL=30 DURATION=240 WARMUP=60 [K8SMON_FLAGS=...] [VMAGENT=...] bench/components.sh
set -eu
cd "$(dirname "$0")/.."
INTERVAL=${INTERVAL:-30}
DURATION=${DURATION:-240}
WARMUP=${WARMUP:-60}
DIR=${BENCH_DIR:-/tmp/k8smon-bench-comp}
VER=$(awk '$1 == "victoria-metrics" { print $2 }' tests/peers/versions)
VMAGENT=${VMAGENT:-$HOME/.cache/k8smon-peers/victoria-metrics-${VER:-v1.151.0}/bin/vmagent}
[ -x bin/k8smon ] || { echo "need bin/k8smon (make)"; exit 1; }
[ -x "$VMAGENT" ] || { echo "need vmagent at $VMAGENT (tests/peers/build.sh)"; exit 1; }
rm -rf "$DIR"; mkdir -p "$DIR"
. tests/lib/common.sh
. tests/lib/fakeapi.sh
. tests/lib/comp_env.sh
VMPID="" SINKPID="" READPID=""
cleanup() {
	for p in $VMPID $SINKPID $READPID; do kill "$p" 2>/dev/null || true; done
	comp_stop
}
trap cleanup EXIT INT TERM
comp_start "$DIR" -promscrape.kubernetes.interval=${INTERVAL}s -promscrape.kubernetes.collectors=app \
	-components.kubelet.cadvisor -loggerLevel=INFO ${K8SMON_FLAGS:-}
# Null remote-write sink: reads and counts each request, answers 204.
SINKPORT=$(free_port)
python3 - "$SINKPORT" "$DIR/sink.count" <<'PY' >"$DIR/sink.log" 2>&1 &
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
n = [0, 0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n[0] += 1; n[1] += len(body)
        open(out, "w").write(f"{n[0]} {n[1]}\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
SINKPID=$!
python3 bench/components_vmagent.py "$DIR/vmagent.yml" --fc-json "$FC_JSON" --interval "${INTERVAL}s" \
	--token "$DIR/sa/token" --ca "$DIR/fc/ca.crt" --etcd-cert "$DIR/fc/etcd-client.crt" \
	--etcd-key "$DIR/fc/etcd-client.key"
VMPORT=$(free_port)
"$VMAGENT" -promscrape.config="$DIR/vmagent.yml" -remoteWrite.url="http://127.0.0.1:$SINKPORT/api/v1/write" \
	-remoteWrite.tmpDataPath="$DIR/vmagent-data" -httpListenAddr=127.0.0.1:$VMPORT \
	-loggerLevel=ERROR >"$DIR/vmagent.log" 2>&1 &
VMPID=$!
wait_http "http://127.0.0.1:$VMPORT/health" || { echo "vmagent did not start:"; tail "$DIR/vmagent.log"; exit 1; }
# Whoever consumes the agent's series reads them once per interval, gzipped.
python3 - "$U/metrics/components" "$INTERVAL" "$DIR/read.count" <<'PY' >"$DIR/read.log" 2>&1 &
import gzip, sys, time, urllib.request
url, iv, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
n = [0, 0, 0]
while True:
    t = time.time()
    try:
        r = urllib.request.urlopen(urllib.request.Request(url, headers={"Accept-Encoding": "gzip"}), timeout=60)
        gz = r.read()
        body = gzip.decompress(gz) if r.headers.get("Content-Encoding") == "gzip" else gz
        n[0] += 1; n[1] += len(gz)
        n[2] = sum(1 for l in body.split(b"\n") if l and not l.startswith(b"#"))
        open(out, "w").write(f"{n[0]} {n[1]} {n[2]}\n")
    except OSError as e:
        print(e, flush=True)
    time.sleep(max(0.0, iv - (time.time() - t)))
PY
READPID=$!
echo "k8smon pid $AGENT_PID, vmagent pid $VMPID; warm-up ${WARMUP}s, window ${DURATION}s, interval ${INTERVAL}s"
python3 - "$AGENT_PID" "$VMPID" "$WARMUP" "$DURATION" "$U" "http://127.0.0.1:$VMPORT" "$DIR" <<'PY'
import json, os, re, sys, time, urllib.request
kpid, vpid, warm, dur, ku, vu, d = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
hz = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / hz
def status(pid, key):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith(key + ":"):
            return int(l.split()[1]) * 1024
def get(url):
    return urllib.request.urlopen(url, timeout=60).read().decode()
def counts(name):
    try:
        return [int(x) for x in open(f"{d}/{name}").read().split()]
    except OSError:
        return [0, 0, 0]
time.sleep(warm)
c0 = {p: cpu(p) for p in (kpid, vpid)}
s0, r0 = counts("sink.count"), counts("read.count")
t0 = time.time()
rss = {kpid: [], vpid: []}
while time.time() - t0 < dur:
    for p in rss:
        rss[p].append(status(p, "VmRSS"))
    time.sleep(1)
el = time.time() - t0
c1 = {p: cpu(p) for p in (kpid, vpid)}
s1, r1 = counts("sink.count"), counts("read.count")
# Both sides scrape the same targets: up and post-relabel samples per job.
body = get(ku + "/metrics/components")
kf = {"up": {}, "scrape_samples_scraped": {}, "scrape_samples_post_metric_relabeling": {}}
for m in re.finditer(r'^(\w+)\{([^}]*)\} (\S+)', body, re.M):
    if m.group(1) in kf:
        lab = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        kf[m.group(1)][lab.get("job", "?") + lab.get("metrics_path", "")] = int(float(m.group(3)))
kup, kscr, ksamp = kf["up"], kf["scrape_samples_scraped"], kf["scrape_samples_post_metric_relabeling"]
tg = json.loads(get(vu + "/api/v1/targets"))["data"]["activeTargets"]
vup = {t["labels"]["job"] + t["labels"].get("metrics_path", ""): t["health"] for t in tg}
vsamp = {}
for t in tg:
    key = t["labels"]["job"] + t["labels"].get("metrics_path", "")
    v = t.get("lastSamplesScraped")
    if v is not None:
        vsamp[key] = v
M = 2 ** 20
# vmagent's target list has the samples before metric_relabel_configs only.
print(f"{'target':26} {'k8smon up':>9} {'scraped':>8} {'kept':>8} {'vmagent':>8} {'scraped':>8}")
for k in sorted(set(kup) | set(vup)):
    print(f"{k:26} {kup.get(k, '-'):>9} {kscr.get(k, '-'):>8} {ksamp.get(k, '-'):>8} {vup.get(k, '-'):>8} {vsamp.get(k, '-'):>8}")
print(f"window {el:.0f} s; k8smon /metrics/components reads {r1[0] - r0[0]} ({(r1[1] - r0[1]) / M:.2f} MiB gzip, "
      f"{r1[2]} series per read); vmagent remote-write requests {s1[0] - s0[0]} ({(s1[1] - s0[1]) / M:.2f} MiB)")
row = {}
for name, p in (("k8smon", kpid), ("vmagent", vpid)):
    c = c1[p] - c0[p]
    row[name] = (c, sum(rss[p]) / len(rss[p]), max(rss[p]), status(p, "VmHWM"))
    print(f"{name:8} CPU {c:7.2f} s ({100 * c / el:5.2f}% of a core)  RSS mean {row[name][1] / M:6.1f} MiB"
          f"  max {row[name][2] / M:6.1f} MiB  VmHWM {row[name][3] / M:6.1f} MiB")
# What delivery costs the agent: CPU per gzip read of /metrics/components (after
# the window, so that it is not counted twice), and the size of the body.
reads = 3
g0 = cpu(kpid)
for _ in range(reads):
    r = urllib.request.urlopen(urllib.request.Request(ku + "/metrics/components",
                                                      headers={"Accept-Encoding": "gzip"}), timeout=60)
    gz = r.read()
gcpu = (cpu(kpid) - g0) / reads
print(f"k8smon gzip read of /metrics/components: CPU {gcpu:.3f} s, {len(gz) / 1024:.0f} KiB gzip, "
      f"{len(body) / 1024:.0f} KiB plain")
k, v = row["k8smon"], row["vmagent"]
print(f"ratio k8smon/vmagent: CPU {k[0] / v[0]:.2f}, RSS mean {k[1] / v[1]:.2f}, RSS max {k[2] / v[2]:.2f}, VmHWM {k[3] / v[3]:.2f}")
PY
