#!/usr/bin/env python3
"""Generates the Grafana dashboards in examples/dashboards/*.json (stdlib only).

Run from the repo root: python3 examples/dashboards/gen.py   (output is committed)
Every query uses k8smon's metric names and the scrape jobs of
examples/prometheus/prometheus.yml (node-exporter, kubelet + metrics_path
/metrics/cadvisor, kube-state-metrics, k8smon) and, where the kubernetes-mixin
recording rules exist (examples/prometheus/rules), those. Datasource: ${datasource}.
tests/integration/test_e2e_prometheus.sh evaluates every expression against a
Prometheus fed by the agent (variables replaced by `.*`).
"""
import json
import os

OUT = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}
KSM = 'job="kube-state-metrics"'
CAD = 'job="kubelet", metrics_path="/metrics/cadvisor"'
NE = 'job="node-exporter"'


def var_ds():
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []}


def var(name, query, label=None, multi=False, include_all=False):
    return {"name": name, "label": label or name, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "definition": query, "refresh": 2, "sort": 1, "multi": multi, "includeAll": include_all,
            "allValue": ".*" if include_all else None, "current": {}, "hide": 0, "options": [], "regex": ""}


class Dash:
    def __init__(self, uid, title, variables, tags=("k8smon",)):
        self.uid, self.title, self.vars, self.tags = uid, title, variables, list(tags)
        self.panels = []
        self.y = 0
        self.x = 0
        self.row_h = 0
        self.next_id = 1

    def _place(self, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_h
            self.row_h = 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title):
        if self.x:
            self.y += self.row_h
            self.x, self.row_h = 0, 0
        self.panels.append({"id": self.next_id, "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": []})
        self.next_id += 1
        self.y += 1

    def panel(self, kind, title, targets, unit="short", w=12, h=8, desc="", extra=None):
        p = {"id": self.next_id, "type": kind, "title": title, "description": desc, "datasource": DS,
             "gridPos": self._place(w, h),
             "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
             "options": {},
             "targets": [{"datasource": DS, "refId": chr(65 + i), "expr": e, "legendFormat": l,
                          **({"instant": True, "format": "table"} if kind == "table" else {})}
                         for i, (e, l) in enumerate(targets)]}
        if kind == "timeseries":
            p["options"] = {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
                            "tooltip": {"mode": "multi", "sort": "desc"}}
        if kind == "stat":
            p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                            "colorMode": "value", "graphMode": "none", "textMode": "auto"}
        if extra:
            p.update(extra)
        self.next_id += 1
        self.panels.append(p)

    def stat(self, title, expr, unit="short", w=4, h=4, desc=""):
        self.panel("stat", title, [(expr, "")], unit, w, h, desc)

    def ts(self, title, targets, unit="short", w=12, h=8, desc=""):
        self.panel("timeseries", title, targets, unit, w, h, desc)

    def table(self, title, targets, w=24, h=8, desc=""):
        self.panel("table", title, targets, "short", w, h, desc)

    def json(self):
        return {"uid": self.uid, "title": self.title, "tags": self.tags, "timezone": "browser",
                "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1,
                "refresh": "30s", "time": {"from": "now-1h", "to": "now"},
                "annotations": {"list": []},
                "links": [{"type": "dashboards", "tags": ["k8smon"], "asDropdown": True, "title": "k8smon",
                           "includeVars": False, "keepTime": True}],
                "templating": {"list": self.vars}, "panels": self.panels}


