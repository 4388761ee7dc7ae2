#!/bin/sh
# Real-kernel test of the container collector: builds a kubelet-shaped cgroup
# tree (cgroupfs driver, containerd IDs) in a temporary subtree of this
# machine's cgroup hierarchy (v1/hybrid or v2), moves a CPU burner, a memory
# hog and a sandbox process into it, scrapes it through a small driver linked
# against build/libk8smon.a with a pod map from pod JSON, and checks
#   - container_cpu_usage_seconds_total grows by the CPU the burner used
#     (utime+stime from /proc/<pid>/stat), within 10 %;
#   - memory usage / working set / rss of the hog reflect what it allocated;
#   - the hog's processes, fds and sockets (three socket pairs it holds) are what
#     /proc/<pid>/fd shows, its nofile soft limit (777, set by itself) is
#     container_ulimits_soft, its pgfault and kernel memory are its cgroup files,
#     its memory spec (reservation, swap limit) what the test wrote, a pod
#     row counts no process of its own, machine_cpu_cores/memory_bytes are /proc's;
#   - labels come from the pod map and the sandbox row carries the network of its own
#     network namespace (another user's process), read as root and again as user 65534
#     with every capability dropped (what the Helm chart runs).
# Needs root and a writable cgroup hierarchy; otherwise SKIP with exit 77
# (tests/lib/skip.sh: not allowed in CI, where it runs as root).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/skip.sh

