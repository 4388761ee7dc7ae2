#!/usr/bin/env python3
"""Generates a synthetic cluster for bench/kube_state.sh.

  kube_state_gen.py OUT.json [--nodes 5000] [--pods 100000] [--namespaces 200]
                             [--pods-per-deployment 10] [--rs-per-deployment 2]
                             [--agents NAMESPACE] [--node-pods 20,110,250] [--pending 0]

OUT is JSON lines, one object per line, "<group>/<version>/<resource>\t<object>":
what the static list server (kube_state_api.py) serves without parsing (so
it starts in seconds with 100,000 pods). Objects look like what a real API server returns for a typical
workload (Deployment -> ReplicaSet -> Pod with two containers, requests and
limits, four pod conditions, ownerReferences, labels, podIPs); managedFields
are left out (k8smon never reads them; they only inflate the JSON).
Pods go round-robin over the nodes, except:
  --agents NS        a k8smon DaemonSet in NS: one Ready agent pod per node,
                     "k8smon-<node>", label app.kubernetes.io/name=k8smon (the
                     chart's), in addition to --pods (for -kubeState.podSharding)
  --node-pods A,B,.. node-00000 holds exactly A pods (its agent pod included),
                     node-00001 B, ...: the per-agent cost at those sizes; the
                     other pods go round-robin over the remaining nodes
  --pending K        the last K pods have no node (Pending, Unschedulable)
  --agents-not-ready K  the agent pods of the last K nodes are not Ready (crash
                     looping): those nodes are uncovered
Deterministic: the same arguments give the same file.
"""
import argparse
import collections
import json
import random
import zlib

TS = "2026-11-01T10:00:00Z"


def h(*parts):
    """Stable hash (Python's hash() is salted per process)."""
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def node(i, max_pods=110):
    name = "node-%05d" % i
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": "node-uid-%d" % i, "resourceVersion": "1",
                     "creationTimestamp": TS,
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64",
                                "topology.kubernetes.io/zone": "zone-%d" % (i % 3),
                                "node.kubernetes.io/instance-type": "m5.2xlarge",
                                "node-role.kubernetes.io/worker": ""}},
        "spec": {"podCIDR": "10.%d.%d.0/24" % (i // 256, i % 256),
                 "podCIDRs": ["10.%d.%d.0/24" % (i // 256, i % 256)],
                 "providerID": "aws:///zone-%d/i-%012x" % (i % 3, i)},
        "status": {
            "capacity": {"cpu": "8", "memory": "32475008Ki", "pods": str(max_pods),
                         "ephemeral-storage": "104845292Ki", "hugepages-2Mi": "0"},
            "allocatable": {"cpu": "7910m", "memory": "31734784Ki", "pods": str(max_pods),
                            "ephemeral-storage": "96625420948", "hugepages-2Mi": "0"},
            "conditions": [
                {"type": t, "status": "False", "reason": "Kubelet" + r,
                 "lastHeartbeatTime": TS, "lastTransitionTime": TS}
                for t, r in (("MemoryPressure", "HasSufficientMemory"),
                             ("DiskPressure", "HasNoDiskPressure"),
                             ("PIDPressure", "HasSufficientPID"))
            ] + [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                  "lastHeartbeatTime": TS, "lastTransitionTime": TS}],
            "addresses": [{"type": "InternalIP", "address": "192.168.%d.%d" % (i // 250, i % 250 + 1)},
                          {"type": "Hostname", "address": name}],
            "nodeInfo": {"machineID": "%032x" % i, "systemUUID": "ec2%029x" % i,
                         "bootID": "%032x" % (i * 7), "kernelVersion": "6.1.0-18-cloud-amd64",
                         "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "containerRuntimeVersion": "containerd://1.7.13",
                         "kubeletVersion": "v1.30.2", "kubeProxyVersion": "v1.30.2",
                         "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


def namespace(i):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "ns-%03d" % i, "uid": "ns-uid-%d" % i, "resourceVersion": "1",
                         "creationTimestamp": TS,
                         "labels": {"kubernetes.io/metadata.name": "ns-%03d" % i}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def deployment(ns, name, replicas):
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": ns}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "uid": "dep-%s-%s" % (ns, name),
                     "resourceVersion": "1", "generation": 3, "creationTimestamp": TS,
                     "labels": labels,
                     "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                 "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
        "status": {"observedGeneration": 3, "replicas": replicas, "updatedReplicas": replicas,
                   "readyReplicas": replicas, "availableReplicas": replicas,
                   "conditions": [
                       {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                        "lastUpdateTime": TS, "lastTransitionTime": TS},
                       {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                        "lastUpdateTime": TS, "lastTransitionTime": TS}]},
    }


def replicaset(ns, dep, rev, replicas):
    name = "%s-%08x" % (dep, h(ns, dep, rev))
    return name, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": ns, "uid": "rs-%s-%s" % (ns, name),
                     "resourceVersion": "1", "generation": 1, "creationTimestamp": TS,
                     "labels": {"app.kubernetes.io/name": dep, "pod-template-hash": name[-8:]},
                     "annotations": {"deployment.kubernetes.io/revision": str(rev)},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": dep,
                                          "uid": "dep-%s-%s" % (ns, dep), "controller": True,
                                          "blockOwnerDeletion": True}]},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "fullyLabeledReplicas": replicas,
                   "readyReplicas": replicas, "availableReplicas": replicas,
                   "observedGeneration": 1},
    }


