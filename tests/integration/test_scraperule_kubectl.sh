#!/bin/sh
# ScrapeRule end to end with kubectl (issue 6, "the same for a ScrapeRule"):
# the agent starts with the flag defaults (built-in rule: victoriametrics.com
# and prometheus.io annotations), then a ScrapeRule selects the
# victoriametrics.com pod (the built-in rule, which runs next to ScrapeRules,
# keeps the other one), switches to prometheus.io (visible within 1 s), an
# invalid edit keeps the previous behaviour and shows Ready=False with the
# field message, the fix is Ready again, and deleting the rule brings the
# flag defaults back. Also: status is written by the leader only, once per
# change and not again while nothing changes, and a 409 on the status write
# is retried.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds || { fail "fake API server"; finish; }

P_V=$(free_port); P_P=$(free_port)
python3 tests/scrape/targets.py $P_V:ok:3 $P_P:ok:2 >"$TMP/targets.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 60 grep -q READY "$TMP/targets.out"

# pod NAME PORT PREFIX: a running pod on node n1 at 127.0.0.1, scrape-annotated with PREFIX.
pod() {
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","namespace":"prom","uid":"%s-uid","labels":{"app":"%s"},
 "annotations":{"%s/scrape":"true","%s/port":"%s","%s/interval":"1s"}},
 "spec":{"nodeName":"n1","containers":[{"name":"main","image":"x","ports":[{"name":"metrics","containerPort":%s,"protocol":"TCP"}]}]},
 "status":{"phase":"Running","podIP":"127.0.0.1","hostIP":"127.0.0.1","conditions":[{"type":"Ready","status":"True"}]}}' \
		"$1" "$1" "$1" "$3" "$3" "$2" "$3" "$2"
}
fake_ctl POST /objects "$(pod v $P_V victoriametrics.com)" >/dev/null
fake_ctl POST /objects "$(pod p $P_P prometheus.io)" >/dev/null

# Another holder owns the Lease: this agent starts as a follower.
kubectl apply -f - >/dev/null <<YAML
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: k8smon, namespace: default}
spec: {holderIdentity: someone-else, leaseDurationSeconds: 3600, renewTime: "2026-01-01T00:00:00.000000Z"}
YAML
PORT=$(free_port)
U=http://127.0.0.1:$PORT
$BIN -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=n1 -httpListenAddr=127.0.0.1:$PORT \
	-promscrape.kubernetes.collectors=app -leaderElection.namespace=default -leaderElection.retryPeriod=500ms \
	-loggerLevel=INFO >"$TMP/k8smon.log" 2>&1 &
PIDS="$PIDS $!"
APID=$!
wait_http "$U/healthz" || { fail "agent did not start"; cat "$TMP/k8smon.log"; finish; }

until_true() { until_ms "$@"; } # MS CMD; tests/lib/common.sh
# Status PATCHes of ScrapeRule prom/r since the last reset of the fake's request log.
status_writes() {
	fake_ctl GET /requests | python3 -c '
import json, sys
log = json.load(sys.stdin)["log"]
print(sum(1 for r in log if r["method"] == "PATCH" and r["path"].endswith("/namespaces/prom/scraperules/r/status")))'
}
SR="kubectl -n prom get sr r"
LUA=$(command -v lua5.1 || true)
# "<Argo CD health> <kstatus>" of the live rule (examples/argocd Lua, tests/argocd/kstatus.py).
health() { $SR -o json >"$TMP/h.json" && python3 tests/argocd/eval_obj.py "$LUA" "$TMP/h.json"; }

check "flag defaults: victoriametrics.com pod v is a target" until_true 5000 "curl -s $U/api/v1/targets | grep -q '\"pod\":\"v\"'"
check "flag defaults: prometheus.io pod p is a target" until_true 5000 "curl -s $U/api/v1/targets | grep -q '\"pod\":\"p\"'"
check "flag defaults: samples of both pods on /metrics" until_true 5000 \
	"curl -s $U/metrics | grep -q '^app_requests_total{.*pod=\"v\"' && curl -s $U/metrics | grep -q '^app_requests_total{.*pod=\"p\"'"
check "follower: k8smon_leader 0" sh -c "curl -s $U/metrics/self | grep -q '^k8smon_leader{lease=\"default/k8smon\"} 0'"