def cluster():
    d = Dash("k8smon-cluster", "k8smon / Cluster", [var_ds()])
    d.row("Overview")
    d.stat("Nodes", 'count(kube_node_info{%s})' % KSM)
    d.stat("Nodes not ready", 'count(kube_node_status_condition{%s, condition="Ready", status="true"} == 0) or vector(0)' % KSM)
    d.stat("Pods running", 'sum(kube_pod_status_phase{%s, phase="Running"})' % KSM)
    d.stat("Pods not ready", 'sum(kube_pod_status_ready{%s, condition="true"} == 0 and on(namespace, pod) kube_pod_status_phase{%s, phase="Running"} == 1) or vector(0)' % (KSM, KSM))
    d.stat("Containers waiting", 'count(kube_pod_container_status_waiting_reason{%s}) or vector(0)' % KSM)
    d.stat("k8smon agents up", 'sum(up{job="k8smon"})')
    d.row("Capacity")
    d.stat("CPU requests / allocatable", 'sum(namespace_cpu:kube_pod_container_resource_requests:sum) / sum(kube_node_status_allocatable{%s, resource="cpu"})' % KSM, "percentunit", w=6)
    d.stat("Memory requests / allocatable", 'sum(namespace_memory:kube_pod_container_resource_requests:sum) / sum(kube_node_status_allocatable{%s, resource="memory"})' % KSM, "percentunit", w=6)
    d.stat("CPU utilisation", 'cluster:node_cpu:ratio_rate5m', "percentunit", w=6)
    d.stat("Memory utilisation", '1 - sum(:node_memory_MemAvailable_bytes:sum) / sum(node_memory_MemTotal_bytes{%s})' % NE, "percentunit", w=6)
    d.ts("CPU usage by namespace", [('sum by (namespace) (node_namespace_pod_container:container_cpu_usage_seconds_total:sum_rate5m)', "{{namespace}}")], "cores")
    d.ts("Memory working set by namespace", [('sum by (namespace) (container_memory_working_set_bytes{%s, container!="", image!=""})' % CAD, "{{namespace}}")], "bytes")
    d.ts("CPU requests vs allocatable by node", [
        ('sum by (node) (kube_pod_container_resource_requests{%s, resource="cpu"} * on(namespace, pod) group_left() max by (namespace, pod) (kube_pod_status_phase{%s, phase=~"Pending|Running"} == 1))' % (KSM, KSM), "requests {{node}}"),
        ('sum by (node) (kube_node_status_allocatable{%s, resource="cpu"})' % KSM, "allocatable {{node}}")], "cores")
    d.ts("Network receive / transmit by namespace", [
        ('sum by (namespace) (rate(container_network_receive_bytes_total{%s}[$__rate_interval]))' % CAD, "rx {{namespace}}"),
        ('-sum by (namespace) (rate(container_network_transmit_bytes_total{%s}[$__rate_interval]))' % CAD, "tx {{namespace}}")], "Bps")
    d.row("Problems")
    d.table("Pods waiting or restarting", [
        ('sum by (namespace, pod, container, reason) (kube_pod_container_status_waiting_reason{%s})' % KSM, ""),
        ('sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total{%s}[1h])) > 0' % KSM, "")], w=12)
    d.table("Workloads missing replicas", [
        ('kube_deployment_spec_replicas{%s} - kube_deployment_status_replicas_available{%s} > 0' % (KSM, KSM), ""),
        ('kube_daemonset_status_desired_number_scheduled{%s} - kube_daemonset_status_number_available{%s} > 0' % (KSM, KSM), ""),
        ('kube_statefulset_replicas{%s} - kube_statefulset_status_replicas_ready{%s} > 0' % (KSM, KSM), "")], w=12)
    d.table("Resource quotas (used / hard)", [
        ('sum by (namespace, resourcequota, resource) (kube_resourcequota{%s, type="used"}) / sum by (namespace, resourcequota, resource) (kube_resourcequota{%s, type="hard"} > 0)' % (KSM, KSM), "")], w=12)
    d.table("PersistentVolumeClaims not bound", [('kube_persistentvolumeclaim_status_phase{%s, phase!="Bound"} == 1' % KSM, "")], w=12)
    return d


