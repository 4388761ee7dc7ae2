#!/usr/bin/env python3
"""inputs_doc.py -- the "rule and panel inputs" section of docs/metrics.md (issue 19).

Every metric name kube-prometheus's rules and the kubernetes-mixin (and VictoriaMetrics
k8s-stack) dashboards read (tests/e2e/dashboard_inputs.tsv, a copy of the reference list:
recording rules expanded to their raw inputs), with whether the agent served it in this
run. "Served" is computed from the scrapes in DIR (node, cadvisor, kube-state, apps, self,
components .prom), never from the list's own snapshot column; every name not served
gets a reason (REASONS, or: the component emitted it but kube-prometheus's drop list
removes it; or: the recorded component did not emit it).

  rows(dir, fixtures) -> [(metric, component, alerts, records, mixin, vm, served, reason)]
  section(rows) -> markdown lines
  python3 inputs_doc.py DIR   prints the section (for a look)
"""
import glob
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TSV = os.path.join(HERE, "dashboard_inputs.tsv")
FIXTURES = os.path.join(HERE, "..", "fakecomp", "fixtures")

# Why a name is not served, when the generic reasons below do not say enough.
REASONS = {
    "ALERTS": "Prometheus's own series of firing alerts (the rule engine writes it, no exporter does)",
    "aggregator_unavailable_apiservice_total": "renamed: kube-apiserver >= 1.30 serves the gauge "
    "`aggregator_unavailable_apiservice` only (the rule reads both)",
    "kubelet_certificate_manager_client_expiration_renew_errors": "kubelet with client-certificate rotation "
    "from a bootstrap kubeconfig only (the recorded kubelet has a fixed client certificate)",
    "kubelet_certificate_manager_client_ttl_seconds": "kubelet with client-certificate rotation only "
    "(see above)",
    "kubelet_certificate_manager_server_ttl_seconds": "kubelet with serverTLSBootstrap (serving certificate "
    "from a CSR) only; the recorded kubelet serves a self-signed certificate",
    "kubelet_server_expiration_renew_errors": "kubelet with serverTLSBootstrap only (see above)",
    "kubelet_evictions": "kubelet after its first eviction (counter vectors appear with their first event)",
    "kubelet_node_config_error": "removed from the kubelet (dynamic kubelet configuration, gone since 1.24)",
    "kubelet_runtime_operations_errors_total": "kubelet after its first failed CRI call",
    "apiserver_requested_deprecated_apis": "kube-apiserver after a request to a deprecated API version",
    "kubelet_pleg_relist_interval_seconds_bucket": "dropped by kube-prometheus's kubelet drop list "
    "(kubelet_pleg_relist_interval_seconds_bucket with fine le values)",
    "process_virtual_memory_max_bytes": "node_exporter's/Go's process collector: not set by Go "
    "processes (the value is -1 and client_golang leaves it out); none of the components has it",
    "storage_operation_errors_total": "kubelet after its first failed volume operation",
    "kubeproxy_network_programming_duration_seconds_bucket": "kube-proxy once it programs an endpoints "
    "change that carries the last-change-trigger-time annotation (none happened while it was recorded)",
    "kubeproxy_network_programming_duration_seconds_count": "as the _bucket above",
    "scheduler_volume_scheduling_duration_seconds_bucket": "absent from kube-scheduler v1.36.3 even after it "
    "scheduled a pod with a PersistentVolumeClaim (the recording did): gone from current schedulers",
    "scheduler_volume_scheduling_duration_seconds_count": "as the _bucket above",
    "coredns_proxy_request_duration_seconds_count": "CoreDNS < 1.7 (the proxy plugin); today's forward "
    "plugin exports coredns_forward_request_duration_seconds / coredns_proxy_* only with the forward "
    "plugin's own proxy, named coredns_proxy_request_duration_seconds in >= 1.11 once a query was forwarded",
}
# Components that cannot be reached from a node in some clusters (managed control planes)
UNREACHABLE = {
    "scheduler": "served where the scheduler runs on a node (kubeadm, kops, ...); a managed control plane "
    "(EKS, GKE, AKS) runs it off the nodes: not reachable from any node",
    "controller-manager/apiserver": "",
    "etcd": "managed control planes: not reachable from any node",
}


