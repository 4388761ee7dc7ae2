#!/usr/bin/env python3
"""Generates examples/cluster/*.yaml, the simulated cluster that the demo and the
end-to-end tests load into tests/fakeapi/fakeapi.py (--load examples/cluster).

Run from the repo root: python3 examples/cluster/gen.py   (needs PyYAML; output is committed)
Deterministic: uids and container IDs are hashes of the object names.
"""
import hashlib
import os
import uuid

import yaml

OUT = os.path.dirname(os.path.abspath(__file__))
T0 = "2026-11-20T08:00:00Z"      # cluster creation
T1 = "2026-11-27T09:15:00Z"      # most workloads (re)started
T2 = "2026-11-28T05:40:00Z"      # recent events (crash loop, node lost)
NODES = ["demo-node-1", "demo-node-2", "demo-node-3"]
NODE_IP = {"demo-node-1": "10.0.0.11", "demo-node-2": "10.0.0.12", "demo-node-3": "10.0.0.13"}


def uid(*parts):
    return str(uuid.UUID(hashlib.md5("/".join(parts).encode()).hexdigest()))


def hexid(*parts):
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def meta(name, ns=None, labels=None, annotations=None, owner=None, ts=T1, kind=""):
    m = {"name": name}
    if ns:
        m["namespace"] = ns
    m["uid"] = uid(kind, ns or "", name)
    m["creationTimestamp"] = ts
    if labels:
        m["labels"] = labels
    if annotations:
        m["annotations"] = annotations
    if owner:
        m["ownerReferences"] = [{"apiVersion": owner[0], "kind": owner[1], "name": owner[2],
                                 "uid": uid(owner[1], ns or "", owner[2]),
                                 "controller": True, "blockOwnerDeletion": True}]
    return m


def cond(t, s, reason=None, msg=None, ts=T1, probe=False):
    c = {"type": t, "status": s}
    if probe:
        c["lastProbeTime"] = None
    c["lastTransitionTime"] = ts
    if reason:
        c["reason"] = reason
    if msg:
        c["message"] = msg
    return c


