#!/bin/sh
# What an operator sees (issue 16 item 3), against the fake API server:
#  - one log line per effective change, saying what changed (interval 15s→10s,
#    collectors -kube-state), never two for one change;
#  - every rejected generation logged, per object: a second bad edit seconds after the
#    first, and a bad ScrapeRule right after a bad K8sMonitor, each get their line;
#  - /config: each K8sMonitor and ScrapeRule with its latest generation, the generation in
#    effect, the verdict and why;
#  - "became leader" logged once; no "connected" line before anything was received (an
#    unreachable API server);
#  - start-up errors that say what to do: no kubeconfig (not naming -kubeconfig when it was
#    not given; naming in-cluster config and $KUBECONFIG), "-leaderElection false".
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
PID=""
trap 'kill $PID 2>/dev/null; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds --load examples/cluster || { fail "fake API server"; finish; }
# The rejections below are the agent's own (an interval over 1h, a bad regex): the
# fake stands in for an older, looser CRD so they reach the agent (the schema's
# refusals are test_fakeapi_schema.sh's).
fake_ctl POST /fault '{"action":"cr_validation","enabled":false}' >/dev/null
PORT=$(free_port)
U=http://127.0.0.1:$PORT
LOG=$TMP/k8smon.log
$BIN -promscrape.kubernetes -kubeconfig="$KUBECONFIG" -nodeName=demo-node-1 \
	-httpListenAddr=127.0.0.1:$PORT >"$LOG" 2>&1 &
PID=$!
wait_http "$U/healthz" || { fail "agent did not start"; cat "$LOG"; finish; }
check "ready" until_ms 10000 "test \"\$(curl -s -o /dev/null -w '%{http_code}' $U/readyz)\" = 200"
check "became leader" until_ms 10000 "grep -q 'became leader' $LOG"

monitor() { # generation interval
	kubectl apply -f - >/dev/null <<YAML
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: default, generation: $1}
spec:
  collectors: [node, container, app]
  interval: $2
YAML
}
rule() { # generation role
	kubectl apply -f - >/dev/null <<YAML
apiVersion: k8smon.io/v1alpha1
kind: ScrapeRule
metadata: {name: web, namespace: shop, generation: $1}
spec:
  role: $2
  annotationPrefix: example.com
YAML
}
cat >"$TMP/cfg" <<EOF
#!/bin/sh
# cfg KIND NAME FIELD: a field of /config's entry for K8sMonitor/NAME or ScrapeRule/NAME
curl -s "$U/config" | python3 -c '
import json, sys
d = json.load(sys.stdin)["discovery"]
kind, name, field = sys.argv[1:4]
for e in d["k8sMonitors" if kind == "K8sMonitor" else "scrapeRules"]:
    if e["source"] == kind + "/" + name:
        print(e.get(field))
' "\$@"
EOF
chmod +x "$TMP/cfg"; cfg=$TMP/cfg
lines() { grep -c "$1" "$LOG"; }

monitor 1 15s
check "K8sMonitor applied: collectors change logged with what changed" until_ms 10000 \
	"grep -q 'configuration now from K8sMonitor/default.*changed: collectors -kube-state\$\\|changed: collectors -kube-state\"' $LOG"
n1=$(lines 'configuration now from K8sMonitor/default')
monitor 2 10s
check "interval change logged as 15s→10s" until_ms 10000 "grep -q 'changed: interval 15s→10s' $LOG"
sleep 1
check "one line per effective change (2 changes, 2 lines)" test "$(lines 'configuration now from K8sMonitor/default')" = $((n1 + 1))
check "/config: generation 2 in effect, Accepted" sh -c "test \"\$($cfg K8sMonitor default generationInEffect) \$($cfg K8sMonitor default verdict)\" = '2 Accepted'"

monitor 3 5h
check "rejected generation 3 logged" until_ms 10000 "grep -q 'K8sMonitor default generation 3 rejected: spec.interval' $LOG"
monitor 4 7h
check "a second rejection seconds later (generation 4) logged too" until_ms 10000 \
	"grep -q 'K8sMonitor default generation 4 rejected: spec.interval: \\\\\"7h\\\\\"' $LOG"
check "/config: latest generation 4 Rejected, generation 2 still in effect, and why" sh -c \
	"test \"\$($cfg K8sMonitor default latestGeneration) \$($cfg K8sMonitor default generationInEffect) \$($cfg K8sMonitor default verdict)\" = '4 2 Rejected' && $cfg K8sMonitor default message | grep -q '7h'"
check "no change line for a rejected generation" test "$(lines 'configuration now from K8sMonitor/default')" = $((n1 + 1))

