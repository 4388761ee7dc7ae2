#!/usr/bin/env python3
"""usage: rbac_kinds.py RENDERED_CHART.yaml

Prints, joined by '|', the kube-state resources that the chart's agent ClusterRole
does not let it list AND that the chart's default K8sMonitor does not select
(spec.kubeState.resources present and without them). For those the agent logging
"<kind> cannot be listed (403: RBAC)" is the documented behaviour, not a bug.
Prints nothing when there are none.
"""
import sys

import yaml

KINDS = {"certificatesigningrequests": "certificates.k8s.io", "configmaps": "", "cronjobs": "batch", "daemonsets": "apps", "deployments": "apps",
         "endpoints": "", "endpointslices": "discovery.k8s.io",
         "horizontalpodautoscalers": "autoscaling", "ingresses": "networking.k8s.io",
         "jobs": "batch", "limitranges": "", "namespaces": "", "networkpolicies": "networking.k8s.io", "nodes": "",
         "persistentvolumeclaims": "", "persistentvolumes": "",
         "poddisruptionbudgets": "policy", "pods": "", "replicasets": "apps", "replicationcontrollers": "",
         "resourcequotas": "", "secrets": "", "services": "", "statefulsets": "apps",
         "storageclasses": "storage.k8s.io", "leases": "coordination.k8s.io",
         "volumeattachments": "storage.k8s.io",
         **{r: "admissionregistration.k8s.io" for r in [
             "mutatingadmissionpolicies", "mutatingadmissionpolicybindings", "mutatingwebhookconfigurations",
             "validatingadmissionpolicies", "validatingadmissionpolicybindings",
             "validatingwebhookconfigurations"]}}

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
sa = next(d for d in docs if d["kind"] == "DaemonSet")["spec"]["template"]["spec"]["serviceAccountName"]
roles = set()
for d in docs:
    if d["kind"] == "ClusterRoleBinding" and any(s.get("name") == sa for s in d.get("subjects", [])):
        roles.add(d["roleRef"]["name"])
rules = [r for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] in roles
         for r in d.get("rules", [])]


def can_list(res):
    g = KINDS[res]
    return any(("list" in r.get("verbs", []) or "*" in r.get("verbs", []))
               and (g in r.get("apiGroups", []) or "*" in r.get("apiGroups", []))
               and (res in r.get("resources", []) or "*" in r.get("resources", []))
               for r in rules)


mon = [d for d in docs if d["kind"] == "K8sMonitor"]
selected = set(KINDS)
if mon:
    ks = ((mon[0].get("spec") or {}).get("kubeState") or {})
    if "resources" in ks:
        selected = set(ks["resources"])
print("|".join(sorted(k for k in KINDS if not can_list(k) and k not in selected)))
