#!/bin/sh
# End to end with the real peers: the fake API server loaded with examples/cluster
# (+ tests/e2e/cluster-extra), bin/k8smon in Kubernetes mode for demo-node-1, a
# kubelet-shaped cgroup tree for the node's pods (root only, else skipped), then
#   - Debian `prometheus` scraping the agent with the kube-prometheus job names,
#     paths and relabelings (tests/e2e/prometheus.yml.tmpl) and evaluating the
#     kube-prometheus rules (examples/prometheus/rules, `for:` shortened at test
#     time by tests/e2e/shorten_rules.py) plus examples/alerts/k8smon-alerts.yaml:
#     recording rules with data, scenario alerts firing, no k8smon self-alert,
#     every dashboard expression of examples/dashboards evaluating;
#   - `vmagent` scraping the same jobs into `victoria-metrics` (Debian package,
#     installed with apt-get if missing), queried through /api/v1/query.
# One line per check; exit status 1 if any failed. Takes about a minute.
set -u
cd "$(dirname "$0")/../.."
# The annotated frontend pod's /metrics is on 127.0.0.1:18081 (examples/cluster).
# When another process holds that port (a demo on a shared machine), run the
# whole test in a private network namespace with its own loopback (root:
# unshare and ip, util-linux and iproute2 in .ci/deps.sh) instead of skipping.
if [ -z "${E2E_IN_NETNS:-}" ] && [ "$(id -u)" = 0 ] &&
	! python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 18081))' 2>/dev/null &&
	command -v unshare >/dev/null && command -v ip >/dev/null; then
	echo "     # port 18081 busy: running in a private network namespace"
	E2E_IN_NETNS=1
	export E2E_IN_NETNS
	# eth0 (a veth pair, both ends up): the node_network_* rules exclude lo.
	exec unshare -n sh -c 'ip link set lo up && ip link add eth0 type veth peer name eth1 &&
		ip link set eth0 up && ip link set eth1 up && exec sh tests/integration/test_e2e_prometheus.sh'
