#!/usr/bin/env python3
"""Real cgroups for the demo's example pods, so that /metrics/cadvisor has their rows.

  demo_cgroups.py setup STATE PODS_JSON NAME=PID...
      Creates demo-owned cgroup subtrees k8smon-demo-<pid of the caller> (cgroup v2: one
      under /sys/fs/cgroup; v1/hybrid: one in each of the cpu, cpuacct, memory, blkio and
      pids hierarchies), laid out as the kubelet's cgroupfs driver does with containerd:
          kubepods/<qos>/pod<pod uid>/<container id>      (Guaranteed: kubepods/pod<uid>)
      for every pod of PODS_JSON (kubectl get pods -o json) that has a container called
      NAME, and moves process PID (the example app) into that container's cgroups. Then
      builds STATE/sys, a view of /sys whose fs/cgroup holds those subtrees (everything
      else links to the real /sys), for the agent's -path.sysfs. Prints the subtrees on
      stdout, one line. Exit 1 with one line on stderr saying why when it cannot (not
      root, no writable cgroup hierarchy); nothing is left behind then.
  demo_cgroups.py cleanup SUBTREE...
      Removes the subtrees (their processes must have exited).
Python standard library only.
"""
import json
import os
import sys
import time

CG = "/sys/fs/cgroup"
CONTROLLERS = ("cpu", "memory", "io", "pids")


def remove(root):
    """rmdir bottom-up; a cgroup whose processes are still exiting is retried briefly."""
    if not os.path.isdir(root):
        return
    dirs = [d for d, _, _ in os.walk(root)]
    for d in sorted(dirs, key=len, reverse=True):
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


def enable_controllers(d):
    for c in CONTROLLERS:
        try:
            with open(os.path.join(d, "cgroup.subtree_control"), "w") as f:
                f.write("+" + c)
        except OSError:
            pass  # not delegated to this level: fewer columns, still rows


def hierarchies(tag):
    """[(subtree to create, its place in STATE/sys/fs/cgroup)] for this host's layout."""
    if os.path.exists(os.path.join(CG, "cgroup.controllers")):
        return [(os.path.join(CG, tag), "")]
    out = []
    for c in ("cpu", "cpuacct", "cpu,cpuacct", "memory", "blkio", "pids"):
        d = os.path.join(CG, c)
        if os.path.isdir(d) and not os.path.islink(d):
            out.append((os.path.join(d, tag), c))
    if not out:
        raise RuntimeError("no cgroup v2 hierarchy and no v1 controllers under %s" % CG)
    return out


def shadow_sys(state, hier):
    """STATE/sys: every entry of /sys linked, fs/cgroup rebuilt from the subtrees."""
    top = os.path.join(state, "sys")
    os.makedirs(os.path.join(top, "fs"), exist_ok=True)
    for e in os.listdir("/sys"):
        if e != "fs":
            os.symlink(os.path.join("/sys", e), os.path.join(top, e))
    for e in os.listdir("/sys/fs"):
        if e != "cgroup":
            os.symlink(os.path.join("/sys/fs", e), os.path.join(top, "fs", e))
    cg = os.path.join(top, "fs", "cgroup")
    if hier[0][1] == "":
        os.symlink(hier[0][0], cg)
        return
    os.mkdir(cg)
    for sub, c in hier:
        os.symlink(sub, os.path.join(cg, c))
    if os.path.exists(os.path.join(CG, "unified", "cgroup.controllers")):
        os.symlink(os.path.join(CG, "unified"), os.path.join(cg, "unified"))


def leaves(pods, pids):
    """{pid: cgroup path below a subtree} for each example app."""
    out = {}
    for pod in pods:
        qos = (pod.get("status", {}).get("qosClass") or "BestEffort").lower()
        uid = pod["metadata"]["uid"]
        for cs in pod.get("status", {}).get("containerStatuses", []):
            pid = pids.get(cs["name"])
            cid = cs.get("containerID", "")
            if pid and cid.startswith("containerd://"):
                parts = ["kubepods"] + ([] if qos == "guaranteed" else [qos])
                out[pid] = parts + ["pod" + uid, cid[len("containerd://"):]]
    return out


def setup(state, pods_json, pairs):
    if os.geteuid() != 0:
        raise RuntimeError("not root (run `sudo make demo` for per-pod rows)")
    pids = dict(p.split("=", 1) for p in pairs)
    where = leaves(json.load(open(pods_json))["items"], pids)
    if len(where) != len(pids):
        raise RuntimeError("%d of %d example apps match a container of a pod on the node" % (len(where), len(pids)))
    hier = hierarchies("k8smon-demo-%d" % os.getppid())
    made = []
    try:
        for sub, _ in hier:
            try:
                os.mkdir(sub)
            except OSError as e:
                raise RuntimeError("cannot create cgroup %s: %s" % (sub, e.strerror)) from None
            made.append(sub)
            enable_controllers(os.path.dirname(sub))
            enable_controllers(sub)
            for pid, parts in where.items():
                d = sub
                for i, p in enumerate(parts):
                    d = os.path.join(d, p)
                    os.makedirs(d, exist_ok=True)
                    if i < len(parts) - 1:  # processes only in the leaves
                        enable_controllers(d)
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(pid)
        shadow_sys(state, hier)
    except (OSError, RuntimeError) as e:
        give_back(pids.values(), [c for _, c in hier])
        for sub in made:
            remove(sub)
        raise RuntimeError(str(e)) from None
    return " ".join(made)


def give_back(pids, ctrls):
    """The processes back to the caller's cgroups, so the subtrees can be removed."""
    own = {}
    for line in open("/proc/self/cgroup"):
        _, names, path = line.rstrip("\n").split(":", 2)
        own[names] = path
    for c in ctrls:
        base = os.path.join(CG, c) if c else CG
        path = own.get(c or "", own.get("", "/"))
        for pid in pids:
            try:
                with open(os.path.join(base, path.lstrip("/"), "cgroup.procs"), "w") as f:
                    f.write(pid)
            except OSError:
                pass


def main():
    try:
        if len(sys.argv) >= 4 and sys.argv[1] == "setup":
            print(setup(sys.argv[2], sys.argv[3], sys.argv[4:]))
        elif len(sys.argv) >= 3 and sys.argv[1] == "cleanup":
            for sub in sys.argv[2:]:
                if not os.path.basename(sub).startswith("k8smon-demo-") or not sub.startswith(CG + "/"):
                    raise ValueError("refusing to remove %s: not a demo subtree" % sub)
            for sub in sys.argv[2:]:
                remove(sub)
        else:
            sys.exit(__doc__)
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        sys.stderr.write("%s\n" % e)
        sys.exit(1)


if __name__ == "__main__":
    main()
