#!/bin/sh
# End to end in Kubernetes mode against the fake API server loaded with
# examples/cluster: readiness after sync, kube-state series following object
# changes, live reconfiguration through K8sMonitor with kubectl (collector
# off, namespace excluded, invalid spec keeps the last good configuration,
# delete returns to the flags), Lease held and released on SIGTERM.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
TMP=$(mktemp -d)
PID=""
trap 'kill $PID 2>/dev/null; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds --load examples/cluster || { fail "fake API server"; finish; }
PORT=$(free_port)
U=http://127.0.0.1:$PORT
./bin/k8smon -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=demo-node-1 \
	-httpListenAddr=127.0.0.1:$PORT -leaderElection.namespace=default -loggerLevel=DEBUG \
	>"$TMP/k8smon.log" 2>&1 &
PID=$!
wait_http "$U/healthz" || { fail "agent did not start"; cat "$TMP/k8smon.log"; finish; }

# until_true SECONDS CMD (see until_ms in tests/lib/common.sh).
until_true() { secs=$1; shift; until_ms $((secs * 1000)) "$@"; }
ks() { curl -s "$U/metrics/kube-state"; }
# health NAME: "<Argo CD health> <kstatus>" of the live K8sMonitor (examples/argocd Lua, tests/argocd/kstatus.py).
LUA=$(command -v lua5.1 || true)
health() { kubectl get kmon "$1" -o json >"$TMP/h.json" && python3 tests/argocd/eval_obj.py "$LUA" "$TMP/h.json"; }

check "ready after the initial sync" until_true 10 "test \"\$(curl -s -o /dev/null -w '%{http_code}' $U/readyz)\" = 200"
check "k8smon_leader 1 (Lease acquired)" until_true 10 "curl -s $U/metrics/self | grep -q '^k8smon_leader{lease=\"default/k8smon\"} 1'"
check "Lease holder is this agent" until_true 5 "kubectl get lease k8smon -n default -o jsonpath='{.spec.holderIdentity}' | grep -qx demo-node-1"
check "kube-state serves kube_pod_info for every pod" until_true 10 \
	"test \$(curl -s $U/metrics/kube-state | grep -c '^kube_pod_info{') -eq \$(kubectl get pods -A --no-headers | wc -l)"
check "kube_node_status_condition present" sh -c "curl -s $U/metrics/kube-state | grep -q '^kube_node_status_condition{'"
check "kube-state self-metrics for the KSM alerts" sh -c "curl -s $U/metrics/kube-state | grep -q '^kube_state_metrics_list_total{'"
ks >"$TMP/ks.prom"
promtool check metrics <"$TMP/ks.prom" >"$TMP/promtool.out" 2>&1
check "promtool accepts /metrics/kube-state" test ! -s "$TMP/promtool.out"

# Objects created, changed and deleted while running.
printf "apiVersion: v1\nkind: Namespace\nmetadata: {name: e2e}\n" | kubectl apply -f - >/dev/null
kubectl -n e2e create -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: e2e}
spec:
  nodeName: demo-node-2
  containers: [{name: main, image: busybox:1.36}]
YAML
check "a new pod appears in kube-state" until_true 5 "curl -s $U/metrics/kube-state | grep -q 'kube_pod_info{namespace=\"e2e\",pod=\"probe\"'"
kubectl -n e2e label pod probe tier=canary >/dev/null
kubectl -n e2e delete pod probe >/dev/null
check "a deleted pod disappears from kube-state" until_true 5 "! curl -s $U/metrics/kube-state | grep -q 'pod=\"probe\"'"

# A pod deleted while no watch is open is found missing by the relist diff,
# where the kube-state store holds only its resourceVersion (compact trim):
# the delete must still name the pod. Watches fail for a while, the pod goes
# and the history is compacted, so the next watch gets 410 and relists.
kubectl -n e2e create -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: probe2, namespace: e2e}
spec:
  nodeName: demo-node-2
  containers: [{name: main, image: busybox:1.36}]
