#!/bin/sh
# Argo CD health Lua scripts (examples/argocd) and a Python kstatus implementation evaluate
# tests/argocd/cases/*.yaml; both must give the expected health and agree with each other.
set -u
. tests/lib/common.sh

LUA=$(command -v lua5.1 || true)
if [ -z "$LUA" ]; then
	echo "installing lua5.1 (Debian package)" >&2
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq lua5.1 >/dev/null 2>&1 ||
		{ $SUDO apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq lua5.1 >/dev/null 2>&1; }
	LUA=$(command -v lua5.1 || true)
fi
if [ -z "$LUA" ]; then fail "lua5.1 available"; finish; fi
ok "lua5.1 available"

for f in examples/argocd/health-k8smonitor.lua examples/argocd/health-scraperule.lua; do
	check "$f compiles (luac5.1 -p)" sh -c "luac5.1 -p $f 2>/dev/null || $LUA -e 'assert(loadfile(\"$f\"))'"
done
check "argocd-cm-patch.yaml embeds both scripts verbatim under resource.customizations.health.k8smon.io_<Kind>" python3 -c '
import json, subprocess
p = subprocess.run(["kubectl", "label", "--local", "-o", "json", "-f", "examples/argocd/argocd-cm-patch.yaml",
                    "x-", "--kubeconfig=/dev/null"], stdout=subprocess.PIPE, check=True)
cm = json.loads(p.stdout)
d = cm["data"]
assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "argocd-cm" and cm["metadata"]["namespace"] == "argocd"
assert d["resource.customizations.health.k8smon.io_K8sMonitor"] == open("examples/argocd/health-k8smonitor.lua").read()
assert d["resource.customizations.health.k8smon.io_ScrapeRule"] == open("examples/argocd/health-scraperule.lua").read()
'
python3 tests/argocd/run_cases.py "$LUA"; rc=$?
[ $rc -eq 0 ] || fail "tests/argocd/run_cases.py"
check "flux example: Kustomizations wait on k8smon.io resources" python3 -c '
import sys
sys.path.insert(0, "tests/helm")
import k8syaml
items = k8syaml.load_objects("examples/flux/k8smon.yaml")
ks = [o for o in items if o["kind"] == "Kustomization"]
cfg = [o for o in ks if o["spec"]["path"] == "./examples"][0]
assert any(o["spec"]["path"] == "./examples/deploy" and o["spec"].get("wait") for o in ks)
assert cfg["spec"]["dependsOn"] and all(h["apiVersion"] == "k8smon.io/v1alpha1" for h in cfg["spec"]["healthChecks"])
'
finish
