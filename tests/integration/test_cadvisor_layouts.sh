#!/bin/sh
# The container collector against a REAL cAdvisor over the cgroup layouts
# kubelet and its runtimes make, one after another, on this host's real cgroups:
#
#   containerd + cgroupfs driver  /kubepods/burstable/pod<uid>/<id>
#   containerd + systemd driver   /kubepods.slice/kubepods-burstable.slice/
#                                   kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
#   CRI-O + cgroupfs driver       /kubepods/burstable/pod<uid>/crio-<id>
#                                   (and crio-conmon-<id>, conmon_cgroup = "pod")
#   CRI-O + systemd driver        .../kubepods-burstable-pod<uid_>.slice/crio-<id>.scope
#                                   (and crio-conmon-<id>.scope)
#
# plus a Guaranteed pod straight under the kubepods root (pod<uid>,
# kubepods-pod<uid_>.slice). In each layout a sandbox (sleep in its own network
# namespace with a veth eth0, like a pause process), a CPU burner, a memory hog
# (128 MiB, 3 socket pairs) and a Guaranteed pod's sleeper are moved in; then
# the real cAdvisor (tests/peers/cadvisor-peer: cAdvisor v0.56.2, the library
# kubelet v1.36.3 embeds, wired as kubelet wires /metrics/cadvisor, label
# function included) and our collector (tests/container/driver.c over the
# same /sys, with the pods' API JSON: containerStatuses containerd://<id> or
# cri-o://<id>) are scraped and compared by tests/peers/cadvisor_compare.py:
# the same families, the same rows with the same label sets (id, pod,
# namespace, container, name, image, interface, ...), static values equal
# (spec, machine, processes, fds, sockets, ulimits, task states), and the
# test's own rows (namespace cltest) within drift: counters not behind
# cAdvisor's, CPU seconds ahead by no more than the time between the two
# samples allows, memory gauges and threads within 5 % or 8 MiB (--drift);
# nothing allowed beyond tests/peers/cadvisor_layouts_known_diff.txt (its
# crio-* entries for the CRI-O layouts only; each entry must still be seen).
# Host filesystems (the container_fs_* rows of id="/") are compared for the
# devices mounted both before cAdvisor starts and after our scrape: another
# test's tmpfs mounted in between is in cAdvisor's list (read at its start)
# or ours only; such rows are printed as "ignored", the test's own
# containers' rows never are (cadvisor_compare.py --host-mounts).
# Also asserted directly, so that an empty comparison cannot pass: both sides
# have the burner's CPU row with the labels the runtime implies (CRI-O: name
# k8s_<ctr>_<pod>_<ns>_<uid>_<attempt>, sandbox container="POD"; containerd:
# name = ID, sandbox container="").
#
# The runtimes' APIs that cAdvisor asks are stand-ins answering for the
# containers made here: tests/peers/fake_crio.py (CRI-O's /info and
# /containers/<id> on /var/run/crio/crio.sock, the path cAdvisor's client has
# fixed, each container with a storage root whose diff/ holds k MiB, k small
# files, a hard link, a symlink and k nested directories, and a log file, as
# CRI-O's overlay storage has them; our collector asks the same socket
# (K8SMON_CRIO_SOCKET), so the container_fs_* rows of CRI-O containers are
# compared too: the same rows and usage, inodes and limit equal) and `cadvisor-peer fake-containerd` (containerd's containers, tasks
# and version gRPC services). The cgroups, processes and cAdvisor are real.
#
# cgroup v1 only. This host (and the CI machine, a Debian VM not booted with
# systemd) binds every resource controller to a v1 hierarchy (/proc/cgroups:
# cpu, cpuacct, cpuset, memory, blkio, pids each on its own hierarchy); the v2
# hierarchy at /sys/fs/cgroup/unified holds only hugetlb. A controller moves to
# v2 only once its v1 hierarchy is unmounted and empty, which would take every
# cgroup of the host's processes away: a cgroup v2 run needs a machine booted
# with systemd.unified_cgroup_hierarchy=1 (test_container_cgroups.sh covers
# v2 reading there). A cgroup2 mount over /sys/fs/cgroup in a private mount
# namespace would have no cpu or memory controller to read.
#
# The trees live at the real /kubepods and /kubepods.slice (cAdvisor names
# containers by their real cgroup path), so the test holds the lock
# tests/peers/cluster.sh holds (/run/lock/k8smon-cluster.lock) and fails if a
# kubelet's tree is already there. Needs root; make test runs it as root.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
PATH=$PATH:/usr/sbin:/sbin
[ "$(id -u)" = 0 ] || { echo "FAIL - test_cadvisor_layouts needs root"; exit 1; }
eval "$(tests/peers/build.sh --env cadvisor)" ||
	{ echo "FAIL - the cadvisor peer does not build (tests/peers/build.sh cadvisor)"; exit 1; }
