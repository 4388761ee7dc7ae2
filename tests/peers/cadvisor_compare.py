#!/usr/bin/env python3
"""Compares k8smon's /metrics/cadvisor with the kubelet's (its embedded cAdvisor)
for the pod cgroups of a real node (test_real_kubelet.sh).

  cadvisor_compare.py KUBELET.txt OURS.txt KNOWN_DIFF.txt [--drift NAMESPACE]
                      [--host-mounts START END]

Scope: rows whose id is under /kubepods, the container_fs_* rows of "/" (the
host filesystems), and the machine_* and cadvisor_version_info rows. Scrape
OURS after KUBELET.
  - families: each family the kubelet has and we do not (or the reverse) must
    be listed in KNOWN_DIFF.txt as "kubelet-only NAME" / "ours-only NAME";
  - rows, in every family both have: the same label sets (id, container, pod,
    namespace, name, image, and interface/device/... where the family has
    them); the accepted differences are "sandbox-image" (the kubelet
    labels a pod's sandbox row with the sandbox image, which the API does not
    tell us) and "crio-container-fs" (container_fs_* rows of CRI-O
    containers that only cAdvisor has: the writable layer and log file
    CRI-O's info API names, which we measure too since issue 18), each only
    when listed;
  - values: container_spec_*, machine_*, cadvisor_version_info and the
    families whose value a pause/idle container keeps (processes, ulimits,
    a host filesystem's size and inode count,
    task states, health, load averages; fds and sockets of the test's own
    pause containers) equal; container_cpu_usage_seconds_total
    of ours >= the kubelet's (a counter, and cAdvisor's value is older).
With --drift NAMESPACE, the rows of that namespace (a test's own pods, whose
processes it controls) are also held to the drift two scrapes of the same
cgroups allow: every counter (a _total family) of ours >= cAdvisor's; CPU
seconds ahead by at most the time between the two samples (their
timestamps) times machine_cpu_cores, plus 0.5 s; memory gauges
(container_memory_*) and container_threads within 5 % or 8 MiB;
container_fs_usage_bytes equal (a test's layers and logs are static).
With --host-mounts START END (two copies of /proc/mounts, taken before
cAdvisor started and after OURS was scraped), the container_fs_* rows of id
"/" whose device is not a mount source or mount point in both copies are
left out of the comparison on both sides and printed as "ignored": a host
mount that another process made or removed mid-test is in one side's list
only (cAdvisor reads the host's filesystems at its start). Rows of any other
id (the test's own containers) are never left out.
Prints every difference not in KNOWN_DIFF.txt and exits 1, or prints a
summary and exits 0. Known entries that no longer occur are printed as stale
(and fail: the list must say what is true).
"""
import re
import sys

ROW = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (\d+))?$')
# A CRI-O container's cgroup name (cgroupfs or systemd driver).
CRIO_CTR = re.compile(r'^crio-[0-9a-f]{64}(\.scope)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


# Families whose values must be equal (static facts, or what an idle pause
# container keeps between the two scrapes).
EQUAL = {"container_processes", "container_ulimits_soft", "container_tasks_state",
         "container_health_state", "container_cpu_load_average_10s",
         "container_cpu_load_d_average_10s", "cadvisor_version_info",
         "container_fs_limit_bytes", "container_fs_inodes_total"}
# Equal on the test's own pods (pause processes that open nothing between the
# two scrapes); the agent's own container opens a socket per scrape.
EQUAL_IDLE = {"container_file_descriptors", "container_sockets"}


def parse(path):
    fams = {}
    for line in open(path):
        m = ROW.match(line.rstrip("\n"))
        if not m:
            continue
        labels = dict(LABEL.findall(m.group(2) or ""))
        machine = m.group(1).startswith("machine_") or m.group(1) == "cadvisor_version_info"
        rootfs = m.group(1).startswith("container_fs_") and labels.get("id") == "/"
        if not machine and not rootfs and not labels.get("id", "").startswith("/kubepods"):
            continue
        ts = int(m.group(4)) if m.group(4) else None
        fams.setdefault(m.group(1), []).append((labels, float(m.group(3)), ts))
    return fams


def mount_names(path):
    """Mount sources and mount points of a /proc/mounts copy (octal escapes
    such as \\040 decoded, as cAdvisor's device labels have them)."""
    names = set()
    for line in open(path):
        f = line.split()
        for x in f[:2]:
            names.add(re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), x))
    return names


def drop_unstable_mounts(fams, stable, side):
    """Removes the id="/" container_fs_* rows whose device is not in stable;
    returns the lines printed for them."""
    out = []
    for f in fams:
        if not f.startswith("container_fs_"):
            continue
        keep = []
        for lb, v, ts in fams[f]:
            if lb.get("id") == "/" and lb.get("device") not in stable:
                out.append(f"ignored ({side}): {f}{{id=\"/\",device={lb.get('device')!r}}}: "
                           "not mounted both before cAdvisor started and after the scrape")
            else:
                keep.append((lb, v, ts))
        fams[f] = keep
    return out


def is_sandbox(labels):
    return labels.get("container") == "" and labels.get("name", "") != ""


