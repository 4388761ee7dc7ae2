#!/bin/sh
# Attacks on application scraping by a namespace team (pod annotations,
# ScrapeRules) and by anyone holding a service-account token (docs/security.md,
# "Threat model"). Each case is tried as the tenant would; the check is that
# the attack fails AND the agent keeps serving.
#
# Agent S (node n1): default flags, no loopback allowed. Agent B (node n2):
# -promscrape.allowLoopback (the test's "pods" are served on 127.0.0.1) and
# -http.auth=kubernetes against the fake API server's reviews.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds || { fail "fake API server"; finish; }
command -v promtool >/dev/null || { fail "promtool (Debian package prometheus) not installed"; finish; }

# The node's own (non-loopback) address, as the agent's getifaddrs() sees it.
NODEIP=$(ip -o -4 addr show scope global 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}')

P_OK=$(free_port); P_OK2=$(free_port); P_SINK=$(free_port); P_SEC=$(free_port); P_FORGE=$(free_port)
P_R1=$(free_port); P_R2=$(free_port); P_R3=$(free_port); P_MIL=$(free_port); P_BIG=$(free_port)
python3 tests/scrape/attack.py $P_OK:ok $P_OK2:ok $P_SINK:sink $P_SEC:secret $P_FORGE:forge \
	"$P_R1:redirect:http://169.254.169.254/latest/meta-data/" "$P_R2:redirect:http://${NODEIP:-192.0.2.1}:$P_SINK/node" \
	"$P_R3:redirect:http://127.0.0.1:$P_SINK/loopback" $P_MIL:million $P_BIG:big:12000 >"$TMP/attack.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 60 grep -q READY "$TMP/attack.out"

# Tokens: "reader" holds only the chart's metrics-reader role plus what
# Kubernetes' default system:discovery role gives every authenticated user
# (get on /api/*); "operator" holds the chart's operator role (/targets).
fake_ctl POST /auth '{"users": {"tok-reader": {"username": "system:serviceaccount:shop:default", "uid": "u1"},
                                "tok-op": {"username": "operator", "uid": "u2"}},
                      "rules": [{"user": "system:serviceaccount:shop:default", "verb": "get",
                                 "path": ["/metrics", "/metrics/apps", "/metrics/self"], "allowed": true},
                                {"group": "system:authenticated", "verb": "get",
                                 "path": ["/api", "/api/v1", "/api/v1/targets", "/apis", "/version"], "allowed": true},
                                {"user": "operator", "verb": "get",
                                 "path": ["/targets", "/config", "/metrics", "/metrics/apps", "/metrics/self"], "allowed": true}],
                      "default_allowed": false}' >/dev/null

# pod NS NAME NODE IP PORTS(comma) [annotations-json] : PORTS become container ports.
pod() {
	python3 - "$@" <<'PY'
import json, sys
ns, name, node, ip, ports = sys.argv[1:6]
ann = json.loads(sys.argv[6]) if len(sys.argv) > 6 else \
    {"victoriametrics.com/scrape": "true", "victoriametrics.com/interval": "1s"}
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": name, "namespace": ns, "uid": ns + "-" + name, "labels": {"app": name}, "annotations": ann},
  "spec": {"nodeName": node, "containers": [{"name": "main", "image": "x",
           "ports": [{"containerPort": int(p), "protocol": "TCP"} for p in ports.split(",")]}]},
  "status": {"phase": "Running", "podIP": ip, "hostIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}}))
PY
}
put() { fake_ctl POST /objects "$1" >/dev/null; }
rule() { # rule NS NAME SPEC-JSON
	put "{\"apiVersion\":\"k8smon.io/v1alpha1\",\"kind\":\"ScrapeRule\",\"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\",\"generation\":1},\"spec\":$3}"
}
monitor() { # monitor SCRAPE-JSON
	put "{\"apiVersion\":\"k8smon.io/v1alpha1\",\"kind\":\"K8sMonitor\",\"metadata\":{\"name\":\"m\",\"generation\":$(date +%s%N | cut -c1-15),\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},\"spec\":{\"scrape\":$1}}"
}
for n in n1 n2; do
	put "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$n\",\"labels\":{\"kubernetes.io/hostname\":\"$n\"},\"annotations\":{\"victoriametrics.com/scrape\":\"true\"}},
	     \"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"}],\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":$P_SINK}}}}"
