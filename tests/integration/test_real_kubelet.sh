#!/bin/sh
# The container collector against cgroups a real kubelet made (make test; alone: make test-cluster;
# docs/testing.md "Real kubelet cluster").
#
# Starts tests/peers/cluster.sh (etcd, kube-apiserver, controller-manager,
# scheduler, kubelet on containerd + runc, cgroupfs driver), deploys k8smon as
# its own DaemonSet rendered from helm/k8smon (processFdStats=true, so that
# fd and socket counts cover every container; sandboxImage = cluster.sh's
# sandbox image, as a user sets their runtime's; image built here from
# $K8SMON_BIN, imported into containerd), creates pods and checks on the
# agent's /metrics/cadvisor, against what the kubelet reports in pod status:
#   - the chart as it is (auth on: a scraper token via TokenReview/SubjectAccessReview, 401 without);
#   - a Burstable pod of two containers (one with a memory limit) and a
#     BestEffort pod: the pod row (id /kubepods/<qos>/pod<uid>, pod, namespace,
#     container="") and one row per container (id .../pod<uid>/<containerID>,
#     container = its name in the spec, image = status image, name = the ID),
#     each id a cgroup the kubelet made on this host; plus exactly one more
#     child row, the sandbox (container="");
#   - container_spec_memory_limit_bytes of the limited container is its limit;
#   - the agent's own container (namespace monitoring, container k8smon) is
#     listed with CPU used > 0;
#   - the kubelet's own /metrics/cadvisor (embedded cAdvisor) over the same
#     cgroups has the same rows with the same labels in every family both
#     export, ours are not behind it and the test pods' values are within
#     drift of its (tests/peers/cadvisor_compare.py --drift cltest;
#     the differences that remain are in tests/peers/cadvisor_known_diff.txt);
#   - a deleted pod's rows go away.
# Needs root, the kube peers (tests/peers/build.sh kubernetes kubernetes-node helm)
# and containerd, runc, containernetworking-plugins, iptables.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
# runc, iptables, ip and ldconfig live in sbin, which a CI PATH may leave out
PATH=$PATH:/usr/sbin:/sbin
BIN=${K8SMON_BIN:-./bin/k8smon}
[ "$(id -u)" = 0 ] || { echo "FAIL - test_real_kubelet needs root"; exit 1; }
[ -x "$BIN" ] || { echo "FAIL - $BIN missing (make bin/k8smon)"; exit 1; }
eval "$(tests/peers/build.sh --env kubernetes kubernetes-node helm)" ||
	{ echo "FAIL - kube peers do not build (tests/peers/build.sh)"; exit 1; }
export KUBERNETES_BIN KUBERNETES_NODE_BIN

