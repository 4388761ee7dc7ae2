#!/usr/bin/env python3
"""comp_rules.py PHASES_DIR OUT_DIR --rules RULES_DIR [--vm]

Writes rule unit tests (promtool `test rules` format; with --vm the vmalert-tool
`unittest` flavour: metricsql_expr_test) for the kube-prometheus alerts that read
the component jobs, fed ONLY by series the agent served:

  PHASES_DIR/<phase>/components.prom   the agent's /metrics/components in that phase
  PHASES_DIR/<phase>/kube-state.prom   the agent's /metrics/kube-state (job
                                       "kube-state-metrics" added, as the chart's scrape does)

Phases (tests/integration/test_component_rules.sh scrapes them, each after the
agent's own `up` showed the state): healthy, kubelet-down (fakecomp's kubelet
refuses connections), apiserver-gone (the API server refuses the Lease renewals:
the agent stops leading and nobody serves the apiserver job), volume-full (the kubelet reports kubelet_volume_stats_available_bytes 1),
crowded (the kubelet reports kubelet_running_pods 109 on a node with 110 pods of
capacity).

A series' labels and gauge values are exactly what the agent served in each phase;
a series the agent did not serve in a phase is missing there. Counters are the only
thing a single scrape cannot give (a rate needs time): they start at the served
value and grow by the scenario's per-minute increments (SCENARIOS: requests at a
steady rate, 5xx answers only in the "storm" stretch). Only series whose name a rule
expression reads are written (the test files stay small; the rest cannot change a
rule's result).

Each alert gets a not-firing check at the end of the healthy stretch and a firing
check after the fault has lasted longer than the alert's `for:` (through ALERTS{},
so the alert's annotations need not be restated); a missing input fails the firing
check. Prints the files written.
"""
import argparse
import glob
import os
import re
import sys

import yaml

# alert -> (list of (phase, minutes, counter growth name), checks)
# growth: None = counters stay at the served value; "steady": every
# apiserver_request_total series with a 2xx/3xx/4xx code and every SLI histogram series grows
# 10/min (requests all fast: each bucket grows with _count); "storm": steady, and
# each 5xx apiserver_request_total series of a read (GET/LIST) grows 10000/min (the
# errors outweigh the steady requests of every other read series).
SCENARIOS = {
    "KubeletDown": {
        "phases": [("healthy", 20, None), ("kubelet-down", 40, None)],
        "quiet_at": 19, "fire_at": 59,
        "by": {"severity": "critical"},
    },
    "KubeAPIDown": {
        "phases": [("healthy", 20, None), ("apiserver-gone", 40, None)],
        "quiet_at": 19, "fire_at": 59,
        "by": {"severity": "critical"},
    },
    "KubePersistentVolumeFillingUp": {
        "phases": [("healthy", 20, None), ("volume-full", 20, None)],
        "quiet_at": 19, "fire_at": 39,
        "by": {"severity": "critical", "namespace": "default", "persistentvolumeclaim": "rec-data"},
    },
    "KubeletTooManyPods": {
        "phases": [("healthy", 20, None), ("crowded", 40, None)],
        "quiet_at": 19, "fire_at": 59,
        "by": {"severity": "info", "node": "k8smon-node"},
    },
    "KubeAPIErrorBudgetBurn": {
        "phases": [("healthy", 70, "steady"), ("healthy", 30, "storm")],
        "quiet_at": 69, "fire_at": 99,
        "by": {"severity": "critical", "long": "1h", "short": "5m"},
    },
}

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(path, extra=None):
    """-> {series_key: (name, labels(dict), value(float), type)}"""
    out, types = {}, {}
    if not os.path.exists(path):
        return out
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("# TYPE "):
            p = line.split()
            if len(p) >= 4:
                types[p[2]] = p[3]
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            continue
        name, labels = m.group(1), dict(LABEL.findall(m.group(3) or ""))
        if extra:
            for k, v in extra.items():
                labels.setdefault(k, v)
        try:
            val = float(m.group(4))
        except ValueError:
            continue
        fam = name
        for suf in ("_bucket", "_count", "_sum", "_total"):
            if name.endswith(suf) and name[:-len(suf)] in types:
                fam = name[:-len(suf)]
        typ = types.get(name) or types.get(fam) or "untyped"
        out[key(name, labels)] = (name, labels, val, typ)
    return out


