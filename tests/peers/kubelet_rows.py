#!/usr/bin/env python3
"""Checks k8smon's /metrics/cadvisor against the pods a real kubelet runs.

  check_rows.py PODS.json CADVISOR.txt

PODS.json is `kubectl get pods -A -o json`. Expected rows are derived from the
pod status (uid, qosClass, containerStatuses[].containerID/name/image) and
spec (memory limits), never written down: for each running pod the pod
cgroup row and one row per container, each id a cgroup directory on this
host, and exactly one more child row (the sandbox). Prints each mismatch and
exits 1, or prints "all rows match" and exits 0.
"""
import json
import os
import re
import sys

ROW = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)(?: \d+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
CG = "/sys/fs/cgroup"


def parse(text):
    rows = {}
    for line in text.splitlines():
        m = ROW.match(line)
        if not m:
            continue
        labels = dict(LABEL.findall(m.group(2)))
        rows.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return rows


def cgroup_exists(path):
    """On this host: v2 has one hierarchy; v1/hybrid, the memory controller's."""
    v2 = os.path.isfile(os.path.join(CG, "cgroup.controllers"))
    return os.path.isdir((CG if v2 else CG + "/memory") + path)


def mem_bytes(q):
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "": 1}
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|)", q)
    return int(m.group(1)) * units[m.group(2)] if m else None


def main():
    pods = json.load(open(sys.argv[1]))["items"]
    rows = parse(open(sys.argv[2]).read())
    cpu = rows.get("container_cpu_usage_seconds_total", [])
    lim = rows.get("container_spec_memory_limit_bytes", [])
    by_id = {}
    for labels, v in cpu:
        by_id[labels.get("id", "")] = (labels, v)
    bad = []
    npods = nctrs = 0
    for p in pods:
        st = p.get("status", {})
        if st.get("phase") != "Running":
            continue
        md = p["metadata"]
        ns, name, uid = md["namespace"], md["name"], md["uid"]
        qos = st["qosClass"].lower()
        pod_id = "/kubepods/pod" + uid if qos == "guaranteed" else f"/kubepods/{qos}/pod{uid}"
        want = {"id": pod_id, "pod": name, "namespace": ns, "container": ""}
        got = by_id.get(pod_id)
        if not cgroup_exists(pod_id):
            bad.append(f"{ns}/{name}: no cgroup {pod_id} on the host")
        if got is None:
            bad.append(f"{ns}/{name}: no pod row id={pod_id}")
        else:
            for k, v in want.items():
                if got[0].get(k) != v:
                    bad.append(f"{ns}/{name}: pod row {k}={got[0].get(k)!r}, want {v!r}")
        npods += 1
        limits = {c["name"]: mem_bytes(c.get("resources", {}).get("limits", {}).get("memory", "0"))
                  for c in p["spec"]["containers"]}
        cids = set()
        for cs in st.get("containerStatuses", []):
            cid = cs.get("containerID", "").split("://", 1)[-1]
            if not cid:
                bad.append(f"{ns}/{name}/{cs['name']}: no containerID in status")
                continue
            cids.add(cid)
            cpath = f"{pod_id}/{cid}"
            if not cgroup_exists(cpath):
                bad.append(f"{ns}/{name}/{cs['name']}: no cgroup {cpath} on the host")
            got = by_id.get(cpath)
            if got is None:
                bad.append(f"{ns}/{name}/{cs['name']}: no row id={cpath}")
                continue
            want = {"pod": name, "namespace": ns, "container": cs["name"],
                    "image": cs["image"], "name": cid}
            for k, v in want.items():
                if got[0].get(k) != v:
                    bad.append(f"{ns}/{name}/{cs['name']}: {k}={got[0].get(k)!r}, want {v!r}")
            if ns == "monitoring" and cs["name"] == "k8smon" and not got[1] > 0:
                bad.append(f"{ns}/{name}/k8smon: cpu usage {got[1]}, want > 0")
            lrow = [v for labels, v in lim if labels.get("id") == cpath]
            if limits.get(cs["name"]) and lrow != [float(limits[cs["name"]])]:
                bad.append(f"{ns}/{name}/{cs['name']}: memory limit rows {lrow}, want [{limits[cs['name']]}]")
            nctrs += 1
        # Children of the pod cgroup: its containers and the sandbox, nothing else.
        kids = [labels for i, (labels, _) in by_id.items() if i.startswith(pod_id + "/")]
        extra = [k for k in kids if k["id"].rsplit("/", 1)[1] not in cids]
        if len(extra) != 1 or extra[0].get("container") != "" or extra[0].get("pod") != name:
            bad.append(f"{ns}/{name}: want exactly one sandbox row besides the containers, got {extra}")
    if npods < 3:
        bad.append(f"only {npods} running pods in the API, want 3")
    for b in bad:
        print("mismatch:", b)
    if bad:
        return 1
    print(f"all rows match: {npods} pods, {nctrs} containers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
