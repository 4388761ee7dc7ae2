#!/bin/sh
# The deploy path as README.md writes it, against a real etcd + kube-apiserver
# (tests/peers/apiserver.sh; no kubelet, so server-side only):
#   - the blocks marked `<!-- deploy-test: helm -->` and `<!-- deploy-test: kubectl -->`
#     are extracted (tests/peers/readme_block.py) and run verbatim with `sh -e`, each on a
#     fresh server; only KUBECONFIG (and HOME, for helm's and kubectl's caches) is set:
#     every command exits 0, nothing is refused, no namespace is missing, no warning;
#   - then the agent runs as the DaemonSet's service account (the token a pod would get)
#     as the agent of a registered node: every K8sMonitor and ScrapeRule is Ready True,
#     none in Conflict; the helm block's `helm upgrade --set` reached the monitor;
#   - the old README sequence (examples/k8smonitor.yaml after helm install) does give a
#     Conflict: the check above can fail;
#   - `<!-- deploy-test: operator -->` runs verbatim but for the port (9420 -> the test
#     agent's) and `kubectl port-forward`, which needs a kubelet: a wrapper stands in for
#     it and the agent listens on the port itself. Its token reads /config,
#     /api/v1/targets, /metrics/self; the operator role gets 200 on /config and /targets,
#     the chart's metrics-reader 403, no token 401;
#   - GKE's priority-class rule emulated (ResourceQuota admission limiting
#     system-node-critical, as GKE configures it): a pod of the chart's DaemonSet is
#     refused outside kube-system, accepted with examples/priorityclass-quota.yaml, and
#     accepted without it when rendered with --set priorityClassName=;
#   - with tls.enabled the chart's PodMonitor and VMPodScrape carry a tlsConfig on every
#     endpoint and pass kubectl apply --dry-run=server --validate=strict against the
#     published Prometheus Operator and VictoriaMetrics operator CRDs.
# No skip: if the peers cannot be built, this test fails.
set -u
. tests/lib/common.sh
TMP=$(mktemp -d /tmp/test_deploy_readme.XXXXXX)
SPID="" APID=""
cleanup() {
	[ -n "$APID" ] && kill "$APID" 2>/dev/null && wait "$APID" 2>/dev/null
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	[ "${KEEP_TMP:-0}" = 1 ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

PEERS="kubernetes etcd helm prometheus-operator-crds victoriametrics-operator-crds"
# shellcheck disable=SC2086
if ! tests/peers/build.sh --env $PEERS >"$TMP/peers.env" 2>"$TMP/peers.err"; then
	fail "tests/peers/build.sh $PEERS (the real peers) build"
	tail -n 30 "$TMP/peers.err"
	finish
fi
. "$TMP/peers.env"
KUBECTL="$KUBERNETES_BIN/kubectl"
HELM="$HELM_BIN/helm"
AGENT=${K8SMON_BIN:-./bin/k8smon}
[ -x "$AGENT" ] || { fail "$AGENT built (make bin/k8smon)"; finish; }

# What the README's commands find on PATH: the real kubectl and helm; kubectl
# port-forward (needs a kubelet) replaced by a process that stays until killed.
mkdir -p "$TMP/wrap" "$TMP/home"
cat >"$TMP/wrap/kubectl" <<EOF
#!/bin/sh
for a in "\$@"; do
	if [ "\$a" = port-forward ]; then echo "(test: port-forward stands in; the agent listens on the port)" >&2; exec sleep 600; fi
done
exec "$KUBECTL" "\$@"
EOF
chmod +x "$TMP/wrap/kubectl"
ln -s "$HELM" "$TMP/wrap/helm"

# start_server NAME [apiserver flags]: a fresh server in $TMP/NAME; sets SPID, KC.
start_server() {
	name=$1; shift
	[ -n "$SPID" ] && { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
	K8SMON_APISERVER_ARGS="$*" sh tests/peers/apiserver.sh "$TMP/$name" 2>"$TMP/$name.err" &
	SPID=$!
	wait_for 180 sh -c "[ -f '$TMP/$name/ready' ] || [ -f '$TMP/$name/failed' ]"
	if [ ! -f "$TMP/$name/ready" ]; then
		fail "real etcd + kube-apiserver start ($name): $(cat "$TMP/$name/failed" 2>/dev/null)"
		tail -n 20 "$TMP/$name.err" "$TMP/$name/apiserver.log" 2>/dev/null
		finish
	fi
	KC="$TMP/$name/admin.kubeconfig"
	K="$KUBECTL --kubeconfig=$KC --cache-dir=$TMP/cache-$name"
}

# run_block NAME [sed expression]: the README block NAME, run with sh -e -x as a user
# would paste it (repository root, KUBECONFIG set); output in $TMP/NAME.out.
run_block() {
	name=$1 subst=${2:-}
	if ! python3 tests/peers/readme_block.py README.md "$name" >"$TMP/$name.sh" 2>"$TMP/$name.err"; then
		fail "README.md has the block marked deploy-test: $name ($(cat "$TMP/$name.err"))"
		return 1
	fi
	[ -n "$subst" ] && sed -i "$subst" "$TMP/$name.sh"
	env KUBECONFIG="$KC" HOME="$TMP/home" PATH="$TMP/wrap:$PATH" sh -e -x "$TMP/$name.sh" >"$TMP/$name.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then ok "README block '$name' run verbatim: every command exits 0 ($(grep -c . "$TMP/$name.sh") lines)"
	else fail "README block '$name' run verbatim: exit $rc"; sed 's/^/    /' "$TMP/$name.out" | tail -n 25; fi
	# nothing refused, no namespace missing, no warning (e.g. PodSecurity) on the way
	if grep -Ei 'error|warning|forbidden|not found|invalid|denied' "$TMP/$name.out" >"$TMP/$name.bad"; then
		fail "README block '$name': no error, warning, missing object or refusal in the output"
		sed 's/^/    /' "$TMP/$name.bad" | head -n 10
	else ok "README block '$name': no error, warning, missing object or refusal in the output"; fi
	return $rc
}

# start_agent: the agent as the DaemonSet's service account k8smon/k8smon (a TokenRequest
# token, what the kubelet would mount) for node demo-node-1, scraper auth on. Sets APID, B.
start_agent() {
	# What kubelets would register: the nodes the monitors select.
	$K apply -f examples/cluster/nodes.yaml >"$TMP/nodes.out" 2>&1 || { fail "register the nodes"; cat "$TMP/nodes.out"; }
	token=$($K create token k8smon -n k8smon --duration=1h 2>"$TMP/tok.err")
	[ -n "$token" ] || { fail "kubectl create token k8smon -n k8smon: $(cat "$TMP/tok.err")"; return 1; }
	cat >"$TMP/agent.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: real
  cluster: {server: "$(cat "$TMP/$1/url")", certificate-authority: "$TMP/$1/ca.crt"}
users:
- name: k8smon
  user: {token: "$token"}
contexts:
- name: k8smon
  context: {cluster: real, user: k8smon, namespace: k8smon}
current-context: k8smon
EOF
	PORT=$(free_port)
	"$AGENT" -promscrape.kubernetes -kubeconfig="$TMP/agent.kubeconfig" -nodeName=demo-node-1 \
		-httpListenAddr=127.0.0.1:$PORT -leaderElection.namespace=k8smon -http.auth=kubernetes \
		>"$TMP/agent-$1.log" 2>&1 &
	APID=$!
	B="http://127.0.0.1:$PORT"
	wait_for 60 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $B/readyz)\" = 200 ]" ||
		{ fail "agent ready against the real server"; tail -n 20 "$TMP/agent-$1.log"; return 1; }
}
stop_agent() {
	[ -n "$APID" ] && { kill "$APID" 2>/dev/null; wait "$APID" 2>/dev/null; }
	APID=""
}

# statuses_settled: every K8sMonitor and ScrapeRule has a Ready condition written for its
# current generation.
statuses_settled() {
	$K get kmon,sr -A -o json | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
assert items
for o in items:
    st = o.get("status") or {}
    ready = [c for c in st.get("conditions", []) if c["type"] == "Ready"]
    assert ready and st.get("observedGeneration") == o["metadata"]["generation"], o["metadata"]["name"]
'
}
# no_conflict: every K8sMonitor and ScrapeRule Ready True, no Conflict reason anywhere.
no_conflict() {
	$K get kmon,sr -A -o json | python3 -c '
import json, sys
bad = []
for o in json.load(sys.stdin)["items"]:
    for c in (o.get("status") or {}).get("conditions", []):
        if c["type"] == "Ready" and (c["status"] != "True" or c.get("reason") == "Conflict"):
            bad.append("%s/%s: %s %s" % (o["kind"], o["metadata"]["name"], c.get("reason"), c.get("message")))
print("\n".join(bad))
sys.exit(1 if bad else 0)
'
}
code() { # code TOKEN PATH -> HTTP status of the agent's answer
	if [ -n "$1" ]; then curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$B$2"
	else curl -s -o /dev/null -w '%{http_code}' "$B$2"; fi
}

# ======================================================== Helm, GKE's priority-class rule on
# ResourceQuota admission as GKE configures it (upstream's "limit priority class
# consumption by default"): pods of these classes need a quota of their class.
cat >"$TMP/admission.yaml" <<'EOF'
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ResourceQuota
  configuration:
    apiVersion: apiserver.config.k8s.io/v1
    kind: ResourceQuotaConfiguration
    limitedResources:
    - resource: pods
      matchScopes:
      - scopeName: PriorityClass
        operator: In
        values: [system-node-critical, system-cluster-critical]
EOF
start_server helm --admission-control-config-file="$TMP/admission.yaml"
ok "real kube-apiserver (ResourceQuota limiting system-node-critical, as on GKE) at $(cat "$TMP/helm/url")"
run_block helm
start_agent helm
wait_for 60 statuses_settled
$K get kmon,sr -A -o wide >"$TMP/helm.wide" 2>&1
sed 's/^/    /' "$TMP/helm.wide"
check "helm sequence: every K8sMonitor and ScrapeRule has a status for its generation" statuses_settled
no_conflict >"$TMP/helm.conflict"; rc=$?
if [ $rc -eq 0 ]; then ok "helm sequence: every K8sMonitor and ScrapeRule Ready True, none in Conflict"
else fail "helm sequence: a K8sMonitor or ScrapeRule not Ready"; sed 's/^/    /' "$TMP/helm.conflict"; fi
check "helm sequence: one K8sMonitor, the chart's, with the README's helm upgrade --set interval 30s" \
	sh -c "[ \"\$($K get kmon -o name)\" = k8smonitor.k8smon.io/k8smon ] && [ \"\$($K get kmon k8smon -o jsonpath='{.spec.interval}')\" = 30s ]"
check "helm sequence: ScrapeRule shop/pods accepted" sh -c "$K get sr -n shop pods --no-headers | grep -q ' True '"

# ---- the operator block: a port-forward stand-in, the test agent's port for 9420
run_block operator "s/9420/$PORT/g"
check "operator block: /config JSON read through the operator token" grep -q '"intervalMs"' "$TMP/operator.out"
check "operator block: /api/v1/targets JSON read" grep -q '"activeTargets"\|"data"' "$TMP/operator.out"
check "operator block: /metrics/self read (k8smon_leader)" grep -q '^k8smon_leader' "$TMP/operator.out"
check "operator block: /config shows the chart's monitor with the README's interval (30s)" grep -Eq '"intervalMs": *30000[,}]' "$TMP/operator.out"
OPTOK=$($K create token k8smon-operator -n k8smon --duration=10m 2>/dev/null)
RDTOK=$($K create token k8smon-scraper -n k8smon --duration=10m 2>/dev/null)
for p in /config /targets /api/v1/targets /metrics/self; do
	c=$(code "$OPTOK" "$p")
	check "operator role (token of k8smon-operator): GET $p -> 200 (got $c)" test "$c" = 200
done
for p in /config /targets; do
	c=$(code "$RDTOK" "$p")
	check "metrics-reader (k8smon-scraper token): GET $p -> 403 (got $c)" test "$c" = 403
done
c=$(code "$RDTOK" /metrics/self)
check "metrics-reader: GET /metrics/self -> 200 (got $c)" test "$c" = 200
c=$(code "" /config)
check "no token: GET /config -> 401 (got $c)" test "$c" = 401

# ---- the old README sequence: a second cluster-wide monitor after helm install conflicts
$K apply -f examples/k8smonitor.yaml >/dev/null 2>&1
wait_for 60 sh -c "$K get kmon default -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}' | grep -qx Conflict"
no_conflict >"$TMP/control" 2>&1; rc=$?
check "control: examples/k8smonitor.yaml applied after helm install reports Conflict (the no-Conflict check can fail)" \
	sh -c "[ $rc -ne 0 ] && grep -q 'K8sMonitor/default: Conflict node demo-node-1 is also selected by the older K8sMonitor k8smon' $TMP/control"
[ $rc -ne 0 ] || sed 's/^/    /' "$TMP/control"
$K delete -f examples/k8smonitor.yaml >/dev/null 2>&1
stop_agent

# ---- GKE: priorityClassName system-node-critical outside kube-system
# pod_of FILE: the pod a DaemonSet controller would create from the DaemonSet in FILE.
pod_of() {
	python3 - "$1" <<'PY'
import json, sys, yaml
ds = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "DaemonSet"][0]
t = ds["spec"]["template"]
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"generateName": "k8smon-", "namespace": ds["metadata"]["namespace"],
                               "labels": t["metadata"]["labels"]},
                  "spec": dict(t["spec"], nodeName="demo-node-1")}))