done

AS=$(free_port); AB=$(free_port)
"$BIN" -promscrape.kubernetes -kubeconfig="$KUBECONFIG" -nodeName=n1 -leaderElection=false \
	-httpListenAddr=127.0.0.1:$AS -promscrape.kubernetes.collectors=app >"$TMP/agent-s.log" 2>&1 &
PID_S=$!; PIDS="$PIDS $PID_S"
"$BIN" -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=n2 -leaderElection=false \
	-http.auth=kubernetes -httpListenAddr=127.0.0.1:$AB -promscrape.kubernetes.collectors=app >"$TMP/agent-b.log" 2>&1 &
PID_B=$!; PIDS="$PIDS $PID_B"
wait_http "http://127.0.0.1:$AS/healthz" || fail "agent S did not start"
wait_http "http://127.0.0.1:$AB/healthz" || fail "agent B did not start"
S=http://127.0.0.1:$AS; B=http://127.0.0.1:$AB
OP="-H Authorization:Bearer\ tok-op"
# T URL POOL POD [TOKEN]: "health lastError" of the target of that pool and pod (/targets, full view).
cat >"$TMP/T" <<'SH'
#!/bin/sh
curl -s -H "Authorization: Bearer ${4:-tok-op}" "$1/targets" | python3 -c "
import json,sys
for t in json.load(sys.stdin)['data']['activeTargets']:
    if t['scrapePool'] == sys.argv[1] and t['discoveredLabels'].get('__meta_kubernetes_pod_name', t['discoveredLabels'].get('__meta_kubernetes_node_name')) == sys.argv[2]:
        print(t['health'], t['lastError'])" "$2" "$3"
SH
chmod +x "$TMP/T"
sink_hits() { grep -c '^HIT' "$TMP/attack.out"; }
apps() { curl -s -H 'Authorization: Bearer tok-op' "$B/metrics/apps"; }
selfm() { curl -s -H 'Authorization: Bearer tok-op' "$1/metrics/self" | sed -n "s/^$2 //p"; }

# A healthy neighbour on each agent: it must stay up through every attack.
put "$(pod tenant good n2 127.0.0.1 $P_OK)"
check "B: a healthy tenant target is up" until_ms 5000 "$TMP/T $B kubernetes-pods good | grep -q '^up'"

# ---- 1. targets the tenant cannot reach itself ------------------------------
put "$(pod tenant lo n1 127.0.0.1 $P_OK2)"
check "S: pod on 127.0.0.1: down, 'address 127.0.0.1 refused: loopback targets are not allowed (K8sMonitor spec.scrape.allowLoopback)'" \
	until_ms 5000 "$TMP/T $S kubernetes-pods lo | grep -qF 'down address 127.0.0.1 refused: loopback targets are not allowed (K8sMonitor spec.scrape.allowLoopback)'"
check "S: and its up is 0" until_ms 3000 "curl -s $S/metrics/apps | grep -q '^up{.*pod=\"lo\"} 0'"
# Relabelings that point a tenant's target elsewhere.
put "$(pod tenant src n1 10.255.0.9 $P_SINK)"
relabel_to() { # relabel_to NAME ADDRESS
	rule tenant "$1" "{\"role\":\"pod\",\"interval\":\"1s\",\"scrapeTimeout\":\"500ms\",\"selector\":{\"matchLabels\":{\"app\":\"src\"}},
	  \"relabelings\":[{\"targetLabel\":\"__address__\",\"replacement\":\"$2\"}]}"
}
relabel_to to-ll 169.254.169.254:80
relabel_to to-lo 127.0.0.1:$P_SINK
relabel_to to-zero 0.0.0.0:$P_SINK
relabel_to to-name 2130706433:$P_SINK
check "S: __address__ relabeled to 169.254.169.254: refused, link-local" \
	until_ms 5000 "$TMP/T $S tenant/to-ll src | grep -qF 'down address 169.254.169.254 refused: link-local targets are not allowed (K8sMonitor spec.scrape.allowLinkLocal)'"
check "S: __address__ relabeled to 127.0.0.1: refused, loopback" \
	until_ms 5000 "$TMP/T $S tenant/to-lo src | grep -qF 'down address 127.0.0.1 refused: loopback'"