def key(name, labels):
    return name + "{" + ",".join('%s="%s"' % (k, labels[k]) for k in sorted(labels)) + "}"


def growth(scenario, name, labels):
    if scenario is None:
        return 0
    if name == "apiserver_request_total":
        if labels.get("code", "").startswith("5"):
            return 10000 if scenario == "storm" and labels.get("verb") in ("GET", "LIST") else 0
        return 10
    if name.startswith("apiserver_request_sli_duration_seconds_"):
        return 0 if name.endswith("_sum") else 10
    return 0


def fmt(v):
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def rule_names(rules_dir):
    names, exprs = set(), []
    for f in sorted(glob.glob(os.path.join(rules_dir, "*.yaml"))):
        for g in (yaml.safe_load(open(f)) or {}).get("groups", []):
            for r in g.get("rules", []):
                exprs.append(r["expr"])
    for e in exprs:
        names.update(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e))
    return names


def build(phases_dir, scen, wanted):
    """input_series for one scenario."""
    scrapes = {}
    for ph, _, _ in scen["phases"]:
        if ph not in scrapes:
            d = os.path.join(phases_dir, ph)
            if not os.path.isdir(d):
                raise SystemExit("comp_rules: no scrape for phase %s (%s)" % (ph, d))
            s = parse(os.path.join(d, "components.prom"))
            s.update(parse(os.path.join(d, "kube-state.prom")))
            scrapes[ph] = {k: v for k, v in s.items() if v[0] in wanted}
    keys = sorted(set().union(*[set(s) for s in scrapes.values()]))
    series = []
    for k in keys:
        parts, t = [], 0
        cur = None  # counter value carried across phases
        for ph, minutes, g in scen["phases"]:
            s = scrapes[ph].get(k)
            if s is None:
                parts.append(" ".join(["_"] * minutes))
                cur = None
            else:
                name, labels, val, typ = s
                if typ in ("counter", "histogram", "summary") and g:
                    start = val if cur is None else cur
                    inc = growth(g, name, labels)
                    parts.append("%s+%sx%d" % (fmt(start), fmt(inc), minutes - 1))
                    cur = start + inc * minutes
                else:
                    parts.append("%sx%d" % (fmt(val), minutes - 1))
                    cur = None
            t += minutes
        series.append({"series": k, "values": " ".join(parts)})
    return series


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("phases")
    ap.add_argument("out")
    ap.add_argument("--rules", required=True, help="plain rule files (tests/e2e/shorten_rules.py --for 0)")
    ap.add_argument("--vm", action="store_true", help="vmalert-tool unittest flavour")
    ap.add_argument("--only", action="append", help="only these alerts")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    wanted = rule_names(a.rules)
    rule_files = sorted(os.path.abspath(f) for f in glob.glob(os.path.join(a.rules, "*.yaml")))
    field = "metricsql_expr_test" if a.vm else "promql_expr_test"
    for alert, scen in SCENARIOS.items():
        if a.only and alert not in a.only:
            continue
        by = scen["by"]
        sel = 'ALERTS{alertname="%s",alertstate="firing",%s}' % (
            alert, ",".join('%s="%s"' % kv for kv in sorted(by.items())))
        test = {
            "rule_files": rule_files,
            "evaluation_interval": "1m",
            "tests": [{
                "name": alert,
                "interval": "1m",
                "input_series": build(a.phases, scen, wanted),
                field: [
                    {"expr": 'count(ALERTS{alertname="%s",alertstate="firing"}) or vector(0)' % alert,
                     "eval_time": "%dm" % scen["quiet_at"], "exp_samples": [{"labels": "{}", "value": 0}]},
                    {"expr": "count(%s) > 0" % sel,
                     "eval_time": "%dm" % scen["fire_at"], "exp_samples": [{"labels": "{}", "value": 1}]},
                ],
            }],
        }
        path = os.path.join(a.out, "%s.yaml" % alert)
        with open(path, "w") as f:
            yaml.safe_dump(test, f, sort_keys=False, width=1 << 20)
        print(path)


if __name__ == "__main__":
    sys.exit(main())
