#!/usr/bin/env python3
"""check_prom.py -- assertions against a running Prometheus (or VictoriaMetrics) API.

  check_prom.py rules  --url URL --rules DIR [--cgroups 0|1] [--timeout S] [--json OUT]
      every recording rule expected to have data (tests/e2e/expectations.py) returns
      series under its name and static labels; the others are listed with the reason.
  check_prom.py alerts --url URL [--timeout S] [--json OUT]
      every scenario alert of expectations.SCENARIO_ALERTS is firing.
  check_prom.py dashboards --url URL DIR...
      every PromQL expression of every Grafana dashboard (panels, nested rows,
      template-variable queries) evaluates without error, variables replaced by
      regex matchers `.*` and Grafana's interval macros by durations.
  check_prom.py query --url URL EXPR [--min N]
      EXPR returns at least N series (default 1).
  check_prom.py queries --url URL < checks
      the same for many expressions at once (lines: name TAB min TAB expr).

One line per check ("ok   - ..." / "FAIL - ..."); exit status 1 if any check failed.
"""
import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expectations  # noqa: E402

FAILS = 0


def ok(msg):
    print("ok   - " + msg, flush=True)


def fail(msg):
    global FAILS
    FAILS += 1
    print("FAIL - " + msg, flush=True)


def info(msg):
    print("     # " + msg, flush=True)


def api(url, path, **params):
    q = urllib.parse.urlencode(params)
    if params:
        req = urllib.request.Request(url + path, data=q.encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        req = urllib.request.Request(url + path)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.load(e)
        except ValueError:
            return e.code, {"status": "error", "error": str(e)}
    except (urllib.error.URLError, OSError, ValueError) as e:
        return 0, {"status": "error", "error": str(e)}


def query(url, expr):
    code, body = api(url, "/api/v1/query", query=expr)
    if code != 200 or body.get("status") != "success":
        return None, body.get("error", "HTTP %d" % code)
    return body["data"]["result"], None


def selector(record, labels):
    if not labels:
        return record
    return "%s{%s}" % (record, ",".join('%s="%s"' % (k, v) for k, v in sorted(labels.items())))


def cmd_rules(a):
    rules = [r for _, r in expectations.rules_from_dir(a.rules) if "record" in r]
    # de-duplicate identical (record, labels) pairs (kube-prometheus has a few)
    seen, todo = set(), []
    for r in rules:
        key = selector(r["record"], r.get("labels"))
        if key not in seen:
            seen.add(key)
            todo.append(r)
    pending = {}
    report = []
    for r in todo:
        exp, why = expectations.recording_expectation(r["record"], a.cgroups)
        pending[selector(r["record"], r.get("labels"))] = (exp, why)
    deadline = time.time() + a.timeout
    results = {}
    while True:
        for sel, (exp, _) in pending.items():
            if results.get(sel):
                continue
            res, err = query(a.url, "count(%s)" % sel)
            results[sel] = int(float(res[0]["value"][1])) if res else 0
        missing = [s for s, (e, _) in pending.items() if e and not results[s]]
        if not missing or time.time() > deadline:
            break
        time.sleep(1)
    for sel, (exp, why) in pending.items():
        n = results[sel]
        report.append({"rule": sel, "expected": exp, "series": n, "reason": why})
        if exp:
            (ok if n else fail)("recording rule %s: %d series" % (sel, n))
        elif n:
            info("recording rule %s: %d series although not expected (%s)" % (sel, n, why))
        else:
            info("recording rule %s: no data, expected (%s)" % (sel, why))
    exp_n = sum(1 for r in report if r["expected"])
    info("%d recording rules: %d expected with data, %d without inputs from k8smon"
         % (len(report), exp_n, len(report) - exp_n))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)


def cmd_alerts(a):
    want = expectations.SCENARIO_ALERTS
    deadline = time.time() + a.timeout
    while True:
        code, body = api(a.url, "/api/v1/alerts")
        alerts = body.get("data", {}).get("alerts", []) if code == 200 else []
        firing = {}
        for al in alerts:
            if al["state"] == "firing":
                firing.setdefault(al["labels"]["alertname"], []).append(al["labels"])
        if all(n in firing for n in want) or time.time() > deadline:
            break
        time.sleep(1)
    for name, why in want.items():
        if name in firing:
            objs = sorted({"/".join(x for x in (l.get("namespace"), l.get("pod") or l.get("deployment") or
                           l.get("daemonset") or l.get("job_name") or l.get("node") or l.get("resourcequota"))
                           if x) for l in firing[name]})
            ok("alert %s firing (%s) [%s]" % (name, why, ", ".join(o for o in objs if o)))
        else:
            fail("alert %s not firing (%s)" % (name, why))
    for name in sorted(set(firing) - set(want)):
        why = expectations.SIDE_EFFECT_ALERTS.get(name, "not part of the scenario")
        info("also firing: %s (%s)" % (name, why))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({k: v for k, v in firing.items()}, f, indent=1)