check "S: __address__ relabeled to 0.0.0.0: refused, loopback" \
	until_ms 5000 "$TMP/T $S tenant/to-zero src | grep -qF 'down address 0.0.0.0 refused: loopback'"
check "S: __address__ relabeled to a name resolving to 127.0.0.1: refused when connecting" \
	until_ms 5000 "$TMP/T $S tenant/to-name src | grep -qF 'down address 127.0.0.1 refused: loopback'"
if [ -n "$NODEIP" ]; then
	relabel_to to-node $NODEIP:$P_SINK
	check "S: __address__ relabeled to the node's IP $NODEIP: refused" \
		until_ms 5000 "$TMP/T $S tenant/to-node src | grep -qF 'down address $NODEIP refused: the node'"
else
	. tests/lib/skip.sh
	skip_part attack_scrape:node-ip "no global address on this machine: node-IP relabel case not checked"
fi
# Literal addresses are refused at discovery, without a connection attempt;
# the name only when connecting.
check "S: literal addresses refused before connecting (k8smon_scrape_targets_refused{reason=address} >= 4)" \
	test "$(selfm $S 'k8smon_scrape_targets_refused{reason="address"}')" -ge 4
check "S: the name refused when connecting (k8smon_scrape_errors_total{reason=address_refused} >= 1)" \
	test "$(selfm $S 'k8smon_scrape_errors_total{reason="address_refused"}')" -ge 1
# Redirects (agent B reaches the tenant's pod on 127.0.0.1).
for r in r1:$P_R1 r2:$P_R2 r3:$P_R3; do put "$(pod tenant ${r%%:*} n2 127.0.0.1 ${r#*:})"; done
for r in "r1 169.254.169.254" "r2 node IP" "r3 127.0.0.1"; do
	set -- $r
	check "B: redirect to $2 ($1): down, not followed" \
		until_ms 5000 "$TMP/T $B kubernetes-pods $1 | grep -qF 'down server returned HTTP status 302 (redirects are not followed)'"
done
sleep 2
check "the sink (loopback, node IP, kubelet port) was never fetched" test "$(sink_hits)" -eq 0

# ---- 2. read-back of response excerpts ---------------------------------------
put "$(pod tenant sec n2 127.0.0.1 $P_SEC '{"victoriametrics.com/scrape":"true","victoriametrics.com/interval":"1s","team.example/password":"hunter2"}')"
check "B: operator's /targets shows the parse error with its excerpt" \
	until_ms 5000 "$TMP/T $B kubernetes-pods sec | grep -q 'parse error at line 1.*SECRET-s3kr1t'"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "reader token: /targets is 403" test "$(code -H 'Authorization: Bearer tok-reader' $B/targets)" = 403
check "reader token: /api/v1/targets is readable (system:discovery) ..." \
	test "$(code -H 'Authorization: Bearer tok-reader' $B/api/v1/targets)" = 200
check "... but holds no response excerpt" sh -c "! curl -s -H 'Authorization: Bearer tok-reader' $B/api/v1/targets | grep -q 's3kr1t'"
check "... and no annotation (discoveredLabels redacted)" sh -c "! curl -s -H 'Authorization: Bearer tok-reader' $B/api/v1/targets | grep -q 'hunter2'"
check "... while the error's cause is still there" sh -c "curl -s -H 'Authorization: Bearer tok-reader' $B/api/v1/targets | grep -q '\"lastError\":\"parse error at line 1 ([a-z_]*)\"'"

# ---- 3. forging another namespace's series -------------------------------------
put "$(pod tenant forge n2 127.0.0.1 $P_FORGE '{}')"
rule tenant forge '{"role":"pod","interval":"1s","requireAnnotation":false,"honorLabels":true,"selector":{"matchLabels":{"app":"forge"}},
  "relabelings":[{"targetLabel":"namespace","replacement":"kube-system"}]}'
check "honorLabels forging: the series is kept, under namespace=tenant" \
	until_ms 5000 "curl -s -H 'Authorization: Bearer tok-op' $B/metrics/apps | grep '^kube_pod_status_ready{' | grep -q '[{,]namespace=\"tenant\"'"