TMP=$(mktemp -d /tmp/k8smon-cluster.XXXXXX)
CPID=""
cleanup() {
	if [ -n "$CPID" ]; then
		kill "$CPID" 2>/dev/null
		wait "$CPID" 2>/dev/null
	fi
	if [ "$FAILS" -ne 0 ] || [ -n "${KEEP:-}" ]; then
		echo "logs kept in $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the agent's image: the product's own (image/build.sh, what `make image`
# writes), no registry. K8SMON_IMAGE_TAR=archive K8SMON_IMAGE_REF=repo:tag tests
# another OCI archive (imported with --base-name repo, so tag must be its
# org.opencontainers.image.ref.name).
mkdir -p "$TMP/c/images"
if [ -z "${K8SMON_IMAGE_TAR:-}" ]; then
	K8SMON_IMAGE_TAR=$TMP/k8smon-image.tar   # not in c/images: cluster.sh imports those unnamed
	sh image/build.sh "$BIN" "$K8SMON_IMAGE_TAR" >"$TMP/image.log" 2>&1 ||
		{ echo "FAIL - image/build.sh: $(tail -3 "$TMP/image.log")"; exit 1; }
	K8SMON_IMAGE_REF=k8smon.local/k8smon:$("$BIN" -version | awk '{print $NF; exit}')
fi
IMAGE_REF=${K8SMON_IMAGE_REF:-k8smon.local/k8smon:test}
[ -f "$K8SMON_IMAGE_TAR" ] || { echo "FAIL - $K8SMON_IMAGE_TAR missing"; exit 1; }

# ---- the cluster
t0=$(date +%s)
tests/peers/cluster.sh "$TMP/c" 2>"$TMP/cluster.err" &
CPID=$!
i=0
until [ -f "$TMP/c/ready" ]; do
	if [ -f "$TMP/c/failed" ] || ! kill -0 "$CPID" 2>/dev/null; then
		echo "FAIL - cluster.sh: $(cat "$TMP/c/failed" 2>/dev/null) $(tail -3 "$TMP/cluster.err")"
		FAILS=1; exit 1
	fi
	i=$((i + 1)); [ $i -gt 600 ] && { echo "FAIL - cluster not ready after 300 s"; FAILS=1; exit 1; }
	sleep 0.5
done
ok "cluster ready in $(($(date +%s) - t0)) s (node k8smon-node)"
K="$KUBERNETES_BIN/kubectl --kubeconfig $TMP/c/api/admin.kubeconfig"
CTR="ctr --address $TMP/c/containerd/containerd.sock -n k8s.io"
check "image $K8SMON_IMAGE_TAR imports as $IMAGE_REF" sh -c \
	"$CTR images import --base-name '${IMAGE_REF%:*}' '$K8SMON_IMAGE_TAR' >/dev/null &&
	 $CTR images ls -q | grep -qxF '$IMAGE_REF'"

# ---- k8smon as the chart's DaemonSet
PORT=$(free_port)
# The kubelet's port (cluster.sh picks a free one) and its address: it
# listens on 127.0.0.1 only, with a self-signed serving certificate (no
# serverTLSBootstrap), as many kubelets do: insecureSkipVerify as
# kube-prometheus sets it. Its authentication and authorization are real
# (webhook: TokenReview + SubjectAccessReview nodes/metrics for the chart's
# ServiceAccount).
KPORT=$(awk '/^port:/ {print $2}' "$TMP/c/kubelet/config.yaml")
"$HELM_BIN/helm" template k8smon helm/k8smon -n monitoring --include-crds \
	--set image.repository="${IMAGE_REF%:*}" --set image.tag="${IMAGE_REF##*:}" --set image.pullPolicy=Never \
	--set port="$PORT" --set processFdStats=true --set sandboxImage=k8smon.local/pause:1 \
	--set components.kubelet.address=127.0.0.1 --set components.kubelet.port="$KPORT" \
	--set components.kubelet.insecureSkipVerify=true >"$TMP/k8smon.yaml" ||
	{ echo "FAIL - helm template"; FAILS=1; exit 1; }
$K create namespace monitoring >/dev/null
$K create namespace cltest >/dev/null
# CRDs first (the K8sMonitor object needs them established).
$K apply -f "$TMP/k8smon.yaml" >"$TMP/apply1.log" 2>&1
$K wait --for condition=Established --timeout=60s crd/k8smonitors.k8smon.io >/dev/null 2>&1
check "chart applies (CRDs, RBAC, DaemonSet, K8sMonitor)" sh -c "$K apply -f $TMP/k8smon.yaml"

cat >"$TMP/pods.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: cltest}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: "k8smon.local/pause:1", imagePullPolicy: Never,
     resources: {requests: {memory: 16Mi}, limits: {memory: 48Mi}}}
  - {name: sidecar, image: "k8smon.local/pause:1", imagePullPolicy: Never}
---
apiVersion: v1
kind: Pod
metadata: {name: idle, namespace: cltest}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: only, image: "k8smon.local/pause:1", imagePullPolicy: Never}
EOF
check "test pods created" sh -c "$K apply -f $TMP/pods.yaml"
check "all pods Ready (k8smon DaemonSet pod included)" \
	sh -c "$K wait --for condition=Ready --timeout=180s pod --all -A"
$K get pods -A -o wide

# ---- the agent's view against the kubelet's
SCRAPE="http://127.0.0.1:$PORT/metrics/cadvisor"
# The chart's default -http.auth=kubernetes: a scraper's token goes through a
# real TokenReview and SubjectAccessReview (the agent reaches the API server
# through the kubernetes Service IP); the chart's k8smon-scraper may read.
TOKEN=$($K -n monitoring create token k8smon-scraper 2>"$TMP/token.err")
check "a token for the chart's k8smon-scraper ServiceAccount" test -n "$TOKEN"
check "no token: 401" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$SCRAPE')\" = 401 ]"
HDR="$TMP/auth.hdr"
echo "Authorization: Bearer $TOKEN" >"$HDR"
scrape() { curl -sf -H @"$HDR" "$SCRAPE"; }
# Rows appear at the next scrape after the pod map has the statuses: poll.
i=0
while :; do
	$K get pods -A -o json >"$TMP/pods.json"
	scrape >"$TMP/cadvisor.txt"
	if python3 tests/peers/kubelet_rows.py "$TMP/pods.json" "$TMP/cadvisor.txt" >"$TMP/check.out" 2>&1; then
		break
	fi
	i=$((i + 1)); [ $i -gt 60 ] && break
	sleep 1
done
cat "$TMP/check.out"
check "cadvisor rows match the kubelet's pods and cgroups" grep -q '^all rows match' "$TMP/check.out"

