#!/usr/bin/env python3
"""The kube-state comparison corpus: several hundred objects of every kind
k8smon's kube-state collector covers, with the edge cases the real
kube-state-metrics must agree on, written to a REAL API server
(tests/peers/apiserver.sh) over HTTPS with the admin client certificate.

usage: ks_corpus.py load  APIDIR   create every object, then its status (/status)
       ks_corpus.py churn APIDIR   a round of updates and deletes on the loaded corpus
       ks_corpus.py count          print the number of objects per kind (no server)

APIDIR is apiserver.sh's directory (url, ca.crt, admin.crt, admin.key).
KS_CORPUS_SCALE=N (default 1) adds N-1 copies of every object but the
namespaces, named <name>-r<i> (for a bigger run by hand; make test uses 1).

Edge cases (issue 17): optional fields missing; every pod phase and container
state (waiting/running/terminated with their reasons, last states); init and
ephemeral containers; job and cronjob histories (complete, failed, suspended,
active); every HPA metric source type; huge, tiny and fractional quantities
(10000T, 1Ei, 1.5m, 1e-3, 129e6, 0.5Gi); label keys that need sanitising
(dots, slashes, dashes, camelCase, colliding keys); unicode in annotations,
status messages and image names (label values cannot hold it: the server
refuses). Deterministic: the same objects every run.
Python 3 standard library only.
"""
import copy
import hashlib
import http.client
import json
import os
import ssl
import sys
import urllib.parse
import uuid

# kind -> (group, version, plural, namespaced)
API = {
    "Namespace": ("", "v1", "namespaces", False),
    "Node": ("", "v1", "nodes", False),
    "Pod": ("", "v1", "pods", True),
    "Service": ("", "v1", "services", True),
    "Endpoints": ("", "v1", "endpoints", True),
    "ConfigMap": ("", "v1", "configmaps", True),
    "Secret": ("", "v1", "secrets", True),
    "ResourceQuota": ("", "v1", "resourcequotas", True),
    "LimitRange": ("", "v1", "limitranges", True),
    "PersistentVolume": ("", "v1", "persistentvolumes", False),
    "PersistentVolumeClaim": ("", "v1", "persistentvolumeclaims", True),
    "ReplicationController": ("", "v1", "replicationcontrollers", True),
    "ServiceAccount": ("", "v1", "serviceaccounts", True),
    "Deployment": ("apps", "v1", "deployments", True),
    "ReplicaSet": ("apps", "v1", "replicasets", True),
    "StatefulSet": ("apps", "v1", "statefulsets", True),
    "DaemonSet": ("apps", "v1", "daemonsets", True),
    "Job": ("batch", "v1", "jobs", True),
    "CronJob": ("batch", "v1", "cronjobs", True),
    "HorizontalPodAutoscaler": ("autoscaling", "v2", "horizontalpodautoscalers", True),
    "PodDisruptionBudget": ("policy", "v1", "poddisruptionbudgets", True),
    "Ingress": ("networking.k8s.io", "v1", "ingresses", True),
    "NetworkPolicy": ("networking.k8s.io", "v1", "networkpolicies", True),
    "EndpointSlice": ("discovery.k8s.io", "v1", "endpointslices", True),
    "StorageClass": ("storage.k8s.io", "v1", "storageclasses", False),
    "VolumeAttachment": ("storage.k8s.io", "v1", "volumeattachments", False),
    "CertificateSigningRequest": ("certificates.k8s.io", "v1", "certificatesigningrequests", False),
    "Lease": ("coordination.k8s.io", "v1", "leases", True),
    "MutatingWebhookConfiguration": ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", False),
    "ValidatingWebhookConfiguration": ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", False),
    "ValidatingAdmissionPolicy": ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", False),
    "ValidatingAdmissionPolicyBinding": ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings", False),
    "MutatingAdmissionPolicy": ("admissionregistration.k8s.io", "v1", "mutatingadmissionpolicies", False),
    "MutatingAdmissionPolicyBinding": ("admissionregistration.k8s.io", "v1", "mutatingadmissionpolicybindings", False),
}

NS = ["corpus-a", "corpus-b", "corpus-c", "corpus-d"]
# ResourceQuotas and LimitRanges live apart: their admission plugins would refuse
# (or default) the odd quantities of the other namespaces' pods and claims.
NS_QUOTA = "corpus-quota"
NODES = ["cn-%d" % i for i in range(10)]
T = "2026-11-27T09:15:00Z"
T_OLD = "2026-10-01T00:00:00Z"
# Label keys that need KSM's sanitising: dots, slashes, dashes, camelCase, and
# two keys that sanitise to the same name (label_a_b_conflict1/2).
ODD_LABELS = {"app.kubernetes.io/name": "corpus", "Camel-Case_key": "v", "a-b": "1", "a_b": "2",
              "example.com/Tier": "front-end.v1", "x": ""}
UNICODE_ANN = {"description": "caf\u00e9 \u2615 \u65e5\u672c\u8a9e \U0001F600",
               "quote-key": "say \"hi\" back\\slash\nnewline", "empty": ""}
# Quantities across the range apimachinery accepts.
QTY = ["10000T", "1Ei", "1.5m", "1e-3", "129e6", "0.5Gi", "123Mi", "1", "250m", "7.5", "1k", "2E", "999999999999999999",
       "1n", "100u", "3.14159", "1e3", "12Ki", "0"]


def md(name, ns=None, labels=None, annotations=None, owner=None):
    m = {"name": name}
    if ns:
        m["namespace"] = ns
    if labels:
        m["labels"] = dict(labels)
    if annotations:
        m["annotations"] = dict(annotations)
    if owner:
        m["ownerReferences"] = [{"apiVersion": owner[0], "kind": owner[1], "name": owner[2],
                                 "uid": str(uuid.UUID(hashlib.md5(owner[2].encode()).hexdigest())),
                                 "controller": owner[3] if len(owner) > 3 else True}]
    return m


def cond(t, s, reason=None, msg=None):
    c = {"type": t, "status": s, "lastTransitionTime": T}
    if reason:
        c["reason"] = reason
    if msg:
        c["message"] = msg
    return c