def node():
    sel = '%s, instance=~"$node"' % NE
    d = Dash("k8smon-node", "k8smon / Node", [var_ds(), var("node", 'label_values(node_uname_info{%s}, instance)' % NE, "Node")])
    d.row("Overview")
    d.stat("CPUs", 'count(node_cpu_seconds_total{%s, mode="idle"})' % sel)
    d.stat("Memory", 'sum(node_memory_MemTotal_bytes{%s})' % sel, "bytes")
    d.stat("Uptime", 'max(node_time_seconds{%s} - node_boot_time_seconds{%s})' % (sel, sel), "s")
    d.stat("Load 1m / CPU", 'max(instance:node_load1_per_cpu:ratio{%s})' % sel, "percentunit")
    d.stat("Pods on node", 'count(kube_pod_info{%s, node=~"$node"})' % KSM)
    d.stat("Node ready", 'max(kube_node_status_condition{%s, node=~"$node", condition="Ready", status="true"})' % KSM)
    d.row("CPU and memory")
    d.ts("CPU by mode", [('sum by (mode) (rate(node_cpu_seconds_total{%s, mode!="idle"}[$__rate_interval]))' % sel, "{{mode}}")], "cores")
    d.ts("Memory", [
        ('node_memory_MemTotal_bytes{%s} - node_memory_MemAvailable_bytes{%s}' % (sel, sel), "used"),
        ('node_memory_Cached_bytes{%s} + node_memory_Buffers_bytes{%s}' % (sel, sel), "cache + buffers"),
        ('node_memory_MemAvailable_bytes{%s}' % sel, "available")], "bytes")
    d.ts("Load average", [('node_load1{%s}' % sel, "1m"), ('node_load5{%s}' % sel, "5m"), ('node_load15{%s}' % sel, "15m")])
    d.ts("Pressure (PSI)", [('rate(node_pressure_cpu_waiting_seconds_total{%s}[$__rate_interval])' % sel, "cpu some"),
                           ('rate(node_pressure_memory_waiting_seconds_total{%s}[$__rate_interval])' % sel, "memory some"),
                           ('rate(node_pressure_io_waiting_seconds_total{%s}[$__rate_interval])' % sel, "io some")], "percentunit")
    d.row("Disk and filesystems")
    d.ts("Disk I/O", [('rate(node_disk_read_bytes_total{%s}[$__rate_interval])' % sel, "read {{device}}"),
                     ('-rate(node_disk_written_bytes_total{%s}[$__rate_interval])' % sel, "write {{device}}")], "Bps")
    d.ts("Disk busy", [('rate(node_disk_io_time_seconds_total{%s}[$__rate_interval])' % sel, "{{device}}")], "percentunit")
    d.table("Filesystems", [('1 - node_filesystem_avail_bytes{%s, fstype!=""} / node_filesystem_size_bytes{%s, fstype!=""}' % (sel, sel), "")])
    d.row("Network")
    d.ts("Network traffic", [('rate(node_network_receive_bytes_total{%s, device!~"lo|veth.+"}[$__rate_interval])' % sel, "rx {{device}}"),
                            ('-rate(node_network_transmit_bytes_total{%s, device!~"lo|veth.+"}[$__rate_interval])' % sel, "tx {{device}}")], "Bps")
    d.ts("Network errors and drops", [('rate(node_network_receive_errs_total{%s}[$__rate_interval])' % sel, "rx errs {{device}}"),
                                     ('rate(node_network_transmit_errs_total{%s}[$__rate_interval])' % sel, "tx errs {{device}}"),
                                     ('rate(node_network_receive_drop_total{%s}[$__rate_interval])' % sel, "rx drop {{device}}")], "pps")
    d.row("Containers on this node")
    d.ts("CPU by pod", [('sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{%s, node=~"$node", container!="", image!=""}[$__rate_interval]))' % CAD, "{{namespace}}/{{pod}}")], "cores")
    d.ts("Memory working set by pod", [('sum by (namespace, pod) (container_memory_working_set_bytes{%s, node=~"$node", container!="", image!=""})' % CAD, "{{namespace}}/{{pod}}")], "bytes")
    return d


def workload():
    d = Dash("k8smon-workload", "k8smon / Namespace and workloads", [
        var_ds(),
        var("namespace", 'label_values(kube_namespace_status_phase{%s}, namespace)' % KSM, "Namespace"),
        var("type", 'label_values(namespace_workload_pod:kube_pod_owner:relabel{namespace=~"$namespace"}, workload_type)', "Type", include_all=True),
        var("workload", 'label_values(namespace_workload_pod:kube_pod_owner:relabel{namespace=~"$namespace", workload_type=~"$type"}, workload)', "Workload", include_all=True, multi=True)])
    wl = 'namespace_workload_pod:kube_pod_owner:relabel{namespace=~"$namespace", workload_type=~"$type", workload=~"$workload"}'
    d.row("Namespace")
    d.stat("Pods", 'count(kube_pod_info{%s, namespace=~"$namespace"})' % KSM)
    d.stat("CPU requests", 'sum(namespace_cpu:kube_pod_container_resource_requests:sum{namespace=~"$namespace"})', "cores")
    d.stat("Memory requests", 'sum(namespace_memory:kube_pod_container_resource_requests:sum{namespace=~"$namespace"})', "bytes")
    d.stat("CPU usage", 'sum(node_namespace_pod_container:container_cpu_usage_seconds_total:sum_rate5m{namespace=~"$namespace"})', "cores")
    d.stat("Memory usage", 'sum(container_memory_working_set_bytes{%s, namespace=~"$namespace", container!="", image!=""})' % CAD, "bytes")
    d.stat("Restarts (1h)", 'sum(increase(kube_pod_container_status_restarts_total{%s, namespace=~"$namespace"}[1h]))' % KSM)
    d.table("Quota", [('kube_resourcequota{%s, namespace=~"$namespace"}' % KSM, "")])
    d.row("Workloads")
    d.ts("CPU by workload", [('sum by (workload, workload_type) (node_namespace_pod_container:container_cpu_usage_seconds_total:sum_rate5m{namespace=~"$namespace"} * on(namespace, pod) group_left(workload, workload_type) %s)' % wl, "{{workload}} ({{workload_type}})")], "cores")
    d.ts("Memory by workload", [('sum by (workload, workload_type) (container_memory_working_set_bytes{%s, namespace=~"$namespace", container!="", image!=""} * on(namespace, pod) group_left(workload, workload_type) %s)' % (CAD, wl), "{{workload}} ({{workload_type}})")], "bytes")
    d.ts("Network receive by workload", [('sum by (workload) (rate(container_network_receive_bytes_total{%s, namespace=~"$namespace"}[$__rate_interval]) * on(namespace, pod) group_left(workload) %s)' % (CAD, wl), "{{workload}}")], "Bps")
    d.table("Deployments", [('kube_deployment_status_replicas_available{%s, namespace=~"$namespace"}' % KSM, ""),
                            ('kube_deployment_spec_replicas{%s, namespace=~"$namespace"}' % KSM, "")], w=12)
    d.table("Pods by workload and phase", [('sum by (workload, workload_type, phase) (kube_pod_status_phase{%s, namespace=~"$namespace"} * on(namespace, pod) group_left(workload, workload_type) %s) > 0' % (KSM, wl), "")], w=12)
    return d


