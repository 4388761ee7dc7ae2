#!/usr/bin/env python3
"""gen_metrics_doc.py DIR --rules RULES_DIR [--out docs/metrics.md]

Writes docs/metrics.md from what a running agent actually served and what the
e2e Prometheus computed (tests/integration/test_e2e_prometheus.sh with
E2E_WRITE_DOC=1 calls it). DIR holds node.prom, cadvisor.prom, kube-state.prom,
apps.prom, self.prom (scrapes of the agent), rules.json and alerts.json (from
check_prom.py); RULES_DIR the plain kube-prometheus rule files.
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expectations  # noqa: E402
import inputs_doc  # noqa: E402

ENDPOINTS = [
    ("node", "/metrics/node", "node-exporter", "node_exporter"),
    ("cadvisor", "/metrics/cadvisor", "kubelet (metrics_path /metrics/cadvisor)", "cAdvisor"),
    ("kube-state", "/metrics/kube-state", "kube-state-metrics", "kube-state-metrics"),
    ("apps", "/metrics/apps", "k8smon-apps (honor_labels)", "Prometheus"),
    ("self", "/metrics/self", "k8smon", "k8smon"),
]

NODE_COLLECTOR = [
    (r"^node_cpu_", "cpu"), (r"^node_memory_", "meminfo"), (r"^node_network_(receive|transmit)_", "netdev"),
    (r"^node_network_", "netclass"), (r"^node_disk_", "diskstats"), (r"^node_filesystem_", "filesystem"),
    (r"^node_netstat_", "netstat"), (r"^node_timex_", "timex"), (r"^node_time_", "time"),
    (r"^node_uname_", "uname"), (r"^node_os_", "os"), (r"^node_pressure_", "pressure"), (r"^node_vmstat_", "vmstat"),
    (r"^node_nf_conntrack_", "conntrack"), (r"^node_filefd_", "filefd"), (r"^node_load", "loadavg"),
    (r"^node_(boot_time|context_switches|forks|intr|procs)_", "stat"), (r"^node_scrape_collector_", "(meta)"),
]
# node-exporter version behaviour worth knowing (reference: node_cadvisor.md A.3)
NODE_NOTES = {
    "node_filesystem_mount_info": "node-exporter >= 1.9",
    "node_netstat_TcpExt_TCPOFOQueue": "node-exporter >= 1.8",
    "node_netstat_TcpExt_TCPRcvQDrop": "node-exporter >= 1.9",
    "node_memory_Zswap_bytes": "node-exporter >= 1.10.1",
    "node_memory_Zswapped_bytes": "node-exporter >= 1.10.1",
    "node_disk_info": "label rotational as node-exporter >= 1.9",
    "node_filesystem_readonly": "ro in mount or super options (>= 1.10)",
    "node_network_receive_bytes_total": "lo exported (upstream default; Debian 1.5.0 excludes ^lo$)",
}
CADVISOR_NOTES = {
    "container_cpu_usage_seconds_total": "cpu=\"total\" only (kubelet: no per-CPU); omitted while 0",
    "container_memory_failcnt": "0 on cgroup v2 (as cAdvisor)",
    "container_oom_events_total": "from memory.events / memory.oom_control (cAdvisor: /dev/kmsg, resets)",
    "container_spec_cpu_shares": "v2: cAdvisor's linear weight->shares conversion",
    "container_scrape_error": "",
    "container_cpu_load_average_10s": "0, as the kubelet (it never starts cAdvisor's load reader)",
    "container_cpu_load_d_average_10s": "0, as the kubelet (it never starts cAdvisor's load reader)",
    "container_tasks_state": "0 in every state, as the kubelet (no load reader)",
    "container_health_state": "-1 (no Docker health check for CRI containers), as the kubelet",
    "container_file_descriptors": "other users' processes count only with the chart's processFdStats (CAP_SYS_PTRACE)",
    "container_sockets": "other users' processes count only with the chart's processFdStats (CAP_SYS_PTRACE)",
    "container_ulimits_soft": "containers and \"/\": the root process's nofile soft limit",
}
for _n in ("cpu_stalled", "cpu_waiting", "io_stalled", "io_waiting", "memory_stalled", "memory_waiting"):
    CADVISOR_NOTES["container_pressure_%s_seconds_total" % _n] = "cgroup v2 only (kubelet 1.34+); not on a v1 host"
for _n in ("inodes_free", "inodes_total", "limit_bytes", "usage_bytes", "io_current", "io_time_seconds_total",
           "io_time_weighted_seconds_total", "read_seconds_total", "reads_merged_total", "sector_reads_total",
           "sector_writes_total", "write_seconds_total", "writes_merged_total"):
    CADVISOR_NOTES["container_fs_" + _n] = "id=\"/\" only: one row per host filesystem (src/collect/container/rootfs.h)"


ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
UNSEEN_NOTE = {
    "FK_IO": "per block device; only once the container did disk I/O (none in this run; unit-tested)",
    "FK_NET": "per interface; needs a process of the pod (hostPID in a cluster); not in this run",
    "FK_ROW": "not in this run",
    "FK_TASKS": "not in this run",
    "FK_MEMFAIL": "not in this run",
    "FK_FS": "id=\"/\" only; no host filesystem in this run",
    "FK_SCRAPE_ERROR": "",
}


def defined_cadvisor_families():
    """[(name, help, type, kind)] of every family the container collector can write
    (src/collect/container/family.c), so families the e2e run had no data for are listed too."""
    out = []
    src = open(os.path.join(ROOT, "src/collect/container/family.c")).read()
    for name, help_, typ, kind in re.findall(r'\{ "(container_\w+)", "([^"]*)", ([CG]), (FK_\w+),', src):
        out.append((name, help_, "counter" if typ == "C" else "gauge", kind))
    return out


def add_unseen_cadvisor(fams, order):
    """Families of family.c the run did not serve (per-device I/O needs real disk I/O)."""
    for name, help_, typ, kind in defined_cadvisor_families():
        if name in fams:
            continue
        labels = {"container", "id", "image", "name", "namespace", "pod"} | {
            "FK_IO": {"device"}, "FK_NET": {"interface"}, "FK_FS": {"device"}, "FK_TASKS": {"state"},
            "FK_MEMFAIL": {"failure_type", "scope"}}.get(kind, set())
        fams[name] = {"help": help_, "type": typ, "labels": labels, "n": 0, "unseen": UNSEEN_NOTE[kind]}
        order.append(name)


def parse(path):
    fams = {}
    order = []
    if not os.path.exists(path):
        return fams, order
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            fams.setdefault(name, {"help": "", "type": "untyped", "labels": set(), "n": 0})["help"] = help_
            if name not in order:
                order.append(name)
        elif line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            fams.setdefault(name, {"help": "", "type": "untyped", "labels": set(), "n": 0})["type"] = typ
            if name not in order:
                order.append(name)
        elif line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*?)\})?\s", line)
            if not m:
                continue
            name = m.group(1)
            fam = name
            for suf in ("_bucket", "_sum", "_count"):
                if name.endswith(suf) and name[:-len(suf)] in fams:
                    fam = name[:-len(suf)]
            f = fams.setdefault(fam, {"help": "", "type": "untyped", "labels": set(), "n": 0})
            if fam not in order:
                order.append(fam)
            f["n"] += 1
            if m.group(3):
                f["labels"].update(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3)))
    return fams, order


def tokens(expr):
    return set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))


def compat(ep, name, f):
    if ep == "node":
        col = next((c for rx, c in NODE_COLLECTOR if re.search(rx, name)), "?")
        note = NODE_NOTES.get(name, "")
        return "node-exporter `%s`" % col + ("; " + note if note else "")
    if ep == "cadvisor":
        note = f["unseen"] if f.get("unseen") else CADVISOR_NOTES.get(name, "")
        return "cAdvisor v0.52 (kubelet)" + ("; " + note if note else "")
    if ep == "kube-state":
        if name.startswith("kube_state_metrics_"):
            return "KSM v2.20 telemetry (own port in KSM)"
        stab = "STABLE" if f["help"].startswith("[STABLE]") else "ALPHA/experimental"
        return "KSM v2.20 (%s)" % stab
    if ep == "apps":
        return "Prometheus scrape semantics"
    return "k8smon only" if name.startswith("k8smon_") else "client_golang process collector"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--rules", required=True)
    ap.add_argument("--alerts-file", default="examples/alerts/k8smon-alerts.yaml")
    ap.add_argument("--dashboards", default="examples/dashboards")
    ap.add_argument("--out", default="docs/metrics.md")
    a = ap.parse_args()

    rules = expectations.rules_from_dir(a.rules)
    import yaml
    own = [(g["name"], r) for g in yaml.safe_load(open(a.alerts_file))["groups"] for r in g["rules"]]
    dash_exprs = {}
    for fn in sorted(os.listdir(a.dashboards)):
        if fn.endswith(".json"):
            d = json.load(open(os.path.join(a.dashboards, fn)))
            txt = json.dumps(d)
            dash_exprs[fn[:-5]] = tokens(txt)
    own_names = {r.get("alert") for _, r in own}
    rules = [(g, r) for g, r in rules if r.get("alert") not in own_names]
    users = {}
    for _, r in rules:
        for t in tokens(r["expr"]):
            users.setdefault(t, []).append(r.get("alert") or r.get("record"))
    for _, r in own:
        for t in tokens(r["expr"]):
            users.setdefault(t, []).append("*" + r["alert"])
    for dn, toks in dash_exprs.items():
        for t in toks:
            users.setdefault(t, []).append("dashboard " + dn)

    served = set()
    out = []
    w = out.append
    w("# k8smon metrics")
    w("")
    w("Generated by `tests/e2e/gen_metrics_doc.py` from what `bin/k8smon` served in")
    w("`tests/integration/test_e2e_prometheus.sh` (Kubernetes mode, fake API server with")
    w("`examples/cluster` + `tests/e2e/cluster-extra`, node demo-node-1, kubelet-shaped cgroups) and")
    w("what the real Prometheus computed from it. Regenerate: `E2E_WRITE_DOC=1 sh tests/integration/test_e2e_prometheus.sh`.")
    w("Host-dependent families (per-device, PSI, conntrack, ...) appear only where the host has them.")
    w("")
    w("Scrape jobs (see `examples/prometheus/README.md`): one job per endpoint, named like the")
    w("exporter it replaces, so kubernetes-mixin / node-mixin selectors match unchanged.")
    w("")
    w("| endpoint | scrape job | replaces | families |")
    w("|---|---|---|---|")
    parsed = {}
    for key, path, job, tool in ENDPOINTS:
        fams, order = parse(os.path.join(a.dir, key + ".prom"))
        if key == "cadvisor" and order:
            add_unseen_cadvisor(fams, order)
        parsed[key] = (fams, order)
        w("| `%s` | `%s` | %s | %d |" % (path, job, tool, len(order)))
    w("")
    w("\"Used by\": kube-prometheus alerts/recording rules (`examples/prometheus/rules`), `*` = alerts of")
    w("`examples/alerts/k8smon-alerts.yaml`, dashboards of `examples/dashboards`.")
    for key, path, job, tool in ENDPOINTS:
        fams, order = parsed[key]
        w("")
        w("## `%s` (job `%s`)" % (path, job))
        w("")
        if not order:
            w("No samples in this run. `/metrics/apps` carries the samples of the application targets the agent")
            w("discovers (annotations / ScrapeRule), each with the target's labels, plus `up`, `scrape_duration_seconds`,")
            w("`scrape_samples_scraped`, `scrape_samples_post_metric_relabeling`, `scrape_series_added` per target,")
            w("with Prometheus semantics; scrape it with `honor_labels: true`.")
            continue
        w("| metric | type | labels | compatible with | used by |")
        w("|---|---|---|---|---|")
        for name in sorted(order):
            f = fams[name]
            if not f.get("unseen"):
                served.add(name)
            u = users.get(name, [])
            if f["type"] == "histogram":
                for suf in ("_bucket", "_sum", "_count"):
                    u = u + users.get(name + suf, [])
            u = sorted(set(u))
            us = ", ".join(u[:4]) + (" (+%d)" % (len(u) - 4) if len(u) > 4 else "")
            labels = ",".join(sorted(f["labels"]))
            w("| `%s` | %s | %s | %s | %s |" % (name, f["type"], labels, compat(key, name, f), us))

    # component jobs (issue 19): one row per job and path, then every rule / panel input
    comp = os.path.join(a.dir, "components.prom")
    if os.path.exists(comp):
        w("")
        w("## `/metrics/components` (jobs `kubelet`, `apiserver`, `kube-scheduler`, `kube-controller-manager`, `kube-proxy`, `kube-dns`, `etcd`)")
        w("")
        w("The component jobs (docs/components.md), each also on its own path (`/metrics/kubelet`, `/metrics/apiserver`,")
        w("...), with the labels kube-prometheus's ServiceMonitors give them: scrape with `honor_labels: true`.")
        w("Families and samples as served in this run by an agent scraping `tests/fakecomp` (recorded real")
        w("components, `tests/fakecomp/fixtures/SOURCES`), after kube-prometheus's default drop lists.")
        w("")
        w("| job | metrics_path | families | samples |")
        w("|---|---|---|---|")
        per = {}
        for line in open(comp):
            if line.startswith("#") or not line.strip():
                continue
            job = re.search(r'[{,]job="([^"]*)"', line)
            mp = re.search(r'[{,]metrics_path="([^"]*)"', line)
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            k = (job.group(1) if job else "?", mp.group(1) if mp else "/metrics")
            fams, n = per.setdefault(k, (set(), [0]))
            fams.add(re.sub(r"_(bucket|sum|count)$", "", name))
            n[0] += 1
        for (job, mp), (fams, n) in sorted(per.items()):
            w("| `%s` | `%s` | %d | %d |" % (job, mp, len(fams), n[0]))
            served |= fams
        served |= inputs_doc.names_in(comp)
    w("")
    w(inputs_doc.section(inputs_doc.rows(a.dir))[0])
    w("")
    w("\n".join(inputs_doc.section(inputs_doc.rows(a.dir))[2:]))

    # recording rules
    rr = json.load(open(os.path.join(a.dir, "rules.json")))
    w("")
    w("## kube-prometheus recording rules")
    w("")
    yes = [r for r in rr if r["expected"]]
    no = [r for r in rr if not r["expected"]]
    w("%d recording rules (name + static labels); %d have inputs from k8smon and were checked to return data," % (len(rr), len(yes)))
    w("%d do not (their inputs come from components k8smon does not replace)." % len(no))
    w("")
    w("| recording rule | series in the e2e run | from k8smon |")
    w("|---|---|---|")
    for r in rr:
        w("| `%s` | %d | %s |" % (r["rule"], r["series"], "yes" if r["expected"] else "no: " + r["reason"]))

    # alerts
    fired = json.load(open(os.path.join(a.dir, "alerts.json")))
    rec_ok = {re.sub(r"\{.*", "", r["rule"]) for r in yes}
    w("")
    w("## kube-prometheus alerts")
    w("")
    w("\"Inputs\": whether every metric the expression reads is served by k8smon (or a recording rule fed by it).")
    w("\"Fired in e2e\": firing in the scenario of `tests/e2e/expectations.py` (`for:` shortened to 2 s).")
    w("")
    w("| alert | inputs | fired in e2e |")
    w("|---|---|---|")
    foreign = re.compile(r"^(apiserver_|kubelet_|scheduler_|etcd_|rest_client_|workqueue_|storage_operation_|"
                         r"aggregator_|prometheus_|volume_manager_|kubeproxy_|kubernetes_build_info|"
                         r"node_md_|node_systemd_|node_bonding_|node_textfile_|node_)")
    seen = set()
    for _, r in rules:
        if "alert" not in r or r["alert"] in seen:
            continue
        seen.add(r["alert"])
        missing = []
        for t in sorted(tokens(r["expr"])):
            if ":" in t:
                if t not in rec_ok and t not in served:
                    missing.append(t)
            elif foreign.match(t) or t.startswith(("kube_", "container_")):
                if t not in served:
                    missing.append(t)
        label = "yes" if not missing else "no: " + ", ".join("`%s`" % m for m in missing[:3])
        why = expectations.SCENARIO_ALERTS.get(r["alert"]) or expectations.SIDE_EFFECT_ALERTS.get(r["alert"], "")
        fire = ("yes" + (" (%s)" % why if why else "")) if r["alert"] in fired else ""
        w("| %s | %s | %s |" % (r["alert"], label, fire))
    w("")
    w("## k8smon alerts (`examples/alerts/k8smon-alerts.yaml`)")
    w("")
    w("Unit-tested with `promtool test rules` (`examples/alerts/tests/`, run by `tests/integration/test_rules.sh`).")
    w("")
    w("| group | alert | for | severity | fired in e2e |")
    w("|---|---|---|---|---|")
    for g, r in own:
        if "alert" not in r:
            continue
        why = expectations.SCENARIO_ALERTS.get(r["alert"]) or expectations.SIDE_EFFECT_ALERTS.get(r["alert"], "")
        fire = ("yes" + (" (%s)" % why if why else "")) if r["alert"] in fired else ""
        w("| %s | %s | %s | %s | %s |" % (g, r["alert"], r.get("for", "0s"), r.get("labels", {}).get("severity", ""), fire))
    w("")
    w("Scenario alerts that must fire (checked): %s." % ", ".join(sorted(expectations.SCENARIO_ALERTS)))
    w("Alerts with missing inputs need a name the component jobs did not serve (see \"Rule and dashboard inputs\")")
    w("or node-exporter collectors k8smon does not run by default (systemd: `-collector.systemd`) or that find nothing on the host (mdadm, bonding).")
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote %s (%d families)" % (a.out, len(served)))


if __name__ == "__main__":
    main()
