#!/bin/sh
# Built-in component jobs end to end (docs/components.md), against the fake
# API server and tests/components/server.py (HTTPS, bearer token checked as
# a kubelet / API server does) plus tests/scrape/targets.py (plain HTTP):
#  - the kubelet's /metrics, /metrics/probes, /metrics/resource with
#    kube-prometheus's labels (job, instance, node, metrics_path, namespace,
#    service, endpoint), its drop list applied, TLS verified against the
#    given CA, the token re-read when it changes (the server stops
#    accepting the old one);
#  - the API server (leader) at the endpoint of default/kubernetes'
#    EndpointSlice; CoreDNS at its pod's IP; kube-proxy where its pod runs;
#  - bad components: 403 (scheduler), garbage (controller-manager), 1M
#    series (kube-proxy), wrong token: each up=0 with a rate-limited log
#    line, the others up=1, collectors still served;
#  - per-component paths hold only their job; /metrics/components and
#    /metrics hold them all.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
TMP=$(mktemp -d)
PIDS=""
trap '[ "$FAILS" -ne 0 ] && { echo "--- agent log"; tail -30 "$TMP/agent.log"; }; for p in $PIDS; do kill $p 2>/dev/null; done; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds || { fail "fake API server"; finish; }

# A CA and a serving certificate for 127.0.0.1 (as a kubelet's or API server's).
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout "$TMP/ca.key" -out "$TMP/ca.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$TMP/srv.key" -out "$TMP/srv.csr" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' >"$TMP/ext"
openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial -days 1 \
	-extfile "$TMP/ext" -out "$TMP/srv.pem" >/dev/null 2>&1
printf 'token-one\n' >"$TMP/agent-token"
cp "$TMP/agent-token" "$TMP/server-token"

P_KUBELET=$(free_port); P_API=$(free_port); P_SCHED=$(free_port); P_CM=$(free_port)
P_PROXY=$(free_port); P_DNS=$(free_port)
python3 tests/components/server.py --cert "$TMP/srv.pem" --key "$TMP/srv.key" --token-file "$TMP/server-token" \
	--log "$TMP/requests.log" $P_KUBELET:kubelet $P_API:apiserver $P_SCHED:forbidden $P_CM:garbage \
	>"$TMP/server.out" 2>&1 &
PIDS="$PIDS $!"
python3 tests/scrape/targets.py $P_DNS:ok:3 $P_PROXY:million >"$TMP/targets.out" 2>&1 &
PIDS="$PIDS $!"
check "component servers start" wait_for 30 sh -c "grep -q READY $TMP/server.out && grep -q READY $TMP/targets.out"

fake_ctl POST /objects "$(python3 - "$P_API" <<'PY'
import json, sys
api = int(sys.argv[1])
def pod(name, labels, ip):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "kube-system", "uid": name + "-uid", "labels": labels},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "podIP": ip, "hostIP": "127.0.0.1"}}
print(json.dumps([
    {"apiVersion": "v1", "kind": "Node",
     "metadata": {"name": "n1", "uid": "n1-uid", "labels": {"node-role.kubernetes.io/control-plane": ""}},
     "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": "n1"}]}},
    pod("coredns-abc", {"k8s-app": "kube-dns"}, "127.0.0.1"),
    pod("kube-proxy-xyz", {"k8s-app": "kube-proxy"}, "127.0.0.1"),
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
     "metadata": {"name": "kubernetes", "namespace": "default", "uid": "eps-uid",
                  "labels": {"kubernetes.io/service-name": "kubernetes"}},
     "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
     "ports": [{"name": "https", "port": api, "protocol": "TCP"}]}]))
PY
)" | grep -q '"loaded": *4' || fail "objects loaded into the fake API server"

A=$(free_port); U=http://127.0.0.1:$A
"${K8SMON_BIN:-./bin/k8smon}" -promscrape.kubernetes -kubeconfig="$KUBECONFIG" -nodeName=n1 -leaderElection=false \
	-httpListenAddr=127.0.0.1:$A -promscrape.kubernetes.interval=1s -promscrape.kubernetes.collectors=node,app \
	-components.tokenFile="$TMP/agent-token" -components.caFile="$TMP/ca.pem" \
	-components.kubelet.port=$P_KUBELET -components.kube-scheduler.port=$P_SCHED \
	-components.kube-controller-manager.port=$P_CM -components.kube-proxy.port=$P_PROXY \
	-components.coredns.port=$P_DNS >"$TMP/agent.log" 2>&1 &
AGENT=$!
PIDS="$PIDS $AGENT"
wait_http "$U/healthz" || { fail "agent did not start"; finish; }

KL="endpoint=\"https-metrics\",instance=\"127.0.0.1:$P_KUBELET\",job=\"kubelet\""
check "kubelet /metrics scraped with kube-prometheus labels" until_ms 60000 \
	"curl -s $U/metrics/kubelet | grep -qF 'kubelet_running_pods{$KL,metrics_path=\"/metrics\",namespace=\"kube-system\",node=\"n1\",service=\"kubelet\"} 7'"