fi
. tests/lib/common.sh
. tests/lib/fakeapi.sh
. tests/e2e/cgroups.sh
. tests/lib/skip.sh
NODE=demo-node-1
T0=$(date +%s)
# elapsed-time marker between sections (the run is slower on a busy machine)
section() { echo "     # t=$(( $(date +%s) - T0 ))s: $*"; }
APOD=k8smon-e2e01
ANS=monitoring
TMP=$(mktemp -d /tmp/k8smon-e2e.XXXXXX)
PIDS=""
FAKEAPI_PID=""
cleanup() {
	for p in $PIDS $FAKEAPI_PID; do kill "$p" 2>/dev/null; done
	for p in $PIDS $FAKEAPI_PID; do
		i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null
	done
	e2e_cgroups_cleanup
	[ -n "${KEEP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# bail: a prerequisite failed; print it and stop
bail() { fail "$*"; finish; }

[ -x bin/k8smon ] || make -s >/dev/null || bail "make"
command -v prometheus >/dev/null && command -v promtool >/dev/null || bail "prometheus/promtool not installed"

# --- rules: pristine copies in the repo, shortened copies for this run
python3 tests/e2e/shorten_rules.py examples/prometheus/rules "$TMP/rules" >/dev/null || bail "shorten_rules.py"
check "promtool check rules: kube-prometheus rules (shortened copies)" promtool check rules "$TMP"/rules/*.yaml
check "promtool check rules: examples/alerts/k8smon-alerts.yaml" promtool check rules examples/alerts/k8smon-alerts.yaml
cp examples/alerts/k8smon-alerts.yaml "$TMP/rules/"
python3 tests/e2e/shorten_rules.py "$TMP/rules/k8smon-alerts.yaml" "$TMP/rules" >/dev/null

# --- simulated cluster + agent
section "cluster and agent"
fakeapi_start "$TMP/api" --load crds --load examples/cluster --load tests/e2e/cluster-extra ||
	bail "fake API server"
SYSFS_FLAG=""
CGROUPS=0
kubectl get pods -A --field-selector spec.nodeName=$NODE -o json >"$TMP/pods.json" 2>/dev/null ||
	bail "kubectl get pods from the fake API server"
if e2e_cgroups_setup "$TMP" "$TMP/pods.json"; then
	CGROUPS=1
	SYSFS_FLAG="-path.sysfs=$E2E_SYSFS"
	ok "kubelet-shaped cgroups for $(grep -c . "$TMP/cg.list") containers/sandboxes of $NODE's pods"
else
	skip_part e2e:pod-cgroups "$E2E_CG_WHY (container_* of pods and the node_namespace_pod_container:* rules are not checked)"
fi
# the annotated frontend pod on demo-node-1 (podIP 127.0.0.1) gets a real /metrics on
# 18081; checkout (18082) and grafana (18083) stay unanswered targets (AppTargetDown)
APP=0
if python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 18081))' 2>/dev/null; then
	python3 tests/e2e/app.py 18081 &
	PIDS="$PIDS $!"
	APP=1
else
	skip_part e2e:app-port "port 18081 busy: no application target up"
fi
APORT=$(free_port)
AGENT=127.0.0.1:$APORT
# shellcheck disable=SC2086
./bin/k8smon -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=$NODE -leaderElection=false \
	-httpListenAddr=$AGENT $SYSFS_FLAG >"$TMP/k8smon.log" 2>&1 &
PIDS="$PIDS $!"
wait_http "http://$AGENT/healthz" 10 || { cat "$TMP/k8smon.log"; bail "agent did not start"; }
wait_for 60 sh -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' http://$AGENT/readyz)\" = 200"
check "agent ready (initial lists synced)" test "$(curl -s -o /dev/null -w '%{http_code}' "http://$AGENT/readyz")" = 200
if [ $CGROUPS = 1 ]; then
	check "agent serves container_* for the fake pods" sh -c \
		"curl -s http://$AGENT/metrics/cadvisor | grep -q '^container_cpu_usage_seconds_total{container=\"frontend\",.*namespace=\"shop\"'"
fi

# --- configs: test config from the template; the cluster example checked with its
# kubernetes_sd_configs replaced by static targets (Debian's prometheus is built
# without Kubernetes service discovery)
sed -e "s|@TARGET@|$AGENT|g" -e "s|@NODE@|$NODE|g" -e "s|@POD@|$APOD|g" -e "s|@NAMESPACE@|$ANS|g" \
	-e "s|@RULES@|$TMP/rules/*.yaml|" tests/e2e/prometheus.yml.tmpl >"$TMP/prometheus.yml"
check "promtool check config (e2e config)" promtool check config "$TMP/prometheus.yml"
echo token >"$TMP/sa-token"
python3 - examples/prometheus/prometheus.yml "$TMP/example.yml" "$TMP/sa-token" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["rule_files"] = []
for j in d["scrape_configs"]:
    j.pop("kubernetes_sd_configs")
    j["static_configs"] = [{"targets": ["127.0.0.1:9420"]}]
    # promtool stats the in-cluster token file
    j["authorization"]["credentials_file"] = sys.argv[3]
yaml.safe_dump(d, open(sys.argv[2], "w"))
PY
check "promtool check config examples/prometheus/prometheus.yml (sd -> static)" promtool check config "$TMP/example.yml"
python3 -c 'import sys,yaml; yaml.safe_load(open(sys.argv[1]))' examples/vmagent/scrape.yml 2>/dev/null
check "examples/vmagent/scrape.yml is YAML with the same jobs" python3 - <<'PY'
import yaml
a = yaml.safe_load(open("examples/prometheus/prometheus.yml"))["scrape_configs"]
b = yaml.safe_load(open("examples/vmagent/scrape.yml"))["scrape_configs"]
assert [j["job_name"] for j in a] == [j["job_name"] for j in b]
PY

# --- prometheus
section "prometheus, victoria-metrics, vmagent"
PPORT=$(free_port)
PROM=http://127.0.0.1:$PPORT
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom" \
	--web.listen-address=127.0.0.1:$PPORT --log.level=warn >"$TMP/prometheus.log" 2>&1 &
PIDS="$PIDS $!"

# --- victoria-metrics + vmagent, started now so they collect while Prometheus is checked
VM_OK=0
LPORT=""
if ! command -v victoria-metrics >/dev/null || ! command -v vmagent >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q victoria-metrics >"$TMP/apt.log" 2>&1
	fi
fi
if command -v victoria-metrics >/dev/null && command -v vmagent >/dev/null; then
	VM_OK=1
	VPORT=$(free_port)
	VM=http://127.0.0.1:$VPORT
	victoria-metrics -storageDataPath="$TMP/vm" -httpListenAddr=127.0.0.1:$VPORT -retentionPeriod=1d \
		-search.latencyOffset=1s -loggerLevel=WARN >"$TMP/vm.log" 2>&1 &
	PIDS="$PIDS $!"
	GPORT=$(free_port)
	python3 - "$TMP/prometheus.yml" "$TMP/vmagent.yml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d.pop("rule_files")
d["global"].pop("evaluation_interval")
yaml.safe_dump(d, open(sys.argv[2], "w"))
PY
	wait_http "$VM/health" 10 || fail "victoria-metrics did not start"
	vmagent -promscrape.config="$TMP/vmagent.yml" -remoteWrite.url="$VM/api/v1/write" \
		-remoteWrite.tmpDataPath="$TMP/vmagent-data" -httpListenAddr=127.0.0.1:$GPORT \
		-remoteWrite.flushInterval=1s -loggerLevel=WARN >"$TMP/vmagent.log" 2>&1 &
	PIDS="$PIDS $!"
	# vmalert evaluates the same shortened rules against VictoriaMetrics, recording rules
	# written back to it (notifications go to a port nobody answers; vmalert logs that
	# and keeps evaluating)
	if command -v vmalert >/dev/null; then
		LPORT=$(free_port)
		vmalert "-rule=$TMP/rules/*.yaml" -datasource.url="$VM" -remoteWrite.url="$VM" -notifier.url=http://127.0.0.1:9/ \
			-evaluationInterval=1s -httpListenAddr=127.0.0.1:$LPORT -loggerLevel=ERROR >"$TMP/vmalert.log" 2>&1 &
		PIDS="$PIDS $!"
	fi
else
	fail "victoria-metrics/vmagent not installed and apt-get install failed (see apt log)"
fi

section "checks against prometheus"
wait_http "$PROM/-/ready" 15 || { cat "$TMP/prometheus.log"; bail "prometheus did not start"; }
T=$(printf '\t')
{
	for job in node-exporter kubelet kube-state-metrics k8smon k8smon-apps; do
		echo "prometheus target job=$job up${T}1${T}up{job=\"$job\"} == 1"
	done
	echo "kube_pod_info keeps object namespace/pod (honor_labels)${T}1${T}kube_pod_info{job=\"kube-state-metrics\",namespace=\"shop\",pod=~\"checkout-.*\"}"
	echo "node_* carry instance=$NODE and the agent pod's namespace/pod${T}1${T}node_load1{job=\"node-exporter\",instance=\"$NODE\",namespace=\"$ANS\",pod=\"$APOD\"}"
	echo "container_* carry metrics_path=/metrics/cadvisor and node${T}1${T}container_cpu_usage_seconds_total{job=\"kubelet\",metrics_path=\"/metrics/cadvisor\",node=\"$NODE\"}"
	if [ $APP = 1 ]; then
		echo "application target (frontend pod, annotation discovery) up through /metrics/apps${T}1${T}up{namespace=\"shop\",pod=~\"frontend-.*\"} == 1"
		echo "application samples carry the target's namespace/pod${T}1${T}e2e_app_requests_total{namespace=\"shop\",pod=~\"frontend-.*\"}"
	fi
} | python3 tests/e2e/check_prom.py queries --url "$PROM" --timeout 30 || FAILS=$((FAILS + 1))
section "recording rules"
python3 tests/e2e/check_prom.py rules --url "$PROM" --rules "$TMP/rules" --cgroups $CGROUPS --timeout 60 \
	--json "$TMP/rules.json" || FAILS=$((FAILS + 1))
section "alerts"
python3 tests/e2e/check_prom.py alerts --url "$PROM" --timeout 30 --json "$TMP/alerts.json" || FAILS=$((FAILS + 1))
python3 tests/e2e/check_prom.py query --url "$PROM" --timeout 0 --min 0 --name "k8smon self-alerts evaluated" \
	'ALERTS{alertname=~"K8smon.*"}' >/dev/null
check "no k8smon self-health alert firing on a healthy agent" sh -c \
	"curl -s '$PROM/api/v1/query' --data-urlencode 'query=ALERTS{alertname=~\"K8smon.*\",alertstate=\"firing\"}' | grep -q '\"result\":\[\]'"
section "dashboards"
python3 tests/e2e/check_prom.py dashboards --url "$PROM" examples/dashboards || FAILS=$((FAILS + 1))

section "docs"
# --- docs/metrics.md: generated from this run with E2E_WRITE_DOC=1; otherwise checked
mkdir -p "$TMP/doc"
for e in node cadvisor kube-state apps self; do curl -s "http://$AGENT/metrics/$e" >"$TMP/doc/$e.prom"; done
cp "$TMP/rules.json" "$TMP/alerts.json" "$TMP/doc/" 2>/dev/null
# the component jobs' output: a second agent against tests/fakecomp (recorded real
# components; tests/lib/comp_env.sh), in a subshell so that this test's fake API server
# variables stay as they are
(
	. tests/lib/comp_env.sh
	trap 'comp_stop' EXIT
	comp_start "$TMP/comp" -promscrape.kubernetes.interval=5s >"$TMP/comp.err" 2>&1 || exit 1
	# every job's up 1 (kubelet: 3 paths), then one scrape
	i=0
	until [ "$(curl -s "$U/metrics/components" | grep -c '^up{.*} 1$')" -ge 9 ]; do
		i=$((i + 1)); [ $i -gt 600 ] && exit 1
		sleep 0.1
	done
	curl -s "$U/metrics/components" >"$TMP/doc/components.prom"
) && ok "component jobs scraped for the docs" || { fail "component jobs (tests/lib/comp_env.sh) not all up"; cat "$TMP/comp.err"; }
if [ -n "${E2E_WRITE_DOC:-}" ]; then
	check "docs/metrics.md generated" python3 tests/e2e/gen_metrics_doc.py "$TMP/doc" --rules "$TMP/rules" --out docs/metrics.md
fi
check "docs/metrics.md lists every /metrics/kube-state and /metrics/self family served" python3 - "$TMP/doc" <<'PY'
import re, sys
doc = open("docs/metrics.md").read()
listed = set(re.findall(r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \|", doc, re.M))
missing = set()
for e in ("kube-state", "self"):
    for line in open("%s/%s.prom" % (sys.argv[1], e)):
        if line.startswith("# TYPE "):
            if line.split()[2] not in listed:
                missing.add(line.split()[2])
print(" ".join(sorted(missing)))
sys.exit(1 if missing else 0)
PY
check "docs/metrics.md: every rule/panel input's served yes/no is this run's (host-independent rows; tests/e2e/inputs_doc.py)" python3 - "$TMP/doc" <<'PY'
import re, sys
sys.path.insert(0, "tests/e2e")
import inputs_doc
doc = {m: v for m, v in re.findall(r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \| [^|]* \| \d+ \| \d+ \| \d+ \| \d+ \| (yes|no) \|", open("docs/metrics.md").read(), re.M)}
# node-exporter and cAdvisor names depend on the host (ARP entries, devices, PSI, ...):
# only the rows a run reproduces exactly are compared
bad = [(r[0], doc.get(r[0]), r[6]) for r in inputs_doc.rows(sys.argv[1])
       if r[1] not in ("node-exporter", "cadvisor") and doc.get(r[0]) != ("yes" if r[6] else "no")]
for b in bad[:20]:
    print("%s: doc says %s, served now: %s" % b)
sys.exit(1 if bad else 0)
PY

# --- VictoriaMetrics
section "victoria-metrics"
if [ $VM_OK = 1 ]; then
	for q in 'up{job="node-exporter"} == 1' 'up{job="kube-state-metrics"} == 1' 'node_cpu_seconds_total{job="node-exporter",mode="idle"}' \
		'kube_pod_info{job="kube-state-metrics"}' 'container_memory_working_set_bytes{job="kubelet",metrics_path="/metrics/cadvisor"}' \
		'k8smon_ready{job="k8smon"} == 1'; do
		echo "victoria-metrics via vmagent: $q${T}1${T}$q"
	done | python3 tests/e2e/check_prom.py queries --url "$VM" --timeout 30 || FAILS=$((FAILS + 1))
	if [ -n "$LPORT" ]; then
		if wait_http "http://127.0.0.1:$LPORT/health" 10; then
			# (not KubeDeploymentReplicasMismatch: VictoriaMetrics' changes() counts the first
			# sample of a new series as a change, so `changes(...[10m]) == 0` holds only after 10m)
			for al in KubePodCrashLooping KubeNodeNotReady KubeJobFailed KubeQuotaExceeded; do
				check "vmalert on VictoriaMetrics: $al firing" sh -c "i=0; while [ \$i -lt 60 ]; do
					curl -s http://127.0.0.1:$LPORT/api/v1/alerts | python3 -c 'import json,sys; sys.exit(0 if any(a[\"name\"]==\"$al\" and a[\"state\"]==\"firing\" for a in json.load(sys.stdin)[\"data\"][\"alerts\"]) else 1)' && exit 0
					sleep 0.5; i=\$((i + 1)); done; exit 1"
			done
			python3 tests/e2e/check_prom.py query --url "$VM" --timeout 20 --name "vmalert recording rule written to victoria-metrics: namespace_workload_pod:kube_pod_owner:relabel" \
				'namespace_workload_pod:kube_pod_owner:relabel{workload_type="deployment"}' || FAILS=$((FAILS + 1))
		else
			fail "vmalert did not start"; tail -3 "$TMP/vmalert.log"
		fi
	fi
	for u in "$PROM" "$VM"; do
		echo "     # changes(kube_deployment_status_replicas_updated{deployment=\"checkout\"}[10m]) at $u: $(curl -s "$u/api/v1/query" \
			--data-urlencode 'query=changes(kube_deployment_status_replicas_updated{deployment="checkout"}[10m])' | python3 -c 'import json,sys; print([r["value"][1] for r in json.load(sys.stdin)["data"]["result"]])')"
	done
	check "victoria-metrics and Prometheus agree on the kube_pod_info series count" sh -c "
		a=\$(curl -s '$PROM/api/v1/query' --data-urlencode 'query=count(kube_pod_info)' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"data\"][\"result\"][0][\"value\"][1])')
		b=\$(curl -s '$VM/api/v1/query' --data-urlencode 'query=count(kube_pod_info)' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"data\"][\"result\"][0][\"value\"][1])')
		echo \$a \$b; [ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ]"
fi
section "done"
[ "$FAILS" -ne 0 ] && { echo "--- k8smon log (tail)"; tail -5 "$TMP/k8smon.log"; echo "--- prometheus log (tail)"; tail -5 "$TMP/prometheus.log"; }
finish
