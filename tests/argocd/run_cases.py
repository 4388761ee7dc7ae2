#!/usr/bin/env python3
"""Evaluates tests/argocd/cases/*.yaml with the Argo CD Lua health checks (lua5.1) and
with the Python kstatus implementation; checks each against the case's expectations
(annotations test.k8smon.io/expect-argocd, expect-kstatus) and that both agree
(test.k8smon.io/agree: "true"). One line per check; exit 1 on failure.

usage: run_cases.py LUA_BINARY
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "helm"))
sys.path.insert(0, HERE)
import k8syaml  # noqa: E402
import kstatus  # noqa: E402

SCRIPTS = {"K8sMonitor": os.path.join(ROOT, "examples/argocd/health-k8smonitor.lua"),
           "ScrapeRule": os.path.join(ROOT, "examples/argocd/health-scraperule.lua")}
FAILS = 0


def check(ok, desc, detail=""):
    global FAILS
    print(("ok   - " if ok else "FAIL - ") + desc + ("" if ok or not detail else ": " + detail))
    FAILS += 0 if ok else 1


def lua(v):
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are valid Lua 5.1 escapes for ASCII/UTF-8 text
    if isinstance(v, list):
        return "{" + ", ".join(lua(x) for x in v) + "}"
    return "{" + ", ".join("[%s] = %s" % (json.dumps(k), lua(x)) for k, x in v.items() if x is not None) + "}"


def main():
    luabin = sys.argv[1]
    cases = k8syaml.load_objects(os.path.join(HERE, "cases"))
    check(len(cases) >= 4, "found %d cases" % len(cases))
    seen = set()
    with tempfile.TemporaryDirectory() as tmp:
        for o in cases:
            ann = o["metadata"]["annotations"]
            name = "%s/%s (%s)" % (o["kind"], o["metadata"]["name"], ann.get("test.k8smon.io/description"))
            chunk = os.path.join(tmp, "obj.lua")
            with open(chunk, "w") as f:
                f.write("return " + lua(o) + "\n")
            p = subprocess.run([luabin, os.path.join(HERE, "harness.lua"), SCRIPTS[o["kind"]], chunk],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
            argo, msg = (p.stdout.rstrip("\n").split("\t", 1) + [""])[:2] if p.returncode == 0 else ("ERROR", p.stderr.strip())
            ks, ksmsg = kstatus.compute(o)
            check(argo == ann["test.k8smon.io/expect-argocd"], "argocd lua: %s -> %s" % (name, argo),
                  "want %s (%s)" % (ann["test.k8smon.io/expect-argocd"], msg))
            check(ks == ann["test.k8smon.io/expect-kstatus"], "kstatus: %s -> %s" % (name, ks),
                  "want %s (%s)" % (ann["test.k8smon.io/expect-kstatus"], ksmsg))
            if ann.get("test.k8smon.io/agree") == "true":
                check(kstatus.TO_ARGO[ks] == argo, "argocd and kstatus agree: %s (%s ~ %s)" % (name, argo, ks))
            if argo in ("Degraded", "Progressing") and p.returncode == 0:
                check(msg != "", "argocd lua gives a message for %s" % name)
            seen.add(ann["test.k8smon.io/description"])
    for want in ("generation not yet observed by the agents", "accepted", "invalid spec", "conflict with an older monitor"):
        check(want in seen, "case present: %s" % want)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