# ---------------------------------------------------------------------------- nodes
def node(name, ready=True, zone="zone-a"):
    hb = T2 if not ready else "2026-11-28T06:00:00Z"
    if ready:
        conds = [cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", T0),
                 cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", T0),
                 cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", T0),
                 cond("Ready", "True", "KubeletReady", "kubelet is posting ready status", T0)]
    else:
        msg = "Kubelet stopped posting node status."
        conds = [cond(t, "Unknown", "NodeStatusUnknown", msg, T2)
                 for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")]
    for c in conds:
        c["lastHeartbeatTime"] = hb
    n = {"apiVersion": "v1", "kind": "Node",
         "metadata": meta(name, labels={
             "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
             "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
             "node.kubernetes.io/instance-type": "m5.xlarge", "topology.kubernetes.io/region": "eu-west-1",
             "topology.kubernetes.io/zone": "eu-west-1" + zone[-1]},
             annotations={"node.alpha.kubernetes.io/ttl": "0",
                          "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
             ts=T0, kind="Node"),
         "spec": {"podCIDR": "10.244.%d.0/24" % NODES.index(name), "podCIDRs": ["10.244.%d.0/24" % NODES.index(name)],
                  "providerID": "aws:///eu-west-1%s/i-0%s" % (zone[-1], hexid(name)[:16])},
         "status": {
             "capacity": {"cpu": "4", "ephemeral-storage": "101430960Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                          "memory": "16184628Ki", "pods": "110"},
             "allocatable": {"cpu": "3920m", "ephemeral-storage": "93478772582", "hugepages-1Gi": "0",
                             "hugepages-2Mi": "0", "memory": "15213876Ki", "pods": "110"},
             "conditions": conds,
             "addresses": [{"type": "InternalIP", "address": NODE_IP[name]}, {"type": "Hostname", "address": name}],
             "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
             "nodeInfo": {"machineID": hexid("machine", name)[:32], "systemUUID": uid("sys", name),
                          "bootID": uid("boot", name), "kernelVersion": "6.1.0-28-cloud-amd64",
                          "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "containerd://1.7.24",
                          "kubeletVersion": "v1.32.3", "kubeProxyVersion": "v1.32.3",
                          "operatingSystem": "linux", "architecture": "amd64"},
             "images": []}}
    if not ready:
        n["spec"]["taints"] = [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": T2},
                               {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": T2}]
    return n


# ----------------------------------------------------------------------------- pods
def container_spec(name, image, cpu, mem, ports=(), limits=True):
    c = {"name": name, "image": image,
         "resources": {"requests": {"cpu": cpu, "memory": mem}},
         "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
         "imagePullPolicy": "IfNotPresent"}
    if limits:
        c["resources"]["limits"] = {"memory": mem}
    if ports:
        c["ports"] = [{"name": pn, "containerPort": pp, "protocol": "TCP"} for pn, pp in ports]
    return c


def pod(name, ns, node_name, containers, labels, owner=None, annotations=None, pod_ip=None,
        phase="Running", state="running", restarts=0, ready=None, started=T1, host_network=False):
    """state: running | crashloop | completed | notready"""
    if ready is None:
        ready = state == "running"
    img_digest = {}
    statuses = []
    for c in containers:
        image = c["image"]
        digest = "sha256:" + hexid("image", image)
        img_digest[image] = digest
        st = {"name": c["name"], "image": image, "imageID": image.split(":")[0] + "@" + digest,
              "containerID": "containerd://" + hexid(ns, name, c["name"], str(restarts)),
              "ready": ready, "started": state in ("running", "notready"), "restartCount": restarts}
        if state in ("running", "notready"):
            st["state"] = {"running": {"startedAt": started}}
        elif state == "crashloop":
            st["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": "back-off 5m0s restarting failed container=%s pod=%s_%s(%s)"
                                       % (c["name"], name, ns, uid("Pod", ns, name))}}
            st["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2026-11-28T05:52:10Z",
                                              "finishedAt": "2026-11-28T05:52:12Z",
                                              "containerID": "containerd://" + hexid(ns, name, c["name"], "prev")}}
        elif state == "completed":
            st["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started,
                                          "finishedAt": "2026-11-28T02:03:41Z",
                                          "containerID": st["containerID"]}}
        statuses.append(st)
    ip = pod_ip or "10.244.%d.%d" % (NODES.index(node_name), int(hexid(name)[:2], 16) % 200 + 10)
    if host_network:
        ip = NODE_IP[node_name]
    rs = "True" if ready else "False"
    conds = [cond("PodReadyToStartContainers", "True" if state != "completed" else "False", ts=started, probe=True),
             cond("Initialized", "True", ts=started, probe=True)]
    if state == "completed":
        conds += [cond("Ready", "False", "PodCompleted", ts="2026-11-28T02:03:41Z", probe=True),
                  cond("ContainersReady", "False", "PodCompleted", ts="2026-11-28T02:03:41Z", probe=True)]
    elif ready:
        conds += [cond("Ready", "True", ts=started, probe=True), cond("ContainersReady", "True", ts=started, probe=True)]
    else:
        r = "ContainersNotReady"
        m = "containers with unready status: [%s]" % " ".join(c["name"] for c in containers)
        conds += [cond("Ready", "False", r, m, T2, probe=True), cond("ContainersReady", "False", r, m, T2, probe=True)]
    conds.append(cond("PodScheduled", "True", ts=started, probe=True))
    spec = {"nodeName": node_name, "containers": containers, "restartPolicy": "Never" if phase == "Succeeded" else "Always",
            "serviceAccountName": "default", "schedulerName": "default-scheduler", "dnsPolicy": "ClusterFirst",
            "terminationGracePeriodSeconds": 30, "priority": 0,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]}
    if host_network:
        spec["hostNetwork"] = True
    has_limits = all("limits" in c["resources"] and "cpu" in c["resources"]["limits"] for c in containers)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": meta(name, ns, labels, annotations, owner, ts=started, kind="Pod"),
            "spec": spec,
            "status": {"phase": phase, "conditions": conds, "hostIP": NODE_IP[node_name],
                       "hostIPs": [{"ip": NODE_IP[node_name]}], "podIP": ip, "podIPs": [{"ip": ip}],
                       "startTime": started, "containerStatuses": statuses,
                       "qosClass": "Guaranteed" if has_limits else "Burstable"}}


OBJS = {}


def add(fname, obj):
    OBJS.setdefault(fname, []).append(obj)