PEER=$CADVISOR_BIN/cadvisor-peer
CG=/sys/fs/cgroup
[ -f $CG/cgroup.controllers ] &&
	{ echo "FAIL - $CG is cgroup v2 only: this test builds v1 layouts (see its header)"; exit 1; }
[ -d $CG/memory ] && [ -d $CG/cpu ] || { echo "FAIL - no v1 memory and cpu hierarchies under $CG"; exit 1; }

LIB=${K8SMON_LIB:-build/libk8smon.a}
make -s "$LIB" >/dev/null || { echo "FAIL - $LIB does not build"; exit 1; }
TMP=$(mktemp -d /tmp/k8smon-cadv-it.XXXXXX)
chmod 755 "$TMP"
FLAGS=$(printf 'k8smon-print-flags:\n\t@echo "$(CFLAGS)"; echo "$(LIBK8SMON_LIBS)"\n' |
	make -s -f Makefile -f - k8smon-print-flags) || { echo "FAIL - cannot read Makefile flags"; exit 1; }
CF=$(echo "$FLAGS" | sed -n 1p | sed "s/-DK8SMON_VERSION=[^ ]*//")
LD=$(echo "$FLAGS" | sed -n 2p)
# shellcheck disable=SC2086
cc $CF -Itests -o "$TMP/driver" tests/container/driver.c "$LIB" $LD ||
	{ echo "FAIL - driver does not build"; exit 1; }

CRIO_SOCK=/var/run/crio/crio.sock
MADE_CRIO_DIR=""   # the test made /var/run/crio: removed at the end
PIDS=""      # the processes of the current layout
SVC=""       # cAdvisor and the runtime stand-in of the current layout
TREES=""     # the current layout's cgroup roots (relative to each hierarchy)
CTRLS=""
for c in cpu cpuacct cpuset memory blkio pids devices freezer; do
	[ -d "$CG/$c" ] && [ ! -L "$CG/$c" ] && CTRLS="$CTRLS $c"
done

