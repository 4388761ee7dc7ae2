#!/bin/sh
# The user-facing docs cover what the binary and the CRDs really have:
#   - README.md "Flags" lists every flag `bin/k8smon -help` prints;
#   - README.md "Endpoints" lists every HTTP route registered in src/agent/agent.c;
#   - docs/crds.md documents every field of both CRD schemas (spec and status; the
#     RelabelConfig fields in their own table; metav1.LabelSelector internals excepted);
#   - README.md starts with the two quick-start commands, and its relative links exist.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# pycheck DESC <<PY ...: the script's output is shown when it fails
pycheck() {
	if python3 - >"$TMP/out" 2>&1; then ok "$1"; else fail "$1"; sed 's/^/    /' "$TMP/out"; fi
}
[ -x bin/k8smon ] || make -s bin/k8smon >/dev/null 2>&1 || { fail "make bin/k8smon"; finish; }

pycheck "README.md Flags table lists every flag of bin/k8smon -help" <<'PY'
import re, subprocess, sys
out = subprocess.run(["bin/k8smon", "-help"], capture_output=True, text=True)
flags = re.findall(r"^  (-[\w.-]+)$", out.stdout + out.stderr, re.M)
readme = open("README.md").read()
sec = readme.split("\n## Flags", 1)[1].split("\n## ", 1)[0]
# a row may group flags: `-path.procfs` / `-path.sysfs`, `-leaderElection.namespace` / `.leaseName`
doc = set(re.findall(r"`(-[\w.-]+)`", sec))
for row in re.findall(r"^\|([^|]*)\|", sec, re.M):
    base = re.findall(r"`(-[\w-]+)\.[\w.-]+`", row)
    for suf in re.findall(r"`(\.[\w.-]+)`", row):
        doc.update(b + suf for b in base)
missing = [f for f in flags if f not in doc and f not in ("-help", "-version")]
print("flags:", len(flags), "missing:", missing)
sys.exit(1 if missing or len(flags) < 20 else 0)
PY

pycheck "README.md Endpoints table lists every route of src/agent/agent.c" <<'PY'
import re, sys
routes = re.findall(r'struct http_route\)\{ "([^"]+)"', open("src/agent/agent.c").read())
readme = open("README.md").read()
sec = readme.split("\n## Endpoints", 1)[1].split("\n## ", 1)[0]
doc = set(re.findall(r"`(/[\w/.-]*)`", sec))
missing = [r for r in routes if r not in doc]
print("routes:", routes, "missing:", missing)
sys.exit(1 if missing or len(routes) < 10 else 0)
PY

pycheck "docs/crds.md documents every field of both CRDs" <<'PY'
import re, sys
sys.path.insert(0, "tests/helm")
import k8syaml
doc = open("docs/crds.md").read()
relabel = doc.split("RelabelConfig (Prometheus semantics", 1)[1].split("\n\n", 2)[1]
missing, n = [], 0
def walk(node, path):
    global n
    props = node.get("properties") or {}
    if path.endswith(("elector", "Selector")) and "matchLabels" in props:
        props = {}                                   # metav1.LabelSelector: documented as a type
    for k, v in props.items():
        p = path + "." + k if path else k
        if p in ("spec", "status", "apiVersion", "kind", "metadata"):
            walk(v, p)
            continue
        if re.search(r"\.(conditions)$", path):
            continue
        if v.get("type") == "object" and v.get("properties") and not p.endswith(("elector", "Selector")):
            walk(v, p)                               # documented through its fields
            continue
        n += 1
        if path.endswith("relabelings[]") or path.endswith("Relabelings[]"):
            ok = "`%s`" % k in relabel
        elif path == "status":                       # the status tables name the bare field
            ok = "`%s`" % k in doc
        else:
            ok = "`%s`" % p in doc or "`%s[]`" % p in doc
        if not ok:
            missing.append(p)
        if v.get("type") == "object" and not p.startswith("status.conditions"):
            walk(v, p)
        if v.get("type") == "array" and "properties" in v.get("items", {}) and not p.endswith("conditions"):
            walk(v["items"], p + "[]")
for crd in k8syaml.load_objects("crds"):
    walk(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], "")
print("fields:", n, "missing:", missing)
sys.exit(1 if missing or n < 40 else 0)
PY

check "README.md opens with the two quick-start commands (make demo, make test)" sh -c \
	"sed -n '1,8p' README.md | grep -q '^make demo' && sed -n '1,8p' README.md | grep -q '^make test'"
pycheck "README.md, helm/k8smon/README.md, docs/crds.md: every relative link and backticked repo path exists" <<'PY'
import os, re, sys
bad = []
for f in ("README.md", "helm/k8smon/README.md", "docs/crds.md"):
    base = os.path.dirname(f)
    txt = open(f).read()
    for link in re.findall(r"\]\(([^)#:]+)\)", txt):
        if not os.path.exists(os.path.join(base, link)):
            bad.append("%s: link %s" % (f, link))
    for p in re.findall(r"`((?:examples|docs|tests|helm|crds|bench|src|cmd)/[\w./-]*)`", txt):
        if "<" not in p and "*" not in p and not os.path.exists(p.rstrip("/")):
            bad.append("%s: path %s" % (f, p))
print(bad)
sys.exit(1 if bad else 0)
PY
finish