def key(labels):
    # the sandbox's image label is compared separately
    return tuple(sorted((k, v) for k, v in labels.items()
                        if not (k == "image" and is_sandbox(labels))))


def drift(f, kv, kts, ov, ots, ncpu):
    """Why ours (ov at ots ms) cannot follow cAdvisor's kv (at kts ms) on the
    same cgroup, or None."""
    if f.endswith("_total"):
        if ov < kv - 1e-9:
            return "a counter behind cAdvisor's earlier sample"
        if f.startswith("container_cpu_") and f.endswith("seconds_total") and "cfs" not in f:
            if kts is None or ots is None:
                return "no sample timestamp"
            allowed = max(0.0, (ots - kts) / 1000.0) * ncpu + 0.5
            if ov - kv > allowed:
                return f"ahead by {ov - kv:.3f} s of CPU, more than {allowed:.3f} s"
    elif f == "container_fs_usage_bytes":
        # the test's own layers and logs do not change between the samples
        if ov != kv:
            return "a static writable layer measured differently"
    elif f.startswith("container_memory_") or f == "container_threads":
        if abs(ov - kv) > max(8 << 20 if f.startswith("container_memory_") else 0, 0.05 * max(ov, kv)):
            return "more than 5 % (or 8 MiB) apart"
    return None


def main():
    drift_ns = mounts = None
    args = sys.argv[4:]
    while args:
        if args[0] == "--drift" and len(args) >= 2:
            drift_ns, args = args[1], args[2:]
        elif args[0] == "--host-mounts" and len(args) >= 3:
            mounts, args = (args[1], args[2]), args[3:]
        else:
            break
    if len(sys.argv) < 4 or args:
        print(__doc__, file=sys.stderr)
        return 2
    kub, ours = parse(sys.argv[1]), parse(sys.argv[2])
    if mounts is not None:
        stable = mount_names(mounts[0]) & mount_names(mounts[1])
        for line in drop_unstable_mounts(kub, stable, "cAdvisor") + drop_unstable_mounts(ours, stable, "ours"):
            print(line)
        for fams in (kub, ours):
            for f in [f for f in fams if not fams[f]]:
                del fams[f]
    ncpu = max([v for _lb, v, _ts in kub.get("machine_cpu_cores", [])] or [1])
    known = set()
    for line in open(sys.argv[3]):
        line = line.split("#", 1)[0].strip()
        if line:
            known.add(line)
    seen, bad = set(), []

    def diff(what):
        if what not in known and what not in seen:
            bad.append(what)
        seen.add(what)

    for f in sorted(set(kub) - set(ours)):
        diff(f"kubelet-only {f}")
    for f in sorted(set(ours) - set(kub)):
        diff(f"ours-only {f}")
    nrows = ndrift = 0
    for f in sorted(set(kub) & set(ours)):
        k = {key(lb): (lb, v, ts) for lb, v, ts in kub[f]}
        o = {key(lb): (lb, v, ts) for lb, v, ts in ours[f]}
        for r in sorted(set(k) - set(o)):
            if f.startswith("container_fs_") and CRIO_CTR.match(k[r][0].get("id", "").rsplit("/", 1)[-1]):
                diff("crio-container-fs")
            else:
                bad.append(f"row {f}{dict(r)} only in the kubelet's")
        for r in sorted(set(o) - set(k)):
            bad.append(f"row {f}{dict(r)} only in ours")
        for r in set(k) & set(o):
            (kl, kv, kts), (ol, ov, ots) = k[r], o[r]
            nrows += 1
            if is_sandbox(kl) and kl.get("image") != ol.get("image"):
                if ol.get("image") == "" and kl.get("image"):
                    diff("sandbox-image")
                else:
                    bad.append(f"{f} sandbox {kl['id']}: image {ol.get('image')!r}, kubelet {kl.get('image')!r}")
            idle = f in EQUAL_IDLE and kl.get("namespace") == "cltest"
            if (f.startswith(("container_spec_", "machine_")) or f in EQUAL or idle) and kv != ov:
                bad.append(f"{f}{dict(r)}: {ov}, kubelet {kv}")
            if f == "container_cpu_usage_seconds_total" and ov < kv - 1e-9:
                bad.append(f"{f}{dict(r)}: {ov} < kubelet's earlier {kv}")
            if drift_ns is not None and kl.get("namespace") == drift_ns:
                ndrift += 1
                why = drift(f, kv, kts, ov, ots, ncpu)
                if why:
                    bad.append(f"{f}{dict(r)}: {ov}, cAdvisor {kv}: {why}")
    for s in sorted(known - seen):
        bad.append(f"stale known difference (no longer seen): {s}")
    for b in bad:
        print("diff:", b)
    if bad:
        return 1
    if drift_ns is not None and ndrift == 0:
        print(f"diff: no row of namespace {drift_ns} to hold to drift")
        return 1
    print(f"cadvisor match: {len(set(kub) & set(ours))} common families, {nrows} rows equal"
          + (f" ({ndrift} of namespace {drift_ns} within drift)" if drift_ns is not None else "")
          + f"; {len(seen)} known differences ({len(known)} listed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