stop_layout() {
	[ -n "$SVC" ] && stop_pids $SVC
	SVC=""
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	for p in $PIDS; do
		i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	done
	PIDS=""
	for t in $TREES; do
		for c in $CTRLS; do
			[ -d "$CG/$c$t" ] && find "$CG/$c$t" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	done
	TREES=""
	rm -f "$CRIO_SOCK"
}
cleanup() {
	stop_layout
	[ -n "$MADE_CRIO_DIR" ] && rmdir "$(dirname "$CRIO_SOCK")" 2>/dev/null
	if [ "$FAILS" -ne 0 ] || [ -n "${KEEP:-}" ]; then echo "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The comparison's host-mount rule on made-up scrapes (the layouts below hit
# it only when another process mounts something at the wrong moment): a host
# tmpfs mounted when cAdvisor started and gone at our scrape is left out and
# printed; a difference on a device mounted throughout, or in a container's
# row on the vanished device, still fails.
M=$TMP/mrule
mkdir -p "$M"
printf '/dev/vda1 / ext4 rw 0 0\ntmpfs /tmp/other\\040test/full tmpfs rw 0 0\n' >"$M/start"
printf '/dev/vda1 / ext4 rw 0 0\n' >"$M/end"
: >"$M/known"
HOSTL='container="",id="/",image="",name="",namespace="",pod=""'
PODL='container="c",id="/kubepods/podx/y",image="i",name="y",namespace="cltest",pod="p"'
{
	echo 'machine_cpu_cores 2'
	echo "container_fs_limit_bytes{$HOSTL,device=\"/dev/vda1\"} 1e+10"
	echo "container_fs_limit_bytes{$PODL,device=\"/tmp/other test/full\"} 1.048576e+06"
} >"$M/ours"
{ cat "$M/ours"; echo "container_fs_limit_bytes{$HOSTL,device=\"/tmp/other test/full\"} 1.048576e+06"; } >"$M/cadv"
grep -v 'device="/dev/vda1"' "$M/ours" >"$M/ours-novda"
grep -v 'pod="p"' "$M/ours" >"$M/ours-nopod"
# mrule CADVISOR OURS [--host-mounts]: the comparison's output in $M/out
mrule() {
	if [ $# -eq 3 ]; then
		python3 tests/peers/cadvisor_compare.py "$M/$1" "$M/$2" "$M/known" \
			--host-mounts "$M/start" "$M/end" >"$M/out" 2>&1
	else
		python3 tests/peers/cadvisor_compare.py "$M/$1" "$M/$2" "$M/known" >"$M/out" 2>&1
	fi
}
if mrule cadv ours --host-mounts && grep -q '^ignored (cAdvisor): container_fs_limit_bytes{id="/",device=./tmp/other test/full.}' "$M/out"
then ok "host-mount rule: a host tmpfs gone before our scrape is left out and printed"
else fail "host-mount rule: a host tmpfs gone before our scrape is not left out: $(cat "$M/out")"; fi
if mrule cadv ours || ! grep -q '^diff: row container_fs_limit_bytes' "$M/out"; then
	fail "host-mount rule: without --host-mounts the vanished tmpfs's row is not a difference (the rule checks nothing): $(cat "$M/out")"
else ok "host-mount rule: without --host-mounts the vanished tmpfs's row differs"; fi
if mrule cadv ours-novda --host-mounts || ! grep -q '^diff: row container_fs_limit_bytes.*/dev/vda1' "$M/out"; then
	fail "host-mount rule: a row of a device mounted throughout, missing in ours, is not a difference: $(cat "$M/out")"
else ok "host-mount rule: a device mounted throughout is still compared"; fi
if mrule cadv ours-nopod --host-mounts || ! grep -q "^diff: row container_fs_limit_bytes.*'pod': 'p'" "$M/out"; then
	fail "host-mount rule: a container's row on the vanished device, missing in ours, is not a difference: $(cat "$M/out")"
else ok "host-mount rule: a container's row on the vanished device is still compared"; fi

# The host's kubepods trees belong to whoever holds the cluster lock.
mkdir -p /run/lock
exec 8>/run/lock/k8smon-cluster.lock
flock -w 900 8 || { echo "FAIL - /run/lock/k8smon-cluster.lock held for 900 s"; exit 1; }
for c in $CTRLS; do
	for t in kubepods kubepods.slice; do
		[ -e "$CG/$c/$t" ] && { echo "FAIL - $CG/$c/$t exists: a kubelet runs here (stop it first)"; exit 1; }
	done
done
[ -e "$CRIO_SOCK" ] && { echo "FAIL - $CRIO_SOCK exists: a CRI-O runs here"; exit 1; }
if [ ! -d "$(dirname "$CRIO_SOCK")" ]; then
	mkdir -p "$(dirname "$CRIO_SOCK")" || { echo "FAIL - cannot create $(dirname "$CRIO_SOCK")"; exit 1; }
	MADE_CRIO_DIR=1
fi

# fsdev DIR: cAdvisor's device label of the filesystem holding DIR (the
# mount source of its major:minor in the host's mount table).
fsdev() {
	python3 - "$1" <<'PY'
import os, sys
st = os.stat(sys.argv[1])
want = "%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))
for line in open("/proc/1/mountinfo"):
    f = line.split()
    if f[2] == want:
        print(f[f.index("-") + 2])
        break
PY
}
hexid() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }

# mkcg REL: the cgroup REL in every hierarchy; cpuset's cpus and mems copied
# from the parent, as runc does (an empty cpuset takes no process).
mkcg() {
	for c in $CTRLS; do
		d=$CG/$c
		for part in $(echo "$1" | tr '/' ' '); do
			parent=$d; d=$d/$part
			[ -d "$d" ] && continue
			mkdir "$d" || return 1
			if [ "$c" = cpuset ]; then
				cat "$parent/cpuset.cpus" >"$d/cpuset.cpus" && cat "$parent/cpuset.mems" >"$d/cpuset.mems" || return 1
			fi
		done
	done
}
# procs REL: the cgroup.procs files of REL, one per hierarchy.
procs() { for c in $CTRLS; do printf '%s ' "$CG/$c$1/cgroup.procs"; done; }

# run_layout RUNTIME DRIVER
run_layout() {
	rt=$1 drv=$2 L="$1-$2"
	D=$TMP/$L; mkdir -p "$D"
	UA=$(uuid) UB=$(uuid)
	SBA=$(hexid) BURN=$(hexid) HOG=$(hexid) SBB=$(hexid) SLP=$(hexid)
	if [ "$drv" = cgroupfs ]; then
		ROOT=/kubepods PODA=/kubepods/burstable/pod$UA PODB=/kubepods/pod$UB
	else
		ROOT=/kubepods.slice
		PODA=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$(echo "$UA" | tr - _).slice
		PODB=/kubepods.slice/kubepods-pod$(echo "$UB" | tr - _).slice
	fi
	TREES=$ROOT
	# ctr ID: its cgroup's name in this layout
	ctr() {
		case "$rt-$drv" in
		containerd-cgroupfs) echo "$1" ;;
		containerd-systemd) echo "cri-containerd-$1.scope" ;;
		crio-cgroupfs) echo "crio-$1" ;;
		crio-systemd) echo "crio-$1.scope" ;;
		esac
	}
	conmon() { if [ "$drv" = systemd ]; then echo "crio-conmon-$1.scope"; else echo "crio-conmon-$1"; fi; }
	for p in "$PODA/$(ctr "$SBA")" "$PODA/$(ctr "$BURN")" "$PODA/$(ctr "$HOG")" "$PODB/$(ctr "$SBB")" "$PODB/$(ctr "$SLP")"; do
		mkcg "$p" || { fail "$L: cgroup $p"; return; }
	done
	if [ "$rt" = crio ]; then
		for id in $SBA $BURN $HOG $SBB $SLP; do
			mkcg "$PODA/$(conmon "$id")" || { fail "$L: conmon cgroup"; return; }
		done
	fi
	# limits kubelet and the runtime write: the hog's memory limit, the burner's quota
	echo 1073741824 >"$CG/memory$PODA/$(ctr "$HOG")/memory.limit_in_bytes"
	echo 200000 >"$CG/cpu$PODA/$(ctr "$BURN")/cpu.cfs_quota_us"
	echo 268435456 >"$CG/memory$PODB/memory.limit_in_bytes"

	# Each process enters its cgroups itself, then becomes what it is.
	PF=$(procs "$PODA/$(ctr "$SBA")") sh -c 'for f in $PF; do echo $$ > $f; done
		exec unshare -n sh -c "ip link add eth0 type veth peer name eth1 && ip link set eth0 up && exec sleep 600"' &
	PSBA=$!
	PF=$(procs "$PODA/$(ctr "$BURN")") sh -c 'for f in $PF; do echo $$ > $f; done; exec sh -c "while :; do :; done"' &
	PBURN=$!
	PF=$(procs "$PODA/$(ctr "$HOG")") READY=$D/hog.ready python3 -c '
