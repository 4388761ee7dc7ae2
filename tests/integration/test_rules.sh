#!/bin/sh
# Alert and recording rules shipped with k8smon:
#   - examples/alerts/k8smon-alerts.yaml: `promtool check rules`, `promtool test rules`
#     on every examples/alerts/tests/*.yaml, every alert covered by a firing and a
#     not-firing case, `vmalert -dryRun` (if vmalert is installed);
#   - examples/prometheus/rules (kube-prometheus PrometheusRule objects, pristine):
#     converted to plain rule files by tests/e2e/shorten_rules.py, then the same
#     promtool / vmalert checks.
# One line per check; exit status 1 if any failed.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
command -v promtool >/dev/null || { fail "promtool not installed"; finish; }

check "promtool check rules examples/alerts/k8smon-alerts.yaml" promtool check rules examples/alerts/k8smon-alerts.yaml
for t in examples/alerts/tests/*.yaml; do
	if promtool test rules "$t" >"$TMP/test.out" 2>&1; then ok "promtool test rules $t"; else
		fail "promtool test rules $t"; sed 's/^/    /' "$TMP/test.out" | head -40; fi
done
check "every alert has a firing and a not-firing unit test case" python3 - <<'PY'
import glob, sys, yaml
alerts = [r["alert"] for g in yaml.safe_load(open("examples/alerts/k8smon-alerts.yaml"))["groups"]
          for r in g["rules"] if "alert" in r]
firing, quiet = set(), set()
for f in glob.glob("examples/alerts/tests/*.yaml"):
    for t in yaml.safe_load(open(f))["tests"]:
        n_series = len(t.get("input_series", []))
        for c in t.get("alert_rule_test", []):
            exp = c.get("exp_alerts") or []
            if exp:
                firing.add(c["alertname"])
                # series in the same test that do not alert are a not-firing case
                if n_series > len(exp):
                    quiet.add(c["alertname"])
            else:
                quiet.add(c["alertname"])
bad = [a for a in alerts if a not in firing or a not in quiet]
for a in bad:
    print("missing:", a, "firing" if a not in firing else "", "not-firing" if a not in quiet else "")
sys.exit(1 if bad else 0)
PY

python3 tests/e2e/shorten_rules.py --for 0 examples/prometheus/rules "$TMP/kp" >/dev/null
check "kube-prometheus rules convert to plain rule files" test "$(ls "$TMP"/kp/*.yaml | wc -l)" -eq "$(ls examples/prometheus/rules/*.yaml | wc -l)"
check "promtool check rules on the converted kube-prometheus rules" promtool check rules "$TMP"/kp/*.yaml
check "kube-prometheus originals untouched (PrometheusRule objects)" sh -c \
	'for f in examples/prometheus/rules/*.yaml; do grep -q "^kind: PrometheusRule" "$f" || exit 1; done'

if command -v vmalert >/dev/null; then
	check "vmalert -dryRun examples/alerts/k8smon-alerts.yaml" vmalert -dryRun -rule=examples/alerts/k8smon-alerts.yaml
	check "vmalert -dryRun converted kube-prometheus rules" vmalert -dryRun "-rule=$TMP/kp/*.yaml"
else
	. tests/lib/skip.sh
	skip_part rules:vmalert "vmalert not installed (Debian package victoria-metrics)"
fi
finish
