#!/usr/bin/env python3
"""usage: ksm_compare.py KSM_METRICS OURS_METRICS KNOWN_DIFF

Compares two scrapes of kube-state families (the real kube-state-metrics and
k8smon's /metrics/kube-state, same API server, same objects): per family the
set of (labels, value) series and the HELP and TYPE texts must be equal. Differences listed in KNOWN_DIFF
are printed as known; any other fails (exit 1).
"""
import collections
import re
import sys

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)')


def load(path):
    """{family: set of (labels, value)}, the family's ("# HELP", text) and
    ("# TYPE", text) in the same set: a family that differs only in HELP or
    TYPE shows up as "differs" with those lines."""
    fam = collections.defaultdict(set)
    for line in open(path):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.rstrip("\n").split(" ", 3)
            if len(parts) >= 3:
                fam[parts[2]].add(("# " + parts[1], parts[3] if len(parts) > 3 else ""))
            continue
        if line.startswith("#") or not line.strip():
            continue
        m = SERIES.match(line)
        if m:
            fam[m.group(1)].add((m.group(2) or "", m.group(3)))
    return fam


def main():
    ksm, ours = load(sys.argv[1]), load(sys.argv[2])
    known = {}
    for line in open(sys.argv[3]):
        if line.strip() and not line.startswith("#"):
            f = line.split()
            known[f[0]] = f[1]
    found = {}
    for f in set(ksm) | set(ours):
        if f not in ours:
            found[f] = "only-ksm"
        elif f not in ksm:
            found[f] = "only-ours"
        elif ksm[f] != ours[f]:
            found[f] = "differs"
    bad = 0
    for f in sorted(found):
        if known.get(f) == found[f]:
            continue
        bad += 1
        print("UNEXPECTED %s %s" % (f, found[f]))
        if found[f] == "differs":
            for s in sorted(ksm[f] - ours[f])[:3]:
                print("    ksm : %s%s %s" % (f, s[0], s[1]))
            for s in sorted(ours[f] - ksm[f])[:3]:
                print("    ours: %s%s %s" % (f, s[0], s[1]))
    gone = sorted(f for f in known if f not in found)
    for f in gone:
        print("no longer differs (remove from the list): %s" % f)
    same = len(set(ksm) & set(ours)) - sum(1 for v in found.values() if v == "differs")
    print("%d families identical series for series, %d known differences, %d unexpected"
          % (same, len(found) - bad, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
