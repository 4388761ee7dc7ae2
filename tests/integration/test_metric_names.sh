#!/bin/sh
# Dashboards and alerts are built on metrics k8smon exports: every metric name that a
# panel, a template variable or an alert of examples/dashboards and
# examples/alerts/k8smon-alerts.yaml selects is a family of docs/metrics.md (generated
# from a live scrape by the e2e run) or a recording rule fed by them
# (tests/e2e/namecheck.py). Prometheus evaluates an unknown name to an empty panel
# without error, so tests/integration/test_e2e_prometheus.sh cannot see it.
# Also: docs/metrics.md lists every container_* family the collector can write
# (src/collect/container/family.c), including the ones the e2e run had no data for.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

python3 tests/e2e/namecheck.py --selftest >"$TMP/self" 2>&1; rc=$?
cat "$TMP/self"; [ $rc -eq 0 ] || fail "namecheck.py --selftest"
python3 tests/e2e/namecheck.py >"$TMP/out" 2>&1; rc=$?
cat "$TMP/out"; [ $rc -eq 0 ] || fail "tests/e2e/namecheck.py"

# the check must catch a dashboard naming a metric nobody serves
mkdir -p "$TMP/dash"
python3 - examples/dashboards/k8smon-pod.json "$TMP/dash/bad.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["panels"][-1]["targets"][0]["expr"] = 'sum(rate(container_fs_reads_bytes{namespace="$namespace"}[5m]))'
json.dump(d, open(sys.argv[2], "w"))
PY
python3 tests/e2e/namecheck.py --dashboards "$TMP/dash" >"$TMP/bad" 2>&1; rc=$?
check "namecheck.py fails on a dashboard naming an unexported metric (container_fs_reads_bytes)" \
	sh -c "[ $rc -eq 1 ] && grep -q 'FAIL - bad.json: container_fs_reads_bytes (not in docs/metrics.md)' $TMP/bad"

check "docs/metrics.md lists every container_* family of src/collect/container/family.c" python3 - <<'PY'
import re, sys
sys.path.insert(0, "tests/e2e")
import gen_metrics_doc
doc = set(re.findall(r"^\| `(container_\w+)` \|", open("docs/metrics.md").read(), re.M))
missing = [n for n, _h, _t, _k in gen_metrics_doc.defined_cadvisor_families() if n not in doc]
print(missing)
sys.exit(1 if missing or len(gen_metrics_doc.defined_cadvisor_families()) < 30 else 0)
PY
finish
