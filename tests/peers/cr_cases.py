#!/usr/bin/env python3
"""Sends every case of tests/peers/cr_cases.yaml to a real API server.

usage: cr_cases.py [--fake] KUBECTL KUBECONFIG [CASES]

Each object goes through `kubectl create --dry-run=server -o json` (schema,
CEL, defaulting and strict field validation run in the server, nothing is
stored). Prints one ok/FAIL line per case; exits 1 if any case disagrees.

--fake: the server is tests/fakeapi (tests/integration/test_fakeapi_schema.sh).
A case with `fake: <reason>` is one the fake is known not to match: it is run,
printed as KNOWN with the reason, and not counted; if the fake matches it after
all, that is a FAIL (remove the mark).
"""
import json
import subprocess
import sys

import yaml


def dig(obj, dotted):
    for part in dotted.split("."):
        if isinstance(obj, list):
            obj = obj[int(part)]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return "<absent>"
    return obj


def main():
    args = sys.argv[1:]
    fake = args[:1] == ["--fake"]
    if fake:
        args = args[1:]
    kubectl, kubeconfig = args[0], args[1]
    path = args[2] if len(args) > 2 else "tests/peers/cr_cases.yaml"
    server = "the fake" if fake else "the server"
    cases = yaml.safe_load(open(path))
    fails = known = 0
    for i, c in enumerate(cases):
        obj = {"apiVersion": "k8smon.io/v1alpha1", "kind": c["kind"],
               "metadata": {"name": "case-%d" % i}}
        if c["kind"] == "ScrapeRule":
            obj["metadata"]["namespace"] = "default"
        if "spec" in c:
            obj["spec"] = c["spec"]
        p = subprocess.run([kubectl, "--kubeconfig", kubeconfig, "create", "--dry-run=server",
                            "--validate=strict", "-o", "json", "-f", "-"],
                           input=json.dumps(obj), capture_output=True, text=True)
        err = (p.stderr or "").strip()
        why = None
        if c["expect"] == "accept":
            if p.returncode != 0:
                why = "%s rejected it: %s" % (server, err)
            else:
                out = json.loads(p.stdout)
                for k, v in (c.get("defaults") or {}).items():
                    got = dig(out, k)
                    if got != v:
                        why = "%s = %r, want %r" % (k, got, v)
                        break
        else:
            if p.returncode == 0:
                why = "%s accepted it" % server
            elif (c["field"] + ": ") not in err and ('"%s"' % c["field"]) not in err:
                why = "error does not name %s: %s" % (c["field"], err)
            elif c.get("message") and c["message"] not in err:
                why = "error lacks %r: %s" % (c["message"], err)
            elif c.get("absent") and c["absent"] in err:
                why = "error has %r: %s" % (c["absent"], err)
        label = "%s %s: %s" % (c["kind"], c["expect"], c["name"])
        if fake and c.get("fake"):
            if why:
                known += 1
                print("KNOWN - %s -- the fake differs: %s (%s)" % (label, c["fake"], why))
            else:
                fails += 1
                print("FAIL - %s -- marked `fake: %s` but the fake agrees now: remove the mark" % (label, c["fake"]))
            continue
        if why:
            fails += 1
            print("FAIL - %s -- %s" % (label, why))
        else:
            detail = ""
            if c["expect"] == "reject":
                detail = " [" + err.splitlines()[-1][:160] + "]"
            print("ok   - %s%s" % (label, detail))
    print("%d cases, %d disagree with %s%s" % (len(cases), fails, server,
                                            ", %d known differences (marked fake:)" % known if fake else ""))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