PY
}
$K get ds k8smon -n k8smon -o yaml >"$TMP/ds.yaml"
pod_of "$TMP/ds.yaml" >"$TMP/pod-critical.json"
check "the chart's DaemonSet has priorityClassName system-node-critical" grep -q '"priorityClassName": "system-node-critical"' "$TMP/pod-critical.json"
$K create -f "$TMP/pod-critical.json" >"$TMP/gke1" 2>&1; rc=$?
check "GKE rule: a pod of the DaemonSet in namespace k8smon is refused without a quota (insufficient quota ... PriorityClass)" \
	sh -c "[ $rc -ne 0 ] && grep -q 'insufficient quota to match these scopes' $TMP/gke1"
[ $rc -ne 0 ] || sed 's/^/    /' "$TMP/gke1"
"$HELM" template k8smon helm/k8smon -n k8smon --set priorityClassName= >"$TMP/nopc.yaml" 2>"$TMP/nopc.err"; rc=$?
check "helm template --set priorityClassName= renders, with no priorityClassName" sh -c "[ $rc -eq 0 ] && ! grep -q priorityClassName $TMP/nopc.yaml"
pod_of "$TMP/nopc.yaml" >"$TMP/pod-nopc.json"
$K create -f "$TMP/pod-nopc.json" >"$TMP/gke2" 2>&1; rc=$?
check "GKE rule: the pod rendered with --set priorityClassName= is accepted without a quota" test $rc -eq 0
[ $rc -eq 0 ] || sed 's/^/    /' "$TMP/gke2"
$K apply -n k8smon -f examples/priorityclass-quota.yaml >"$TMP/gke3" 2>&1; rc=$?
check "kubectl apply -n k8smon -f examples/priorityclass-quota.yaml (the README's command)" test $rc -eq 0
# No controller-manager: fill in the quota's status as its controller would (admission
# refuses a quota whose status is unknown).
$K patch resourcequota k8smon-critical-pods -n k8smon --subresource=status --type=merge \
	-p '{"status":{"hard":{"pods":"10000"},"used":{"pods":"0"}}}' >/dev/null 2>&1
