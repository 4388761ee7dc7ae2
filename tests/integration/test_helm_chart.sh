#!/bin/sh
# Helm chart helm/k8smon (rendered by tests/helm/render.py, no helm binary needed) and the
# plain manifests in examples/deploy: structure, security, RBAC, CRD copies, agreement,
# and kubectl applying them against the fake API server.
set -u
. tests/lib/common.sh
TMP=$(mktemp -d)
FPID=""
trap '[ -n "$FPID" ] && kill $FPID 2>/dev/null; rm -rf "$TMP"' EXIT

python3 tests/helm/chartcheck.py >"$TMP/cc" 2>&1; rc=$?
cat "$TMP/cc"; [ $rc -eq 0 ] || fail "tests/helm/chartcheck.py"

python3 tests/helm/render.py --out "$TMP/rendered" >/dev/null 2>"$TMP/render.err"; rc=$?
check "render.py --out writes the chart" test $rc -eq 0
python3 tests/helm/render.py --out "$TMP/rendered-all" --set podMonitor.enabled=true --set vmPodScrape.enabled=true >/dev/null 2>&1
check "rendered default K8sMonitor validates against the CRD schema" python3 tests/helm/crdcheck.py objects crds "$TMP/rendered/templates_k8smonitor.yaml"
check "every rendered document (all options on) parses" kubectl label --local -o json -f "$TMP/rendered-all" k8smon-dummy- --kubeconfig=/dev/null
check "kubectl kustomize examples/deploy builds" sh -c "kubectl kustomize examples/deploy >$TMP/kust.yaml"
check "kustomize output puts every namespaced object in k8smon" python3 -c "
import sys; sys.path.insert(0, 'tests/helm'); import k8syaml
objs = k8syaml.load_objects('$TMP/kust.yaml')
ns = [o for o in objs if o['kind'] in ('ServiceAccount', 'Secret', 'Role', 'RoleBinding', 'DaemonSet', 'Service')]
assert len(ns) == 7 and all(o['metadata']['namespace'] == 'k8smon' for o in ns)
"
check "values.yaml keys are all documented in helm/k8smon/README.md" python3 -c '
import sys; sys.path.insert(0, "tests/helm"); import k8syaml
v = k8syaml.parse_yaml(open("helm/k8smon/values.yaml").read()); doc = open("helm/k8smon/README.md").read()
def keys(d, p=""):
    for k, x in d.items():
        yield p + k
        if isinstance(x, dict) and not k in ("resources", "nodeSelector", "spec"):
            yield from keys(x, p + k + ".")
missing = [k for k in keys(v) if "`%s`" % k not in doc]
assert not missing, missing
'

# The chart turns scraper authentication on: the hand-written scrape configs must present a token.
echo token >"$TMP/sa-token"
check "examples/prometheus/prometheus.yml and examples/vmagent/scrape.yml: every job presents the service-account token" python3 - <<'PY'
import yaml
for f in ("examples/prometheus/prometheus.yml", "examples/vmagent/scrape.yml"):
    jobs = yaml.safe_load(open(f))["scrape_configs"]
    assert len(jobs) == 5, f
    for j in jobs:
        assert j["authorization"] == {"credentials_file": "/var/run/secrets/kubernetes.io/serviceaccount/token"}, (f, j["job_name"])
PY
python3 - examples/prometheus/prometheus.yml "$TMP/prom.yml" "$TMP/sa-token" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["rule_files"] = []
for j in d["scrape_configs"]:
    j["authorization"]["credentials_file"] = sys.argv[3]
    # Debian's prometheus is built without Kubernetes service discovery
    j.pop("kubernetes_sd_configs")
    j["static_configs"] = [{"targets": ["127.0.0.1:9420"]}]
yaml.safe_dump(d, open(sys.argv[2], "w"))
PY
check "promtool check config examples/prometheus/prometheus.yml (sd -> static, token file replaced)" promtool check config "$TMP/prom.yml"
if command -v vmagent >/dev/null; then
	sed "s|/var/run/secrets/kubernetes.io/serviceaccount/token|$TMP/sa-token|" examples/vmagent/scrape.yml >"$TMP/vmagent.yml"
	check "vmagent -dryRun accepts examples/vmagent/scrape.yml" vmagent -dryRun -promscrape.config="$TMP/vmagent.yml"
fi

python3 tests/fakeapi/fakeapi.py --state-dir "$TMP/api" --kubeconfig-out "$TMP/kc" >"$TMP/fake.out" 2>"$TMP/fake.err" &
FPID=$!
i=0; while [ $i -lt 100 ] && ! grep -q '^READY' "$TMP/fake.out"; do sleep 0.1; i=$((i + 1)); done
grep -q '^READY' "$TMP/fake.out" || { fail "fake API server starts"; cat "$TMP/fake.err"; finish; }
K="kubectl --kubeconfig=$TMP/kc --cache-dir=$TMP/cache"
$K apply --dry-run=client -f examples/deploy/ >"$TMP/dry" 2>&1; rc=$?
check "kubectl apply --dry-run=client -f examples/deploy/" test $rc -eq 0
$K apply -f examples/deploy/ >"$TMP/a1" 2>&1; rc=$?
check "kubectl apply -f examples/deploy/ creates everything in one run (15 objects with the operator role)" sh -c "[ $rc -eq 0 ] && [ \$(grep -c created $TMP/a1) -eq 15 ]"
[ $rc -eq 0 ] || cat "$TMP/a1"
$K apply -k examples/deploy/ >"$TMP/a2" 2>&1; rc=$?
check "kubectl apply -k examples/deploy/ is unchanged afterwards" sh -c "[ $rc -eq 0 ] && ! grep -v unchanged $TMP/a2"
check "DaemonSet k8smon is in namespace k8smon" $K get daemonset -n k8smon k8smon
$K apply -f "$TMP/rendered/" >"$TMP/a3" 2>&1; rc=$?
check "the rendered chart (templates + default K8sMonitor) applies" test $rc -eq 0
[ $rc -eq 0 ] || cat "$TMP/a3"
check "kubectl get kmon shows the chart's default monitor" sh -c "$K get kmon k8smon --no-headers | grep -q '^k8smon '"
finish