def names_in(path):
    out = set()
    if not os.path.exists(path):
        return out
    for line in open(path, encoding="utf-8", errors="replace"):
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
        if m:
            out.add(m.group(1))
    return out


def rows(dirpath, fixtures=FIXTURES):
    served = set()
    for f in glob.glob(os.path.join(dirpath, "*.prom")):
        served |= names_in(f)
    recorded = set()
    for f in glob.glob(os.path.join(fixtures, "*", "*.prom")):
        recorded |= names_in(f)
    out = []
    for i, line in enumerate(open(TSV)):
        p = line.rstrip("\n").split("\t")
        if i == 0 or len(p) < 7:
            continue
        metric, comp = p[0], p[1]
        alerts, records, mixin, vm = (int(x) for x in p[3:7])
        ok = metric in served
        reason = ""
        if not ok:
            if metric in REASONS:
                reason = REASONS[metric]
            elif metric in recorded:
                reason = ("the component serves it; kube-prometheus's default drop list for this job removes it, "
                          "and so does k8smon (-components.dropLists=false keeps it)")
            elif comp in ("node-exporter",):
                reason = ("not in this run: a node_exporter collector k8smon does not implement, or nothing of "
                          "the kind on the e2e host (see /metrics/node)")
            elif comp in ("ksm", "ksm-self"):
                reason = "kube-state-metrics family not served (see /metrics/kube-state)"
            elif comp == "cadvisor":
                reason = "cAdvisor family not in this run (see /metrics/cadvisor)"
            else:
                reason = "not emitted by the recorded %s (tests/fakecomp/fixtures)" % comp
        out.append((metric, comp, alerts, records, mixin, vm, ok, reason))
    return out


def section(rs):
    w = []
    n_yes = sum(1 for r in rs if r[6])
    comp_rows = [r for r in rs if r[1] not in ("node-exporter", "ksm", "ksm-self", "cadvisor")]
    w.append("## Rule and dashboard inputs")
    w.append("")
    w.append("Every metric name read by kube-prometheus's alerts and recording rules (recording rules expanded")
    w.append("to their inputs), the kubernetes-mixin and node-mixin dashboards and the VictoriaMetrics k8s-stack")
    w.append("dashboards (`tests/e2e/dashboard_inputs.tsv`), and whether k8smon served it in this run (node,")
    w.append("container, kube-state and self endpoints of the e2e agent, `/metrics/components` of an agent whose")
    w.append("component jobs scrape `tests/fakecomp`: recorded output of the real kubelet, kube-apiserver,")
    w.append("kube-scheduler, kube-controller-manager, kube-proxy, CoreDNS and etcd). %d of %d names served;" % (n_yes, len(rs)))
    w.append("of the %d that come from Kubernetes components, %d." % (len(comp_rows), sum(1 for r in comp_rows if r[6])))
    w.append("")
    w.append("Reachability: the kubelet, kube-proxy and CoreDNS run on nodes and the API server is reachable from")
    w.append("every pod, so their jobs work everywhere. kube-scheduler, kube-controller-manager and etcd are scraped")
    w.append("by the agent on a control-plane node (kubeadm, kops, k3s-like setups); on a managed control plane")
    w.append("(EKS, GKE, AKS) they run off the nodes and no node can reach them: their names stay empty there,")
    w.append("as they do for kube-prometheus.")
    w.append("")
    w.append("| metric | component | alerts | records | mixin panels | VM panels | served | why not |")
    w.append("|---|---|---|---|---|---|---|---|")
    for metric, comp, a, r, m, v, ok, reason in rs:
        w.append("| `%s` | %s | %d | %d | %d | %d | %s | %s |" % (metric, comp, a, r, m, v, "yes" if ok else "no", reason))
    return w


if __name__ == "__main__":
    print("\n".join(section(rows(sys.argv[1]))))