$K create -f "$TMP/pod-critical.json" >"$TMP/gke4" 2>&1; rc=$?
check "GKE rule: with examples/priorityclass-quota.yaml the DaemonSet's pod is accepted" test $rc -eq 0
[ $rc -eq 0 ] || sed 's/^/    /' "$TMP/gke4"

# ---- tls.enabled: tlsConfig on the PodMonitor and VMPodScrape, against the published CRDs
$K apply --server-side -f "$PROMETHEUS_OPERATOR_CRDS_BIN/monitoring.coreos.com_podmonitors.yaml" >"$TMP/crd-pm" 2>&1 &&
	$K wait --for=condition=Established --timeout=60s crd/podmonitors.monitoring.coreos.com >/dev/null 2>&1
check "Prometheus Operator PodMonitor CRD installed (published YAML, $(basename "$PROMETHEUS_OPERATOR_CRDS_BIN"))" test $? -eq 0
python3 - "$VICTORIAMETRICS_OPERATOR_CRDS_BIN/crd.descriptionless.yaml" "$TMP/vmpodscrape-crd.yaml" <<'PY'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["metadata"]["name"] == "vmpodscrapes.operator.victoriametrics.com":
        yaml.safe_dump(d, open(sys.argv[2], "w"))
        break
else:
    sys.exit("no VMPodScrape CRD in " + sys.argv[1])