YAML
check "a second pod appears in kube-state" until_true 5 "curl -s $U/metrics/kube-state | grep -q 'kube_pod_info{namespace=\"e2e\",pod=\"probe2\"'"
fake_ctl POST /fault '{"action":"fail","count":3,"code":500,"path":"/pods","watch":true}' >/dev/null
fake_ctl POST /fault '{"action":"drop_watches","resource":"pods"}' >/dev/null
fake_ctl DELETE "/objects?resource=pods&namespace=e2e&name=probe2" >/dev/null
fake_ctl POST /fault '{"action":"expire"}' >/dev/null
check "a pod deleted between watches disappears after the relist" until_true 20 "! curl -s $U/metrics/kube-state | grep -q 'pod=\"probe2\"'"

# API self-metrics in /metrics/self (issue #3): by verb/resource/code, latency,
# watch restarts and relists by resource, events by type, store size, last sync.
curl -s "$U/metrics/self" >"$TMP/self.txt"
has() { grep -Eq "^$1" "$TMP/self.txt"; }
check "self: requests by verb, resource, code" has 'k8smon_kube_requests_total\{verb="LIST",resource="pods",code="200"\} [1-9]'
check "self: failed watches counted with their code" has 'k8smon_kube_requests_total\{verb="WATCH",resource="pods",code="500"\} [1-9]'
check "self: request latency histogram by verb" has 'k8smon_kube_request_duration_seconds_bucket\{[^}]*verb="LIST"'
check "self: watch restarts by resource" has 'k8smon_kube_watch_restarts_total\{resource="pods"\} [1-9]'
check "self: relists by resource" has 'k8smon_kube_relists_total\{resource="pods"\} [1-9]'
check "self: watch events by type" has 'k8smon_kube_watch_events_total\{resource="pods",type="DELETED"\} [1-9]'
check "self: objects in store by resource" has 'k8smon_kube_store_objects\{resource="pods"\} [1-9]'
check "self: errors by resource and cause" has 'k8smon_kube_errors_total\{resource="pods",cause="server"\} [1-9]'
check "self: last successful sync is recent" awk -v now="$(date +%s)" \
	'/^k8smon_kube_last_sync_timestamp_seconds\{resource="pods"\} / { if ($2 > now - 120 && $2 <= now + 5) ok = 1 } END { exit !ok }' "$TMP/self.txt"

# K8sMonitor: container collector off, namespace shop excluded.
cat >"$TMP/kmon.yaml" <<YAML
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata:
  name: e2e
spec:
  collectors: [node, kube-state]
  excludeNamespaces: [shop]
YAML
check "shop has kube_* before" sh -c "curl -s $U/metrics | grep -q '^kube_pod_info{namespace=\"shop\"'"
check "container_* present before" sh -c "curl -s $U/metrics | grep -q '^container_cpu_usage_seconds_total{'"
kubectl apply -f "$TMP/kmon.yaml" >/dev/null
if ms=$(until_true 5 "! curl -s $U/metrics | grep -v '^kube_namespace_' | grep -q -e '^container_' -e '^kube_[a-z_]*{namespace=\"shop\"'"); then
	ok "K8sMonitor applied: no container_*, no kube_* of shop after ${ms} ms"
else
	fail "K8sMonitor not applied within 5 s"
fi
# The Namespace object itself is cluster-scoped: kube-state-metrics keeps
# kube_namespace_* of a namespace its --namespaces-denylist names, and so do we.
check "excludeNamespaces keeps kube_namespace_status_phase{namespace=shop} (as KSM)" sh -c "curl -s $U/metrics | grep -q '^kube_namespace_status_phase{namespace=\"shop\"'"
gen=$(kubectl get kmon e2e -o jsonpath='{.metadata.generation}')
check "kubectl get kmon: Ready=True Accepted" until_true 5 "kubectl get kmon e2e --no-headers | grep -Eq '^e2e +True +Accepted +2 '"
check "status.observedGeneration = metadata.generation" until_true 5 "test \"\$(kubectl get kmon e2e -o jsonpath='{.status.observedGeneration}')\" = $gen"
check "kstatus Stalled=False when accepted" sh -c "kubectl get kmon e2e -o jsonpath='{.status.conditions[?(@.type==\"Stalled\")].status}' | grep -qx False"
[ -n "$LUA" ] && check "accepted, as written by the agent: Argo CD Healthy, kstatus Current" test "$(health e2e)" = "Healthy Current"
check "/config names the K8sMonitor" sh -c "curl -s $U/config | grep -q '\"source\": \"K8sMonitor/e2e\"'"
check "node metrics unaffected" sh -c "curl -s $U/metrics | grep -q '^node_load1 '"