def deployment(name, ns, replicas, image, cpu, mem, ports, pods_spec, extra_labels=None, unavailable=0,
               annotations=None):
    """pods_spec: list of (node, kwargs) -- one pod each."""
    labels = {"app.kubernetes.io/name": name}
    labels.update(extra_labels or {})
    tmpl_hash = hexid("rs", ns, name)[:10].translate(str.maketrans("0123456789abcdef", "bcdfghjklmnpqrst"))
    rsname = "%s-%s" % (name, tmpl_hash)
    containers = [container_spec(name, image, cpu, mem, ports)]
    avail = replicas - unavailable
    dconds = [cond("Progressing", "True", "NewReplicaSetAvailable",
                   'ReplicaSet "%s" has successfully progressed.' % rsname, T1)]
    if unavailable:
        dconds.insert(0, cond("Available", "False", "MinimumReplicasUnavailable",
                              "Deployment does not have minimum availability.", T2))
    else:
        dconds.insert(0, cond("Available", "True", "MinimumReplicasAvailable",
                              "Deployment has minimum availability.", T1))
    for c in dconds:
        c["lastUpdateTime"] = c["lastTransitionTime"]
    add("workloads.yaml", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": dict(meta(name, ns, labels, ts=T1, kind="Deployment"), generation=2,
                         annotations={"deployment.kubernetes.io/revision": "2"}),
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                 "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                 "template": {"metadata": {"labels": labels, "annotations": annotations or {}},
                              "spec": {"containers": containers}}},
        "status": {"observedGeneration": 2, "replicas": replicas, "updatedReplicas": replicas,
                   "readyReplicas": avail, "availableReplicas": avail,
                   **({"unavailableReplicas": unavailable} if unavailable else {}),
                   "conditions": dconds}})
    add("workloads.yaml", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": dict(meta(rsname, ns, dict(labels, **{"pod-template-hash": tmpl_hash}),
                              owner=("apps/v1", "Deployment", name), ts=T1, kind="ReplicaSet"),
                         generation=1, annotations={"deployment.kubernetes.io/desired-replicas": str(replicas),
                                                    "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                                                    "deployment.kubernetes.io/revision": "2"}),
        "spec": {"replicas": replicas,
                 "selector": {"matchLabels": {"app.kubernetes.io/name": name, "pod-template-hash": tmpl_hash}},
                 "template": {"metadata": {"labels": dict(labels, **{"pod-template-hash": tmpl_hash})},
                              "spec": {"containers": containers}}},
        "status": {"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": avail,
                   "availableReplicas": avail, "observedGeneration": 1}})
    for i, (node_name, kw) in enumerate(pods_spec):
        suffix = hexid("pod", ns, name, str(i))[:5].translate(str.maketrans("0123456789abcdef", "bcdfghjklmnpqrst"))
        ann = dict(annotations or {}, **kw.pop("annotations", {}))
        add("pods.yaml", pod("%s-%s" % (rsname, suffix), ns, node_name,
                             [container_spec(name, image, cpu, mem, kw.pop("ports", ports))],
                             dict(labels, **{"pod-template-hash": tmpl_hash}),
                             owner=("apps/v1", "ReplicaSet", rsname), annotations=ann or None, **kw))