apps >"$TMP/apps.txt"
check "no kube_* series with namespace=kube-system" sh -c "! grep '^kube_' $TMP/apps.txt | grep -q '[{,]namespace=\"kube-system\"'"
check "no kube_* series with job=kube-state-metrics" sh -c "! grep '^kube_' $TMP/apps.txt | grep -q '[{,]job=\"kube-state-metrics\"'"
check "the scraped values kept as exported_namespace / exported_job" \
	sh -c "grep '^kube_pod_status_ready{' $TMP/apps.txt | grep 'exported_namespace=\"kube-system\"' | grep -q 'exported_job=\"kube-state-metrics\"'"
check "honorLabels without allowance counted (k8smon_scrape_rules_restricted{reason=honor_labels})" \
	test "$(selfm $B 'k8smon_scrape_rules_restricted{reason="honor_labels"}')" -ge 1
# namespaceSelector {} and role node from a tenant rule.
put "$(pod victim vpod n2 127.0.0.1 $P_OK '{}')"
put "$(pod tenant tpod n2 127.0.0.1 $P_OK '{}')"
rule tenant wide '{"role":"pod","interval":"1s","requireAnnotation":false,"namespaceSelector":{},"selector":{"matchExpressions":[{"key":"app","operator":"In","values":["vpod","tpod"]}]}}'
rule tenant nodes '{"role":"node","interval":"1s","requireAnnotation":false}'
check "namespaceSelector {}: the rule still scrapes its own namespace" until_ms 5000 "$TMP/T $B tenant/wide tpod | grep -q '^up'"
check "namespaceSelector {}: no target in namespace victim" sh -c "test -z \"\$($TMP/T $B tenant/wide vpod)\""
check "role node from a tenant rule: no kubelet target" sh -c "test -z \"\$($TMP/T $B tenant/nodes n2)\""
check "confined rules counted (k8smon_scrape_rules_restricted{reason=namespace})" \
	test "$(selfm $B 'k8smon_scrape_rules_restricted{reason="namespace"}')" -ge 2
check "the kubelet port (sink) was never fetched" test "$(sink_hits)" -eq 0

# ---- 4. names that break the exposition -----------------------------------------
put "$(pod tenant names n2 127.0.0.1 $P_OK2 '{}')"
rule tenant names '{"role":"pod","interval":"1s","requireAnnotation":false,"selector":{"matchLabels":{"app":"names"}},
  "metricRelabelings":[{"sourceLabels":["__name__","i"],"regex":"app_ok;0","targetLabel":"__name__","replacement":"app_ok\nforged_series{job=\"x\"} 1\n#"},
                       {"sourceLabels":["i"],"regex":"1","targetLabel":"__name__","replacement":"1starts_with_digit"},
                       {"sourceLabels":["i"],"regex":"(2)","targetLabel":"$1"}]}'
check "__name__ with a newline: the sample is dropped and counted" \
	until_ms 5000 "test \"\$(curl -s -H 'Authorization: Bearer tok-op' $B/metrics/self | sed -n 's/^k8smon_scrape_samples_dropped_total{reason=\"invalid_metric_name\"} //p')\" -ge 2"
apps >"$TMP/apps.txt"
check "targetLabel \$1 expanding to an invalid name (\"2\"): no such label (the relabel step is skipped)" \
	sh -c "grep -q '^app_ok{i=\"2\"' $TMP/apps.txt && ! grep -q '[{,]2=\"' $TMP/apps.txt"
check "no forged series in /metrics/apps" sh -c "! grep -q 'forged_series' $TMP/apps.txt"
check "promtool check metrics accepts /metrics/apps (only HELP lints)" \
	sh -c "promtool check metrics <$TMP/apps.txt 2>&1 | grep -v ' no help text\$' | (! grep -q .)"

# ---- 5. memory: a million samples, a flood of targets, a memory budget -----------
put "$(pod tenant mil n2 127.0.0.1 $P_MIL)"
put "$(pod tenant mil2 n2 127.0.0.1 $P_MIL '{}')"
rule tenant greedy '{"role":"pod","interval":"2s","requireAnnotation":false,"sampleLimit":100000000,"selector":{"matchLabels":{"app":"mil2"}}}'
check "1M samples, annotation only: down at the default sample limit (50000)" \
	until_ms 8000 "$TMP/T $B kubernetes-pods mil | grep -qF 'down sample limit exceeded (50000)'"