import os, socket, time
for f in os.environ["PF"].split():
    open(f, "w").write(str(os.getpid()))
socks = [socket.socketpair() for _ in range(3)]
b = b"x" * (128 << 20)
open(os.environ["READY"], "w").write("1")
time.sleep(600)
' &
	PHOG=$!
	PF=$(procs "$PODB/$(ctr "$SBB")") sh -c 'for f in $PF; do echo $$ > $f; done; exec unshare -n sleep 600' &
	PSBB=$!
	PF=$(procs "$PODB/$(ctr "$SLP")") sh -c 'for f in $PF; do echo $$ > $f; done; exec sleep 600' &
	PSLP=$!
	PIDS="$PSBA $PBURN $PHOG $PSBB $PSLP"
	if [ "$rt" = crio ]; then
		for id in $SBA $BURN $HOG $SBB $SLP; do
			PF=$(procs "$PODA/$(conmon "$id")") sh -c 'for f in $PF; do echo $$ > $f; done; exec sleep 600' &
			PIDS="$PIDS $!"
		done
	fi
	wait_for 60 test -e "$D/hog.ready" || { fail "$L: the memory hog did not allocate in 60 s"; return; }
	wait_for 60 nsenter -t "$PSBA" -n ip link show eth0 ||
		{ fail "$L: the sandbox has no eth0 in its network namespace"; return; }

	# What the API says (our side) and what the runtime says (cAdvisor's side).
	python3 - "$rt" "$D" "$UA" "$UB" "$SBA" "$BURN" "$HOG" "$SBB" "$SLP" \
		"$PSBA" "$PBURN" "$PHOG" "$PSBB" "$PSLP" <<'PY' || { fail "$L: test data"; return; }