rule 1 pod
check "ScrapeRule added: logged with its name" until_ms 10000 "grep -q 'ScrapeRules in effect: 1; changed: +shop/web' $LOG"
check "/config: ScrapeRule generation 1 Accepted" until_ms 5000 \
	"test \"\$($cfg ScrapeRule shop/web generationInEffect) \$($cfg ScrapeRule shop/web verdict)\" = '1 Accepted'"
monitor 5 9h
rule 2 bogus
check "bad K8sMonitor and bad ScrapeRule back to back: both logged" until_ms 10000 \
	"grep -q 'K8sMonitor default generation 5 rejected' $LOG && grep -q 'ScrapeRule shop/web generation 2 rejected: .*its last accepted version stays in effect' $LOG"
check "/config: ScrapeRule latest 2 Rejected, 1 in effect, with the error" sh -c \
	"test \"\$($cfg ScrapeRule shop/web latestGeneration) \$($cfg ScrapeRule shop/web generationInEffect) \$($cfg ScrapeRule shop/web verdict)\" = '2 1 Rejected' && $cfg ScrapeRule shop/web error | grep -q bogus"
check "becoming leader logged exactly once" test "$(lines 'became.*leader')" = 1
check "no line claims a connection" sh -c "! grep -qi 'connected' $LOG"
kill $PID; wait $PID 2>/dev/null; PID=""

# An unreachable API server: no line says connected.
cat >"$TMP/dead.kubeconfig" <<'YAML'
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
YAML
PORT=$(free_port)
$BIN -promscrape.kubernetes -kubeconfig="$TMP/dead.kubeconfig" -nodeName=n1 -httpListenAddr=127.0.0.1:$PORT \
	>"$TMP/dead.log" 2>&1 &
PID=$!
wait_http "http://127.0.0.1:$PORT/healthz" || fail "agent with a dead API server did not serve"
sleep 2
check "unreachable API server: no line says connected" sh -c "! grep -qi 'connected to' $TMP/dead.log"
check "unreachable API server: the start-up line says nothing was received yet" grep -q 'nothing received yet' "$TMP/dead.log"
check "unreachable API server: not ready" test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/readyz)" = 503
kill $PID; wait $PID 2>/dev/null; PID=""

# Start-up errors say what to do.
err=$(env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT HOME="$TMP/nohome" \
	$BIN -promscrape.kubernetes -httpListenAddr=127.0.0.1:0 2>&1); rc=$?
echo "$err"
check "no kubeconfig: exit 2... or 1, one line" test $rc -ne 0 -a "$(echo "$err" | wc -l)" = 1
check "no kubeconfig, no flag given: the error does not blame -kubeconfig" sh -c "! echo '$err' | grep -q '^k8smon: -kubeconfig'"
check "no kubeconfig: mentions in-cluster config (KUBERNETES_SERVICE_HOST/PORT, token)" sh -c \
	"echo '$err' | grep -q 'KUBERNETES_SERVICE_HOST/PORT' && echo '$err' | grep -q 'service-account token'"
check "no kubeconfig: mentions \$KUBECONFIG and -kubeconfig=PATH" sh -c \
	"echo '$err' | grep -q '\\\$KUBECONFIG' && echo '$err' | grep -q -- '-kubeconfig=PATH'"
err=$(env -u KUBERNETES_SERVICE_HOST KUBECONFIG="$TMP/none.yaml" $BIN -promscrape.kubernetes -httpListenAddr=127.0.0.1:0 2>&1)
check "\$KUBECONFIG unreadable: the error names \$KUBECONFIG and the file" sh -c "echo '$err' | grep -q '\\\$KUBECONFIG: kubeconfig $TMP/none.yaml: cannot read'"
err=$(env KUBERNETES_SERVICE_HOST=10.0.0.1 KUBERNETES_SERVICE_PORT=443 $BIN -promscrape.kubernetes -httpListenAddr=127.0.0.1:0 2>&1)
check "in a pod without a token: says in-cluster and the token file" sh -c \
	"echo '$err' | grep -q 'in-cluster config' && echo '$err' | grep -q '/var/run/secrets/kubernetes.io/serviceaccount/token'"
err=$($BIN -promscrape.kubernetes -kubeconfig="$TMP/none.yaml" -httpListenAddr=127.0.0.1:0 2>&1)
check "-kubeconfig given and unreadable: names the flag" sh -c "echo '$err' | grep -q '^k8smon: -kubeconfig: kubeconfig $TMP/none.yaml'"
err=$($BIN -leaderElection false 2>&1); rc=$?
check "-leaderElection false: exit 2, suggests -leaderElection=false" sh -c \
	"test $rc = 2 && echo '$err' | grep -q 'write -leaderElection=false'"
finish
