#!/bin/sh
# The container collector's CPU per scrape against the kubelet's embedded
# cAdvisor housekeeping CPU, over the same cgroups of a real node
# (tests/peers/cluster.sh: kubelet v1.36.3, containerd, cgroupfs driver).
#
#   sh bench/container_kubelet.sh          (root; the kube peers built)
#
# Starts the cluster, runs PODS pause pods (one container each), lets the
# kubelet settle, then:
#   - kubelet: a CPU profile of PROFILE seconds from its /debug/pprof/profile;
#     housekeeping CPU = the cumulative time under cAdvisor's
#     manager.(*containerData).housekeeping (every container's periodic stats
#     read: cgroup files, /proc, fs usage), per second of wall time, and per
#     nominal sweep of every cgroup (x the kubelet's 10 s housekeeping interval;
#     idle containers stretch to 15 s with dynamic housekeeping, so this is an
#     upper bound for the kubelet);
#   - k8smon: tests/container/driver.c over the node's /proc and /sys with the
#     pods from the API server, as root (fd counts included): CPU = (utime +
#     stime of N+1 scrapes - of 1) / N.
# Prints both and the ratio; the numbers go into BENCHMARKS.md by hand.
set -eu
cd "$(dirname "$0")/.."
. tests/lib/common.sh
PATH=$PATH:/usr/sbin:/sbin:/usr/local/go/bin
PODS=${PODS:-20}
PROFILE=${PROFILE:-60}
N=${N:-200}
[ "$(id -u)" = 0 ] || { echo "bench/container_kubelet.sh needs root" >&2; exit 1; }
eval "$(tests/peers/build.sh --env kubernetes kubernetes-node)"
export KUBERNETES_BIN KUBERNETES_NODE_BIN
command -v go >/dev/null || { echo "go (for go tool pprof) missing" >&2; exit 1; }

TMP=$(mktemp -d /tmp/k8smon-ctr-kbench.XXXXXX)
CPID=""
cleanup() {
	[ -n "$CPID" ] && kill "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
. bench/cflags.sh
# shellcheck disable=SC2086
cc $CF -Itests -o "$TMP/driver" tests/container/driver.c build/libk8smon.a $LD

tests/peers/cluster.sh "$TMP/c" 2>"$TMP/cluster.err" &
CPID=$!
i=0
until [ -f "$TMP/c/ready" ]; do
	[ -f "$TMP/c/failed" ] && { cat "$TMP/c/failed" >&2; exit 1; }
	i=$((i + 1)); [ $i -gt 600 ] && { echo "cluster not ready" >&2; exit 1; }
	sleep 0.5
done
K="$KUBERNETES_BIN/kubectl --kubeconfig $TMP/c/api/admin.kubeconfig"
$K create namespace bench >/dev/null
p=0
while [ $p -lt "$PODS" ]; do
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p%d, namespace: bench}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: "k8smon.local/pause:1", imagePullPolicy: Never}\n---\n' "$p"
	p=$((p + 1))
done >"$TMP/pods.yaml"
$K apply -f "$TMP/pods.yaml" >/dev/null
$K -n bench wait --for condition=Ready --timeout=300s pod --all >/dev/null
sleep 20   # every new container through its first housekeeping

KPORT=$(awk '/^port:/ {print $2}' "$TMP/c/kubelet/config.yaml")
A="$TMP/c/api"
curl -sfk --cert "$A/admin.crt" --key "$A/admin.key" \
	"https://127.0.0.1:$KPORT/debug/pprof/profile?seconds=$PROFILE" -o "$TMP/kubelet.prof"
go tool pprof -top -cum "$TMP/kubelet.prof" 2>/dev/null >"$TMP/pprof.txt"
# "flat flat% sum% cum cum% name": cum of the housekeeping loop, in seconds
hk=$(awk '/cadvisor\/manager\.\(\*containerData\)\.housekeeping$/ {
	v = $4; u = 1
	if (v ~ /ms$/) { u = 0.001; sub(/ms$/, "", v) } else if (v ~ /us$/) { u = 1e-6; sub(/us$/, "", v) } else sub(/s$/, "", v)
	print v * u; exit }' "$TMP/pprof.txt")
[ -n "$hk" ] || { echo "no cAdvisor housekeeping frame in the kubelet profile" >&2; head -30 "$TMP/pprof.txt" >&2; exit 1; }
total=$(awk '/^Duration:/ { for (i = 1; i <= NF; i++) if ($i == "Total" && $(i+1) == "samples") { print $(i+3); exit } }' "$TMP/pprof.txt")

$K get pods -A -o json >"$TMP/pods.json"
run() { # <scrapes>: cpu seconds of one driver process
	python3 - "$TMP" "$1" <<'PY'
import os, sys
root, n = sys.argv[1], sys.argv[2]
pid = os.fork()
if pid == 0:
    fd = os.open(os.path.join(root, "out.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.execv(os.path.join(root, "driver"), ["driver", "/proc", "/sys", os.path.join(root, "pods.json"), n])
_, status, ru = os.wait4(pid, 0)
assert status == 0, status
print("%.4f" % (ru.ru_utime + ru.ru_stime))
PY
}
c1=$(run 1)
cn=$(run $((N + 1)))
rows=$(grep '^container_last_seen{' "$TMP/out.txt" | grep -c 'id="/kubepods')
python3 - "$hk" "$PROFILE" "$c1" "$cn" "$N" "$rows" "$PODS" "${total:-?}" <<'PY'
import sys
hk, prof, c1, cn, n, rows, pods, total = sys.argv[1:]
hk, prof, c1, cn, n = float(hk), float(prof), float(c1), float(cn), int(n)
per_s = hk / prof
sweep = per_s * 10
ours = (cn - c1) / n
print(f"cgroups under /kubepods: {rows} ({pods} pause pods)")
print(f"kubelet cAdvisor housekeeping: {hk:.3f} s CPU in {prof:.0f} s (profile total {total})"
      f" = {per_s * 1e3:.2f} ms/s; per 10 s sweep {sweep * 1e3:.1f} ms")
print(f"k8smon container collector: {ours * 1e3:.2f} ms CPU per scrape ({n} scrapes)")
print(f"ratio per scrape / per housekeeping sweep: {ours / sweep:.3f}")
print(f"CPU per minute at a 30 s scrape interval: k8smon {ours * 2 * 1e3:.1f} ms, cAdvisor {per_s * 60 * 1e3:.1f} ms, ratio {ours * 2 / (per_s * 60):.3f}")
PY