PY
$K apply --server-side -f "$TMP/vmpodscrape-crd.yaml" >"$TMP/crd-vm" 2>&1 &&
	$K wait --for=condition=Established --timeout=60s crd/vmpodscrapes.operator.victoriametrics.com >/dev/null 2>&1
check "VictoriaMetrics operator VMPodScrape CRD installed (published YAML, $(basename "$VICTORIAMETRICS_OPERATOR_CRDS_BIN"))" test $? -eq 0
for v in "" "--set tls.ca.configMapName=k8smon-ca --set tls.serverName=agents.example.org"; do
	# shellcheck disable=SC2086
	"$HELM" template k8smon helm/k8smon -n k8smon --set tls.enabled=true --set podMonitor.enabled=true \
		--set vmPodScrape.enabled=true $v --show-only templates/podmonitor.yaml --show-only templates/vmpodscrape.yaml \
		>"$TMP/tls.yaml" 2>"$TMP/tls.err"
	$K apply --dry-run=server --validate=strict -f "$TMP/tls.yaml" >"$TMP/tls.dry" 2>&1; rc=$?
	check "tls.enabled ${v:-(CA from the serving Secret)}: PodMonitor and VMPodScrape pass --dry-run=server --validate=strict" test $rc -eq 0
	[ $rc -eq 0 ] || sed 's/^/    /' "$TMP/tls.dry"
	check "tls.enabled ${v:-(defaults)}: every endpoint has scheme https and a tlsConfig with the CA and serverName" python3 - "$TMP/tls.yaml" "$v" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
