#!/usr/bin/env python3
"""Loads a directory of Kubernetes manifests (examples/cluster, the fake API
server's --load format) into a REAL API server with kubectl.

usage: load_cluster.py KUBECTL KUBECONFIG DIR

A real server owns some fields the fake takes verbatim, so:
  - metadata.uid / creationTimestamp / resourceVersion / generation are dropped
    (the server assigns them);
  - objects the server made itself (namespaces default/kube-system, Service
    default/kubernetes) are left as they are;
  - a ServiceAccount "default" is created in each namespace (no controller-manager
    runs; the ServiceAccount admission plugin refuses pods whose account is missing);
  - status is not taken on create: it is written afterwards through the /status
    subresource (merge patch), as the kubelet and the controllers would; a
    CertificateSigningRequest's Approved/Denied conditions go through /approval
    first (the /status strategy keeps them), as kubectl certificate approve does.
Exits 1 if an object cannot be created or its status cannot be written.
"""
import glob
import json
import os
import subprocess
import sys

import yaml

kubectl, kubeconfig, d = sys.argv[1], sys.argv[2], sys.argv[3]


def k(*args, stdin=None):
    return subprocess.run([kubectl, "--kubeconfig", kubeconfig] + list(args), input=stdin,
                          capture_output=True, text=True)


objs = []
for f in sorted(glob.glob(os.path.join(d, "*.yaml"))):
    objs += [o for o in yaml.safe_load_all(open(f)) if o]
order = {"Namespace": 0, "Node": 1, "PersistentVolume": 2}
objs.sort(key=lambda o: order.get(o["kind"], 9))

fails = 0
for ns in sorted({"default", "kube-system"} | {o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"}):
    if k("get", "namespace", ns).returncode == 0:
        k("create", "serviceaccount", "default", "-n", ns)
for o in objs:
    md = o["metadata"]
    for f in ("uid", "creationTimestamp", "resourceVersion", "generation", "managedFields"):
        md.pop(f, None)
    status = o.pop("status", None)
    kind, name, ns = o["kind"], md["name"], md.get("namespace")
    where = ["-n", ns] if ns else []
    if k("get", kind, name, *where).returncode == 0:
        print("exists  %s %s%s" % (kind, (ns + "/") if ns else "", name))
    else:
        r = k("create", "-f", "-", stdin=json.dumps(o))
        if r.returncode != 0:
            fails += 1
            print("FAILED  create %s %s: %s" % (kind, name, r.stderr.strip()))
            continue
        print("created %s %s%s" % (kind, (ns + "/") if ns else "", name))
        if kind == "Namespace":
            k("create", "serviceaccount", "default", "-n", name)
    if status and kind == "CertificateSigningRequest":
        verdict = [c for c in status.get("conditions", []) if c["type"] in ("Approved", "Denied")]
        if verdict:
            r = k("patch", kind, name, "--subresource=approval", "--type=merge",
                  "-p", json.dumps({"status": {"conditions": verdict}}))
            if r.returncode != 0:
                fails += 1
                print("FAILED  approval %s %s: %s" % (kind, name, r.stderr.strip()))
    if status:
        r = k("patch", kind, name, *where, "--subresource=status", "--type=merge",
              "-p", json.dumps({"status": status}))
        if r.returncode != 0:
            fails += 1
            print("FAILED  status %s %s: %s" % (kind, name, r.stderr.strip()))
sys.exit(1 if fails else 0)
