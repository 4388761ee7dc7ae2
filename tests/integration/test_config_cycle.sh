#!/bin/sh
# The configuration cycle end to end (issue 13), against the fake API server
# loaded with examples/cluster, with kubectl:
#  - the crash a user hit: one K8sMonitor apply that at once turns kube-state
#    off and drops kubeState.labelsAllowlist; and README's Conflict
#    walk-through (a second monitor, then delete the first) — the agent
#    stays up and applies each;
#  - exactly one watch per (resource, selector) in steady state, as the
#    agent reports it in /metrics/self, on a leader with kube-state, the
#    app collector and ScrapeRules of several roles all reading nodes,
#    pods, services and endpoints;
#  - the leader's status writes (and anyone's) rebuild nothing:
#    k8smon_config_reloads_total does not move.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
TMP=$(mktemp -d)
PID=""
trap 'kill $PID 2>/dev/null; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds --load examples/cluster || { fail "fake API server"; finish; }
PORT=$(free_port)
U=http://127.0.0.1:$PORT
${K8SMON_BIN:-./bin/k8smon} -promscrape.kubernetes -kubeconfig="$KUBECONFIG" -nodeName=demo-node-1 \
	-httpListenAddr=127.0.0.1:$PORT -leaderElection=false >"$TMP/k8smon.log" 2>&1 &
PID=$!
wait_http "$U/healthz" || { fail "agent did not start"; cat "$TMP/k8smon.log"; finish; }
until_true() { secs=$1; shift; until_ms $((secs * 1000)) "$@"; }
alive() { kill -0 "$PID" 2>/dev/null && test "$(curl -s -o /dev/null -w '%{http_code}' "$U/healthz")" = 200; }
# Helpers as scripts: until_ms runs its command in a new sh.
cat >"$TMP/cfg" <<EOF
#!/bin/sh
curl -s "$U/config" | python3 -c "import json,sys; c=json.load(sys.stdin)['effective']; print(c[sys.argv[1]])" "\$1"
EOF
cat >"$TMP/self" <<EOF
#!/bin/sh
curl -s "$U/metrics/self"
EOF
cat >"$TMP/reloads" <<EOF
#!/bin/sh
curl -s "$U/metrics/self" | awk '/^k8smon_config_reloads_total\{part="config"\}/ {print \$2}'
EOF
chmod +x "$TMP/cfg" "$TMP/self" "$TMP/reloads"
cfg="$TMP/cfg"; self="$TMP/self"; reloads="$TMP/reloads"

check "ready" until_true 10 "test \"\$(curl -s -o /dev/null -w '%{http_code}' $U/readyz)\" = 200"

# 1. kube-state on, with a label allowlist (kube-state watches running).
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: default}
spec:
  collectors: [node, container, kube-state, app]
  kubeState:
    labelsAllowlist: {pods: [app.kubernetes.io/name]}
YAML
check "allowlisted pod labels served" until_true 10 "curl -s $U/metrics/kube-state | grep -q '^kube_pod_labels{.*label_app_kubernetes_io_name='"
# 2. The crash: kube-state off and the allowlist gone in one apply.
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: default}
spec:
  collectors: [node, container, app]
  interval: 10s
YAML
check "kube-state off + allowlist dropped at once: applied" until_true 10 \
	"test \"\$($cfg collectors)\" = node,container,app"
check "kube-state off + allowlist dropped at once: agent still up" alive
check "no kube-state watch left" until_true 5 "! $self | grep -q '^k8smon_kube_informers{resource=\"deployments\"'"
# And back, then again in a loop: each combined change applied, no crash.
for i in 1 2 3 4 5; do
	kubectl apply -f - >/dev/null <<YAML
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: default}
spec:
  collectors: [node, container, kube-state, app]
  interval: ${i}5s
  kubeState: {labelsAllowlist: {pods: [app, tier]}, resources: [pods, nodes, deployments]}
YAML
	sleep 0.2
	kubectl apply -f - >/dev/null <<'YAML'
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: default}
spec:
  collectors: [node, container, app]
  interval: 10s
YAML
done
check "five combined flips: agent still up" alive
check "five combined flips: the last applied" until_true 10 "test \"\$($cfg intervalMs)\" = 10000"

# 3. README's Conflict walk-through: a second monitor, then delete the first.
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: second}
spec:
  collectors: [node]
YAML
check "second monitor reported in conflict" until_true 10 \
	"kubectl get kmon second -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}' | grep -qx Conflict"
kubectl delete kmon default >/dev/null
check "first deleted: the second applies" until_true 10 "test \"\$($cfg collectors)\" = node"
check "first deleted: agent still up" alive
check "the second now accepted" until_true 10 \
	"kubectl get kmon second -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}' | grep -qx Accepted"