def pod(ns, dep, rs, j, node_name, ip):
    name = "%s-%05x" % (rs, j)
    cs = []
    specs = []
    for c, img in (("app", "registry.example.com/%s/%s:1.4.2" % (ns, dep)),
                   ("sidecar", "registry.example.com/proxy:2.1.0")):
        specs.append({"name": c, "image": img,
                      "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                      "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                    "limits": {"cpu": "500m", "memory": "256Mi"}},
                      "terminationMessagePath": "/dev/termination-log",
                      "imagePullPolicy": "IfNotPresent"})
        cs.append({"name": c, "image": img, "imageID": img + "@sha256:" + "ab" * 32,
                   "containerID": "containerd://" + "%064x" % (h(name, c) * 0x9e3779b97f4a7c15),
                   "ready": True, "started": True, "restartCount": j % 3,
                   "state": {"running": {"startedAt": TS}}, "lastState": {}})
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns,
                     "uid": "%08x-%04x-4%03x-8%03x-%012x" % (h(name), j & 0xffff, j & 0xfff, j & 0xfff, j),
                     "resourceVersion": "1", "creationTimestamp": TS,
                     "labels": {"app.kubernetes.io/name": dep, "pod-template-hash": rs[-8:]},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                                          "uid": "rs-%s-%s" % (ns, rs), "controller": True,
                                          "blockOwnerDeletion": True}]},
        "spec": {"containers": specs, "nodeName": node_name, "restartPolicy": "Always",
                 "serviceAccountName": "default", "schedulerName": "default-scheduler",
                 "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
                 "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
                 "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                  "effect": "NoExecute", "tolerationSeconds": 300},
                                 {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                  "effect": "NoExecute", "tolerationSeconds": 300}]},
        "status": {"phase": "Running", "qosClass": "Burstable", "hostIP": node_ip(node_name),
                   "podIP": ip, "podIPs": [{"ip": ip}], "startTime": TS,
                   "conditions": [{"type": t, "status": "True", "lastTransitionTime": TS}
                                  for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                   "containerStatuses": cs},
    }


def pending(p):
    """p (from pod()) as the scheduler leaves a pod it cannot place."""
    p["spec"].pop("nodeName")
    st = p["status"]
    for k in ("hostIP", "podIP", "podIPs", "startTime", "containerStatuses"):
        st.pop(k)
    st["phase"] = "Pending"
    st["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                         "message": "0/5000 nodes are available: 5000 Insufficient cpu.",
                         "lastTransitionTime": TS}]
    return p


def daemonset(ns, nodes):
    labels = {"app.kubernetes.io/name": "k8smon", "app.kubernetes.io/instance": "k8smon"}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "k8smon", "namespace": ns, "uid": "ds-k8smon", "resourceVersion": "1",
                     "generation": 1, "creationTimestamp": TS, "labels": labels},
        "spec": {"selector": {"matchLabels": labels},
                 "updateStrategy": {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
        "status": {"currentNumberScheduled": nodes, "desiredNumberScheduled": nodes,
                   "numberAvailable": nodes, "numberMisscheduled": 0, "numberReady": nodes,
                   "observedGeneration": 1, "updatedNumberScheduled": nodes},
    }


def agent_pod(ns, i, node_name, ready=True):
    """The k8smon agent pod on node_name, Ready (or crash looping), as the
    chart's DaemonSet makes it."""
    name = "k8smon-" + node_name
    img = "ghcr.io/k8smon/k8smon:0.1.0"
    p = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": "agent-uid-%08d" % i,
                     "resourceVersion": "1", "creationTimestamp": TS,
                     "labels": {"app.kubernetes.io/name": "k8smon",
                                "app.kubernetes.io/instance": "k8smon",
                                "controller-revision-hash": "6b7d9c8f5d",
                                "pod-template-generation": "1"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                          "name": "k8smon", "uid": "ds-k8smon",
                                          "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"containers": [{"name": "k8smon", "image": img,
                                 "ports": [{"containerPort": 8429, "protocol": "TCP"}],
                                 "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                               "limits": {"memory": "256Mi"}},
                                 "imagePullPolicy": "IfNotPresent"}],
                 "nodeName": node_name, "restartPolicy": "Always",
                 "serviceAccountName": "k8smon", "schedulerName": "default-scheduler",
                 "hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet", "priority": 0,
                 "tolerations": [{"operator": "Exists"}]},
        "status": {"phase": "Running", "qosClass": "Burstable", "hostIP": node_ip(node_name),
                   "podIP": node_ip(node_name), "podIPs": [{"ip": node_ip(node_name)}],
                   "startTime": TS,
                   "conditions": [{"type": t, "status": "True", "lastTransitionTime": TS}
                                  for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                   "containerStatuses": [{"name": "k8smon", "image": img,
                                          "imageID": img + "@sha256:" + "cd" * 32,
                                          "containerID": "containerd://%064x" % (i + 1),
                                          "ready": True, "started": True, "restartCount": 0,
                                          "state": {"running": {"startedAt": TS}},
                                          "lastState": {}}]},
    }
    if not ready:
        st = p["status"]
        for c in st["conditions"]:
            if c["type"] in ("Ready", "ContainersReady"):
                c.update(status="False", reason="ContainersNotReady")
        cs = st["containerStatuses"][0]
        cs.update(ready=False, started=False, restartCount=7,
                  state={"waiting": {"reason": "CrashLoopBackOff"}})
    return p