check "kubelet_volume_stats_* kept with its own namespace (honorLabels)" sh -c \
	"curl -s $U/metrics/kubelet | grep -qF 'kubelet_volume_stats_used_bytes{namespace=\"app\",persistentvolumeclaim=\"data\",$KL,metrics_path=\"/metrics\",node=\"n1\",service=\"kubelet\"} 1024'"
check "kubelet /metrics/probes with metrics_path" sh -c \
	"curl -s $U/metrics/kubelet | grep -q '^prober_probe_total{.*metrics_path=\"/metrics/probes\"'"
check "kubelet /metrics/resource with metrics_path" sh -c \
	"curl -s $U/metrics/kubelet | grep -q '^node_cpu_usage_seconds_total{.*metrics_path=\"/metrics/resource\"'"
check "kubelet's /metrics/cadvisor is not scraped by default" sh -c \
	"! grep -q ' /metrics/cadvisor ' $TMP/requests.log"
check "kube-prometheus drop list: kubelet_runtime_operations dropped" sh -c \
	"! curl -s $U/metrics/kubelet | grep -q '^kubelet_runtime_operations'"
check "up 1 per kubelet metrics_path" sh -c \
	"test \$(curl -s $U/metrics/kubelet | grep -c '^up{$KL,metrics_path=\"/metrics[a-z/]*\",namespace=\"kube-system\",node=\"n1\",service=\"kubelet\"} 1\$') -eq 3"
check "scrape_samples_scraped for kubelet /metrics is 3 (before the drop list)" sh -c \
	"curl -s $U/metrics/kubelet | grep -q '^scrape_samples_scraped{$KL,metrics_path=\"/metrics\",.*} 3\$'"
check "scrape_samples_post_metric_relabeling is 2" sh -c \
	"curl -s $U/metrics/kubelet | grep -q '^scrape_samples_post_metric_relabeling{$KL,metrics_path=\"/metrics\",.*} 2\$'"
check "scrape_duration_seconds per kubelet path" sh -c \
	"test \$(curl -s $U/metrics/kubelet | grep -c '^scrape_duration_seconds{$KL') -eq 3"

check "API server scraped at the EndpointSlice's address with its labels" until_ms 60000 \
	"curl -s $U/metrics/apiserver | grep -qF 'apiserver_request_total{code=\"200\",resource=\"pods\",verb=\"GET\",endpoint=\"https\",instance=\"127.0.0.1:$P_API\",job=\"apiserver\",namespace=\"default\",service=\"kubernetes\"} 42'"
check "CoreDNS pod scraped as job kube-dns" until_ms 60000 \
	"curl -s $U/metrics/coredns | grep -qF 'up{container=\"coredns\",endpoint=\"metrics\",instance=\"127.0.0.1:$P_DNS\",job=\"kube-dns\",namespace=\"kube-system\",pod=\"coredns-abc\",service=\"kube-dns\"} 1'"
check "no token sent over plain HTTP (CoreDNS)" sh -c "! grep -q ' /metrics good' $TMP/targets.out"

# Bad components fail alone.
check "kube-scheduler answering 403: up 0" until_ms 60000 \
	"curl -s $U/metrics/kube-scheduler | grep -qF 'up{endpoint=\"https-metrics\",instance=\"127.0.0.1:$P_SCHED\",job=\"kube-scheduler\",namespace=\"kube-system\",service=\"kube-scheduler-prometheus-discovery\"} 0'"
check "kube-controller-manager serving garbage: up 0" until_ms 60000 \
	"curl -s $U/metrics/kube-controller-manager | grep -q '^up{.*job=\"kube-controller-manager\".*} 0\$'"
check "kube-proxy with 1M series: up 0 (sample limit)" until_ms 60000 \
	"curl -s $U/metrics/kube-proxy | grep -qF 'up{container=\"kube-proxy\",instance=\"n1\",job=\"kube-proxy\",namespace=\"kube-system\",pod=\"kube-proxy-xyz\"} 0'"
check "kube-proxy's partial samples are not served" sh -c "! curl -s $U/metrics/kube-proxy | grep -q '^app_requests_total'"
# One rate limit for every component's failure lines (the scraper's): a
# line names the target and why, repeats are counted, not printed.
check "a failing component is logged with its URL and reason" sh -c \
	"grep -q 'level=warn subsystem=scrape msg=\"http[s]*://127.0.0.1:[0-9]*/metrics: ' $TMP/agent.log"
check "failure lines are rate-limited (similar lines suppressed)" until_ms 60000 "grep -q 'similar lines suppressed' $TMP/agent.log"
check "self-metrics: the 403 counted in k8smon_components_scrape_errors_total{reason=\"http_status\"}" sh -c \
	"curl -s $U/metrics/self | grep -q '^k8smon_components_scrape_errors_total{reason=\"http_status\"} [1-9]'"
