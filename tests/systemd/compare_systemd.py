#!/usr/bin/env python3
"""compare_systemd.py OURS NODE_EXPORTER [MIN_SERIES]

Compares the node_systemd_* families of two expositions exactly: the same
families, HELP, TYPE, label sets and values (as numbers: 1.7e+09 and
1700000000 are equal). Fails when a family or series differs, or when
node_exporter's side has fewer than MIN_SERIES node_systemd_* series (the
fake was not reached). Prints what differs."""
import re
import sys

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse(path):
    fams = {}
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, rest = line[2:6], line[7:]
            name, _, text = rest.partition(" ")
            f = fams.setdefault(name, {"help": None, "type": None, "series": {}})
            f["help" if kind == "HELP" else "type"] = text
            continue
        if line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            raise SystemExit("%s: unparsable line %r" % (path, line))
        labels = tuple(sorted(LABEL.findall(m.group(3) or "")))
        f = fams.setdefault(m.group(1), {"help": None, "type": None, "series": {}})
        if labels in f["series"]:
            raise SystemExit("%s: duplicate series %s%s" % (path, m.group(1), labels))
        f["series"][labels] = float(m.group(4))
    return {k: v for k, v in fams.items() if k.startswith("node_systemd_")}


def main():
    ours, theirs = parse(sys.argv[1]), parse(sys.argv[2])
    want = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    bad = []
    for name in sorted(set(ours) | set(theirs)):
        a, b = ours.get(name), theirs.get(name)
        if a is None or b is None:
            bad.append("%s: only in %s" % (name, "node_exporter" if a is None else "k8smon"))
            continue
        for k in ("help", "type"):
            if a[k] != b[k]:
                bad.append("%s: %s %r != node_exporter's %r" % (name, k, a[k], b[k]))
        for s in sorted(set(a["series"]) | set(b["series"])):
            va, vb = a["series"].get(s), b["series"].get(s)
            if va != vb:
                bad.append("%s%s: k8smon %s, node_exporter %s" % (name, dict(s), va, vb))
    n = sum(len(f["series"]) for f in theirs.values())
    print("node_systemd_*: %d families, %d series compared" % (len(theirs), n))
    if n < want:
        bad.append("node_exporter has %d node_systemd_* series, want >= %d" % (n, want))
    for b in bad:
        print("  DIFF " + b)
    sys.exit(1 if bad else 0)


main()
