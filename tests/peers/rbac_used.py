#!/usr/bin/env python3
"""usage: rbac_used.py RENDERED_CHART.yaml AUDIT.log ALLOWLIST

"RBAC too big": compares what the chart grants the agent's ServiceAccount with what
the agent actually did on a real kube-apiserver, as its audit log recorded it
(tests/peers/apiserver.sh: level Metadata for service accounts).

Granted: every (verb, apiGroup, resource[/subresource]) of the rules of the
ClusterRoles and Roles the chart binds to the DaemonSet's ServiceAccount (the
metrics-reader and operator roles are for other accounts and are not looked at).
Used: the same triple of every audit event of that ServiceAccount whose userAgent is
the agent's (k8smon/...; the test's own kubectl calls with the same token are left
out) and that the authorizer allowed.

Prints one line per granted triple (used N times / allowlisted / UNUSED) and fails
(exit 1) when
  - a granted triple was never used and is not in ALLOWLIST (RBAC too big);
  - an allowlisted triple is not granted any more or was used after all (the list
    can only shrink: take the line out);
  - an agent request was allowed by a binding the chart did not render (the run
    would then prove nothing about the chart's RBAC);
  - the audit log holds no request of the agent at all.
ALLOWLIST: one "verb apiGroup resource[/subresource]  reason" per line, apiGroup
"core" for the core group; # comments.
"""
import json
import sys

import yaml


def load_chart(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    sa = ds["spec"]["template"]["spec"]["serviceAccountName"]
    ns = ds["metadata"]["namespace"]
    granted, bindings = {}, set()
    for b in docs:
        if b["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == sa
                   and s.get("namespace") == ns for s in b.get("subjects", [])):
            continue
        bns = b["metadata"].get("namespace")
        # the authorizer names a RoleBinding "name/namespace"
        bindings.add((b["kind"], "%s/%s" % (b["metadata"]["name"], bns) if bns else b["metadata"]["name"]))
        ref = b["roleRef"]
        role = next((d for d in docs if d["kind"] == ref["kind"] and d["metadata"]["name"] == ref["name"]
                     and (ref["kind"] == "ClusterRole" or d["metadata"].get("namespace") == bns)), None)
        if role is None:
            raise SystemExit("%s %s refers to %s %s, which the chart does not render"
                             % (b["kind"], b["metadata"]["name"], ref["kind"], ref["name"]))
        for r in role.get("rules", []):
            if "nonResourceURLs" in r:
                for v in r["verbs"]:
                    for u in r["nonResourceURLs"]:
                        granted.setdefault((v, "nonResourceURL", u), ref["name"])
                continue
            for v in r["verbs"]:
                for g in r.get("apiGroups", []):
                    for res in r.get("resources", []):
                        granted.setdefault((v, g or "core", res), ref["name"])
    return "system:serviceaccount:%s:%s" % (ns, sa), granted, bindings


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    user, granted, bindings = load_chart(sys.argv[1])
    allow = {}
    for line in open(sys.argv[3]):
        line = line.split("#", 1)[0].strip()
        if line:
            f = line.split(None, 3)
            allow[tuple(f[:3])] = f[3] if len(f) > 3 else ""
    used, foreign, n, seen = {}, set(), 0, set()
    for line in open(sys.argv[2]):
        e = json.loads(line)
        # A watch is logged at ResponseStarted and again at ResponseComplete, which
        # the server may write a moment after the agent has gone: either counts, once.
        if e.get("stage") not in ("ResponseStarted", "ResponseComplete") or e["auditID"] in seen:
            continue
        seen.add(e["auditID"])
        if e["user"].get("username") != user:
            continue
        if not (e.get("userAgent") or "").startswith("k8smon/"):
            continue
        ann = e.get("annotations") or {}
        if ann.get("authorization.k8s.io/decision") != "allow":
            continue  # a 403: the tier's "RBAC too small" check reports those
        n += 1
        o = e.get("objectRef")
        if o:
            res = o["resource"] + ("/" + o["subresource"] if o.get("subresource") else "")
            key = (e["verb"], o.get("apiGroup") or "core", res)
        else:
            key = (e["verb"], "nonResourceURL", e["requestURI"].split("?")[0])
        used[key] = used.get(key, 0) + 1
        reason = ann.get("authorization.k8s.io/reason", "")
        if not any('%s "%s"' % b in reason for b in bindings):
            foreign.add("%s %s %s: %s" % (key + (reason,)))
    bad = 0
    if n == 0:
        print("FAIL no allowed request of %s with a k8smon/ User-Agent in the audit log" % user)
        bad += 1
    for k in sorted(granted):
        what = "%-8s %-22s %-30s (%s)" % (k + (granted[k],))
        if k in used and k in allow:
            print("FAIL %s used %d times but allowlisted: take it out of the allowlist" % (what, used[k]))
            bad += 1
        elif k in used:
            print("ok   %s used %d times" % (what, used[k]))
        elif k in allow:
            print("ok   %s unused, allowlisted: %s" % (what, allow[k]))
        else:
            print("FAIL %s granted, never used: RBAC too big" % what)
            bad += 1
    for k in sorted(set(allow) - set(granted)):
        print("FAIL allowlisted %s %s %s is not granted by the chart: take it out of the allowlist" % k)
        bad += 1
    for k in sorted(set(used) - set(granted)):
        print("info %-8s %-22s %-30s used %d times, allowed by a role the chart does not render"
              % (k + (used[k],)))
    for f in sorted(foreign):
        print("FAIL allowed by a binding the chart does not render: %s" % f)
        bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