skip() { skip_test container_cgroups "$*"; }
fail() { echo "FAIL: test_container_cgroups: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "not root"
[ -d /sys/fs/cgroup ] || skip "no /sys/fs/cgroup"
command -v python3 >/dev/null || skip "python3 missing"

# K8SMON_LIB: the library under test (make mutate sets it).
LIB=${K8SMON_LIB:-build/libk8smon.a}
make -s "$LIB" >/dev/null || fail "$LIB does not build"

TMP=$(mktemp -d /tmp/k8smon-ctr-it.XXXXXX)
T=k8smon-it-$$
UID1=7d0c1f2e-5a4b-4c3d-9e8f-0123456789ab
SB=$(printf 'a%.0s' $(seq 64))
BURN=$(printf 'b%.0s' $(seq 64))
HOG=$(printf 'c%.0s' $(seq 64))
POD=kubepods/burstable/pod$UID1
PIDS=""
ROOTS=""

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do
		while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
	done
	for r in $ROOTS; do
		[ -d "$r" ] && find "$r" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# Flags exactly as the Makefile has them (printed by make itself).
FLAGS=$(printf 'k8smon-print-flags:\n\t@echo "$(CFLAGS)"; echo "$(LIBK8SMON_LIBS)"\n' |
	make -s -f Makefile -f - k8smon-print-flags) || fail "cannot read Makefile flags"
CF=$(echo "$FLAGS" | sed -n 1p | sed "s/-DK8SMON_VERSION=[^ ]*//")
LD=$(echo "$FLAGS" | sed -n 2p)
# shellcheck disable=SC2086
cc $CF -Itests -o "$TMP/driver" tests/container/driver.c "$LIB" $LD ||
	fail "driver does not build"

mkdir -p "$TMP/sys/fs/cgroup"
ln -s /sys/dev "$TMP/sys/dev"
CG=/sys/fs/cgroup
if [ -f $CG/cgroup.controllers ]; then
	MODE=v2
	mkdir "$CG/$T" 2>/dev/null || skip "cannot create cgroups under $CG"
	ROOTS="$CG/$T"
	for d in "$CG" "$CG/$T" "$CG/$T/kubepods" "$CG/$T/kubepods/burstable" "$CG/$T/$POD"; do
		mkdir -p "$d"
		[ "$d" = "$CG/$T/$POD" ] && break
		for c in cpu memory io pids; do
			echo "+$c" > "$d/cgroup.subtree_control" 2>/dev/null
		done
	done
	rmdir "$TMP/sys/fs/cgroup"
	ln -s "$CG/$T" "$TMP/sys/fs/cgroup"
	CTRLS=.
else
	MODE=v1
	CTRLS=""
	for c in cpu cpuacct "cpu,cpuacct" memory blkio pids; do
		[ -d "$CG/$c" ] && [ ! -L "$CG/$c" ] && CTRLS="$CTRLS $c"
	done
	[ -n "$CTRLS" ] || skip "no v1 controllers"
	for c in $CTRLS; do
		mkdir "$CG/$c/$T" 2>/dev/null || skip "cannot create cgroups under $CG/$c"
		ROOTS="$ROOTS $CG/$c/$T"
		ln -s "$CG/$c/$T" "$TMP/sys/fs/cgroup/$c"
	done
	if [ -f $CG/unified/cgroup.controllers ]; then
		MODE=hybrid
		ln -s $CG/unified "$TMP/sys/fs/cgroup/unified"
	fi
fi
for c in $CTRLS; do
	base=$CG/$c/$T
	[ "$c" = . ] && base=$CG/$T
	for id in $SB $BURN $HOG; do
		mkdir -p "$base/$POD/$id" || fail "mkdir $base/$POD/$id"
	done
	[ -f "$base/$POD/$HOG/memory.limit_in_bytes" ] && echo 1073741824 > "$base/$POD/$HOG/memory.limit_in_bytes"
	[ -f "$base/$POD/$HOG/memory.max" ] && echo 1073741824 > "$base/$POD/$HOG/memory.max"
	# memory spec: cAdvisor's reservation (v1 soft limit, v2 memory.min) and swap limit
	[ -f "$base/$POD/$HOG/memory.soft_limit_in_bytes" ] && echo 268435456 > "$base/$POD/$HOG/memory.soft_limit_in_bytes"
	[ -f "$base/$POD/$HOG/memory.min" ] && echo 67108864 > "$base/$POD/$HOG/memory.min"
	[ -f "$base/$POD/$HOG/memory.memsw.limit_in_bytes" ] && echo 2147483648 > "$base/$POD/$HOG/memory.memsw.limit_in_bytes"
	[ -f "$base/$POD/$HOG/memory.swap.max" ] && echo 2147483648 > "$base/$POD/$HOG/memory.swap.max"
	[ -f "$base/$POD/$BURN/cpu.cfs_quota_us" ] && echo 200000 > "$base/$POD/$BURN/cpu.cfs_quota_us"
done

# procs_files <id>: every cgroup.procs of that container cgroup.
procs_files() {
	for c in $CTRLS; do
		if [ "$c" = . ]; then echo "$CG/$T/$POD/$1/cgroup.procs"; else echo "$CG/$c/$T/$POD/$1/cgroup.procs"; fi
	done
}

# Each process enters its cgroups itself before doing its work. The sandbox, like a
# pod's pause process, gets its own network namespace (with an eth0) and another user
# when the kernel allows it here (unshare, veth): then the collector must read its
# network counters, also without root and without any capability.
NETNS=0
if command -v unshare >/dev/null && command -v setpriv >/dev/null && command -v ip >/dev/null &&
	unshare -n ip link add eth0 type veth peer name eth1 2>/dev/null; then
	NETNS=1
	PF=$(procs_files $SB | tr '\n' ' ') sh -c 'for f in $PF; do echo $$ > $f; done
		exec unshare -n sh -c "ip link add eth0 type veth peer name eth1 && ip link set eth0 up &&
			exec setpriv --reuid=4321 --regid=4321 --clear-groups sleep 300"' &
else
	PF=$(procs_files $SB | tr '\n' ' ') sh -c 'for f in $PF; do echo $$ > $f; done; exec sleep 300' &
fi
PIDS="$PIDS $!"
PF=$(procs_files $BURN | tr '\n' ' ') sh -c 'for f in $PF; do echo $$ > $f; done; exec sh -c "while :; do :; done"' &
BURN_PID=$!
PIDS="$PIDS $BURN_PID"
PF=$(procs_files $HOG | tr '\n' ' ') READY="$TMP/hog.ready" CACHEFILE="$TMP/hog.cache" python3 -c '
import os, resource, socket, time
for f in os.environ["PF"].split():
    open(f, "w").write(str(os.getpid()))
# what container_ulimits_soft and container_sockets must see: a soft nofile
# limit of 777 and three socket pairs (6 sockets) held open
resource.setrlimit(resource.RLIMIT_NOFILE, (777, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
socks = [socket.socketpair() for _ in range(3)]
b = b"x" * (128 << 20)
# 32 MiB of page cache charged to this cgroup (written, synced, read back):
# inactive file pages, which the working set must not count.
with open(os.environ["CACHEFILE"], "wb") as f:
    for _ in range(32):
        f.write(b"y" * (1 << 20))
    f.flush()
    os.fsync(f.fileno())
with open(os.environ["CACHEFILE"], "rb") as f:
    while f.read(1 << 20):
        pass
open(os.environ["READY"], "w").write("1")
time.sleep(300)
' &
HOG_PID=$!
PIDS="$PIDS $HOG_PID"
sleep 1.5
# On a loaded machine the allocation can take seconds: wait for the hog to
# say it holds its 128 MiB before any memory is compared.
i=0; while [ ! -e "$TMP/hog.ready" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$TMP/hog.ready" ] || fail "memory hog did not allocate within 30 s"
grep -q "^$BURN_PID\$" "$(procs_files $BURN | head -1)" || fail "burner not in its cgroup"

cat > "$TMP/pod.json" <<JSON
{"metadata":{"uid":"$UID1","namespace":"it","name":"cg-test"},
 "status":{"containerStatuses":[
  {"name":"burner","containerID":"containerd://$BURN","image":"docker.io/library/busybox:1.36","restartCount":0},
  {"name":"hog","containerID":"containerd://$HOG","image":"docker.io/library/python:3","restartCount":0}]}}
JSON

TCK=$(getconf CLK_TCK)
cputime() { awk -v t="$TCK" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }
# value <file> <metric> <container>
value() {
	grep "^$2{container=\"$3\"" "$1" | head -1 | awk '{ print $2 }'
}

c1=$(cputime $BURN_PID)
"$TMP/driver" /proc "$TMP/sys" "$TMP/pod.json" > "$TMP/out1" || fail "driver failed"
sleep 3
c2=$(cputime $BURN_PID)
"$TMP/driver" /proc "$TMP/sys" "$TMP/pod.json" > "$TMP/out2" || fail "driver failed"

u1=$(value "$TMP/out1" container_cpu_usage_seconds_total burner)
u2=$(value "$TMP/out2" container_cpu_usage_seconds_total burner)
[ -n "$u1" ] && [ -n "$u2" ] || fail "no container_cpu_usage_seconds_total for burner ($MODE)"
python3 - "$u1" "$u2" "$c1" "$c2" <<'PY' || fail "cpu mismatch"
import sys
u1, u2, c1, c2 = map(float, sys.argv[1:])
du, dc = u2 - u1, c2 - c1
print("cpu: collector %.3f s, /proc/<pid>/stat %.3f s" % (du, dc))
sys.exit(0 if dc > 0.5 and abs(du - dc) <= 0.10 * dc else 1)
PY

# The working set as cAdvisor defines it, computed here from the hog's own
# cgroup files right after the scrape: usage minus inactive file pages
# (v1: memory.usage_in_bytes - total_inactive_file; v2: memory.current -
# inactive_file).
if [ $MODE = v2 ]; then
	MEMCG=$CG/$T/$POD/$HOG
	cg_usage=$(cat "$MEMCG/memory.current")
	cg_inact=$(awk '$1 == "inactive_file" { print $2 }' "$MEMCG/memory.stat")
else
	MEMCG=$CG/memory/$T/$POD/$HOG
	cg_usage=$(cat "$MEMCG/memory.usage_in_bytes")
	cg_inact=$(awk '$1 == "total_inactive_file" { print $2 }' "$MEMCG/memory.stat")
fi
mu=$(value "$TMP/out2" container_memory_usage_bytes hog)
ws=$(value "$TMP/out2" container_memory_working_set_bytes hog)
rss=$(value "$TMP/out2" container_memory_rss hog)
lim=$(value "$TMP/out2" container_spec_memory_limit_bytes hog)
vmrss=$(awk '/^RssAnon:/ { print $2 * 1024 }' /proc/$HOG_PID/status)
python3 - "$mu" "$ws" "$rss" "$lim" "$vmrss" "$cg_usage" "$cg_inact" <<'PY' || fail "memory mismatch"
import sys
mu, ws, rss, lim, vmrss, cg_usage, cg_inact = map(float, sys.argv[1:])
want = 128 << 20
print("memory: usage %d working_set %d rss %d limit %d RssAnon %d; cgroup files: usage %d inactive_file %d"
      % (mu, ws, rss, lim, vmrss, cg_usage, cg_inact))
# The hog is idle: its counters move by a few pages at most between the
# scrape and the reads above.
slack = max(2 << 20, 0.02 * cg_usage)
want_ws = cg_usage - cg_inact
checks = [
    ("usage holds the 128 MiB and the 32 MiB of cache", want + (32 << 20) * 0.5 <= mu <= want + (32 << 20) + (64 << 20)),
    ("usage = the cgroup's usage file", abs(mu - cg_usage) <= slack),
    ("the page cache is inactive file pages (the check below means something)", cg_inact >= 16 << 20),
    ("working set = usage - inactive file (%d expected)" % want_ws, abs(ws - want_ws) <= slack),
    ("rss", want <= rss <= mu and abs(rss - vmrss) <= 0.10 * vmrss),
    ("limit", lim == 1 << 30),
]
bad = [name for name, ok in checks if not ok]
for name in bad:
    print("memory check failed:", name)
sys.exit(1 if bad else 0)
PY

grep -q "container_cpu_cfs_periods_total{container=\"burner\"" "$TMP/out2" || fail "no cfs series for the quota'd burner"
grep -q "container_spec_cpu_quota{container=\"burner\".*} 200000" "$TMP/out2" || fail "spec quota"
grep -q "container_cpu_usage_seconds_total{container=\"burner\",cpu=\"total\",id=\"/$POD/$BURN\",image=\"docker.io/library/busybox:1.36\",name=\"$BURN\",namespace=\"it\",pod=\"cg-test\"}" "$TMP/out2" ||
	fail "burner labels"
grep -q "container_memory_usage_bytes{container=\"\",id=\"/$POD\",image=\"\",name=\"\",namespace=\"it\",pod=\"cg-test\"}" "$TMP/out2" ||
	fail "pod row"
grep -q "container_network_receive_bytes_total{container=\"\",id=\"/$POD/$SB\"" "$TMP/out2" ||
	grep -q "^container_last_seen{container=\"\",id=\"/$POD/$SB\"" "$TMP/out2" || fail "sandbox row"
if grep "container_network_" "$TMP/out2" | grep -q "container=\"burner\""; then
	fail "network on an app container"
fi
grep -q "^container_scrape_error 0" "$TMP/out2" || fail "scrape error"
if [ $NETNS = 1 ]; then
	# sandbox: own network namespace, uid 4321 (like a pod's pause process)
	SBNET="container_network_receive_bytes_total{container=\"\",id=\"/$POD/$SB\",image=\"\",interface=\"eth0\",name=\"$SB\",namespace=\"it\",pod=\"cg-test\"}"
	grep -qF "$SBNET" "$TMP/out2" || fail "no eth0 counters of the sandbox's network namespace (root)"
	# The chart runs the agent as user 65534 with every capability dropped: the same
	# scrape, by an unprivileged user, must still read the sandbox's /proc/<pid>/net/dev
	# and the cgroup files (nothing the collector reads needs root or CAP_SYS_PTRACE,
	# except other users' /proc/<pid>/fd for the fd and socket counts).
	chmod 755 "$TMP"
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs \
		"$TMP/driver" /proc "$TMP/sys" "$TMP/pod.json" > "$TMP/out3" || fail "driver failed as user 65534"
	grep -qF "$SBNET" "$TMP/out3" || fail "user 65534 without capabilities: no eth0 counters of the sandbox"
	for m in container_cpu_usage_seconds_total container_memory_working_set_bytes container_spec_memory_limit_bytes; do
		[ "$(grep -c "^$m{" "$TMP/out2")" = "$(grep -c "^$m{" "$TMP/out3")" ] ||
			fail "user 65534 without capabilities: $m series differ from root's"
	done
	grep -q "^container_scrape_error 0" "$TMP/out3" || fail "scrape error as user 65534"
	# root's hog: its fd table is not listable without CAP_SYS_PTRACE -> 0, as cAdvisor
	grep -q "^container_file_descriptors{container=\"hog\".*} 0 " "$TMP/out3" ||
		fail "user 65534: the hog's fds should count 0 (kernel refuses the listing)"
	echo "ok: sandbox network namespace read as root and as user 65534 with no capabilities"
else
	skip_part container_cgroups:netns "sandbox in its own network namespace (needs unshare, setpriv, ip and veth): the unprivileged scrape is not checked"
fi
# ---- process figures, memory extras and spec, machine facts of the same scrape
# (the hog is idle: what it has open and its fault counters stay put)
hog_fds=$(ls "/proc/$HOG_PID/fd" | wc -l)
hog_socks=$(for f in /proc/$HOG_PID/fd/*; do readlink "$f"; done | grep -c '^socket:')
"$TMP/driver" /proc "$TMP/sys" "$TMP/pod.json" > "$TMP/out4" || fail "driver failed"
if [ $MODE = v2 ]; then
	cg_pgfault=$(awk '$1 == "pgfault" { print $2 }' "$MEMCG/memory.stat")
	cg_kernel=$(awk '$1 == "kernel" { print $2 }' "$MEMCG/memory.stat")
	want_res=$(cat "$MEMCG/memory.min")
	want_swap=$(cat "$MEMCG/memory.swap.max" 2>/dev/null || echo 0)
else
	cg_pgfault=$(awk '$1 == "pgfault" { print $2 }' "$MEMCG/memory.stat")
	cg_kernel=$(cat "$MEMCG/memory.kmem.usage_in_bytes" 2>/dev/null || echo 0)
	want_res=$(cat "$MEMCG/memory.soft_limit_in_bytes")
	want_swap=$(cat "$MEMCG/memory.memsw.limit_in_bytes" 2>/dev/null || echo 0)
fi
[ "$want_swap" = max ] && want_swap=0
row() { # <metric> <container> [extra label match]: value
	grep "^$1{container=\"$2\"${3:-}" "$TMP/out4" | head -1 | awk '{ print $2 }'
}
pf=$(grep "^container_memory_failures_total{container=\"hog\",failure_type=\"pgfault\"" "$TMP/out4" | grep 'scope="container"' | awk '{ print $2 }')
python3 - <<PY || fail "process / memory / spec figures"
want = {
    "hog processes": ("$(row container_processes hog)", 1),
    "hog fds (ls /proc/pid/fd)": ("$(row container_file_descriptors hog)", $hog_fds),
    "hog sockets (readlink socket:)": ("$(row container_sockets hog)", $hog_socks),
    "hog ulimit nofile soft": ("$(row container_ulimits_soft hog)", 777),
    "burner processes": ("$(row container_processes burner)", 1),
    "pod row processes (none of its own)": ("$(row container_processes "" ',id="/'"$POD"'"')", 0),
    "hog reservation": ("$(row container_spec_memory_reservation_limit_bytes hog)", $want_res),
    "hog swap limit": ("$(row container_spec_memory_swap_limit_bytes hog)", $want_swap),
}
slack = {"hog pgfault": ("$pf", $cg_pgfault, 64), "hog kernel memory": ("$(row container_memory_kernel_usage hog)", $cg_kernel, 1 << 20)}
bad = []
for name, (got, exp) in want.items():
    print("%s: %s (want %s)" % (name, got, exp))
    if got == "" or float(got) != exp:
        bad.append(name)
for name, (got, exp, sl) in slack.items():
    print("%s: %s (cgroup file %s)" % (name, got, exp))
    if got == "" or abs(float(got) - exp) > sl:
        bad.append(name)
if $hog_socks != 6 or float("$pf" or 0) < 32768:
    bad.append("fixture: 6 sockets held, >= 32768 faults for 128 MiB")
print("failed:", bad) if bad else None
raise SystemExit(1 if bad else 0)
PY
ncpu=$(grep -c '^processor' /proc/cpuinfo)
memb=$(awk '/^MemTotal:/ { printf "%.0f", $2 * 1024 }' /proc/meminfo)
grep -q "^machine_cpu_cores{.*} $ncpu\$" "$TMP/out4" || fail "machine_cpu_cores is not $ncpu"
grep -q "^machine_memory_bytes{.*} $memb\$" "$TMP/out4" || fail "machine_memory_bytes is not $memb"
grep -q "^machine_scrape_error 0" "$TMP/out4" || fail "machine_scrape_error"
grep -q "^container_tasks_state{container=\"hog\".*state=\"running\"} 0 " "$TMP/out4" || fail "tasks_state row"
echo "ok: processes, fds ($hog_fds), sockets ($hog_socks), ulimits, memory failures/kernel, spec reservation/swap, machine_*"
echo "ok: test_container_cgroups ($MODE)"