# 4. One watch per (resource, selector): kube-state on, the app collector
# on, ScrapeRules that need services, endpoints and this node (role node is
# for rules of namespaces in spec.scrape.crossNamespaceRules only).
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: second}
spec:
  collectors: [node, container, kube-state, app]
  scrape: {crossNamespaceRules: [cycle]}
YAML
kubectl create namespace cycle >/dev/null 2>&1
for role in service endpoints node pod; do
	kubectl apply -f - >/dev/null <<YAML
apiVersion: k8smon.io/v1alpha1
kind: ScrapeRule
metadata: {name: r-$role, namespace: cycle}
spec: {role: $role}
YAML
done
check "scrape manager watches services" until_true 10 "$self | grep -q '^k8smon_kube_informer_subscribers{resource=\"services\",selector=\"\"} 2'"
check "kube-state ready" until_true 10 "curl -s $U/metrics/kube-state | grep -q '^kube_pod_info{'"
$self >"$TMP/self.txt"
grep '^k8smon_kube_informers{' "$TMP/self.txt" >"$TMP/inf.txt"
check "every informer key reported once, with one watch" \
	sh -c "test -s $TMP/inf.txt && ! grep -v ' 1\$' $TMP/inf.txt && test \$(cut -d' ' -f1 $TMP/inf.txt | sort | uniq -d | wc -l) = 0"
check "nodes: one cluster-wide watch shared by kube-state, status and role node's selector watch" \
	test "$(grep -c '^k8smon_kube_informers{resource="nodes"' "$TMP/inf.txt")" = 2
check "services: one watch for kube-state and the scrape manager" \
	test "$(grep -c '^k8smon_kube_informers{resource="services"' "$TMP/inf.txt")" = 1
check "endpoints: one watch for kube-state and the scrape manager" \
	test "$(grep -c '^k8smon_kube_informers{resource="endpoints"' "$TMP/inf.txt")" = 1
check "pods: this node's pods and kube-state's, two selectors" \
	test "$(grep -c '^k8smon_kube_informers{resource="pods"' "$TMP/inf.txt")" = 2
check "the cluster-wide node watch has 2 subscribers (kube-state, status)" \
	grep -q '^k8smon_kube_informer_subscribers{resource="nodes",selector=""} 2' "$TMP/self.txt"
check "the node's own watch has 2 subscribers (cycle, role node)" \
	grep -q '^k8smon_kube_informer_subscribers{resource="nodes",selector="metadata.name=demo-node-1"} 2' "$TMP/self.txt"

# 4b. A kind the agent may not list (RBAC 403: the chart grants no Secrets
# or ConfigMaps by default) does not hold back every other kind's series.
fake_ctl POST /fault '{"action":"fail","count":100000,"code":403,"path":"/secrets"}' >/dev/null
kubectl patch kmon second --type=merge -p '{"spec":{"collectors":["node","container","app"]}}' >/dev/null
check "kube-state off" until_true 10 "! $self | grep -q '^k8smon_kube_informers{resource=\"secrets\"'"
kubectl patch kmon second --type=merge -p '{"spec":{"collectors":["node","container","kube-state","app"]}}' >/dev/null
check "secrets refused (403): the other kinds are served" until_true 15 \
	"curl -s $U/metrics/kube-state | grep -q '^kube_pod_info{'"
check "secrets refused (403): no secret series" sh -c "! curl -s $U/metrics/kube-state | grep -q '^kube_secret_info{'"
check "the refused kind is logged once" test "$(grep -c 'secrets cannot be listed (403' "$TMP/k8smon.log")" = 1
fake_ctl POST /fault '{"action":"clear"}' >/dev/null 2>&1 || true

# 5. Status writes rebuild nothing.
check "status written for the monitor" until_true 10 \
	"test \"\$(kubectl get kmon second -o jsonpath='{.status.observedGeneration}')\" = \"\$(kubectl get kmon second -o jsonpath='{.metadata.generation}')\""
sleep 1
before=$($reloads)
kubectl patch kmon second --subresource=status --type=merge -p '{"status":{"collectors":1}}' >/dev/null 2>&1 ||
	fake_ctl PATCH "/apis/k8smon.io/v1alpha1/k8smonitors/second/status" '{"status":{"collectors":1}}' >/dev/null
check "the leader rewrites the status it owns" until_true 10 \
	"kubectl get kmon second -o jsonpath='{.status.collectors}' | grep -qx 4"
sleep 1
check "status writes moved no reload counter (config: $before)" test "$($reloads)" = "$before"
kubectl patch kmon second --type=merge -p '{"spec":{"interval":"20s"}}' >/dev/null
check "a spec change moves it" until_true 10 "test \"\$($reloads)\" -gt $before"
check "agent up at the end" alive
kill -TERM "$PID"
wait "$PID"
check "clean exit" test $? = 0
grep -q 'AddressSanitizer\|runtime error' "$TMP/k8smon.log" && { fail "sanitizer report"; cat "$TMP/k8smon.log"; }
finish