def build():
    # nodes + namespaces
    add("nodes.yaml", node("demo-node-1", True, "zone-a"))
    add("nodes.yaml", node("demo-node-2", True, "zone-b"))
    add("nodes.yaml", node("demo-node-3", False, "zone-c"))
    for ns, extra in (("default", {}), ("kube-system", {}), ("monitoring", {"team": "platform"}),
                      ("shop", {"team": "shop"}), ("batch", {"team": "data"})):
        add("namespaces.yaml", {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": meta(ns, labels=dict({"kubernetes.io/metadata.name": ns}, **extra),
                                                 ts=T0, kind="Namespace"),
                                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})

    # deployments (the three scrape-annotated pods live on demo-node-1 with podIP 127.0.0.1)
    vm = lambda port: {"victoriametrics.com/scrape": "true", "victoriametrics.com/port": str(port),
                       "victoriametrics.com/path": "/metrics"}
    deployment("frontend", "shop", 3, "ghcr.io/example/shop-frontend:1.8.2", "250m", "256Mi",
               [("http", 8080), ("metrics", 18081)],
               [("demo-node-1", {"pod_ip": "127.0.0.1", "annotations": vm(18081)}),
                ("demo-node-2", {}), ("demo-node-2", {})],
               extra_labels={"app.kubernetes.io/part-of": "shop", "app.kubernetes.io/component": "web"})
    deployment("checkout", "shop", 2, "ghcr.io/example/shop-checkout:2.3.0", "200m", "192Mi",
               [("http", 8080), ("metrics", 18082)],
               [("demo-node-1", {"pod_ip": "127.0.0.1",
                                 "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "18082",
                                                 "prometheus.io/path": "/metrics"}}),
                ("demo-node-2", {"state": "crashloop", "restarts": 7})],
               extra_labels={"app.kubernetes.io/part-of": "shop", "app.kubernetes.io/component": "api"},
               unavailable=1)
    deployment("grafana", "monitoring", 1, "docker.io/grafana/grafana:11.4.0", "100m", "256Mi",
               [("http", 3000), ("metrics", 18083)],
               [("demo-node-1", {"pod_ip": "127.0.0.1", "annotations": vm(18083)})])
    deployment("coredns", "kube-system", 2, "registry.k8s.io/coredns/coredns:v1.11.3", "100m", "70Mi",
               [("dns", 53), ("metrics", 9153)], [("demo-node-1", {}), ("demo-node-2", {})],
               extra_labels={"k8s-app": "kube-dns"})

    # statefulset with a PVC
    add("workloads.yaml", {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": dict(meta("postgres", "shop", {"app.kubernetes.io/name": "postgres",
                                                   "app.kubernetes.io/part-of": "shop"}, ts=T1, kind="StatefulSet"),
                         generation=1),
        "spec": {"replicas": 1, "serviceName": "postgres", "podManagementPolicy": "OrderedReady",
                 "selector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}},
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "postgres"}},
                              "spec": {"containers": [container_spec("postgres", "docker.io/library/postgres:16.6", "500m", "1Gi", [("postgres", 5432)])]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                           "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                                                    "resources": {"requests": {"storage": "10Gi"}}}}]},
        "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "currentReplicas": 1,
                   "updatedReplicas": 1, "availableReplicas": 1, "currentRevision": "postgres-7c9d8f5b6d",
                   "updateRevision": "postgres-7c9d8f5b6d", "collisionCount": 0}})
    pg = pod("postgres-0", "shop", "demo-node-2",
             [container_spec("postgres", "docker.io/library/postgres:16.6", "500m", "1Gi", [("postgres", 5432)])],
             {"app.kubernetes.io/name": "postgres", "apps.kubernetes.io/pod-index": "0",
              "controller-revision-hash": "postgres-7c9d8f5b6d", "statefulset.kubernetes.io/pod-name": "postgres-0"},
             owner=("apps/v1", "StatefulSet", "postgres"))
    pg["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data-postgres-0"}}]
    add("pods.yaml", pg)

    # daemonset kube-proxy: one pod per node, the one on the lost node is not ready
    kp_img = "registry.k8s.io/kube-proxy:v1.32.3"
    add("workloads.yaml", {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": dict(meta("kube-proxy", "kube-system", {"k8s-app": "kube-proxy"}, ts=T0, kind="DaemonSet"),
                         generation=1),
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                 "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                              "spec": {"hostNetwork": True,
                                       "containers": [container_spec("kube-proxy", kp_img, "50m", "64Mi", limits=False)]}}},
        "status": {"observedGeneration": 1, "currentNumberScheduled": 3, "desiredNumberScheduled": 3,
                   "numberMisscheduled": 0, "numberReady": 2, "numberAvailable": 2, "numberUnavailable": 1,
                   "updatedNumberScheduled": 3}})
    for n in NODES:
        lost = n == "demo-node-3"
        add("pods.yaml", pod("kube-proxy-" + hexid("kp", n)[:5].translate(str.maketrans("0123456789abcdef", "bcdfghjklmnpqrst")),
                             "kube-system", n, [container_spec("kube-proxy", kp_img, "50m", "64Mi", limits=False)],
                             {"k8s-app": "kube-proxy", "controller-revision-hash": "6b8f9c7d5",
                              "pod-template-generation": "1"},
                             owner=("apps/v1", "DaemonSet", "kube-proxy"), host_network=True,
                             state="notready" if lost else "running", started=T0))

    # cronjob + the job it created (completed) + a failed job
    job_tmpl = {"spec": {"restartPolicy": "Never",
                         "containers": [container_spec("report", "ghcr.io/example/report:0.4.1", "500m", "512Mi")]}}
    add("workloads.yaml", {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": dict(meta("report-nightly", "batch", {"app.kubernetes.io/name": "report"}, ts=T0, kind="CronJob"),
                         generation=1),
        "spec": {"schedule": "0 2 * * *", "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid", "suspend": False,
                 "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1, "startingDeadlineSeconds": 600,
                 "jobTemplate": {"spec": {"backoffLimit": 2, "template": job_tmpl}}},
        "status": {"lastScheduleTime": "2026-11-28T02:00:00Z", "lastSuccessfulTime": "2026-11-28T02:03:41Z"}})
    jname = "report-nightly-29405640"
    add("workloads.yaml", {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": dict(meta(jname, "batch", {"app.kubernetes.io/name": "report", "batch.kubernetes.io/job-name": jname},
                              owner=("batch/v1", "CronJob", "report-nightly"), ts="2026-11-28T02:00:00Z", kind="Job"),
                         generation=1),
        "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 2, "completionMode": "NonIndexed",
                 "template": job_tmpl},
        "status": {"startTime": "2026-11-28T02:00:00Z", "completionTime": "2026-11-28T02:03:41Z", "succeeded": 1,
                   "ready": 0, "terminating": 0, "uncountedTerminatedPods": {},
                   "conditions": [dict(cond("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods",
                                            "2026-11-28T02:03:41Z"), lastProbeTime="2026-11-28T02:03:41Z"),
                                  dict(cond("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods",
                                            "2026-11-28T02:03:41Z"), lastProbeTime="2026-11-28T02:03:41Z")]}})
    add("pods.yaml", pod(jname + "-x7k2p", "batch", "demo-node-2", job_tmpl["spec"]["containers"],
                         {"app.kubernetes.io/name": "report", "batch.kubernetes.io/job-name": jname, "job-name": jname},
                         owner=("batch/v1", "Job", jname), phase="Succeeded", state="completed",
                         started="2026-11-28T02:00:02Z"))
    add("workloads.yaml", {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": dict(meta("migrate-db", "batch", {"app.kubernetes.io/name": "migrate-db"}, ts="2026-11-28T04:00:00Z",
                              kind="Job"), generation=1),
        "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 1, "completionMode": "NonIndexed",
                 "template": {"spec": {"restartPolicy": "Never",
                                       "containers": [container_spec("migrate", "ghcr.io/example/migrate:1.0.0", "100m", "128Mi")]}}},
        "status": {"startTime": "2026-11-28T04:00:00Z", "failed": 2, "ready": 0, "terminating": 0,
                   "uncountedTerminatedPods": {},
                   "conditions": [dict(cond("FailureTarget", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit",
                                            "2026-11-28T04:01:10Z"), lastProbeTime="2026-11-28T04:01:10Z"),
                                  dict(cond("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit",
                                            "2026-11-28T04:01:10Z"), lastProbeTime="2026-11-28T04:01:10Z")]}})

    # HPA + PDB on frontend
    add("policy.yaml", {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": meta("frontend", "shop", {"app.kubernetes.io/name": "frontend"}, ts=T1, kind="HorizontalPodAutoscaler"),
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "frontend"},
                 "minReplicas": 2, "maxReplicas": 10,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
        "status": {"observedGeneration": 1, "currentReplicas": 3, "desiredReplicas": 3, "lastScaleTime": T1,
                   "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 58, "averageValue": "145m"}}}],
                   "conditions": [cond("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size", T1),
                                  cond("ScalingActive", "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)", T1),
                                  cond("ScalingLimited", "False", "DesiredWithinRange", "the desired count is within the acceptable range", T1)]}})
    add("policy.yaml", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": dict(meta("frontend", "shop", {"app.kubernetes.io/name": "frontend"}, ts=T1, kind="PodDisruptionBudget"),
                         generation=1),
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app.kubernetes.io/name": "frontend"}}},
        "status": {"observedGeneration": 1, "currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 1,
                   "expectedPods": 3,
                   "conditions": [cond("DisruptionAllowed", "True", "SufficientPods", "", T1)]}})
    # quotas: shop over its memory quota (2176Mi of 2Gi, e.g. quota lowered after the pods started), batch overcommits the cluster's CPU (KubeCPUQuotaOvercommit)
    add("policy.yaml", {
        "apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": meta("compute", "shop", ts=T1, kind="ResourceQuota"),
        "spec": {"hard": {"requests.cpu": "2", "requests.memory": "2Gi", "limits.memory": "4Gi", "pods": "10"}},
        "status": {"hard": {"requests.cpu": "2", "requests.memory": "2Gi", "limits.memory": "4Gi", "pods": "10"},
                   "used": {"requests.cpu": "1650m", "requests.memory": "2176Mi", "limits.memory": "2176Mi", "pods": "6"}}})
    add("policy.yaml", {
        "apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": meta("compute", "batch", ts=T0, kind="ResourceQuota"),
        "spec": {"hard": {"requests.cpu": "24", "requests.memory": "64Gi", "pods": "50"}},
        "status": {"hard": {"requests.cpu": "24", "requests.memory": "64Gi", "pods": "50"},
                   "used": {"requests.cpu": "0", "requests.memory": "0", "pods": "0"}}})

    # a ReplicationController nobody migrated yet, scaled to zero (kube_replicationcontroller_*)
    add("workloads.yaml", {
        "apiVersion": "v1", "kind": "ReplicationController",
        "metadata": dict(meta("legacy-worker", "batch", {"app": "legacy-worker"}, ts=T0,
                              kind="ReplicationController"), generation=3),
        "spec": {"replicas": 0, "selector": {"app": "legacy-worker"},
                 "template": {"metadata": {"labels": {"app": "legacy-worker"}},
                              "spec": {"containers": [{"name": "worker", "image": "busybox:1.36",
                                                       "command": ["sleep", "3600"]}]}}},
        "status": {"replicas": 0, "observedGeneration": 3}})
    # a LimitRange in shop: container defaults (kube_limitrange)
    add("policy.yaml", {
        "apiVersion": "v1", "kind": "LimitRange",
        "metadata": meta("container-defaults", "shop", ts=T0, kind="LimitRange"),
        "spec": {"limits": [
            {"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"},
             "defaultRequest": {"cpu": "100m", "memory": "128Mi"}, "max": {"memory": "2Gi"},
             "maxLimitRequestRatio": {"cpu": "10"}},
            {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "100Gi"}}]}})
    # certificate signing requests: one issued by a custom signer, one pending
    # (kube_certificatesigningrequest_*; the PEM texts were made once with openssl)
    add("policy.yaml", {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": meta("demo-client", ts=T1, kind="CertificateSigningRequest"),
        "spec": {"request": CSR_PEM_B64, "signerName": "example.com/demo-signer", "usages": ["client auth"]},
        "status": {"conditions": [{"type": "Approved", "status": "True", "reason": "DemoApproved",
                                   "message": "approved for the demo", "lastUpdateTime": T1,
                                   "lastTransitionTime": T1}],
                   "certificate": CERT_PEM_B64}})
    add("policy.yaml", {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": meta("pending-client", ts=T2, kind="CertificateSigningRequest"),
        "spec": {"request": CSR_PEM_B64, "signerName": "example.com/demo-signer", "usages": ["client auth"]}})

    # storage
    for name, extra in (("standard", {"reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer",
                                      "allowVolumeExpansion": True}),
                        ("fast", {})):   # fast: the API's defaults (Delete, Immediate)
        sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
              "metadata": meta(name, ts=T0, kind="StorageClass"), "provisioner": "ebs.csi.aws.com"}
        sc.update(extra)
        if name == "standard":
            sc["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
        add("storage.yaml", sc)

    def pv(name, claim_ns, claim, size, phase="Bound"):
        return {"apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": dict(meta(name, ts=T1, kind="PersistentVolume"),
                                 annotations={"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"},
                                 finalizers=["kubernetes.io/pv-protection"]),
                "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                         "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "standard", "volumeMode": "Filesystem",
                         "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": claim_ns, "name": claim,
                                      "uid": uid("PersistentVolumeClaim", claim_ns, claim)},
                         "csi": {"driver": "ebs.csi.aws.com", "fsType": "ext4", "volumeHandle": "vol-0" + hexid(name)[:16]}},
                "status": {"phase": phase, "lastPhaseTransitionTime": T1}}

    def pvc(name, ns, size, volume=None, labels=None):
        o = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": dict(meta(name, ns, labels, ts=T1, kind="PersistentVolumeClaim"),
                              finalizers=["kubernetes.io/pvc-protection"]),
             "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard", "volumeMode": "Filesystem",
                      "resources": {"requests": {"storage": size}}},
             "status": {"phase": "Pending"}}
        if volume:
            o["spec"]["volumeName"] = volume
            o["status"] = {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}}
        return o
    pv1, pv2 = "pvc-" + uid("pv", "postgres"), "pvc-" + uid("pv", "grafana")
    add("storage.yaml", pv(pv1, "shop", "data-postgres-0", "10Gi"))
    add("storage.yaml", pv(pv2, "monitoring", "grafana", "5Gi"))
    add("storage.yaml", pvc("data-postgres-0", "shop", "10Gi", pv1, {"app.kubernetes.io/name": "postgres"}))
    add("storage.yaml", pvc("grafana", "monitoring", "5Gi", pv2, {"excluded_from_alerts": "true"}))
    add("storage.yaml", pvc("scratch", "batch", "50Gi"))   # Pending: no volume

    # services
    def svc(name, ns, selector, ports, labels=None, cluster_ip=None, typ="ClusterIP"):
        ip = cluster_ip or "10.96.%d.%d" % (int(hexid(ns, name)[:2], 16) % 250, int(hexid(ns, name)[2:4], 16) % 250 + 2)
        s = {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, ns, labels, ts=T1, kind="Service"),
             "spec": {"type": typ, "clusterIP": ip, "clusterIPs": [ip] if ip != "None" else ["None"],
                      "ports": [{"name": pn, "port": p, "targetPort": tp, "protocol": "TCP"} for pn, p, tp in ports],
                      "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                      "internalTrafficPolicy": "Cluster"},
             "status": {"loadBalancer": {}}}
        if selector:
            s["spec"]["selector"] = selector
        return s
    add("services.yaml", svc("kubernetes", "default", None, [("https", 443, 6443)],
                             {"component": "apiserver", "provider": "kubernetes"}, "10.96.0.1"))
    add("services.yaml", svc("kube-dns", "kube-system", {"k8s-app": "kube-dns"},
                             [("dns", 53, 53), ("metrics", 9153, 9153)], {"k8s-app": "kube-dns"}, "10.96.0.10"))
    add("services.yaml", svc("frontend", "shop", {"app.kubernetes.io/name": "frontend"},
                             [("http", 80, "http"), ("metrics", 18081, "metrics")],
                             {"app.kubernetes.io/name": "frontend", "app.kubernetes.io/part-of": "shop"}))
    add("services.yaml", svc("checkout", "shop", {"app.kubernetes.io/name": "checkout"},
                             [("http", 80, "http"), ("metrics", 18082, "metrics")],
                             {"app.kubernetes.io/name": "checkout", "app.kubernetes.io/part-of": "shop"}))
    add("services.yaml", svc("postgres", "shop", {"app.kubernetes.io/name": "postgres"},
                             [("postgres", 5432, 5432)], {"app.kubernetes.io/name": "postgres"}, "None"))
    add("services.yaml", svc("grafana", "monitoring", {"app.kubernetes.io/name": "grafana"},
                             [("http", 80, "http")], {"app.kubernetes.io/name": "grafana"}))


    # ------------------------------------------------------------ KSM's other default kinds
    # EndpointSlice of the frontend Service (kube_endpointslice_*): two ready pods with
    # zone hints, one terminating; a named and an unnamed port
    add("services.yaml", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": meta("frontend-x7k2p", "shop", {"kubernetes.io/service-name": "frontend",
                                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                         ts=T1, kind="EndpointSlice"),
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.244.1.10"], "conditions": {"ready": True, "serving": True, "terminating": False},
             "nodeName": "demo-node-1", "zone": "zone-a",
             "targetRef": {"kind": "Pod", "name": "frontend-0", "namespace": "shop"},
             "hints": {"forZones": [{"name": "zone-a"}]}},
            {"addresses": ["10.244.2.10"], "conditions": {"ready": True, "serving": True, "terminating": False},
             "nodeName": "demo-node-2", "zone": "zone-b", "hostname": "frontend-1",
             "hints": {"forZones": [{"name": "zone-b"}, {"name": "zone-c"}]}},
            {"addresses": ["10.244.3.10"], "conditions": {"ready": False, "serving": False, "terminating": True},
             "nodeName": "demo-node-3"}],
        "ports": [{"name": "http", "protocol": "TCP", "port": 8080}, {"name": "", "protocol": "UDP", "port": 53}]})
    # a Lease held by a controller (kube_lease_*); the renew time has microseconds
    add("policy.yaml", {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": meta("demo-controller", "kube-system", ts=T0, kind="Lease",
                         owner=("v1", "Node", "demo-node-1")),
        "spec": {"holderIdentity": "demo-node-1_4b8f", "leaseDurationSeconds": 15,
                 "acquireTime": "2026-11-27T09:15:00.000000Z", "renewTime": "2026-11-28T05:40:01.654321Z",
                 "leaseTransitions": 2}})
    add("policy.yaml", {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": meta("unheld", "batch", ts=T0, kind="Lease"), "spec": {}})
    # a VolumeAttachment of the postgres volume (kube_volumeattachment_*)
    add("storage.yaml", {
        "apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment",
        "metadata": meta("csi-" + hexid("va", "postgres")[:40], labels={"app.kubernetes.io/managed-by": "ebs-csi"},
                         ts=T1, kind="VolumeAttachment"),
        "spec": {"attacher": "ebs.csi.aws.com", "nodeName": "demo-node-2",
                 "source": {"persistentVolumeName": "pvc-" + uid("pv", "postgres")}},
        "status": {"attached": True, "attachmentMetadata": {"devicePath": "/dev/xvdba"}}})
    # admission: webhooks and CEL policies that match only example.com/widgets, so they
    # never get in the way of the other objects (failurePolicy Ignore on the webhooks)
    rules = [{"apiGroups": ["example.com"], "apiVersions": ["v1"], "operations": ["CREATE"],
              "resources": ["widgets"], "scope": "*"}]
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        pre = "mutate" if kind.startswith("M") else "validate"
        add("admission.yaml", {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": meta("demo-" + pre, ts=T0, kind=kind),
            "webhooks": [
                {"name": pre + ".widgets.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                 "failurePolicy": "Ignore", "rules": rules,
                 "clientConfig": {"service": {"name": "widget-webhook", "namespace": "shop", "port": 443}}},
                {"name": pre + "-url.widgets.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                 "failurePolicy": "Ignore", "rules": rules,
                 "clientConfig": {"url": "https://webhook.example.com/" + pre}}]})
    match = {"resourceRules": [{"apiGroups": ["example.com"], "apiVersions": ["v1"], "operations": ["CREATE"],
                                "resources": ["widgets"]}]}
    add("admission.yaml", {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": meta("widget-limits", ts=T0, kind="ValidatingAdmissionPolicy"),
        "spec": {"failurePolicy": "Fail", "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
                 "matchConstraints": match,
                 "validations": [{"expression": "object.metadata.name.size() < 64"}]}})
    add("admission.yaml", {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": meta("widget-limits-shop", ts=T0, kind="ValidatingAdmissionPolicyBinding"),
        "spec": {"policyName": "widget-limits", "validationActions": ["Deny", "Audit"],
                 "paramRef": {"name": "widget-limits", "namespace": "shop", "parameterNotFoundAction": "Allow"}}})
    add("admission.yaml", {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicy",
        "metadata": meta("widget-defaults", ts=T0, kind="MutatingAdmissionPolicy"),
        "spec": {"failurePolicy": "Ignore", "reinvocationPolicy": "IfNeeded", "matchConstraints": match,
                 "mutations": [{"patchType": "ApplyConfiguration",
                                "applyConfiguration": {"expression": "Object{metadata: Object.metadata{labels: {\"defaulted\": \"true\"}}}"}}]}})
    add("admission.yaml", {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicyBinding",
        "metadata": meta("widget-defaults", ts=T0, kind="MutatingAdmissionPolicyBinding"),
        "spec": {"policyName": "widget-defaults"}})

CSR_PEM_B64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlIZ01JR0hBZ0VBTUNVeEZEQVNCZ05WQkFNTUMyUmxiVzh0WTJ4cFpXNTBNUTB3Q3dZRFZRUUtEQVJrWlcxdgpNRmt3RXdZSEtvWkl6ajBDQVFZSUtvWkl6ajBEQVFjRFFnQUU4WkEyaEFPdk5MdXBleFBVb2FBN2lWZWM1NjMrCm93TnNTTXN6YkpKdGlOQVZJa3ZJYmEyZUM0bTBBL2psQmhjT3g1VS9uR2IyQ252azg0TEpDOGRlaUtBQU1Bb0cKQ0NxR1NNNDlCQU1DQTBnQU1FVUNJQ3hTVmgrYTVmK2tRUHJRbTNGVVdhTTg4WlFXVENrVTdoMGcxNVptMVkrbwpBaUVBeTNXdnVEbTNiTEhQMG92Yi8wdDlCZTlqOEJhd0VDL0lScXNzQVBDQXlOdz0KLS0tLS1FTkQgQ0VSVElGSUNBVEUgUkVRVUVTVC0tLS0tCg=="
CERT_PEM_B64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJSRENCNndJVUJkZVhMcWs1MmVKTUN2QjU3ZW5GSGM4SWhtVXdDZ1lJS29aSXpqMEVBd0l3SlRFVU1CSUcKQTFVRUF3d0xaR1Z0YnkxamJHbGxiblF4RFRBTEJnTlZCQW9NQkdSbGJXOHdIaGNOTWpZeE1qQTJNREExTmpJMQpXaGNOTXpZeE1qQXpNREExTmpJMVdqQWxNUlF3RWdZRFZRUUREQXRrWlcxdkxXTnNhV1Z1ZERFTk1Bc0dBMVVFCkNnd0VaR1Z0YnpCWk1CTUdCeXFHU000OUFnRUdDQ3FHU000OUF3RUhBMElBQlBHUU5vUURyelM3cVhzVDFLR2cKTzRsWG5PZXQvcU1EYkVqTE0yeVNiWWpRRlNKTHlHMnRuZ3VKdEFQNDVRWVhEc2VWUDV4bTlncDc1UE9DeVF2SApYb2d3Q2dZSUtvWkl6ajBFQXdJRFNBQXdSUUloQVA2TWpGNVFoZVg0K0JXYmRpakF5NElvOUpYVDlmQ25Kbk00CllEK1FtanZLQWlBUkZ5c0lKc1o2Z3JEOEN2cFh5dytZZ3FvNVUvM25aY0RYK04xbWNmakJ1UT09Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"

HEADER = ("# Simulated cluster for the k8smon demo and end-to-end tests (tests/fakeapi/fakeapi.py --load\n"
          "# examples/cluster). Generated by examples/cluster/gen.py -- edit that, then re-run it.\n")


def main():
    build()
    for fname, objs in sorted(OBJS.items()):
        with open(os.path.join(OUT, fname), "w") as f:
            f.write(HEADER)
            for o in objs:
                f.write("---\n")
                yaml.safe_dump(o, f, sort_keys=False, default_flow_style=False, width=120)
    print("wrote", ", ".join(sorted(OBJS)))


if __name__ == "__main__":
    main()