MACROS = [(r"\$__rate_interval|\$\{__rate_interval\}", "1m"), (r"\$__interval|\$\{__interval\}", "15s"),
          (r"\$__range|\$\{__range\}", "5m"), (r"\$__range_s", "300"), (r"\$__interval_ms", "15000")]


def substitute(expr):
    for rx, v in MACROS:
        expr = re.sub(rx, v, expr)
    # variables inside label matchers: name="$var" / name=~"$var" -> name=~".*"
    expr = re.sub(r'(\w+)\s*(=~|=|!=|!~)\s*"([^"]*\$[^"]*)"', lambda m: '%s=~".*"' % m.group(1), expr)
    expr = re.sub(r"\$\{?\w+(:\w+)?\}?|\[\[\w+\]\]", "1", expr)
    return expr


def dashboard_exprs(d):
    def panels(ps):
        for p in ps or []:
            yield p
            yield from panels(p.get("panels"))
    for p in panels(d.get("panels")):
        for t in p.get("targets") or []:
            if t.get("expr"):
                yield "panel %r" % p.get("title", ""), t["expr"]
    for v in (d.get("templating") or {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if not q:
            continue
        m = re.match(r"^\s*label_values\((.*?)(?:,\s*\w+)?\)\s*$", q)
        if m and m.group(1).strip():
            q = m.group(1)
        elif re.match(r"^\s*label_values\(\s*\w+\s*\)\s*$", q):
            continue
        m = re.match(r"^\s*query_result\((.*)\)\s*$", q)
        if m:
            q = m.group(1)
        yield "variable $%s" % v["name"], q


def cmd_dashboards(a):
    for path in a.paths:
        files = [path] if os.path.isfile(path) else sorted(
            os.path.join(path, f) for f in os.listdir(path) if f.endswith(".json"))
        for f in files:
            with open(f) as fh:
                d = json.load(fh)
            n = bad = with_data = 0
            empty = []
            names = [v.get("name") for v in (d.get("templating") or {}).get("list", [])]
            dss = {json.dumps(p.get("datasource")) for p in d.get("panels", []) if p.get("type") != "row"}
            if "datasource" not in names or dss != {json.dumps({"type": "prometheus", "uid": "${datasource}"})}:
                fail("dashboard %s: panels must use the ${datasource} variable (%s)" % (os.path.basename(f), dss))
            for where, expr in dashboard_exprs(d):
                n += 1
                res, err = query(a.url, substitute(expr))
                if err:
                    bad += 1
                    fail("%s %s: %s (%s)" % (os.path.basename(f), where, err, substitute(expr)))
                elif res:
                    with_data += 1
                else:
                    empty.append(where)
            if n and not bad:
                ok("dashboard %s: %d expressions evaluate (%d with data)" % (os.path.basename(f), n, with_data))
                for e in empty:
                    info("%s %s: no data in this scenario" % (os.path.basename(f), e))
            elif not n:
                fail("dashboard %s has no expressions" % os.path.basename(f))


def cmd_query(a):
    deadline = time.time() + a.timeout
    while True:
        res, err = query(a.url, a.expr)
        if (res and len(res) >= a.min) or time.time() > deadline:
            break
        time.sleep(1)
    if err:
        fail("%s: %s" % (a.name or a.expr, err))
    elif len(res) >= a.min:
        ok("%s: %d series" % (a.name or a.expr, len(res)))
    else:
        fail("%s: %d series (want >= %d)" % (a.name or a.expr, len(res), a.min))


def cmd_queries(a):
    """stdin: one check per line, `name<TAB>min<TAB>expr`; all polled until one shared deadline."""
    todo = []
    for line in sys.stdin:
        if line.strip() and not line.startswith("#"):
            name, mn, expr = line.rstrip("\n").split("\t", 2)
            todo.append((name, int(mn), expr))
    deadline = time.time() + a.timeout
    done = {}
    while True:
        for name, mn, expr in todo:
            if name in done and done[name][0]:
                continue
            res, err = query(a.url, expr)
            n = len(res or [])
            done[name] = (not err and n >= mn, n, err, mn)
        if all(v[0] for v in done.values()) or time.time() > deadline:
            break
        time.sleep(0.5)
    for name, _, _ in todo:
        good, n, err, mn = done[name]
        if good:
            ok("%s: %d series" % (name, n))
        else:
            fail("%s: %s" % (name, err or "%d series (want >= %d)" % (n, mn)))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("rules")
    p.add_argument("--rules", required=True)
    p.add_argument("--cgroups", type=int, default=1)
    p.add_argument("--json")
    p = sub.add_parser("alerts")
    p.add_argument("--json")
    p = sub.add_parser("dashboards")
    p.add_argument("paths", nargs="+")
    sub.add_parser("queries")
    p = sub.add_parser("query")
    p.add_argument("expr")
    p.add_argument("--min", type=int, default=1)
    p.add_argument("--name")
    for p in sub.choices.values():
        p.add_argument("--url", required=True)
        p.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    {"rules": cmd_rules, "alerts": cmd_alerts, "dashboards": cmd_dashboards, "query": cmd_query,
     "queries": cmd_queries}[a.cmd](a)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