check "self-metrics: the 1M series counted as sample_limit" sh -c \
	"curl -s $U/metrics/self | grep -q '^k8smon_components_scrape_errors_total{reason=\"sample_limit\"} [1-9]'"
check "self-metrics: application scraping's own counters untouched" sh -c \
	"curl -s $U/metrics/self | grep -q '^k8smon_scrape_errors_total{reason=\"http_status\"} 0\$'"
check "self-metrics: component targets by health" sh -c \
	"curl -s $U/metrics/self | grep -q '^k8smon_components_scrape_targets{health=\"down\"} [1-9]'"
check "kubelet still up 1 meanwhile" sh -c "curl -s $U/metrics/kubelet | grep -q '^up{$KL,metrics_path=\"/metrics\".*} 1\$'"
check "node collector still served" sh -c "curl -s $U/metrics/node | grep -q '^node_cpu_seconds_total'"

# Paths: one job each; all of them together.
check "/metrics/kubelet holds only job kubelet" sh -c "! curl -s $U/metrics/kubelet | grep -v '^#' | grep -v 'job=\"kubelet\"' | grep -q ."
check "/metrics/components holds every job" sh -c \
	"curl -s $U/metrics/components >$TMP/c.txt; for j in kubelet apiserver kube-scheduler kube-controller-manager kube-proxy kube-dns; do grep -q \"^up{.*job=\\\"\$j\\\"\" $TMP/c.txt || exit 1; done"
check "/metrics holds the component jobs too" sh -c "curl -s $U/metrics | grep -q '^kubelet_running_pods{'"
check "promtool parses /metrics/components" sh -c "! promtool check metrics <$TMP/c.txt 2>&1 | grep -v ' no help text\$' | grep -q ."

# The token is read at every scrape: rotate it on both sides; the server
# then refuses the old one.
printf 'token-two\n' >"$TMP/server-token"
printf 'token-two\n' >"$TMP/agent-token"
: >"$TMP/requests.log"
check "rotated token used at the next scrapes (kubelet stays up)" until_ms 60000 \
	"grep -q '^$P_KUBELET /metrics good' $TMP/requests.log && curl -s $U/metrics/kubelet | grep -q '^up{$KL,metrics_path=\"/metrics\".*} 1\$'"
check "no request with the old token after the rotation settled" sh -c \
	": >$TMP/requests.log; sleep 3; ! grep -q '^$P_KUBELET .* bad' $TMP/requests.log"
# A wrong token: the kubelet answers 401 -> up 0.
printf 'token-three\n' >"$TMP/server-token"
check "wrong token: kubelet up 0" until_ms 60000 "curl -s $U/metrics/kubelet | grep -q '^up{$KL,metrics_path=\"/metrics\".*} 0\$'"
check "the API server, same token, also answers 401: up 0" until_ms 60000 \
	"curl -s $U/metrics/apiserver | grep -q '^up{.*job=\"apiserver\".*} 0\$'"

# spec.components, live (nginx style: new jobs built whole and swapped): a
# K8sMonitor keeps the kubelet alone, then goes away (back to the flags).
printf 'token-three\n' >"$TMP/agent-token"
fake_ctl POST /objects '{"apiVersion":"k8smon.io/v1alpha1","kind":"K8sMonitor","metadata":{"name":"comp","uid":"comp-uid","generation":1,"creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"components":{"enabled":["kubelet"],"dropLists":false}}}' >/dev/null
check "K8sMonitor spec.components.enabled [kubelet]: the other jobs leave /metrics/components" until_ms 60000 \
	"curl -s $U/metrics/components >$TMP/c2.txt && grep -q '^up{.*job=\"kubelet\"' $TMP/c2.txt && ! grep -q 'job=\"kube-dns\"' $TMP/c2.txt && ! grep -q 'job=\"apiserver\"' $TMP/c2.txt"
check "spec.components.dropLists false: kubelet_runtime_operations kept" until_ms 60000 \
	"curl -s $U/metrics/kubelet | grep -q '^kubelet_runtime_operations{'"
check "the change is logged as a components change" grep -q 'changed: .*components' "$TMP/agent.log"
fake_ctl DELETE "/objects?resource=k8smonitors&name=comp" >/dev/null
check "K8sMonitor deleted: the flags' jobs are back" until_ms 60000 \
	"curl -s $U/metrics/components | grep -q 'job=\"kube-dns\"'"
# A clean stop; under ASan (make asan: K8SMON_BIN=build-asan/k8smon) no
# sanitizer report, leaks included.
kill "$AGENT"; wait "$AGENT"; rc=$?
check "agent stops cleanly on SIGTERM (exit $rc)" test "$rc" -eq 0
check "no sanitizer report in the agent's log" sh -c "! grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error' $TMP/agent.log"
finish