import json, os, sys
rt, d, ua, ub, sba, burn, hog, sbb, slp = sys.argv[1:10]
psba, pburn, phog, psbb, pslp = map(int, sys.argv[10:15])
scheme = "cri-o" if rt == "crio" else "containerd"
pause = "registry.k8s.io/pause:3.10"
pods = [("web", ua, [("burner", burn, "docker.io/library/busybox:1.36", pburn),
                     ("hog", hog, "docker.io/library/python:3.12", phog)], sba, psba),
        ("idle", ub, [("only", slp, "docker.io/library/busybox:1.36", pslp)], sbb, psbb)]
api, peer, runtime = [], [], {}
for name, uid, ctrs, sb, sbpid in pods:
    api.append({"metadata": {"uid": uid, "namespace": "cltest", "name": name},
                "status": {"containerStatuses": [
                    {"name": c, "containerID": "%s://%s" % (scheme, i), "image": img, "restartCount": 0}
                    for c, i, img, _ in ctrs]}})
    peer.append({"uid": uid, "name": name, "namespace": "cltest"})
    podl = {"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": "cltest",
            "io.kubernetes.pod.uid": uid}
    for c, i, img, pid in ctrs + [("POD", sb, pause, sbpid)]:
        sandbox = c == "POD"
        if rt == "crio":
            # CRI-O's infra container carries io.kubernetes.container.name=POD.
            # root: the container's overlay mount in CRI-O's storage, whose
            # diff/ (the writable layer) cAdvisor measures; log_path: its log file.
            # Each container's layer differs (size, depth, a hard link
            # counted once, a symlink, an empty file), so a wrong walk shows.
            k = len(runtime) + 1
            layer = "%s/storage/overlay/%s-layer" % (d, i[:12])
            os.makedirs(layer + "/merged", exist_ok=True)
            os.makedirs(layer + "/diff/tmp/a/b" + "/c" * k, exist_ok=True)
            open(layer + "/diff/tmp/data", "wb").write(b"w" * (k << 20))
            os.link(layer + "/diff/tmp/data", layer + "/diff/tmp/a/data.link")
            os.symlink("/etc/hostname", layer + "/diff/tmp/a/b/hostname")
            open(layer + "/diff/tmp/a/b/empty", "wb").close()
            for n in range(k):
                open("%s/diff/tmp/a/f%d" % (layer, n), "wb").write(b"f" * (5000 * (n + 1)))
            os.makedirs("%s/logs" % d, exist_ok=True)
            open("%s/logs/%s.log" % (d, i[:12]), "wb").write(b"l" * (4096 * k + 100))
            runtime[i] = {"name": "k8s_%s_%s_cltest_%s_0" % (c, name, uid), "pid": pid, "image": img,
                          "image_ref": img, "created_time": 0,
                          "labels": dict(podl, **{"io.kubernetes.container.name": c}),
                          "annotations": {"io.kubernetes.container.restartCount": "0"},
                          "crio_annotations": {}, "sandbox": sb,
                          "log_path": "%s/logs/%s.log" % (d, i[:12]), "root": layer + "/merged",
                          "ip_addresses": ["10.88.0.%d" % (len(runtime) + 2)], "host_network": False}
        else:
            labels = dict(podl, **{"io.cri-containerd.kind": "sandbox" if sandbox else "container"})
            if not sandbox:
                labels["io.kubernetes.container.name"] = c
            runtime[i] = {"labels": labels, "image": img, "pid": pid}