check "1M samples, rule sampleLimit 1e8: capped at the maximum (200000)" \
	until_ms 8000 "$TMP/T $B tenant/greedy mil2 | grep -qF 'down sample limit exceeded (200000)'"
FLOOD=$(python3 -c "print(','.join(str(p) for p in range(40000, 40500)))")
put "$(pod flood f n2 127.0.0.1 $FLOOD)"
check "flood of 500 targets in one namespace: 300 refused (maxTargetsPerNamespace 200)" \
	until_ms 10000 "test \"\$(curl -s -H 'Authorization: Bearer tok-op' $B/metrics/self | sed -n 's/^k8smon_scrape_targets_refused{reason=\"target_limit\"} //p')\" -eq 300"
check "a refused flood target says why" \
	sh -c "curl -s -H 'Authorization: Bearer tok-op' $B/targets | grep -q 'target limit exceeded: namespace ..flood.. has 200 targets on this agent (K8sMonitor spec.scrape.maxTargetsPerNamespace)'"
check "healthy neighbour still up after the flood" until_ms 5000 "$TMP/T $B kubernetes-pods good | grep -q '^up'"
fake_ctl DELETE "/objects?resource=pods&namespace=flood" >/dev/null
fake_ctl DELETE "/objects?resource=pods&namespace=tenant&name=mil" >/dev/null
fake_ctl DELETE "/objects?resource=pods&namespace=tenant&name=mil2" >/dev/null
# Memory budget: 4 targets of ~1.6 MB each under a 3 MiB budget.
monitor '{"memoryBudget":"3Mi"}'
check "K8sMonitor spec.scrape applied (/config)" \
	until_ms 5000 "curl -s -H 'Authorization: Bearer tok-op' $B/config | grep -q '\"memoryBudget\": 3145728'"
for i in 1 2 3 4; do put "$(pod mem big$i n2 127.0.0.1 $P_BIG)"; done
check "memory budget: a target goes down with 'memory budget exceeded'" \
	until_ms 10000 "curl -s -H 'Authorization: Bearer tok-op' $B/targets | grep -q 'memory budget exceeded: [0-9]* bytes of scraped samples kept or in flight on this agent, budget 3145728 (K8sMonitor spec.scrape.memoryBudget)'"
over=0; max=0
for i in $(seq 1 25); do
	v=$(selfm $B k8smon_scrape_memory_bytes)
	[ "${v:-0}" -gt "$max" ] && max=$v
	[ "${v:-0}" -gt 3145728 ] && over=$((over + 1))
	sleep 0.2
done
check "memory budget holds: k8smon_scrape_memory_bytes <= 3 MiB in 25 samples over 5 s (max $max)" test "$over" -eq 0
check "and something is kept (the budget is used, max $max > 1 MB)" test "$max" -gt 1000000
check "k8smon_scrape_memory_budget_bytes reports the budget" test "$(selfm $B k8smon_scrape_memory_budget_bytes)" = 3145728
fake_ctl DELETE "/objects?resource=pods&namespace=mem" >/dev/null

# ---- 6. only a K8sMonitor loosens --------------------------------------------------
monitor '{"allowLoopback":true}'
check "K8sMonitor allowLoopback: S scrapes the loopback pod" until_ms 5000 "$TMP/T $S kubernetes-pods lo | grep -q '^up'"

# ---- the agents kept serving -------------------------------------------------------
check "S alive and /healthz 200" sh -c "kill -0 $PID_S && test \$(curl -s -o /dev/null -w '%{http_code}' $S/healthz) = 200"
check "B alive and /healthz 200" sh -c "kill -0 $PID_B && test \$(curl -s -o /dev/null -w '%{http_code}' $B/healthz) = 200"
check "B: healthy neighbour up at the end" until_ms 5000 "$TMP/T $B kubernetes-pods good | grep -q '^up'"
if [ "$FAILS" -ne 0 ]; then
	echo "--- agent S log (tail)"; tail -20 "$TMP/agent-s.log"
	echo "--- agent B log (tail)"; tail -20 "$TMP/agent-b.log"
fi
finish