assert sorted(d["kind"] for d in docs) == ["PodMonitor", "VMPodScrape"]
cm = "configMapName" in sys.argv[2]
for d in docs:
    eps = d["spec"]["podMetricsEndpoints"]
    assert sorted(e["path"] for e in eps) == sorted("/metrics/" + p for p in
        ("node", "cadvisor", "kube-state", "apps", "components", "self")), eps
    for e in eps:
        t = e["tlsConfig"]
        assert e["scheme"] == "https"
        if cm:
            assert t["ca"] == {"configMap": {"name": "k8smon-ca", "key": "ca.crt"}}, t
            assert t["serverName"] == "agents.example.org", t
        else:
            assert t["ca"] == {"secret": {"name": "k8smon-tls", "key": "ca.crt"}}, t
            assert t["serverName"] == "k8smon.k8smon.svc", t
PY
done
"$HELM" template k8smon helm/k8smon -n k8smon --set podMonitor.enabled=true --set vmPodScrape.enabled=true \
	--show-only templates/podmonitor.yaml --show-only templates/vmpodscrape.yaml >"$TMP/notls.yaml" 2>&1
$K apply --dry-run=server --validate=strict -f "$TMP/notls.yaml" >"$TMP/notls.dry" 2>&1; rc=$?
check "TLS off: PodMonitor and VMPodScrape pass --dry-run=server, no tlsConfig" sh -c "[ $rc -eq 0 ] && ! grep -q tlsConfig $TMP/notls.yaml"

# ======================================================== plain kubectl (examples/deploy)
start_server kubectl
ok "fresh real kube-apiserver at $(cat "$TMP/kubectl/url")"
run_block kubectl
start_agent kubectl
wait_for 60 statuses_settled
$K get kmon,sr -A -o wide >"$TMP/kubectl.wide" 2>&1
sed 's/^/    /' "$TMP/kubectl.wide"
check "kubectl sequence: every K8sMonitor and ScrapeRule has a status for its generation" statuses_settled
no_conflict >"$TMP/kubectl.conflict"; rc=$?
if [ $rc -eq 0 ]; then ok "kubectl sequence: every K8sMonitor and ScrapeRule Ready True, none in Conflict"
else fail "kubectl sequence: a K8sMonitor or ScrapeRule not Ready"; sed 's/^/    /' "$TMP/kubectl.conflict"; fi
check "kubectl sequence: one K8sMonitor, examples/k8smonitor.yaml's" sh -c "[ \"\$($K get kmon -o name)\" = k8smonitor.k8smon.io/default ]"
stop_agent
finish
