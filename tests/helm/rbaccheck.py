#!/usr/bin/env python3
"""RBAC in the manifests equals what the code uses.

Reads the API resources the C code touches (every `struct kube_resource`
initializer under src/, the status patches, the Lease calls in
src/kube/leader.c, the review creations in src/http/auth.c), derives the
verbs each needs, and compares with the ClusterRole and Role of
examples/deploy (kept identical to the Helm chart by test_helm_chart.sh) plus
the opt-in examples/kube-state-secrets.yaml: every needed verb must be
granted, and nothing may be granted that the code does not use. Secrets and
ConfigMaps must be granted by the opt-in file only, never by default.
Prints one line per problem; exit 1 if any."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import k8syaml  # noqa: E402

RES = re.compile(r'(?:static const struct kube_resource (\w+) = |\.res = )?'
                 r'\{ *"([a-z0-9.]*)" *, *"v[0-9a-z]+" *, *"([a-z0-9]+)" *, *(?:true|false) *\}')
# The kube-state kind table (src/collect/kubestate/kinds.c, once it holds the API
# coordinates): [CLUSTER_]KIND(KS_X, "plural", "Kind", "*v1.Kind", "group", "version"...).
KIND = re.compile(r'\b(?:CLUSTER_)?KIND\(\s*KS_\w+,\s*"([a-z0-9]+)",\s*"\w+",\s*"[^"]*",\s*"([a-z0-9.]*)",\s*"v[0-9a-z]+"')


def kind_table_needs(root):
    """(group, plural) of every kube-state kind in a KIND(...) table: list+watch."""
    out = set()
    for dirpath, _, files in os.walk(os.path.join(root, "src")):
        for f in files:
            if f.endswith(".c"):
                out.update((m.group(2), m.group(1)) for m in KIND.finditer(open(os.path.join(dirpath, f)).read()))
    return out


def code_needs(root):
    need = {}  # (group, resource) -> set(verbs)
    named = {}
    texts = []
    for dirpath, _, files in os.walk(os.path.join(root, "src")):
        for f in files:
            if f.endswith(".c"):
                texts.append(open(os.path.join(dirpath, f)).read())
    # A helper that passes its own resource parameter on to
    # kube_patch(..., "status") (in any file: status_writer_put): every
    # call of the helper with &<resource> patches that resource's status.
    helpers = set()
    for text in texts:
        for m in RES.finditer(text):
            var, group, plural = m.group(1), m.group(2), m.group(3)
            if var:
                named[var] = (group, plural)
            # Every resource the code names is read by a reflector.
            need.setdefault((group, plural), set()).update({"list", "watch"})
        for m in re.finditer(r'kube_patch\([^,]+, (\w+),[^;]*"status"', text):
            defs = list(re.finditer(r'^(?:static )?[\w \*]+?\b(\w+)\([^;{]*\{', text[:m.start()], re.M))
            if defs:
                helpers.add(defs[-1].group(1))
    # The kube-state kinds come from the kind table (KIND/CLUSTER_KIND
    # rows; a row without families is never watched).
    kinds = open(os.path.join(root, "src/collect/kubestate/kinds.c")).read()
    for m in re.finditer(r'(CLUSTER_)?KIND\(\s*KS_\w+,\s*"(\w+)",\s*"\w+",\s*"[^"]*",\s*"([a-z0-9.]*)",'
                         r'\s*"v\w+"(?:,\s*(true|false))?\)', kinds):
        if m.group(4) == "false":
            continue
        need.setdefault((m.group(3), m.group(2)), set()).update({"list", "watch"})
    for text in texts:
        for m in re.finditer(r'kube_patch\([^,]+, &(\w+),[^;]*"status"', text):
            g, p = named[m.group(1)]
            need.setdefault((g, p + "/status"), set()).add("patch")
        for helper in helpers:
            for c in re.finditer(r'\b%s\([^,]+, &(\w+),' % helper, text):
                g, p = named[c.group(1)]
                need.setdefault((g, p + "/status"), set()).add("patch")
        for m in re.finditer(r'kube_update\([^,]+, &(\w+),[^;]*"status"', text):
            g, p = named[m.group(1)]
            need.setdefault((g, p + "/status"), set()).update({"get", "patch"})
    leader = open(os.path.join(root, "src/kube/leader.c")).read()
    verbs = set()
    if '"POST"' in leader:
        verbs.add("create")
    if '"PUT"' in leader:
        verbs.add("update")
    if re.search(r'kube_req_opts o = \{ \.resource = "leases"', leader):
        verbs.add("get")  # method defaults to GET
    need[("coordination.k8s.io", "leases")] = verbs
    auth = open(os.path.join(root, "src/http/auth.c")).read()
    for plural, group in (("tokenreviews", "authentication.k8s.io"),
                          ("subjectaccessreviews", "authorization.k8s.io")):
        if f'.resource = "{plural}"' in auth:
            need[(group, plural)] = {"create"}
    # The kubelet component job: the kubelet authorizes the agent's token with
    # a SubjectAccessReview for get on nodes/metrics (its /metrics* paths).
    jobs = os.path.join(root, "src/collect/components/jobs.c")
    if os.path.exists(jobs) and re.search(r'\[COMP_KUBELET\] = \{[^}]*"/metrics', open(jobs).read()):
        need.setdefault(("", "nodes/metrics"), set()).add("get")
    return need


OPT_IN = "examples/kube-state-secrets.yaml"
OPT_IN_ONLY = {("", "secrets"), ("", "configmaps")}


def granted(root, paths=("examples/deploy", OPT_IN)):
    got = {}
    objs = []
    for p in paths:
        objs += k8syaml.load_objects(os.path.join(root, p))
    for obj in objs:
        if obj.get("kind") not in ("ClusterRole", "Role"):
            continue
        if obj["metadata"]["name"].endswith("metrics-reader"):
            continue  # for the scrapers, not the agent
        for rule in obj.get("rules", []):
            for g in rule.get("apiGroups", []):
                for r in rule.get("resources", []):
                    got.setdefault((g, r), set()).update(rule.get("verbs", []))
    return got


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    need, got = code_needs(root), granted(root)
    for key in kind_table_needs(root):
        need.setdefault(key, set()).update({"list", "watch"})
    problems = []
    for key, verbs in sorted(need.items()):
        missing = verbs - got.get(key, set())
        if missing:
            problems.append(f"missing grant: {key[0] or 'core'}/{key[1]} {sorted(missing)}")
    for key, verbs in sorted(got.items()):
        extra = verbs - need.get(key, set())
        if extra:
            problems.append(f"granted but unused by the code: {key[0] or 'core'}/{key[1]} {sorted(extra)}")
    default = granted(root, ("examples/deploy",))
    for key in sorted(OPT_IN_ONLY & set(default)):
        problems.append(f"granted by default (must be opt-in only, {OPT_IN}): {key[0] or 'core'}/{key[1]}")
    for key in sorted(OPT_IN_ONLY - set(granted(root, (OPT_IN,)))):
        problems.append(f"not granted by the opt-in {OPT_IN}: {key[0] or 'core'}/{key[1]}")
    for p in problems:
        print(p)
    print(f"{len(need)} resources used by the code, {len(got)} granted, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
