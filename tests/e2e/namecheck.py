#!/usr/bin/env python3
"""namecheck.py [--doc docs/metrics.md] [--dashboards DIR] [--alerts FILE]...

Every metric name that a Grafana dashboard of examples/dashboards (panel targets,
nested rows, template-variable queries) or an alert rule file selects must be one
we export or one we compute:

  - a family listed in docs/metrics.md (generated from a live scrape of the agent in
    tests/integration/test_e2e_prometheus.sh), with _bucket/_sum/_count for
    histograms and summaries;
  - a recording rule of examples/prometheus/rules or of the alert files whose inputs
    k8smon exports (tests/e2e/expectations.py: not the apiserver/scheduler/kubelet
    ones);
  - ALERTS / ALERTS_FOR_STATE (Prometheus' own).

A dashboard that names a metric nobody serves evaluates without error in Prometheus
(an empty panel), so the e2e run cannot catch it; this check does, without a
Prometheus. `--selftest` checks the PromQL name extraction on known expressions.
One line per check; exit status 1 if any failed.
"""
import argparse
import glob
import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_prom  # noqa: E402  (dashboard_exprs: the same walk the e2e run evaluates)
import expectations  # noqa: E402

FAILS = 0
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
            "offset", "bool", "inf", "nan", "atan2"}
BUILTIN = {"ALERTS", "ALERTS_FOR_STATE"}


def ok(msg):
    print("ok   - " + msg)


def fail(msg):
    global FAILS
    FAILS += 1
    print("FAIL - " + msg)


def metric_names(expr):
    """Metric names selected by a PromQL expression (Grafana variables allowed)."""
    e = re.sub(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]", "1", expr)           # Grafana variables / macros
    e = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'|`[^`]*`', '""', e)  # string literals
    e = re.sub(r"\{[^}]*\}", "", e)                                      # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                                     # ranges, subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.:])[a-zA-Z_:][\w:]*", e):
        tok = m.group(0)
        if tok.lower() in KEYWORDS or re.match(r"\s*\(", e[m.end():]):
            continue                                                     # keyword or function call
        names.add(tok)
    return names


def exported(doc):
    """Families listed per endpoint in docs/metrics.md -> set of sample names."""
    names = set()
    text = open(doc).read().split("\n## kube-prometheus recording rules")[0]
    for name, typ in re.findall(r"^\| `([a-zA-Z_:][\w:]*)` \| (\w+) \|", text, re.M):
        names.add(name)
        if typ in ("histogram", "summary"):
            names.update(name + s for s in ("_bucket", "_sum", "_count"))
    return names


def records(files):
    """Recording rules (name -> expr) of plain rule files or PrometheusRule objects."""
    out = {}
    for f in files:
        for d in yaml.safe_load_all(open(f)):
            groups = (d or {}).get("groups") or ((d or {}).get("spec") or {}).get("groups") or []
            for g in groups:
                for r in g["rules"]:
                    if "record" in r:
                        out[r["record"]] = r["expr"]
    return out


def selftest():
    cases = [
        ('sum by (namespace) (rate(container_cpu_usage_seconds_total{job="kubelet", namespace=~"$namespace"}[$__rate_interval]))',
         {"container_cpu_usage_seconds_total"}),
        ('node_memory_MemAvailable_bytes / on(instance) group_left(nodename) node_uname_info offset 5m > 0.9 and bool 1e3',
         {"node_memory_MemAvailable_bytes", "node_uname_info"}),
        ('label_replace(kube_pod_info{node="$node"}, "x", "$1", "pod", "(up.*)") * on (pod) group_right kube_pod_owner',
         {"kube_pod_info", "kube_pod_owner"}),
        ('histogram_quantile(0.99, sum(rate(k8smon_http_request_duration_seconds_bucket[5m])) by (le)) > time() - 1h',
         {"k8smon_http_request_duration_seconds_bucket"}),
        ('max_over_time(ALERTS{alertstate="firing"}[1h:5m]) unless absent(up{job="k8smon"})', {"ALERTS", "up"}),
    ]
    for expr, want in cases:
        got = metric_names(expr)
        (ok if got == want else fail)("selftest: names of %r: %s" % (expr[:60], sorted(got)))
    fam = exported(os.path.join(ROOT, "docs/metrics.md"))
    bad = {"node_cpu_seconds_totall", "kube_pod_infos", "container_cpu_usage_seconds"}
    (ok if not (bad & fam) and "node_cpu_seconds_total" in fam else fail)(
        "selftest: a misspelt family is not taken for an exported one")


ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs/metrics.md"))
    ap.add_argument("--dashboards", default=os.path.join(ROOT, "examples/dashboards"))
    ap.add_argument("--rules", default=os.path.join(ROOT, "examples/prometheus/rules"))
    ap.add_argument("--alerts", action="append", default=None)
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args()
    if a.selftest:
        selftest()
        return 1 if FAILS else 0
    alerts = a.alerts or [os.path.join(ROOT, "examples/alerts/k8smon-alerts.yaml")]
    fam = exported(a.doc)
    recs = records(sorted(glob.glob(os.path.join(a.rules, "*.yaml"))) + alerts)
    fed = {r for r in recs if expectations.recording_expectation(r, True)[0]}
    known = fam | fed | BUILTIN

    sources = []
    for f in sorted(glob.glob(os.path.join(a.dashboards, "*.json"))):
        d = json.load(open(f))
        sources.append((os.path.basename(f), list(check_prom.dashboard_exprs(d))))
    for f in alerts:
        exprs = []
        for g in yaml.safe_load(open(f))["groups"]:
            for r in g["rules"]:
                exprs.append(("%s %s" % ("alert" if "alert" in r else "record", r.get("alert") or r.get("record")), r["expr"]))
        sources.append((os.path.relpath(f, ROOT), exprs))

    for src, exprs in sources:
        used, unknown = set(), {}
        for where, expr in exprs:
            for n in metric_names(expr):
                used.add(n)
                if n not in known:
                    unknown.setdefault(n, []).append(where)
        if not used:
            fail("%s: no metric names found" % src)
        elif unknown:
            for n, where in sorted(unknown.items()):
                why = "recording rule whose inputs k8smon does not export" if n in recs else "not in docs/metrics.md"
                fail("%s: %s (%s) -- %s" % (src, n, why, ", ".join(sorted(set(where)))[:200]))
        else:
            ok("%s: all %d metric names are exported families (docs/metrics.md) or fed recording rules (%d of them)"
               % (src, len(used), len(used & fed)))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