# The kubelet component job (docs/components.md), in-cluster: the agent's
# projected token, the chart's RBAC (nodes/metrics) checked by the real
# kubelet's webhook authorizer, kube-prometheus's labels.
# instance is the node's InternalIP (the kubelet Service's endpoint), although
# the agent connects to 127.0.0.1 here.
NIP=$($K get node k8smon-node -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
KL="endpoint=\"https-metrics\",instance=\"$NIP:$KPORT\",job=\"kubelet\""
KSCRAPE="http://127.0.0.1:$PORT/metrics/kubelet"
# Each kubelet path has its own first-scrape offset: wait for all three.
wait_for 120 sh -c "curl -sf -H @'$HDR' '$KSCRAPE' >'$TMP/kubelet-job.txt' && grep -q '^kubelet_running_pods{' '$TMP/kubelet-job.txt' &&
	[ \$(grep -c '^up{.*job=\"kubelet\"' '$TMP/kubelet-job.txt') -ge 3 ]"
check "/metrics/kubelet: kubelet_running_pods from the real kubelet with job, instance, metrics_path, node" \
	grep -q "^kubelet_running_pods{$KL,metrics_path=\"/metrics\",namespace=\"kube-system\",node=\"k8smon-node\",service=\"kubelet\"} [1-9]" "$TMP/kubelet-job.txt"
check "/metrics/kubelet: up 1 for /metrics, /metrics/probes, /metrics/resource (token accepted by the kubelet)" sh -c \
	"[ \$(grep -c '^up{$KL,metrics_path=\"/metrics[a-z/]*\",namespace=\"kube-system\",node=\"k8smon-node\",service=\"kubelet\"} 1\$' $TMP/kubelet-job.txt) -eq 3 ]"
check "/metrics/kubelet: the kubelet's /metrics/resource (node_cpu_usage_seconds_total)" \
	grep -q "^node_cpu_usage_seconds_total{$KL,metrics_path=\"/metrics/resource\"" "$TMP/kubelet-job.txt"
# kubelet_volume_stats_* exist only for mounted PersistentVolumeClaims (this
# cluster has no storage provisioner): absent, and nothing else claims them.
check "/metrics/kubelet: no kubelet_volume_stats_* without a PVC" sh -c "! grep -q '^kubelet_volume_stats_' $TMP/kubelet-job.txt"
# cluster.sh runs kube-scheduler and kube-controller-manager with
# --secure-port=0 (no metrics port) and no control-plane label: no target.
check "/metrics/kube-scheduler, /metrics/kube-controller-manager: no target on this node (no serving port, no control-plane label)" sh -c \
	"! curl -sf -H @$HDR http://127.0.0.1:$PORT/metrics/components | grep -q 'job=\"kube-\(scheduler\|controller-manager\)\"'"

# The kubelet's own /metrics/cadvisor (its embedded cAdvisor, told where this
# containerd is) over the same cgroups: ours is scraped right after it.
A="$TMP/c/api"
i=0
while :; do
	curl -sfk --cert "$A/admin.crt" --key "$A/admin.key" "https://127.0.0.1:$KPORT/metrics/cadvisor" >"$TMP/kubelet-cadvisor.txt"
	scrape >"$TMP/cadvisor2.txt"
	if python3 tests/peers/cadvisor_compare.py "$TMP/kubelet-cadvisor.txt" "$TMP/cadvisor2.txt" \
		tests/peers/cadvisor_known_diff.txt --drift cltest >"$TMP/compare.out" 2>&1; then
		break
	fi
	i=$((i + 1)); [ $i -gt 60 ] && break
	sleep 1
done
head -40 "$TMP/compare.out"
check "same rows and labels as the kubelet's /metrics/cadvisor (cadvisor_known_diff.txt aside)" \
	grep -q '^cadvisor match' "$TMP/compare.out"

check "deleting pod web" sh -c "$K -n cltest delete pod web --wait=true --timeout=60s"
i=0
while scrape | grep -q 'pod="web"'; do
	i=$((i + 1)); [ $i -gt 60 ] && break
	sleep 1
done
scrape >"$TMP/cadvisor3.txt"
check "pod web's rows are gone after it is deleted" sh -c "! grep -q 'pod=\"web\"' $TMP/cadvisor3.txt"
check "pod idle's rows stay" grep -q 'pod="idle"' "$TMP/cadvisor3.txt"

# ---- teardown leaves the host as it was
kill "$CPID"; wait "$CPID"; CPID=""
# Hold the cluster lock while looking, so that another run's cluster (another
# session on a shared machine) cannot start in between and be taken for ours.
exec 7>/run/lock/k8smon-cluster.lock
flock -w 900 7 || fail "cluster lock not free 900 s after our cluster stopped"
KP=$(ls -d /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods 2>/dev/null | tr '\n' ' ')
check "stopped cluster: no kubepods cgroup left (${KP:-none})" test -z "$KP"
check "stopped cluster: no bridge k8smon0" sh -c "! ip link show k8smon0"
check "stopped cluster: no DNAT rule" sh -c "! iptables -t nat -S OUTPUT | grep -q 'k8smon-cluster:$TMP/c'"
# Processes that name the cluster directory (containerd, shims, kubelet, ...);
# the glob is expanded before the greps start, so they do not count themselves.
leftover() {
	for p in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$TMP/c/" && echo "${p#/proc/}"
	done
}
LEFT=$(leftover)
check "stopped cluster: no process left (${LEFT:-none})" test -z "$LEFT"
echo "test_real_kubelet: $(($(date +%s) - t0)) s from cluster start"
finish