json.dump({"items": api}, open(d + "/pods.json", "w"))
json.dump(peer, open(d + "/peer-pods.json", "w"))
json.dump(runtime, open(d + "/runtime.json", "w"))
PY
	OURSOCK=""
	if [ "$rt" = crio ]; then
		OURSOCK=$CRIO_SOCK
		CRIO_CGROUP_DRIVER=$drv python3 tests/peers/fake_crio.py "$CRIO_SOCK" "$D/runtime.json" 2>"$D/runtime.log" &
		SVC=$!
		wait_for 60 test -S "$CRIO_SOCK" || { fail "$L: fake CRI-O did not listen"; return; }
		CTRD=$D/none.sock
	else
		CTRD=$D/containerd.sock
		"$PEER" fake-containerd "$CTRD" "$D/runtime.json" 2>"$D/runtime.log" &
		SVC=$!
		wait_for 60 test -S "$CTRD" || { fail "$L: fake containerd did not listen"; return; }
	fi
	# The host's mounts before cAdvisor reads them: a mount another process
	# makes or removes while this layout runs is in one side's id="/" rows
	# only, and is left out of the comparison (printed); see below.
	cp /proc/mounts "$D/mounts.start"
	PORT=$(free_port)
	"$PEER" -listen "127.0.0.1:$PORT" -roots "$ROOT" -pods "$D/peer-pods.json" -containerd "$CTRD" \
		2>"$D/cadvisor.log" &
	SVC="$SVC $!"
	URL=http://127.0.0.1:$PORT/metrics/cadvisor
	if [ "$rt" = crio ]; then
		NAME="k8s_burner_web_cltest_${UA}_0" SBC=POD SBN="k8s_POD_web_cltest_${UA}_0"
	else
		NAME=$BURN SBC="" SBN=$SBA
	fi
	BURNROW="container_cpu_usage_seconds_total{container=\"burner\",cpu=\"total\",id=\"$PODA/$(ctr "$BURN")\",image=\"docker.io/library/busybox:1.36\",name=\"$NAME\",namespace=\"cltest\",pod=\"web\"}"
	SBROW="container_network_receive_bytes_total{container=\"$SBC\",id=\"$PODA/$(ctr "$SBA")\",image=\"registry.k8s.io/pause:3.10\",interface=\"eth0\",name=\"$SBN\",namespace=\"cltest\",pod=\"web\"}"
	# cAdvisor finds the containers at start and reads them at its first housekeeping
	wait_for 120 sh -c "curl -sf '$URL' >'$D/cadvisor.txt' && grep -qF '$BURNROW' '$D/cadvisor.txt' &&
		grep -qF 'id=\"$PODB/$(ctr "$SLP")\"' '$D/cadvisor.txt'" ||
		{ fail "$L: cAdvisor has no row for the burner after 120 s ($(tail -2 "$D/cadvisor.log"))"; return; }
	if [ "$rt" = crio ]; then
		# cAdvisor measures a CRI-O container's writable layer in a goroutine
		# its handler starts next to the first housekeeping, which can read
		# the usage before that walk ends: container_fs_usage_bytes 0 until
		# the next housekeeping, 10-30 s later (interval 10 s, dynamic up to
		# 15 s, jitter 1.0). Compare once every container has been measured.
		wait_for 120 sh -c "curl -sf '$URL' >'$D/cadvisor.txt' &&
			grep -q '^container_fs_usage_bytes{.*namespace=\"cltest\"' '$D/cadvisor.txt' &&
			! grep -Eq '^container_fs_usage_bytes\{.*namespace=\"cltest\".*\} 0( |\$)' '$D/cadvisor.txt'" ||
			{ fail "$L: cAdvisor has not measured every writable layer after 120 s ($(grep '^container_fs_usage_bytes{.*cltest' "$D/cadvisor.txt" | cut -c1-60,300- | head -3))"; return; }
	fi
	if [ "$rt" = crio ]; then
		cp tests/peers/cadvisor_layouts_known_diff.txt "$D/known.txt"
	else
		grep -v '^crio-' tests/peers/cadvisor_layouts_known_diff.txt >"$D/known.txt"
	fi
	i=0
	while :; do
		curl -sf "$URL" >"$D/cadvisor.txt"
		K8SMON_SANDBOX_IMAGE=registry.k8s.io/pause:3.10 K8SMON_CRIO_SOCKET=$OURSOCK \
			"$TMP/driver" /proc /sys "$D/pods.json" >"$D/ours.txt" 2>"$D/driver.err"
		cp /proc/mounts "$D/mounts.end"
		python3 tests/peers/cadvisor_compare.py "$D/cadvisor.txt" "$D/ours.txt" "$D/known.txt" \
			--drift cltest --host-mounts "$D/mounts.start" "$D/mounts.end" >"$D/compare.out" 2>&1 && break
		i=$((i + 1)); [ $i -ge 10 ] && break
		sleep 2
	done
	grep '^ignored' "$D/compare.out"
	grep -v '^ignored' "$D/compare.out" | head -30
	check "$L: same rows, labels, static values and values within drift as cAdvisor ($(tail -1 "$D/compare.out"))" grep -q '^cadvisor match' "$D/compare.out"
	check "$L: cAdvisor's burner row has the runtime's labels" grep -qF "$BURNROW" "$D/cadvisor.txt"
	check "$L: our burner row is the same" grep -qF "$BURNROW" "$D/ours.txt"
	check "$L: the sandbox row (container=\"$SBC\") has the pod network, on both sides" \
		sh -c "grep -qF '$SBROW' '$D/cadvisor.txt' && grep -qF '$SBROW' '$D/ours.txt'"
	check "$L: the Guaranteed pod's row ($PODB) on both sides" sh -c \
		"grep -q '^container_memory_usage_bytes{container=\"\",id=\"$PODB\",image=\"\",name=\"\",namespace=\"cltest\",pod=\"idle\"}' '$D/cadvisor.txt' &&
		 grep -q '^container_memory_usage_bytes{container=\"\",id=\"$PODB\",image=\"\",name=\"\",namespace=\"cltest\",pod=\"idle\"}' '$D/ours.txt'"
	if [ "$rt" = crio ]; then
		# The burner's writable layer (1 MiB, a file of 5000 bytes, a hard
		# link, a symlink, an empty file; log 4196 bytes): the same row and
		# value on both sides, and more than the 1 MiB.
		FSROW="container_fs_usage_bytes{container=\"burner\",device=\"$(fsdev "$D")\",id=\"$PODA/$(ctr "$BURN")\",image=\"docker.io/library/busybox:1.36\",name=\"$NAME\",namespace=\"cltest\",pod=\"web\"}"
		check "$L: the burner's writable layer row, same value on both sides ($(grep -F "$FSROW" "$D/ours.txt" | cut -d' ' -f2))" sh -c \
			"k=\$(grep -F '$FSROW' '$D/cadvisor.txt' | cut -d' ' -f2); o=\$(grep -F '$FSROW' '$D/ours.txt' | cut -d' ' -f2);
			 [ -n \"\$o\" ] && [ -n \"\$k\" ] && python3 -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(not (a == b and a > 1 << 20))' \"\$k\" \"\$o\""
		check "$L: no writable layer row for the sandbox without a network interface ($PODB), on both sides" sh -c \
			"! grep -q '^container_fs_usage_bytes{.*id=\"$PODB/$(ctr "$SBB")\"' '$D/cadvisor.txt' &&
			 ! grep -q '^container_fs_usage_bytes{.*id=\"$PODB/$(ctr "$SBB")\"' '$D/ours.txt'"
		check "$L: the conmon cgroups are rows without pod labels on both sides" sh -c \
			"grep -q '^container_memory_usage_bytes{container=\"\",id=\"$PODA/$(conmon "$BURN")\",image=\"\",name=\"\",namespace=\"\",pod=\"\"}' '$D/cadvisor.txt' &&
			 grep -q '^container_memory_usage_bytes{container=\"\",id=\"$PODA/$(conmon "$BURN")\",image=\"\",name=\"\",namespace=\"\",pod=\"\"}' '$D/ours.txt'"
	fi
	stop_layout
}

for layout in "containerd cgroupfs" "containerd systemd" "crio cgroupfs" "crio systemd"; do
	# shellcheck disable=SC2086
	run_layout $layout
	stop_layout
done
LEFT=$(ls -d $CG/*/kubepods $CG/*/kubepods.slice 2>/dev/null | tr '\n' ' ')
check "teardown: no kubepods cgroup left (${LEFT:-none})" test -z "$LEFT"
finish
