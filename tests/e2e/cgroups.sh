# Kubelet-shaped cgroup tree for the pods of one node (POSIX sh; source it).
# Same approach as tests/integration/test_container_cgroups.sh: a private
# subtree of this machine's real cgroup hierarchy (v1/hybrid or v2), cgroupfs
# driver, containerd IDs (64 hex), one small process per container (a short
# busy loop, then sleep) so the kernel accounts real CPU and memory.
#
#   e2e_cgroups_setup TMP PODS_JSON   -> 0 and sets E2E_SYSFS (a sysfs root for
#                                        -path.sysfs whose fs/cgroup points at
#                                        the subtree); 1 (with E2E_CG_WHY) if not
#                                        possible (not root, no writable cgroups)
#   e2e_cgroups_cleanup               -> kills the processes, removes the tree
# PODS_JSON is `kubectl get pods -o json` output (a List); every pod with
# containerStatuses gets pod<uid>/<sandbox-id> and pod<uid>/<container-id>.
E2E_CG_PIDS=""
E2E_CG_ROOTS=""
E2E_CG_WHY=""
E2E_SYSFS=""

e2e_cgroups_setup() {
	_tmp=$1 _pods=$2
	[ "$(id -u)" = 0 ] || { E2E_CG_WHY="not root"; return 1; }
	_cg=/sys/fs/cgroup
	_t=k8smon-e2e-$$
	E2E_SYSFS=$_tmp/sys
	mkdir -p "$E2E_SYSFS/fs/cgroup"
	# Everything else of /sys stays the real one (node collector, block devices).
	for _e in /sys/*; do [ "$_e" = /sys/fs ] || ln -s "$_e" "$E2E_SYSFS/"; done
	for _e in /sys/fs/*; do [ "$_e" = /sys/fs/cgroup ] || ln -s "$_e" "$E2E_SYSFS/fs/"; done
	if [ -f $_cg/cgroup.controllers ]; then
		mkdir "$_cg/$_t" 2>/dev/null || { E2E_CG_WHY="cannot create cgroups under $_cg"; return 1; }
		E2E_CG_ROOTS="$_cg/$_t"
		for _c in cpu memory io pids; do echo "+$_c" >"$_cg/$_t/cgroup.subtree_control" 2>/dev/null; done
		rmdir "$E2E_SYSFS/fs/cgroup"
		ln -s "$_cg/$_t" "$E2E_SYSFS/fs/cgroup"
		_bases="$_cg/$_t"
	else
		_bases=""
		for _c in cpu cpuacct "cpu,cpuacct" memory blkio pids; do
			[ -d "$_cg/$_c" ] && [ ! -L "$_cg/$_c" ] || continue
			mkdir "$_cg/$_c/$_t" 2>/dev/null || { E2E_CG_WHY="cannot create cgroups under $_cg/$_c"; return 1; }
			E2E_CG_ROOTS="$E2E_CG_ROOTS $_cg/$_c/$_t"
			ln -s "$_cg/$_c/$_t" "$E2E_SYSFS/fs/cgroup/$_c"
			_bases="$_bases $_cg/$_c/$_t"
		done
		[ -n "$_bases" ] || { E2E_CG_WHY="no v1 controllers"; return 1; }
		[ -f $_cg/unified/cgroup.controllers ] && ln -s $_cg/unified "$E2E_SYSFS/fs/cgroup/unified"
	fi
	# One line per cgroup: <qos-dir>/pod<uid> <id> <memory limit bytes or 0> <cfs quota us or 0>
	python3 - "$_pods" >"$_tmp/cg.list" <<'PY' || { E2E_CG_WHY="cannot read pods"; return 1; }
import hashlib, json, sys
units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
def mem(q):
    for u, m in units.items():
        if q.endswith(u):
            return int(q[:-2]) * m
    return int(q)
for p in json.load(open(sys.argv[1]))["items"]:
    sts = p.get("status", {}).get("containerStatuses") or []
    if not sts:
        continue
    qos = p["status"].get("qosClass", "Burstable")
    d = "kubepods/pod" if qos == "Guaranteed" else "kubepods/%s/pod" % qos.lower()
    d += p["metadata"]["uid"]
    print(d, hashlib.sha256(("sandbox/" + p["metadata"]["uid"]).encode()).hexdigest(), 0, 0)
    lim = {c["name"]: c.get("resources", {}).get("limits", {}).get("memory") for c in p["spec"]["containers"]}
    cpu = {c["name"]: c.get("resources", {}).get("limits", {}).get("cpu") for c in p["spec"]["containers"]}
    for s in sts:
        cid = s.get("containerID", "")
        if not cid.startswith("containerd://") or "running" not in s.get("state", {}):
            continue
        q = cpu.get(s["name"])
        q = (int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)) * 100 if q else 0
        print(d, cid.split("://", 1)[1], mem(lim[s["name"]]) if lim.get(s["name"]) else 0, q)
PY
	while read -r _d _id _lim _q; do
		_pf=""
		for _b in $_bases; do
			mkdir -p "$_b/$_d/$_id" || { E2E_CG_WHY="mkdir $_b/$_d/$_id"; return 1; }
			[ "$_lim" != 0 ] && [ -f "$_b/$_d/$_id/memory.limit_in_bytes" ] && echo "$_lim" >"$_b/$_d/$_id/memory.limit_in_bytes"
			[ "$_lim" != 0 ] && [ -f "$_b/$_d/$_id/memory.max" ] && echo "$_lim" >"$_b/$_d/$_id/memory.max"
			[ "$_q" != 0 ] && [ -f "$_b/$_d/$_id/cpu.cfs_quota_us" ] && echo "$_q" >"$_b/$_d/$_id/cpu.cfs_quota_us"
			[ "$_q" != 0 ] && [ -f "$_b/$_d/$_id/cpu.max" ] && echo "$_q 100000" >"$_b/$_d/$_id/cpu.max"
			_pf="$_pf $_b/$_d/$_id/cgroup.procs"
		done
		# enters its cgroups, burns a little CPU so cpu usage is non-zero, then sleeps
		PF=$_pf sh -c 'for f in $PF; do echo $$ > $f; done; i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done; exec sleep 900' &
		E2E_CG_PIDS="$E2E_CG_PIDS $!"
	done <"$_tmp/cg.list"
	return 0
}

e2e_cgroups_cleanup() {
	for _p in $E2E_CG_PIDS; do kill "$_p" 2>/dev/null; done
	for _p in $E2E_CG_PIDS; do
		_i=0; while kill -0 "$_p" 2>/dev/null && [ $_i -lt 50 ]; do sleep 0.05; _i=$((_i + 1)); done
	done
	for _r in $E2E_CG_ROOTS; do
		[ -d "$_r" ] && find "$_r" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	E2E_CG_PIDS="" E2E_CG_ROOTS=""
}