kubectl apply -f - >/dev/null <<YAML
apiVersion: k8smon.io/v1alpha1
kind: ScrapeRule
metadata: {name: r, namespace: prom}
spec:
  role: pod
  annotationPrefix: victoriametrics.com
  interval: 1s
YAML
# pools POD: the scrape pools of that pod's targets, space-separated.
cat >"$TMP/pools" <<SH
#!/bin/sh
curl -s $U/api/v1/targets | python3 -c "
import json,sys
print(' '.join(sorted(t['scrapePool'] for t in json.load(sys.stdin)['data']['activeTargets'] if t['labels'].get('pod') == sys.argv[1])))" "\$1"
SH
chmod +x "$TMP/pools"
RULE_V="test \"\$($TMP/pools v)\" = prom/r && test \"\$($TMP/pools p)\" = kubernetes-pods"
RULE_P="test \"\$($TMP/pools p)\" = prom/r && test \"\$($TMP/pools v)\" = kubernetes-pods"
check "kubectl apply ScrapeRule victoriametrics.com: pod v under the rule (once), p under the built-in, within 1 s" until_true 1000 "$RULE_V"
printf 'apiVersion: k8smon.io/v1alpha1\nkind: K8sMonitor\nmetadata:\n  name: f\nspec:\n  interval: 10s\n' | kubectl apply -f - >/dev/null
check "follower applies the K8sMonitor itself" until_true 3000 "curl -s $U/config | grep -q '\"source\": \"K8sMonitor/f\"'"
sleep 1.5
check "follower writes no status (ScrapeRule)" test -z "$($SR -o jsonpath='{.status}')"
check "follower writes no status (K8sMonitor)" test -z "$(kubectl get kmon f -o jsonpath='{.status}')"
check "follower: no status PATCH at all" test "$(status_writes)" = 0

kubectl -n default delete lease k8smon >/dev/null
check "the Lease is free: this agent becomes leader" until_true 10000 \
	"curl -s $U/metrics/self | grep -q '^k8smon_leader{lease=\"default/k8smon\"} 1'"
check "leader writes status: kubectl get sr shows True Accepted 1" until_true 5000 "$SR --no-headers | grep -Eq '^r +pod +True +Accepted +1 '"
check "leader writes the K8sMonitor status too" until_true 5000 "kubectl get kmon f --no-headers | grep -Eq '^f +True +Accepted'"
check "observedGeneration = generation (1)" sh -c "test \"\$($SR -o jsonpath='{.status.observedGeneration}')\" = 1"

# Switch the prefix; exactly one status write follows.
fake_ctl POST /requests/reset >/dev/null
kubectl -n prom patch sr r --type=merge -p '{"spec":{"annotationPrefix":"prometheus.io"}}' >/dev/null
if ms=$(until_true 1000 "$RULE_P && ! curl -s $U/metrics | grep -q 'job=\"prom/r\".*pod=\"v\"'"); then
	ok "switched to prometheus.io: pod p under the rule, v back under the built-in, no prom/r sample of pod v on /metrics after ${ms} ms (<= 1 s)"
else
	fail "prefix switch not visible within 1 s"
fi
check "samples of pod p on /metrics" until_true 3000 "curl -s $U/metrics | grep -q '^app_requests_total{.*job=\"prom/r\".*pod=\"p\"'"
gen=$($SR -o jsonpath='{.metadata.generation}')
check "generation moved to 2" test "$gen" = 2
check "kubectl get sr: Ready True Accepted with observedGeneration 2" until_true 5000 \
	"$SR --no-headers | grep -Eq '^r +pod +True +Accepted +1 ' && test \"\$($SR -o jsonpath='{.status.observedGeneration}')\" = 2"
sleep 1
check "one change, one status write" test "$(status_writes)" = 1
[ -n "$LUA" ] && check "accepted, as written by the agent: Argo CD Healthy, kstatus Current" test "$(health)" = "Healthy Current"

# Nothing changes for the rule (a pod label edit recounts targets): no write.
fake_ctl POST /requests/reset >/dev/null
kubectl -n prom label pod p tier=x >/dev/null
sleep 6.5
check "unchanged status is not written again (0 PATCHes after a recount)" test "$(status_writes)" = 0