def gen():
    """[(object, status or None, extra)]; extra: {"ephemeral": [...], "approval": [...]}"""
    base = gen_base()
    out = list(base)
    for r in range(1, int(os.environ.get("KS_CORPUS_SCALE", "1"))):
        for o, st, extra in base:
            if o["kind"] == "Namespace":
                continue
            o = copy.deepcopy(o)
            o["metadata"]["name"] += "-r%d" % r
            out.append((o, st, extra))
    return out


def gen_base():
    out = []

    def add(o, status=None, **extra):
        out.append((o, status, extra))

    for i, ns in enumerate(NS + [NS_QUOTA]):
        add({"apiVersion": "v1", "kind": "Namespace",
             "metadata": md(ns, labels=ODD_LABELS if i == 0 else {"team": "t%d" % i},
                            annotations=UNICODE_ANN if i == 1 else None)})
    # nodes: conditions of every status, taints, unschedulable, huge capacities
    for i, n in enumerate(NODES):
        q = QTY[i % len(QTY)]
        spec = {}
        if i % 3 == 0:
            spec["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                              {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": T}]
        if i % 4 == 1:
            spec["unschedulable"] = True
        if i % 2 == 0:
            spec["podCIDR"] = "10.244.%d.0/24" % i
            spec["providerID"] = "aws:///zone-%d/i-%04d" % (i % 3, i)
        ready = ["True", "False", "Unknown"][i % 3]
        st = {"capacity": {"cpu": ["64", "1.5", "250m", "96"][i % 4], "memory": ["10000T", "64Gi", "1.5Ti", "129e6"][i % 4],
                           "pods": "110", "ephemeral-storage": q if not q.startswith("-") else "1Ti",
                           "example.com/fpga": str(i), "hugepages-2Mi": "0"},
              "allocatable": {"cpu": ["63", "1", "200m", "95500m"][i % 4], "memory": ["9999T", "63Gi", "1Ti", "120e6"][i % 4],
                              "pods": "110"},
              "conditions": [cond("Ready", ready, "KubeletReady" if ready == "True" else "NodeStatusUnknown",
                                  "kubelet is posting ready status" if ready == "True" else "Kubelet stopped posting node status."),
                             cond("MemoryPressure", "True" if i == 5 else "False", "KubeletHasSufficientMemory"),
                             cond("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                             cond("PIDPressure", "Unknown" if i == 7 else "False")],
              "addresses": [{"type": "InternalIP", "address": "10.1.0.%d" % (i + 1)}, {"type": "Hostname", "address": n}]
              + ([{"type": "ExternalIP", "address": "203.0.113.%d" % i}] if i % 2 else []),
              "nodeInfo": {"machineID": "m%d" % i, "systemUUID": "u%d" % i, "bootID": "b%d" % i,
                           "kernelVersion": "6.1.0-%d-amd64" % i, "osImage": "Debian GNU/Linux 12 (bookworm)",
                           "containerRuntimeVersion": "containerd://1.7.%d" % i, "kubeletVersion": "v1.36.%d" % (i % 4),
                           "kubeProxyVersion": "" if i % 2 else "v1.36.0", "operatingSystem": "linux",
                           "architecture": ["amd64", "arm64"][i % 2]}}
        if i == 9:
            st = {}   # a node that never reported
        add({"apiVersion": "v1", "kind": "Node",
             "metadata": md(n, labels=dict(ODD_LABELS, **{"kubernetes.io/hostname": n,
                                                         "topology.kubernetes.io/zone": "zone-%d" % (i % 3)})
                            if i % 2 else {"kubernetes.io/hostname": n}),
             "spec": spec}, st)

    # pods: every phase x container state, init and ephemeral containers, odd resources
    waiting = ["ContainerCreating", "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull",
               "CreateContainerConfigError", "InvalidImageName", "PodInitializing"]
    terminated = ["Completed", "Error", "OOMKilled", "ContainerCannotRun", "DeadlineExceeded", "Evicted"]
    states = ([{"waiting": {"reason": r, "message": "m\u00e9ssage %s" % r}} for r in waiting]
              + [{"running": {"startedAt": T}}]
              + [{"terminated": {"exitCode": 0 if r == "Completed" else 137, "reason": r, "startedAt": T_OLD,
                                 "finishedAt": T}} for r in terminated]
              + [{"waiting": {}}, {}])
    phases = ["Pending", "Running", "Succeeded", "Failed", "Unknown"]
    res_cases = [
        {},
        {"requests": {"cpu": "250m", "memory": "64Mi"}},
        {"requests": {"cpu": "1.5m", "memory": "129e6"}, "limits": {"cpu": "1", "memory": "0.5Gi"}},
        {"requests": {"cpu": "1e-3", "memory": "1e3", "ephemeral-storage": "10000T"},
         "limits": {"ephemeral-storage": "10000T"}},
        {"requests": {"cpu": "2", "memory": "1Gi", "example.com/gpu": "2", "hugepages-2Mi": "4Mi"},
         "limits": {"cpu": "2", "memory": "1Gi", "example.com/gpu": "2", "hugepages-2Mi": "4Mi"}},
        {"limits": {"cpu": "100u", "memory": "12Ki"}},
        {"requests": {"cpu": "7.5", "memory": "1Ei"}, "limits": {"memory": "1Ei"}},
    ]
    k = 0
    for pi, phase in enumerate(phases):
        for si, state in enumerate(states):
            ns = NS[k % len(NS)]
            name = "p-%s-%d" % (phase.lower(), si)
            owner = [None, ("apps/v1", "ReplicaSet", "rs-%d" % (k % 5)), ("batch/v1", "Job", "job-%d" % (k % 4)),
                     ("apps/v1", "StatefulSet", "sts-%d" % (k % 3), False), ("v1", "Node", NODES[k % 10])][k % 5]
            spec = {"containers": [{"name": "main", "image": ["nginx:1.27", "reg.example.com/\u00e4pp:1", "busybox"][k % 3],
                                    "resources": res_cases[k % len(res_cases)]}],
                    "restartPolicy": ["Always", "OnFailure", "Never"][k % 3]}
            if k % 10 != 9:
                spec["nodeName"] = NODES[k % 10]
            if k % 4 == 0:
                spec["initContainers"] = [{"name": "init", "image": "busybox",
                                           "resources": res_cases[(k + 1) % len(res_cases)]}]
            if k % 6 == 0:
                spec["containers"].append({"name": "sidecar", "image": "envoy:1", "ports": [{"containerPort": 9901}]})
            if k % 7 == 3:
                spec["priorityClassName"] = ""
                spec["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
                                       {"operator": "Exists"},
                                       {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}]
            if k % 8 == 5:
                spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "pvc-0", "readOnly": k % 16 == 5}},
                                   {"name": "tmp", "emptyDir": {"sizeLimit": "1.5Gi"}}]
            labels = [ODD_LABELS, {"app": "a%d" % (k % 4)}, None][k % 3]
            o = {"apiVersion": "v1", "kind": "Pod",
                 "metadata": md(name, ns, labels, UNICODE_ANN if k % 5 == 2 else None, owner), "spec": spec}
            st = {"phase": phase}
            if phase != "Pending" or si % 2:
                st["hostIP"] = "10.1.0.%d" % (k % 10 + 1)
                st["podIP"] = "10.244.%d.%d" % (k % 10, k % 250 + 1)
                st["podIPs"] = [{"ip": st["podIP"]}]
                st["startTime"] = T
            if si % 3 == 0:
                st["conditions"] = [cond("PodScheduled", "True"), cond("Initialized", "True"),
                                    cond("Ready", "True" if phase == "Running" else "False", None if phase == "Running" else "ContainersNotReady"),
                                    cond("ContainersReady", "False")]
            elif si % 3 == 1 and phase == "Pending":
                st["conditions"] = [cond("PodScheduled", "False", "Unschedulable", "0/10 nodes are available")]
            if phase == "Failed" and si % 2:
                st["reason"] = ["Evicted", "NodeLost", "Shutdown", "UnexpectedAdmissionError"][si % 4]
                st["message"] = "The node was low on resource: memory. \u26a0"
            cs = {"name": "main", "ready": "running" in state and phase == "Running", "restartCount": si * 3,
                  "image": spec["containers"][0]["image"], "imageID": "", "state": state}
            if state and "running" in state:
                cs["containerID"] = "containerd://%064x" % k
                cs["started"] = True
            if si % 4 == 1:
                cs["lastState"] = {"terminated": {"exitCode": 1, "reason": terminated[si % len(terminated)],
                                                  "startedAt": T_OLD, "finishedAt": T_OLD}}
            if k % 11 == 4:
                cs["lastState"] = {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": T_OLD, "finishedAt": T}}
            if phase != "Pending" or si % 2:
                st["containerStatuses"] = [cs]
                if len(spec["containers"]) > 1 and si % 2:
                    st["containerStatuses"].append({"name": "sidecar", "ready": True, "restartCount": 0, "image": "envoy:1",
                                                    "imageID": "", "state": {"running": {"startedAt": T}}})
                if "initContainers" in spec:
                    st["initContainerStatuses"] = [{"name": "init", "ready": phase != "Pending", "restartCount": si,
                                                    "image": "busybox", "imageID": "",
                                                    "state": states[(si + 7) % len(states)] or {"waiting": {}}}]
            eph = None
            if k % 9 == 2 and "nodeName" in spec:
                eph = [{"name": "debugger", "image": "busybox", "targetContainerName": "main"}]
                if phase != "Pending":
                    st["ephemeralContainerStatuses"] = [{"name": "debugger", "ready": False, "restartCount": 0,
                                                         "image": "busybox", "imageID": "",
                                                         "state": states[si % len(states)] or {"waiting": {}}}]
            add(o, st, ephemeral=eph)
            k += 1

    # workloads
    for i in range(15):
        ns = NS[i % 4]
        spec = {"selector": {"matchLabels": {"app": "d%d" % i}},
                "template": {"metadata": {"labels": {"app": "d%d" % i}},
                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        if i % 3:
            spec["replicas"] = i
        if i % 4 == 0:
            spec["strategy"] = {"type": "Recreate"}
        elif i % 4 == 1:
            spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "33%", "maxUnavailable": 0}}
        elif i % 4 == 2:
            spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": "10%"}}
        if i == 7:
            spec["paused"] = True
        st = None if i % 5 == 4 else {
            "observedGeneration": 1, "replicas": i, "updatedReplicas": max(i - 1, 0), "readyReplicas": i // 2,
            "availableReplicas": i // 2, "unavailableReplicas": i - i // 2,
            "conditions": [cond("Available", "True" if i % 2 else "False", "MinimumReplicasAvailable"),
                           cond("Progressing", "True", "NewReplicaSetAvailable")]}
        add({"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": md("deploy-%d" % i, ns, ODD_LABELS if i % 2 else None, UNICODE_ANN if i == 3 else None),
             "spec": spec}, st)
        rspec = {"selector": {"matchLabels": {"app": "r%d" % i}},
                 "template": {"metadata": {"labels": {"app": "r%d" % i}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        if i % 4:
            rspec["replicas"] = i % 6
        add({"apiVersion": "apps/v1", "kind": "ReplicaSet",
             "metadata": md("rs-%d" % i, ns, {"app": "r%d" % i},
                            owner=("apps/v1", "Deployment", "deploy-%d" % i) if i % 2 else None),
             "spec": rspec},
            None if i % 3 == 0 else {"replicas": i % 6, "fullyLabeledReplicas": i % 6, "readyReplicas": i % 3,
                                     "availableReplicas": i % 3, "observedGeneration": 1})
    for i in range(10):
        ns = NS[i % 4]
        spec = {"selector": {"matchLabels": {"app": "s%d" % i}}, "serviceName": "svc-%d" % i,
                "template": {"metadata": {"labels": {"app": "s%d" % i}},
                             "spec": {"containers": [{"name": "c", "image": "postgres"}]}}}
        if i % 3:
            spec["replicas"] = i
        if i % 2:
            spec["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": ["Retain", "Delete"][i % 2],
                                                            "whenScaled": ["Delete", "Retain"][(i // 2) % 2]}
            spec["volumeClaimTemplates"] = [{"metadata": {"name": "data"},
                                             "spec": {"accessModes": ["ReadWriteOnce"],
                                                      "resources": {"requests": {"storage": QTY[i]
                                                                                 if QTY[i][0].isdigit() else "1Gi"}}}}]
        if i % 4 == 2:
            spec["ordinals"] = {"start": 5}
        add({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": md("sts-%d" % i, ns, ODD_LABELS if i == 1 else None),
             "spec": spec},
            None if i % 4 == 3 else {"replicas": i, "readyReplicas": i // 2, "currentReplicas": i, "updatedReplicas": i // 3,
                                     "availableReplicas": i // 2, "observedGeneration": 1,
                                     "currentRevision": "sts-%d-abc" % i, "updateRevision": "sts-%d-def" % (i % 2)})
        add({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": md("ds-%d" % i, ns),
             "spec": {"selector": {"matchLabels": {"app": "ds%d" % i}},
                      "template": {"metadata": {"labels": {"app": "ds%d" % i}},
                                   "spec": {"containers": [{"name": "c", "image": "agent"}]}}}},
            None if i % 5 == 4 else {"currentNumberScheduled": i, "desiredNumberScheduled": 10, "numberMisscheduled": i % 2,
                                     "numberReady": i, "numberAvailable": i - i % 3, "numberUnavailable": 10 - i,
                                     "updatedNumberScheduled": i // 2, "observedGeneration": 1})
    for i in range(4):
        spec = {"selector": {"app": "rc%d" % i},
                "template": {"metadata": {"labels": {"app": "rc%d" % i}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}
        if i % 2:
            spec["replicas"] = i
        add({"apiVersion": "v1", "kind": "ReplicationController", "metadata": md("rc-%d" % i, NS[i]), "spec": spec},
            None if i == 0 else {"replicas": i, "readyReplicas": i - 1, "availableReplicas": i - 1,
                                 "fullyLabeledReplicas": i, "observedGeneration": 2})

    # jobs and cronjobs: complete, failed (with reasons), running, suspended, histories
    for i in range(20):
        ns = NS[i % 4]
        spec = {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}}
        if i % 3 == 0:
            spec["completions"] = i + 1
        if i % 4 == 0:
            spec["parallelism"] = 2
        if i % 5 == 0:
            spec["activeDeadlineSeconds"] = 600
        if i % 6 == 5:
            spec["suspend"] = True
        kind = i % 5
        start = "2026-11-27T09:%02d:00Z" % (i % 60)
        if kind == 0:      # complete
            st = {"startTime": start, "completionTime": "2026-11-27T10:00:00Z", "succeeded": i + 1,
                  "conditions": [cond("SuccessCriteriaMet", "True"), cond("Complete", "True")]}
        elif kind == 1:    # failed
            reason = ["BackoffLimitExceeded", "DeadlineExceeded", "PodFailurePolicy", "MaxFailedIndexesExceeded"][i % 4]
            st = {"startTime": start, "failed": i, "conditions": [cond("FailureTarget", "True", reason),
                                                                  cond("Failed", "True", reason, "Job has reached the specified backoff limit")]}
        elif kind == 2:    # running
            st = {"startTime": start, "active": 2, "ready": 1}
        elif kind == 3:
            st = None      # never started
        else:              # suspended
            st = {"conditions": [cond("Suspended", "True", "JobSuspended")]}
        owner = ("batch/v1", "CronJob", "cj-%d" % (i % 12)) if i % 2 else None
        add({"apiVersion": "batch/v1", "kind": "Job", "metadata": md("job-%d" % i, ns, ODD_LABELS if i == 4 else None, owner=owner),
             "spec": spec}, st)
    schedules = ["*/5 * * * *", "@hourly", "0 0 1 1 *", "30 2 * * 1-5", "@daily", "15,45 * * * *"]
    for i in range(12):
        ns = NS[i % 4]
        spec = {"schedule": schedules[i % len(schedules)],
                "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}],
                                                                "restartPolicy": "OnFailure"}}}}}
        if i % 3 == 1:
            spec["suspend"] = i % 2 == 1
        if i % 4 == 2:
            spec["timeZone"] = ["Europe/Berlin", "America/New_York", "Asia/Kolkata"][i % 3]
        if i % 5 == 0:
            spec["startingDeadlineSeconds"] = 120
            spec["successfulJobsHistoryLimit"] = 1
            spec["failedJobsHistoryLimit"] = 0
            spec["concurrencyPolicy"] = "Forbid"
        st = None
        if i % 3 == 0:
            st = {"lastScheduleTime": "2026-11-27T09:%02d:00Z" % (i * 5 % 60), "lastSuccessfulTime": "2026-11-27T09:00:00Z",
                  "active": [{"kind": "Job", "name": "job-%d" % i, "namespace": ns, "apiVersion": "batch/v1"}] * (i % 3 + 1)}
        elif i % 3 == 1:
            st = {"lastScheduleTime": "2026-11-26T23:59:59Z"}
        add({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": md("cj-%d" % i, ns, ODD_LABELS if i == 2 else None),
             "spec": spec}, st)

    # HPAs: every metric source type, with and without current metrics
    metric_specs = [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1.5Gi"}}},
        {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "1.5m"}}},
        {"type": "Object", "object": {"describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "ing-0"},
                                      "metric": {"name": "hits"}, "target": {"type": "Value", "value": "10000T"}}},
        {"type": "Object", "object": {"describedObject": {"apiVersion": "v1", "kind": "Service", "name": "svc-0"},
                                      "metric": {"name": "lat"}, "target": {"type": "AverageValue", "averageValue": "250m"}}},
        {"type": "External", "external": {"metric": {"name": "queue", "selector": {"matchLabels": {"q": "a"}}},
                                          "target": {"type": "Value", "value": "1e3"}}},
        {"type": "External", "external": {"metric": {"name": "lag"}, "target": {"type": "AverageValue", "averageValue": "0.5"}}},
        {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app",
                                                            "target": {"type": "Utilization", "averageUtilization": 50}}},
        {"type": "External", "external": {"metric": {"name": "small"}, "target": {"type": "Value", "value": "7.5m"}}},
    ]
    current = {
        "Resource": {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 93, "averageValue": "1.5"}}},
        "Pods": {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "2500m"}}},
        "External": {"type": "External", "external": {"metric": {"name": "queue"}, "current": {"value": "12k"}}},
    }
    for i in range(12):
        ns = NS[i % 4]
        spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": ["Deployment", "StatefulSet"][i % 2],
                                   "name": "deploy-%d" % i}, "maxReplicas": 10 + i}
        if i % 3:
            spec["minReplicas"] = i % 3
        if i % 4 != 3:
            spec["metrics"] = [metric_specs[i % len(metric_specs)], metric_specs[(i + 3) % len(metric_specs)]]
        st = {"currentReplicas": i, "desiredReplicas": i + 1,
              "conditions": [cond("AbleToScale", "True", "ReadyForNewScale"),
                             cond("ScalingActive", ["True", "False", "Unknown"][i % 3], "ValidMetricFound"),
                             cond("ScalingLimited", "False", "DesiredWithinRange")]}
        if i % 2:
            st["currentMetrics"] = [current[t] for t in ("Resource", "Pods", "External")][: i % 4]
        if i % 5 == 0:
            st["lastScaleTime"] = T
        add({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
             "metadata": md("hpa-%d" % i, ns, ODD_LABELS if i == 5 else None), "spec": spec}, st)

    # services, endpoints, endpointslices, ingresses, network policies
    for i in range(12):
        ns = NS[i % 4]
        t = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName", "ClusterIP"][i % 5]
        spec = {"type": t}
        if t == "ExternalName":
            spec["externalName"] = "db%d.example.com" % i
        else:
            spec["ports"] = [{"name": "http", "port": 80 + i, "targetPort": 8080, "protocol": "TCP"}]
            spec["selector"] = {"app": "a%d" % (i % 4)}
        if i % 5 == 4:
            spec["clusterIP"] = "None"
        if t == "LoadBalancer" and i % 2:
            spec["loadBalancerIP"] = ""
        if i % 6 == 1:
            spec["externalIPs"] = ["198.51.100.%d" % i, "198.51.100.%d" % (i + 100)]
        st = None
        if t == "LoadBalancer":
            st = {"loadBalancer": {"ingress": [{"ip": "203.0.113.%d" % i}, {"hostname": "lb%d.example.com" % i}]}}
        add({"apiVersion": "v1", "kind": "Service", "metadata": md("svc-%d" % i, ns, ODD_LABELS if i % 3 == 0 else None),
             "spec": spec}, st)
    for i in range(6):
        subsets = [] if i == 0 else [{"addresses": [{"ip": "10.244.0.%d" % (j + 1), "nodeName": NODES[j]} for j in range(i)],
                                      "notReadyAddresses": [{"ip": "10.244.9.%d" % i}] if i % 2 else [],
                                      "ports": [{"name": "http", "port": 8080, "protocol": "TCP"},
                                                {"name": "dns", "port": 53, "protocol": "UDP"}][: 1 + i % 2]}]
        o = {"apiVersion": "v1", "kind": "Endpoints", "metadata": md("svc-%d" % i, NS[i % 4])}
        if subsets:
            o["subsets"] = subsets
        add(o)
    for i in range(8):
        eps = []
        for j in range(i % 4):
            ep = {"addresses": ["10.245.%d.%d" % (i, j + 1)]}
            if j % 2 == 0:
                ep["conditions"] = {"ready": j == 0, "serving": True, "terminating": j == 2}
            if j == 1:
                ep["hostname"] = "h%d" % i
                ep["targetRef"] = {"kind": "Pod", "name": "p-running-%d" % j, "namespace": NS[i % 4]}
            if i % 2:
                ep["nodeName"] = NODES[j]
                ep["zone"] = "zone-%d" % j
                ep["hints"] = {"forZones": [{"name": "zone-%d" % j}, {"name": "zone-x"}][: 1 + j % 2]}
            eps.append(ep)
        o = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": md("es-%d" % i, NS[i % 4], {"kubernetes.io/service-name": "svc-%d" % i, **(ODD_LABELS if i == 3 else {})}),
             "addressType": ["IPv4", "IPv6", "FQDN"][i % 3] if i % 3 != 1 else "IPv4", "endpoints": eps}
        if i % 3 == 2:
            for ep in eps:
                ep["addresses"] = ["n%d.example.com" % i]
        if i % 2 == 0:
            o["ports"] = [{"name": "http", "protocol": "TCP", "port": 80}, {"name": "", "protocol": "UDP", "port": 53},
                          {"name": "noport", "protocol": "SCTP"}][: 1 + i % 3]
        add(o)
    for i in range(6):
        spec = {}
        if i % 2 == 0:
            spec["ingressClassName"] = "nginx"
        if i % 3 != 2:
            spec["rules"] = [{"host": "h%d.example.com" % i if i % 2 else None,
                              "http": {"paths": [{"path": "/p%d" % j, "pathType": "Prefix",
                                                  "backend": {"service": {"name": "svc-%d" % j,
                                                                          "port": {"number": 80} if j % 2 else {"name": "http"}}}}
                                                 for j in range(1 + i % 3)]}}]
            if spec["rules"][0]["host"] is None:
                del spec["rules"][0]["host"]
        if i % 2:
            spec["tls"] = [{"hosts": ["h%d.example.com" % i, "www.h%d.example.com" % i], "secretName": "tls-%d" % i}]
        if i % 3 == 2:
            spec["defaultBackend"] = {"service": {"name": "svc-0", "port": {"number": 80}}}
        add({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": md("ing-%d" % i, NS[i % 4]), "spec": spec},
            {"loadBalancer": {"ingress": [{"ip": "203.0.113.%d" % (50 + i)}]}} if i % 2 else None)
        np_spec = {"podSelector": {} if i % 2 else {"matchLabels": {"app": "a"}}}
        if i % 3 != 1:
            np_spec["ingress"] = [{"from": [{"podSelector": {}}]}] * (i % 3 + 1)
        if i % 2:
            np_spec["egress"] = [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}] * i
            np_spec["policyTypes"] = ["Ingress", "Egress"]
        add({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": md("np-%d" % i, NS[i % 4]),
             "spec": np_spec})

    # PDBs, quotas, limit ranges
    for i in range(8):
        spec = {"selector": {"matchLabels": {"app": "a%d" % i}}}
        if i % 3 == 0:
            spec["minAvailable"] = i
        elif i % 3 == 1:
            spec["maxUnavailable"] = "%d%%" % (10 * i)
        else:
            spec["minAvailable"] = "50%"
        add({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": md("pdb-%d" % i, NS[i % 4]), "spec": spec},
            None if i % 4 == 3 else {"currentHealthy": i, "desiredHealthy": i // 2, "expectedPods": i + 1,
                                     "disruptionsAllowed": i % 3, "observedGeneration": 1})
    for i in range(6):
        hard = {"pods": "10", "requests.cpu": QTY[i], "limits.memory": QTY[(i + 6) % len(QTY)],
                "requests.storage": QTY[(i + 12) % len(QTY)], "count/deployments.apps": "5"}
        add({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": md("quota-%d" % i, NS_QUOTA), "spec": {"hard": hard}},
            None if i == 5 else {"hard": hard, "used": {"pods": str(i), "requests.cpu": ["1.5m", "0", "250m", "1e-3", "2", "100u"][i],
                                                        "limits.memory": "0"}})
    for i in range(4):
        add({"apiVersion": "v1", "kind": "LimitRange", "metadata": md("lr-%d" % i, NS_QUOTA),
             "spec": {"limits": [{"type": "Container", "max": {"cpu": QTY[i + 3] if i != 0 else "4", "memory": "10000T"},
                                  "min": {"cpu": "1.5m", "memory": "1e3"}, "default": {"cpu": "1", "memory": "1Gi"},
                                  "defaultRequest": {"cpu": "250m"}, "maxLimitRequestRatio": {"cpu": "7.5"}},
                                 {"type": "Pod", "max": {"memory": "1Ei"}},
                                 {"type": "PersistentVolumeClaim", "min": {"storage": "0.5Gi"}}][: 1 + i % 3]}})

    # storage
    for i in range(4):
        sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": md("sc-%d" % i, labels=ODD_LABELS if i == 2 else None),
              "provisioner": ["ebs.csi.aws.com", "kubernetes.io/no-provisioner", "nfs.csi.k8s.io", "x"][i]}
        if i % 2:
            sc["reclaimPolicy"] = "Retain"
            sc["volumeBindingMode"] = "WaitForFirstConsumer"
        add(sc)
    for i in range(8):
        spec = {"capacity": {"storage": ["10000T", "1.5Gi", "1e3", "129e6", "1Ei", "12Ki", "0.5Gi", "1"][i]},
                "accessModes": [["ReadWriteOnce"], ["ReadOnlyMany", "ReadWriteMany"], ["ReadWriteOncePod"]][i % 3],
                "persistentVolumeReclaimPolicy": ["Delete", "Retain", "Recycle"][i % 3] if i % 3 != 2 else "Delete"}
        if i % 4 == 0:
            spec["csi"] = {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-%d" % i, "fsType": "ext4"}
        elif i % 4 == 1:
            spec["hostPath"] = {"path": "/data/%d" % i, "type": "DirectoryOrCreate"}
        elif i % 4 == 2:
            spec["nfs"] = {"server": "nfs.example.com", "path": "/exports/%d" % i}
        else:
            spec["local"] = {"path": "/mnt/disk%d" % i}
            spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [NODES[i]]}]}]}}
        if i % 2:
            spec["storageClassName"] = "sc-%d" % (i % 4)
        if i < 4:
            spec["claimRef"] = {"namespace": NS[i % 4], "name": "pvc-%d" % i}
        if i == 5:
            spec["volumeMode"] = "Block"
        add({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": md("pv-%d" % i), "spec": spec},
            {"phase": ["Bound", "Available", "Released", "Failed", "Pending"][i % 5],
             **({"reason": "Recycler failed", "message": "\u00e9chec"} if i % 5 == 3 else {})})
    for i in range(10):
        spec = {"accessModes": [["ReadWriteOnce"], ["ReadWriteMany"], ["ReadOnlyMany", "ReadWriteOnce"]][i % 3],
                "resources": {"requests": {"storage": ["1.5Gi", "10000T", "1e3", "129e6", "1Ki"][i % 5]}}}
        if i % 5 == 1:
            spec["resources"]["limits"] = {"storage": "20000T"}
        if i % 2:
            spec["storageClassName"] = "sc-%d" % (i % 4)
        if i % 4 == 3:
            spec["storageClassName"] = ""
        if i < 4:
            spec["volumeName"] = "pv-%d" % i
        st = {"phase": ["Bound", "Pending", "Lost"][i % 3]}
        if i < 4:
            st["capacity"] = {"storage": spec["resources"]["requests"]["storage"]}
            st["accessModes"] = spec["accessModes"]
        if i % 4 == 2:
            st["conditions"] = [cond("Resizing", "True"), cond("FileSystemResizePending", "False")]
        add({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": md("pvc-%d" % i, NS[i % 4], ODD_LABELS if i == 6 else None), "spec": spec}, st)
    for i in range(5):
        va = {"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment",
              "metadata": md("va-%d" % i, labels=ODD_LABELS if i % 2 else None),
              "spec": {"attacher": "ebs.csi.aws.com", "nodeName": NODES[i],
                       "source": {"persistentVolumeName": "pv-%d" % i}}}
        st = [None, {"attached": True, "attachmentMetadata": {"devicePath": "/dev/xvd%s" % "abcde"[i], "Camel.Key": "v"}},
              {"attached": False, "attachError": {"time": T, "message": "timeout \u23f1"}},
              {"attached": True}, {"attached": False, "detachError": {"time": T, "message": "busy"}}][i]
        add(va, st)

    # config and secrets
    for i in range(6):
        add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": md("cm-%d" % i, NS[i % 4], ODD_LABELS if i == 2 else None,
                                                                   UNICODE_ANN if i == 3 else None),
             **({"data": {"k": "v\u00e9"}} if i % 2 else {})})
        s = {"apiVersion": "v1", "kind": "Secret", "metadata": md("sec-%d" % i, NS[i % 4], ODD_LABELS if i == 1 else None),
             "type": ["Opaque", "kubernetes.io/tls", "kubernetes.io/dockerconfigjson", "example.com/custom",
                      "kubernetes.io/basic-auth", "Opaque"][i]}
        if i == 1:
            s["data"] = {"tls.crt": "", "tls.key": ""}
        if i == 2:
            s["data"] = {".dockerconfigjson": "e30="}
        if i == 4:
            s["data"] = {"username": "dQ==", "password": "cA=="}
        if i == 5:
            s["immutable"] = True
        add(s)

    # certificate signing requests: approved, denied, failed, pending, issued
    for i in range(6):
        csr = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
               "metadata": md("csr-%d" % i, labels=ODD_LABELS if i == 0 else None),
               "spec": {"request": CSR_PEM_B64, "signerName": ["example.com/s", "kubernetes.io/kube-apiserver-client",
                                                               "example.com/other"][i % 3],
                        "usages": ["client auth"]}}
        approval = [[cond("Approved", "True", "OK")], [cond("Denied", "True", "No")], [cond("Approved", "True", "OK")],
                    None, [cond("Approved", "True", "OK")], None][i]
        st = [{"certificate": CERT_B64}, None, {"conditions": [cond("Failed", "True", "SignerError")]}, None,
              None, None][i]
        if st and approval:
            st["conditions"] = approval + st.get("conditions", [])
        add(csr, st, approval=approval)

    # leases
    for i in range(8):
        spec = {}
        if i % 2 == 0:
            spec["holderIdentity"] = "holder-%d_\u00e9" % i if i == 4 else "holder-%d" % i
            spec["leaseDurationSeconds"] = 15
            spec["renewTime"] = "2026-11-27T09:15:%02d.%06dZ" % (i, 999999 - i)
        if i % 3 == 1:
            spec["acquireTime"] = "2026-11-27T09:15:00.000000Z"   # a MicroTime: 6 digits
            spec["leaseTransitions"] = i
        add({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": md("lease-%d" % i, NS[i % 4], owner=("v1", "Node", NODES[i], False) if i % 3 == 0 else None),
             "spec": spec})

    # admission: nothing matched but example.com/widgets
    rules = [{"apiGroups": ["example.com"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["widgets"]}]
    for kind, pre in (("MutatingWebhookConfiguration", "m"), ("ValidatingWebhookConfiguration", "v")):
        for i in range(3):
            hooks = [{"name": "%s%d-%d.widgets.example.com" % (pre, i, j), "admissionReviewVersions": ["v1"],
                      "sideEffects": "None", "failurePolicy": "Ignore", "rules": rules,
                      "clientConfig": {"service": {"name": "hook-%d" % j, "namespace": NS[j % 4]}} if j % 2 == 0
                      else {"url": "https://hook.example.com/%d" % j}} for j in range(i)]
            o = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
                 "metadata": md("%swc-%d" % (pre, i), labels=ODD_LABELS if i == 1 else None)}
            if hooks:
                o["webhooks"] = hooks
            add(o)
    match = {"resourceRules": [dict(rules[0])]}
    for i in range(3):
        spec = {"matchConstraints": match, "validations": [{"expression": "true"}]}
        if i % 2 == 0:
            spec["failurePolicy"] = ["Fail", "Ignore"][i // 2]
        if i == 1:
            spec["paramKind"] = {"apiVersion": "v1", "kind": "ConfigMap"}
        add({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
             "metadata": md("vap-%d" % i), "spec": spec})
        bspec = {"policyName": "vap-%d" % i, "validationActions": [["Deny"], ["Warn", "Audit"], ["Audit"]][i]}
        if i == 1:
            bspec["paramRef"] = {"name": "cm-1", "namespace": NS[1], "parameterNotFoundAction": "Deny"}
        add({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
             "metadata": md("vapb-%d" % i), "spec": bspec})
    for i in range(2):
        spec = {"matchConstraints": match, "reinvocationPolicy": ["Never", "IfNeeded"][i],
                "mutations": [{"patchType": "JSONPatch",
                               "jsonPatch": {"expression": "[JSONPatch{op: \"test\", path: \"/metadata/name\", value: object.metadata.name}]"}}]}
        if i == 1:
            spec["failurePolicy"] = "Ignore"
            spec["paramKind"] = {"apiVersion": "v1", "kind": "Secret"}
        add({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicy",
             "metadata": md("map-%d" % i), "spec": spec})
        bspec = {"policyName": "map-%d" % i}
        if i == 1:
            bspec["paramRef"] = {"selector": {"matchLabels": {"p": "1"}}, "parameterNotFoundAction": "Allow"}
        add({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicyBinding",
             "metadata": md("mapb-%d" % i), "spec": bspec})
    return out


CSR_PEM_B64 = ("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlIZ01JR0hBZ0VBTUNVeEZEQVNCZ05WQkFNTUMyUmxiVzh0WTJ4cFpXNTBNUTB3"
               "Q3dZRFZRUUtEQVJrWlcxdgpNRmt3RXdZSEtvWkl6ajBDQVFZSUtvWkl6ajBEQVFjRFFnQUU4WkEyaEFPdk5MdXBleFBVb2FBN2lWZWM1NjMrCm93"
               "TnNTTXN6YkpKdGlOQVZJa3ZJYmEyZUM0bTBBL2psQmhjT3g1VS9uR2IyQ252azg0TEpDOGRlaUtBQU1Bb0cKQ0NxR1NNNDlCQU1DQTBnQU1FVUNJ"
               "Q3hTVmgrYTVmK2tRUHJRbTNGVVdhTTg4WlFXVENrVTdoMGcxNVptMVkrbwpBaUVBeTNXdnVEbTNiTEhQMG92Yi8wdDlCZTlqOEJhd0VDL0lScXNz"
               "QVBDQXlOdz0KLS0tLS1FTkQgQ0VSVElGSUNBVEUgUkVRVUVTVC0tLS0tCg==")
CERT_B64 = ("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJSRENCNndJVUJkZVhMcWs1MmVKTUN2QjU3ZW5GSGM4SWhtVXdDZ1lJS29aSXpqMEVBd0l3"
            "SlRFVU1CSUcKQTFVRUF3d0xaR1Z0YnkxamJHbGxiblF4RFRBTEJnTlZCQW9NQkdSbGJXOHdIaGNOTWpZeE1qQTJNREExTmpJMQpXaGNOTXpZeE1q"
            "QXpNREExTmpJMVdqQWxNUlF3RWdZRFZRUUREQXRrWlcxdkxXTnNhV1Z1ZERFTk1Bc0dBMVVFCkNnd0VaR1Z0YnpCWk1CTUdCeXFHU000OUFnRUdD"
            "Q3FHU000OUF3RUhBMElBQlBHUU5vUURyelM3cVhzVDFLR2cKTzRsWG5PZXQvcU1EYkVqTE0yeVNiWWpRRlNKTHlHMnRuZ3VKdEFQNDVRWVhEc2VW"
            "UDV4bTlncDc1UE9DeVF2SApYb2d3Q2dZSUtvWkl6ajBFQXdJRFNBQXdSUUloQVA2TWpGNVFoZVg0K0JXYmRpakF5NElvOUpYVDlmQ25Kbk00CllE"
            "K1FtanZLQWlBUkZ5c0lKc1o2Z3JEOEN2cFh5dytZZ3FvNVUvM25aY0RYK04xbWNmakJ1UT09Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K")


class Client:
    def __init__(self, apidir):
        url = urllib.parse.urlparse(open(os.path.join(apidir, "url")).read().strip())
        ctx = ssl.create_default_context(cafile=os.path.join(apidir, "ca.crt"))
        ctx.load_cert_chain(os.path.join(apidir, "admin.crt"), os.path.join(apidir, "admin.key"))
        self.host, self.port, self.ctx = url.hostname, url.port, ctx
        self.conn = None

    def req(self, method, path, body=None, ctype="application/json"):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
            try:
                data = json.dumps(body).encode() if body is not None else None
                self.conn.request(method, path, body=data, headers={"Content-Type": ctype} if data else {})
                r = self.conn.getresponse()
                return r.status, r.read().decode("utf-8", "replace")
            except (http.client.HTTPException, OSError):
                self.conn = None
                if attempt:
                    raise
        return 0, ""


def path(o, sub=None, collection=False):
    g, v, plural, namespaced = API[o["kind"]]
    p = "/api/%s" % v if not g else "/apis/%s/%s" % (g, v)
    if namespaced:
        p += "/namespaces/%s" % o["metadata"]["namespace"]
    p += "/" + plural
    if not collection:
        p += "/" + o["metadata"]["name"]
    if sub:
        p += "/" + sub
    return p


def load(c):
    fails = 0
    objs = gen()
    for o, st, extra in objs:
        code, body = c.req("POST", path(o, collection=True), o)
        if code not in (200, 201, 409):   # 409: loaded before, write the rest again
            fails += 1
            print("FAILED  create %s %s: %d %s" % (o["kind"], o["metadata"]["name"], code, body[:300]))
            continue
        if o["kind"] == "Namespace":
            c.req("POST", "/api/v1/namespaces/%s/serviceaccounts" % o["metadata"]["name"],
                  {"metadata": {"name": "default"}})
        if extra.get("ephemeral"):
            code, body = c.req("PATCH", path(o, "ephemeralcontainers"), {"spec": {"ephemeralContainers": extra["ephemeral"]}},
                               "application/strategic-merge-patch+json")
            if code != 200:
                fails += 1
                print("FAILED  ephemeral %s: %d %s" % (o["metadata"]["name"], code, body[:300]))
        if extra.get("approval"):
            code, body = c.req("PATCH", path(o, "approval"), {"status": {"conditions": extra["approval"]}},
                               "application/merge-patch+json")
            if code != 200:
                fails += 1
                print("FAILED  approval %s: %d %s" % (o["metadata"]["name"], code, body[:300]))
        if st:
            code, body = c.req("PATCH", path(o, "status"), {"status": st}, "application/merge-patch+json")
            if code != 200:
                fails += 1
                print("FAILED  status %s %s: %d %s" % (o["kind"], o["metadata"]["name"], code, body[:300]))
    print("corpus: %d objects, %d kinds, %d failures" % (len(objs), len({o["kind"] for o, _s, _e in objs}), fails))
    return fails


def churn(c):
    """Updates and deletes over the loaded corpus: a label and an annotation changed,
    a status moved on, every 7th object deleted."""
    fails = n_upd = n_del = 0
    for i, (o, st, _extra) in enumerate(gen()):
        if o["kind"] == "Namespace":
            continue
        if i % 7 == 3:
            code, body = c.req("DELETE", path(o) + "?gracePeriodSeconds=0")
            n_del += 1
            if code not in (200, 202):
                fails += 1
                print("FAILED  delete %s %s: %d %s" % (o["kind"], o["metadata"]["name"], code, body[:200]))
            continue
        if i % 3 == 0:
            patch = {"metadata": {"labels": {"churn": "round-1", "app.kubernetes.io/name": None},
                                  "annotations": {"churned": "yes \u2713"}}}
            code, body = c.req("PATCH", path(o), patch, "application/merge-patch+json")
            n_upd += 1
            # 404: the server deleted it along with its owner (Endpoints go with their Service)
            if code not in (200, 404):
                fails += 1
                print("FAILED  update %s %s: %d %s" % (o["kind"], o["metadata"]["name"], code, body[:200]))
        if i % 5 == 1 and o["kind"] == "Pod":
            code, body = c.req("PATCH", path(o, "status"), {"status": {"phase": "Failed", "reason": "Evicted"}},
                               "application/merge-patch+json")
            n_upd += 1
            if code != 200:
                fails += 1
                print("FAILED  status %s: %d %s" % (o["metadata"]["name"], code, body[:200]))
        if i % 5 == 2 and o["kind"] == "Deployment":
            code, body = c.req("PATCH", path(o, "scale"), {"spec": {"replicas": 42}}, "application/merge-patch+json")
            n_upd += 1
            if code != 200:
                fails += 1
                print("FAILED  scale %s: %d %s" % (o["metadata"]["name"], code, body[:200]))
    print("churn: %d updates, %d deletes, %d failures" % (n_upd, n_del, fails))
    return fails


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "count":
        counts = {}
        for o, _s, _e in gen():
            counts[o["kind"]] = counts.get(o["kind"], 0) + 1
        for k in sorted(counts):
            print("%5d %s" % (counts[k], k))
        print("%5d total" % sum(counts.values()))
        return 0
    if len(sys.argv) != 3 or sys.argv[1] not in ("load", "churn"):
        print(__doc__, file=sys.stderr)
        return 2
    c = Client(sys.argv[2])
    return 1 if (load(c) if sys.argv[1] == "load" else churn(c)) else 0


if __name__ == "__main__":
    sys.exit(main())
