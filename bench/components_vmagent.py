#!/usr/bin/env python3
"""Writes the vmagent scrape config equivalent to kube-prometheus's component
ServiceMonitors/PodMonitors for bench/components.sh: the endpoints the agent's
component jobs scrape (fakecomp's ports), the same labels, bearer token file, CA,
etcd client certificate, and as metric_relabel_configs the agent's own built-in
drop lists, read from src/collect/components/drops.c so that the two sides
cannot drift apart.

  components_vmagent.py OUT --fc-json FC/server.json --interval 30s --token FILE
      --ca FILE --etcd-cert FILE --etcd-key FILE --node NAME --coredns-pod NAME
"""
import argparse
import json
import re
import sys


def drop_lists(path):
    """name -> list of relabel rules, from the C string tables of drops.c."""
    src = open(path).read()
    out = {}
    for m in re.finditer(r'static const char (\w+)\[\] =\s*((?:"(?:[^"\\]|\\.)*"\s*)+);', src):
        lits = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))
        text = "".join(lits).replace('\\"', '"').replace("\\\\", "\\")
        out[m.group(1)] = json.loads(text)
    want = {"kubelet_metrics", "kubelet_cadvisor", "apiserver_metrics",
            "controller_manager_metrics", "coredns_metrics"}
    if not want <= set(out):
        sys.exit(f"drops.c: tables {sorted(want - set(out))} not found")
    return out


def relabel(rules):
    conv = []
    for r in rules:
        if r.get("action") != "drop":
            sys.exit(f"drops.c: unexpected action {r.get('action')!r}")
        conv.append({"action": "drop", "regex": r["regex"],
                     "source_labels": r["sourceLabels"]})
    return conv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--fc-json", required=True)
    ap.add_argument("--drops", default="src/collect/components/drops.c")
    ap.add_argument("--interval", default="30s")
    ap.add_argument("--token", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--etcd-cert", required=True)
    ap.add_argument("--etcd-key", required=True)
    ap.add_argument("--node", default="k8smon-node")
    ap.add_argument("--coredns-pod", default="coredns-1")
    a = ap.parse_args()
    ports = json.load(open(a.fc_json))["ports"]
    d = drop_lists(a.drops)
    https = {"scheme": "https", "bearer_token_file": a.token, "tls_config": {"ca_file": a.ca}}
    h = "127.0.0.1"
    jobs = []

    def job(name, port, labels, path="/metrics", auth=True, drops=None, honor=False, extra=None):
        j = {"job_name": name, "scrape_interval": a.interval, "metrics_path": path,
             "honor_labels": honor,
             "static_configs": [{"targets": [f"{h}:{port}"], "labels": labels}]}
        if auth:
            j.update(https)
        if extra:
            j.update(extra)
        if drops:
            j["metric_relabel_configs"] = relabel(d[drops])
        jobs.append(j)

    kp = ports["kubelet"]
    for path, drops in (("/metrics", "kubelet_metrics"), ("/metrics/cadvisor", "kubelet_cadvisor"),
                        ("/metrics/probes", None), ("/metrics/resource", None)):
        job("kubelet" + path.replace("/", "-"), kp,
            {"job": "kubelet", "node": a.node, "metrics_path": path, "namespace": "kube-system",
             "service": "kubelet", "endpoint": "https-metrics"}, path=path, drops=drops, honor=True)
    job("apiserver", ports["kube-apiserver"], {"job": "apiserver", "namespace": "default",
        "service": "kubernetes", "endpoint": "https"}, drops="apiserver_metrics")
    for comp, drops in (("kube-scheduler", None), ("kube-controller-manager", "controller_manager_metrics")):
        job(comp, ports[comp], {"job": comp, "namespace": "kube-system",
            "service": comp + "-prometheus-discovery", "endpoint": "https-metrics"}, drops=drops)
    job("kube-proxy", ports["kube-proxy"], {"job": "kube-proxy", "instance": a.node,
        "namespace": "kube-system", "container": "kube-proxy"}, auth=False, honor=True)
    job("kube-dns", ports["coredns"], {"job": "kube-dns", "namespace": "kube-system",
        "pod": a.coredns_pod, "container": "coredns", "service": "kube-dns", "endpoint": "metrics"},
        auth=False, drops="coredns_metrics")
    job("etcd", ports["etcd"], {"job": "etcd", "namespace": "kube-system", "service": "etcd",
        "endpoint": "metrics"}, auth=False,
        extra={"scheme": "https", "tls_config": {"ca_file": a.ca, "cert_file": a.etcd_cert,
                                                 "key_file": a.etcd_key}})
    # JSON is YAML: no PyYAML needed.
    with open(a.out, "w") as f:
        json.dump({"global": {"scrape_interval": a.interval}, "scrape_configs": jobs}, f, indent=1)
    print(f"{len(jobs)} jobs, {sum(len(j.get('metric_relabel_configs', [])) for j in jobs)} drop rules")


if __name__ == "__main__":
    main()
