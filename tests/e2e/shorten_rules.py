#!/usr/bin/env python3
"""shorten_rules.py SRC OUT [--for 2s] -- test-time copy of rule files.

SRC: a directory (or file) of rule files, either PrometheusRule objects
(kube-prometheus manifests: spec.groups) or plain Prometheus rule files (groups).
OUT: directory; one plain rule file per input (same name), loadable by
`prometheus --config.file` rule_files, `promtool check rules` and vmalert.
Every alert's `for:` longer than --for becomes --for, group `interval:` is
dropped (the global evaluation interval applies), so a test can see alerts
fire within seconds. --for 0 only converts (for: and interval: kept), e.g. to
load the kube-prometheus rules into a plain Prometheus. The originals stay untouched.
"""
import argparse
import os
import re
import sys

import yaml

UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(d):
    total = 0.0
    for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", d):
        total += int(n) * UNITS[u]
    return total


def transform(doc, short):
    groups = doc["spec"]["groups"] if doc.get("kind") == "PrometheusRule" else doc["groups"]
    shorten = short not in ("", "0")
    for g in groups:
        if shorten:
            g.pop("interval", None)
        for r in g["rules"]:
            if shorten and "alert" in r and "for" in r and seconds(r["for"]) > seconds(short):
                r["for"] = short
    return {"groups": groups}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--for", dest="short", default="2s")
    a = ap.parse_args()
    files = [a.src] if os.path.isfile(a.src) else sorted(
        os.path.join(a.src, f) for f in os.listdir(a.src) if f.endswith((".yaml", ".yml")))
    os.makedirs(a.out, exist_ok=True)
    for f in files:
        with open(f) as fh:
            doc = yaml.safe_load(fh)
        with open(os.path.join(a.out, os.path.basename(f)), "w") as fh:
            yaml.safe_dump(transform(doc, a.short), fh, sort_keys=False, width=200)
    print("%d rule files -> %s" % (len(files), a.out))


if __name__ == "__main__":
    sys.exit(main())