def placement(a):
    """The node name of each of the a.pods workload pods ("" = pending)."""
    fixed = [int(x) for x in a.node_pods.split(",") if x] if a.node_pods else []
    agent = 1 if a.agents else 0
    if len(fixed) >= a.nodes or any(n < agent for n in fixed):
        raise SystemExit("--node-pods: one count per node, fewer than --nodes, each >= its agent pod")
    out = []
    for i, n in enumerate(fixed):
        out += ["node-%05d" % i] * (n - agent)
    rest = a.nodes - len(fixed)
    scheduled = a.pods - a.pending
    k = 0
    while len(out) < scheduled:
        out.append("node-%05d" % (len(fixed) + k % rest) if fixed else "node-%05d" % (k % a.nodes))
        k += 1
    if len(out) > scheduled:
        raise SystemExit("--node-pods: more pods on the fixed nodes than --pods - --pending")
    return out + [""] * a.pending


def node_ip(node_name):
    i = int(node_name.split("-")[1])
    return "192.168.%d.%d" % (i // 250, i % 250 + 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--pods", type=int, default=100000)
    ap.add_argument("--namespaces", type=int, default=200)
    ap.add_argument("--pods-per-deployment", type=int, default=10)
    ap.add_argument("--rs-per-deployment", type=int, default=2)
    ap.add_argument("--agents", default="")
    ap.add_argument("--node-pods", default="")
    ap.add_argument("--pending", type=int, default=0)
    ap.add_argument("--agents-not-ready", type=int, default=0)
    a = ap.parse_args()
    random.seed(1)
    where = placement(a)
    per_node = collections.Counter(where)
    if a.agents:
        per_node.update("node-%05d" % i for i in range(a.nodes))
    out = {"v1/nodes": [node(i, max(110, per_node["node-%05d" % i])) for i in range(a.nodes)],
           "v1/namespaces": [namespace(i) for i in range(a.namespaces)],
           "apps/v1/deployments": [], "apps/v1/replicasets": [], "v1/pods": []}
    ndep = max(1, a.pods // a.pods_per_deployment)
    made = 0
    for d in range(ndep):
        ns = "ns-%03d" % (d % a.namespaces)
        dep = "svc-%05d" % d
        n = a.pods_per_deployment if d < ndep - 1 else a.pods - made
        out["apps/v1/deployments"].append(deployment(ns, dep, n))
        # older revisions scaled to 0, the newest one owns the pods
        for rev in range(1, a.rs_per_deployment + 1):
            rs_name, rs = replicaset(ns, dep, rev, n if rev == a.rs_per_deployment else 0)
            out["apps/v1/replicasets"].append(rs)
        for j in range(n):
            k = made + j
            p = pod(ns, dep, rs_name, j, where[k] or "node-00000",
                    "10.%d.%d.%d" % (k // 65536 % 256, k // 256 % 256, k % 256))
            out["v1/pods"].append(p if where[k] else pending(p))
        made += n
    if a.agents:
        out["apps/v1/daemonsets"] = [daemonset(a.agents, a.nodes)]
        out["v1/pods"] += [agent_pod(a.agents, i, "node-%05d" % i, i < a.nodes - a.agents_not_ready)
                           for i in range(a.nodes)]
        out["v1/namespaces"].append(namespace(0))
        out["v1/namespaces"][-1]["metadata"].update(
            name=a.agents, uid="ns-uid-" + a.agents,
            labels={"kubernetes.io/metadata.name": a.agents})
    with open(a.out, "w") as f:
        for key, items in out.items():
            for o in items:
                f.write(key + "\t" + json.dumps(o, separators=(",", ":")) + "\n")
    print(" ".join("%s=%d" % (k, len(v)) for k, v in out.items()))


if __name__ == "__main__":
    main()