# Invalid edit: the previous behaviour stays; Ready=False with the field message.
# The API server refuses it (the CRD's pattern); the agent must refuse it too when a
# looser (older) CRD let it in, which the fake plays with validation off.
check "the API server refuses annotationPrefix Bad_Prefix (422 naming spec.annotationPrefix)" sh -c \
	"kubectl -n prom patch sr r --type=merge -p '{\"spec\":{\"annotationPrefix\":\"Bad_Prefix\"}}' 2>&1 | grep -q 'spec.annotationPrefix: Invalid value'"
fake_ctl POST /fault '{"action":"cr_validation","enabled":false}' >/dev/null
kubectl -n prom patch sr r --type=merge -p '{"spec":{"annotationPrefix":"Bad_Prefix"}}' >/dev/null
fake_ctl POST /fault '{"action":"cr_validation","enabled":true}' >/dev/null
check "invalid edit: kubectl get sr -o wide shows False InvalidSpec with spec.annotationPrefix" until_true 5000 \
	"$SR -o wide --no-headers | grep -q 'False *InvalidSpec.*spec.annotationPrefix'"
check "invalid edit: Stalled=True" sh -c "$SR -o jsonpath='{.status.conditions[?(@.type==\"Stalled\")].status}' | grep -qx True"
[ -n "$LUA" ] && check "invalid, as written by the agent: Argo CD Degraded, kstatus Failed" test "$(health)" = "Degraded Failed"
check "invalid edit: observedGeneration 3" sh -c "test \"\$($SR -o jsonpath='{.status.observedGeneration}')\" = 3"
check "invalid edit: still pod p under the rule (last accepted version)" sh -c "$RULE_P"
check "invalid edit: samples of pod p still on /metrics" sh -c "curl -s $U/metrics | grep -q '^app_requests_total{.*pod=\"p\"'"

curl -s $U/config >"$TMP/config.json"
check "/config: ScrapeRule/prom/r invalid, generation 2 (prometheus.io) in effect" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["discovery"]
r = d["scrapeRules"]
assert d["from"] == "ScrapeRules" and len(r) == 1, d
assert r[0]["source"] == "ScrapeRule/prom/r" and r[0]["state"].startswith("invalid; the last accepted version"), r
assert r[0]["inEffect"] == {"generation": 2, "role": "pod", "annotationPrefix": "prometheus.io"}, r
assert "spec.annotationPrefix" in r[0]["error"], r
' "$TMP/config.json"

# The fix, with the first two status writes answered 409 Conflict: retried.
fake_ctl POST /requests/reset >/dev/null
fake_ctl POST /fault '{"action":"fail","count":2,"code":409,"method":"PATCH","path":"/namespaces/prom/scraperules/r/status"}' >/dev/null
kubectl -n prom patch sr r --type=merge -p '{"spec":{"annotationPrefix":"prometheus.io"}}' >/dev/null
check "fixed (after two 409s on the status write): Ready True Accepted again" until_true 8000 \
	"$SR --no-headers | grep -Eq '^r +pod +True +Accepted +1 ' && test \"\$($SR -o jsonpath='{.status.observedGeneration}')\" = 4"
check "the 409s happened and were retried (3 status PATCHes)" test "$(status_writes)" = 3
check "the failed write is logged with its retry" grep -q 'status failed: .*(HTTP 409); retrying ' "$TMP/k8smon.log"
check "fixed: still pod p under the rule" sh -c "$RULE_P"

kubectl -n prom delete sr r >/dev/null
check "delete: flag defaults return (pods v and p) within 1 s" until_true 1000 \
	"curl -s $U/api/v1/targets | grep -q '\"pod\":\"v\"' && curl -s $U/api/v1/targets | grep -q '\"pod\":\"p\"'"
check "delete: /config says discovery comes from the flags again" sh -c "curl -s $U/config | grep -q '\"from\": \"flags (built-in rule'"
check "delete: samples of pod v back on /metrics" until_true 3000 "curl -s $U/metrics | grep -q '^app_requests_total{.*pod=\"v\"'"
check "agent up" kill -0 $APID
[ "$FAILS" -ne 0 ] && tail -30 "$TMP/k8smon.log"
finish