def pod():
    d = Dash("k8smon-pod", "k8smon / Pod", [
        var_ds(),
        var("namespace", 'label_values(kube_pod_info{%s}, namespace)' % KSM, "Namespace"),
        var("pod", 'label_values(kube_pod_info{%s, namespace=~"$namespace"}, pod)' % KSM, "Pod")])
    p = 'namespace=~"$namespace", pod=~"$pod"'
    d.row("Status")
    d.stat("Phase", 'max by (phase) (kube_pod_status_phase{%s, %s}) == 1' % (KSM, p), w=6)
    d.stat("Ready", 'max(kube_pod_status_ready{%s, %s, condition="true"})' % (KSM, p))
    d.stat("Restarts", 'sum(kube_pod_container_status_restarts_total{%s, %s})' % (KSM, p))
    d.stat("QoS", 'max by (qos_class) (kube_pod_status_qos_class{%s, %s}) == 1' % (KSM, p), w=5)
    d.stat("Node", 'max by (node) (kube_pod_info{%s, %s})' % (KSM, p), w=5)
    d.table("Containers", [('kube_pod_container_info{%s, %s}' % (KSM, p), ""),
                           ('kube_pod_container_status_waiting_reason{%s, %s}' % (KSM, p), ""),
                           ('kube_pod_container_status_last_terminated_reason{%s, %s}' % (KSM, p), "")])
    d.row("Resources")
    d.ts("CPU usage vs requests and limits", [
        ('sum by (container) (rate(container_cpu_usage_seconds_total{%s, %s, container!="", image!=""}[$__rate_interval]))' % (CAD, p), "{{container}}"),
        ('sum by (container) (kube_pod_container_resource_requests{%s, %s, resource="cpu"})' % (KSM, p), "request {{container}}"),
        ('sum by (container) (kube_pod_container_resource_limits{%s, %s, resource="cpu"})' % (KSM, p), "limit {{container}}")], "cores")
    d.ts("CPU throttling", [('sum by (container) (increase(container_cpu_cfs_throttled_periods_total{%s, %s, container!=""}[$__rate_interval])) / sum by (container) (increase(container_cpu_cfs_periods_total{%s, %s, container!=""}[$__rate_interval]))' % (CAD, p, CAD, p), "{{container}}")], "percentunit")
    d.ts("Memory vs requests and limits", [
        ('sum by (container) (container_memory_working_set_bytes{%s, %s, container!="", image!=""})' % (CAD, p), "working set {{container}}"),
        ('sum by (container) (container_memory_rss{%s, %s, container!="", image!=""})' % (CAD, p), "rss {{container}}"),
        ('sum by (container) (kube_pod_container_resource_requests{%s, %s, resource="memory"})' % (KSM, p), "request {{container}}"),
        ('sum by (container) (kube_pod_container_resource_limits{%s, %s, resource="memory"})' % (KSM, p), "limit {{container}}")], "bytes")
    d.ts("Network", [('sum(rate(container_network_receive_bytes_total{%s, %s}[$__rate_interval]))' % (CAD, p), "rx"),
                    ('-sum(rate(container_network_transmit_bytes_total{%s, %s}[$__rate_interval]))' % (CAD, p), "tx")], "Bps")
    d.ts("Filesystem I/O", [('sum by (container) (rate(container_fs_reads_bytes_total{%s, %s, container!=""}[$__rate_interval]))' % (CAD, p), "read {{container}}"),
                           ('-sum by (container) (rate(container_fs_writes_bytes_total{%s, %s, container!=""}[$__rate_interval]))' % (CAD, p), "write {{container}}")], "Bps")
    d.ts("OOM events", [('sum by (container) (increase(container_oom_events_total{%s, %s, container!=""}[$__rate_interval]))' % (CAD, p), "{{container}}")])
    return d


def main():
    for d in (cluster(), node(), workload(), pod()):
        path = os.path.join(OUT, d.uid + ".json")
        with open(path, "w") as f:
            json.dump(d.json(), f, indent=1)
            f.write("\n")
        print("wrote", path)


if __name__ == "__main__":
    main()