# Invalid change: the running configuration stays. The API server refuses this spec
# (the CRD's pattern); the agent must refuse it too when a looser (older) CRD let it
# in, which the fake plays with validation off for this write.
check "the API server refuses interval \"15\" (422 naming spec.interval)" sh -c "kubectl patch kmon e2e --type=merge -p '{\"spec\":{\"interval\":\"15\"}}' 2>&1 | grep -q 'spec.interval: Invalid value'"
fake_ctl POST /fault '{"action":"cr_validation","enabled":false}' >/dev/null
kubectl patch kmon e2e --type=merge -p '{"spec":{"interval":"15","collectors":["node"]}}' >/dev/null
fake_ctl POST /fault '{"action":"cr_validation","enabled":true}' >/dev/null
# the refusal logged first (the agent has seen the bad spec), then what it serves
check "invalid spec logged with the field path" wait_for 60 grep -q 'spec.interval: \\"15\\" is not a duration' "$TMP/k8smon.log"
check "invalid spec keeps the last good configuration" sh -c "curl -s $U/metrics | grep -q '^kube_pod_info{' && ! curl -s $U/metrics | grep -q '^container_'"
check "kubectl get kmon: Ready=False InvalidSpec with the field message" until_true 5 "kubectl get kmon e2e -o wide --no-headers | grep -q 'False *InvalidSpec.*spec.interval: \"15\" is not a duration'"
check "kstatus Stalled=True when invalid" sh -c "kubectl get kmon e2e -o jsonpath='{.status.conditions[?(@.type==\"Stalled\")].status}' | grep -qx True"
[ -n "$LUA" ] && check "invalid, as written by the agent: Argo CD Degraded, kstatus Failed" test "$(health e2e)" = "Degraded Failed"
kubectl patch kmon e2e --type=merge -p '{"spec":{"interval":"20s"}}' >/dev/null
check "fixed spec applies (collectors [node]: no kube_*)" until_true 5 "! curl -s $U/metrics | grep -q '^kube_pod_info{'"
check "fixed spec: Ready=True again" until_true 5 "kubectl get kmon e2e --no-headers | grep -Eq '^e2e +True +Accepted'"
# Status is written only when it changes: a node change makes the leader
# re-evaluate every K8sMonitor, but the verdict is the same -> no PATCH.
fake_ctl POST /requests/reset >/dev/null
kubectl label node demo-node-2 k8smon-test=touch >/dev/null
sleep 1.5
n=$(fake_ctl GET /requests | python3 -c 'import json, sys
print(sum(1 for r in json.load(sys.stdin)["log"] if r["method"] == "PATCH" and "/k8smonitors/" in r["path"] and r["path"].endswith("/status")))')
check "unchanged K8sMonitor status is not written again (0 status PATCHes after a node change)" test "$n" = 0
# A younger monitor selecting the same node loses and says so.
printf 'apiVersion: k8smon.io/v1alpha1\nkind: K8sMonitor\nmetadata:\n  name: zz-younger\nspec:\n  interval: 30s\n' | kubectl apply -f - >/dev/null
check "conflict: the younger K8sMonitor reports Conflict naming the winner" until_true 5 "kubectl get kmon zz-younger -o wide --no-headers | grep -q 'False *Conflict.*older K8sMonitor e2e'"
[ -n "$LUA" ] && check "conflict, as written by the agent: Argo CD Degraded, kstatus Failed" test "$(health zz-younger)" = "Degraded Failed"
check "conflict: the older one stays in effect" sh -c "curl -s $U/config | grep -q '\"source\": \"K8sMonitor/e2e\"'"
kubectl delete kmon zz-younger >/dev/null

kubectl delete kmon e2e >/dev/null
check "delete returns to the flags" until_true 5 "curl -s $U/metrics | grep -q '^container_cpu_usage_seconds_total{' && curl -s $U/metrics | grep -q '^kube_pod_info{namespace=\"shop\"' && curl -s $U/config | grep -q '\"source\": \"flags\"'"

# Every other aspect changes live too: interval, namespaces (include),
# kubeState.resources, metricDenylist / metricAllowlist, node options; /config
# says which part came from where.
cat >"$TMP/live.yaml" <<YAML
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata:
  name: live
spec:
  interval: 7s
  namespaces: [shop]
  kubeState:
    resources: [pods, namespaces]
    metricDenylist: [kube_pod_status_phase]
  node:
    netdevExclude: '^lo$'
YAML
check "before: node_network_* of lo, kube_node_*, kube_pod_status_phase, pods outside shop" sh -c \
	"curl -s $U/metrics | grep -q '^node_network_receive_bytes_total{device=\"lo\"}' && curl -s $U/metrics | grep -q '^kube_node_info{' && curl -s $U/metrics | grep -q '^kube_pod_status_phase{' && curl -s $U/metrics | grep '^kube_pod_info{' | grep -vq 'namespace=\"shop\"'"
kubectl apply -f "$TMP/live.yaml" >/dev/null
check "namespaces [shop]: kube_pod_info of shop only" until_true 5 \
	"curl -s $U/metrics | grep -q '^kube_pod_info{namespace=\"shop\"' && ! curl -s $U/metrics | grep '^kube_pod_info{' | grep -vq 'namespace=\"shop\"'"
check "kubeState.resources [pods, namespaces]: no kube_node_*, no kube_deployment_*" sh -c \
	"! curl -s $U/metrics | grep -q -e '^kube_node_' -e '^kube_deployment_'"
check "metricDenylist [kube_pod_status_phase]: gone, kube_pod_info stays" sh -c \
	"! curl -s $U/metrics | grep -q '^kube_pod_status_phase{' && curl -s $U/metrics | grep -q '^kube_pod_info{'"
check "node.netdevExclude ^lo\$: no node_network_* of lo, node metrics stay" sh -c \
	"! curl -s $U/metrics | grep -q '^node_network_receive_bytes_total{device=\"lo\"}' && curl -s $U/metrics | grep -q '^node_load1 '"
check "interval 7s: default scrape interval of discovered targets" until_true 5 \
	"curl -s $U/api/v1/targets | grep -q '\"scrapeInterval\": *\"7s\"'"
curl -s $U/config >"$TMP/config.json"
# collectors: the API server fills in the CRD's default, so they come from the monitor too.
check "/config: interval, namespaces, node, kubeState, collectors (CRD default) from K8sMonitor/live; excludeNamespaces from the flags" python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
f, e = c["from"], c["effective"]
assert c["source"] == "K8sMonitor/live", c["source"]
assert f["interval"] == f["namespaces"] == f["node"] == f["kubeState"] == "K8sMonitor/live", f
assert f["collectors"] == "K8sMonitor/live" and f["excludeNamespaces"] == "flags", f
assert e["intervalMs"] == 7000 and e["namespaces"] == ["shop"], e
assert e["kubeState"] == {"resources": ["pods", "namespaces"], "metricDenylist": ["kube_pod_status_phase"]}, e["kubeState"]
assert e["node"] == {"netdevExclude": "^lo$"}, e["node"]
assert c["discovery"]["from"].startswith("flags (built-in rule"), c["discovery"]
' "$TMP/config.json"
kubectl patch kmon live --type=json -p '[{"op":"remove","path":"/spec/kubeState/metricDenylist"},{"op":"add","path":"/spec/kubeState/metricAllowlist","value":["kube_namespace_.*"]}]' >/dev/null
check "metricAllowlist [kube_namespace_.*]: only kube_namespace_* of the kube_* families" until_true 5 \
	"curl -s $U/metrics | grep -q '^kube_namespace_created{' && ! curl -s $U/metrics | grep '^kube_' | grep -v -e '^kube_namespace_' -e '^kube_state_metrics_' | grep -q ."
kubectl delete kmon live >/dev/null
check "delete: every kind, every namespace and lo are back" until_true 5 \
	"curl -s $U/metrics | grep -q '^kube_node_info{' && curl -s $U/metrics | grep -q '^kube_pod_status_phase{' && curl -s $U/metrics | grep -q '^node_network_receive_bytes_total{device=\"lo\"}' && curl -s $U/config | grep -q '\"source\": \"flags\"'"

# Label allowlist: kube_pod_labels gains label_* without a restart.
check "no label_* on kube_pod_labels by default" sh -c "! curl -s $U/metrics/kube-state | grep -q '^kube_pod_labels{.*label_'"
printf 'apiVersion: k8smon.io/v1alpha1\nkind: K8sMonitor\nmetadata:\n  name: labels\nspec:\n  kubeState:\n    labelsAllowlist:\n      pods: [app.kubernetes.io/name]\n' | kubectl apply -f - >/dev/null
check "labelsAllowlist applied live: kube_pod_labels has label_app_kubernetes_io_name" until_true 10 \
	"curl -s $U/metrics/kube-state | grep -q '^kube_pod_labels{.*label_app_kubernetes_io_name=\"'"
check "every pod still has kube_pod_info after the re-render" until_true 10 \
	"test \$(curl -s $U/metrics/kube-state | grep -c '^kube_pod_info{') -eq \$(kubectl get pods -A --no-headers | wc -l)"
printf 'apiVersion: k8smon.io/v1alpha1\nkind: K8sMonitor\nmetadata:\n  name: labels\nspec:\n  kubeState:\n    annotationsAllowlist:\n      pods: [victoriametrics.com/scrape]\n' | kubectl apply -f - >/dev/null
check "annotationsAllowlist applied live: kube_pod_annotations has annotation_victoriametrics_com_scrape" until_true 10 \
	"curl -s $U/metrics/kube-state | grep -q '^kube_pod_annotations{.*annotation_victoriametrics_com_scrape=\"true\"'"
check "...and the labels allowlist it no longer names is gone" until_true 10 \
	"! curl -s $U/metrics/kube-state | grep -q '^kube_pod_labels{.*label_'"
kubectl delete kmon labels >/dev/null

# API server faults: the agent stays up and serves what it has.
fake_ctl POST /fault '{"action":"drop_watches"}' >/dev/null
fake_ctl POST /fault '{"action":"fail","count":5,"code":500}' >/dev/null
i=0; until printf "apiVersion: v1\nkind: Namespace\nmetadata: {name: after-faults}\n" | kubectl apply -f - >/dev/null 2>&1 || [ $i -ge 10 ]; do i=$((i + 1)); sleep 0.2; done
check "namespace created on the server despite injected 500s" kubectl get namespace after-faults
check "still serving during faults" sh -c "curl -s $U/metrics/kube-state | grep -q '^kube_pod_info{'"
check "converges after faults" until_true 15 "curl -s $U/metrics/kube-state | grep -q 'kube_namespace_created{namespace=\"after-faults\"'"

# SIGTERM: exits 0 and releases the Lease.
kill -TERM $PID
i=0; while kill -0 $PID 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $PID 2>/dev/null; then fail "SIGTERM: still running after 3 s"; else
	wait $PID; rc=$?
	check "SIGTERM exits 0" test $rc = 0
fi
TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$TMP/api/server.json")
check "the bearer token never appears in the (DEBUG) log" sh -c "test -n '$TOKEN' && ! grep -qF '$TOKEN' '$TMP/k8smon.log'"
check "Lease released on shutdown" sh -c "test -z \"\$(kubectl get lease k8smon -n default -o jsonpath='{.spec.holderIdentity}')\""
[ "$FAILS" -ne 0 ] && tail -20 "$TMP/k8smon.log"
finish
