#!/bin/sh
# make demo: a simulated cluster on this machine. Starts the annotated example apps
# on free loopback ports, the fake API server loaded with examples/cluster (nodes,
# workloads, a crash-looping pod; the three annotated pods' ports set to the apps'),
# applies the examples with kubectl, gives the apps real cgroups laid out as the
# kubelet does for their pods when run as root on cgroup v2 (tests/demo/demo_cgroups.py;
# otherwise says why /metrics/cadvisor has only the node's rows), runs k8smon against
# it and prints where to look. Ctrl-C stops everything and removes the cgroups and the
# kubeconfig (which would point at a dead server). The component jobs scrape
# tests/fakecomp (recorded real kubelet, API server, scheduler, controller-manager,
# kube-proxy, CoreDNS, etcd): demo-node-1 is a control-plane node in the demo.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
. tests/lib/fakeapi.sh
. tests/lib/comp_env.sh
# K8SMON_DEMO_PORT / K8SMON_DEMO_STATE: another port / state directory (tests, a second demo)
STATE=${K8SMON_DEMO_STATE:-.demo}
case $STATE in /*) ;; *) STATE=$PWD/$STATE ;; esac
PORT=${K8SMON_DEMO_PORT:-9420}
rm -rf "$STATE"; mkdir -p "$STATE"
PIDS=""
K8SMON=""
CGROOT=""
cleanup() {
	trap - INT TERM EXIT
	echo
	echo "demo: stopping"
	# The agent first, while the API server is up: it releases its Lease.
	if [ -n "$K8SMON" ]; then kill "$K8SMON" 2>/dev/null; wait "$K8SMON" 2>/dev/null; fi
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	# shellcheck disable=SC2086
	[ -n "$CGROOT" ] && python3 tests/demo/demo_cgroups.py cleanup $CGROOT
	# Nothing left pointing at the stopped server; the logs stay.
	rm -f "$STATE/kubeconfig"
	rm -rf "$STATE/sys" "$STATE/api" "$STATE/fc" "$STATE/sa"
	exit 0
}
trap cleanup INT TERM EXIT

# The example apps first, on free ports (port 0): the pods of examples/cluster that
# they stand for get these ports in the demo's copy of the cluster.
APPS="frontend checkout grafana"
for app in $APPS; do
	python3 tests/demo/demo_app.py 0 "$app" "$STATE/$app.port" 2>>"$STATE/apps.log" &
	PIDS="$PIDS $!"
	eval "PID_$app=$!"
done
i=0
for app in $APPS; do
	until [ -s "$STATE/$app.port" ]; do
		i=$((i + 1)); [ $i -gt 100 ] && { echo "demo: example app $app did not start:"; cat "$STATE/apps.log"; exit 1; }
		sleep 0.1
	done
done
P1=$(cat "$STATE/frontend.port") P2=$(cat "$STATE/checkout.port") P3=$(cat "$STATE/grafana.port")
# examples/cluster names ports 18081-18083 for the three apps (annotations, containerPort)
mkdir -p "$STATE/cluster"
for f in examples/cluster/*.yaml; do
	# demo-node-1 is a control-plane node and its CoreDNS pod (10.244.0.123) answers on
	# loopback, so that the component jobs find tests/fakecomp's recorded components
	sed -e "s/\b18081\b/$P1/g" -e "s/\b18082\b/$P2/g" -e "s/\b18083\b/$P3/g" \
		-e 's/^\(    \)kubernetes.io\/hostname: demo-node-1$/&\n\1node-role.kubernetes.io\/control-plane: '"''"'/' \
		-e 's/\b10\.244\.0\.123\b/127.0.0.1/g' "$f" >"$STATE/cluster/${f##*/}"
done

python3 tests/fakeapi/fakeapi.py --port 0 --state-dir "$STATE/api" \
	--kubeconfig-out "$STATE/kubeconfig" --load crds --load "$STATE/cluster" >"$STATE/fakeapi.out" 2>"$STATE/fakeapi.log" &
PIDS="$PIDS $!"
i=0
until grep -q '^READY' "$STATE/fakeapi.out" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 100 ] && { echo "demo: fake API server did not start"; cat "$STATE/fakeapi.log"; exit 1; }
	sleep 0.1
done
API=$(sed -n 's/^READY //p' "$STATE/fakeapi.out")
export KUBECONFIG="$STATE/kubeconfig"
API_URL=$API CONTROL=$API/_fake

# Recorded real components (kubelet, API server, scheduler, controller-manager,
# kube-proxy, CoreDNS, etcd) for the component jobs: tests/fakecomp.
if fakecomp_start "$STATE" demo-node-1 >"$STATE/fakecomp.err" 2>&1 &&
	fake_ctl POST /objects "[$(fakecomp_apiserver_objects)]" | grep -q '"loaded"'; then
	PIDS="$PIDS $FAKECOMP_PID"
	COMPFLAGS=$(fakecomp_flags "$STATE")
	COMPNOTE="jobs: tests/fakecomp replays recorded real components (docs/components.md)"
else
	[ -n "${FAKECOMP_PID:-}" ] && PIDS="$PIDS $FAKECOMP_PID"
	COMPFLAGS=""
	COMPNOTE="jobs: none here, fakecomp did not start: $(tail -1 "$STATE/fakecomp.err")"
fi

for f in examples/k8smonitor.yaml examples/scraperule-*.yaml; do
	[ -f "$f" ] && kubectl apply -f "$f" >>"$STATE/kubectl.log" 2>&1
done

# Real cgroups for the three pods on demo-node-1 (root, cgroup v2): the agent reads them
# through a view of /sys whose fs/cgroup is the demo's subtree.
SYSFS=/sys
CGNOTE=""
kubectl get pods -A --field-selector spec.nodeName=demo-node-1 -o json >"$STATE/pods.json" 2>>"$STATE/kubectl.log"
if CGROOT=$(python3 tests/demo/demo_cgroups.py setup "$STATE" "$STATE/pods.json" \
	frontend="$PID_frontend" checkout="$PID_checkout" grafana="$PID_grafana" 2>"$STATE/cgroups.err"); then
	SYSFS=$STATE/sys
	CGNOTE="  cgroups           $CGROOT (the example apps' pods, kubelet layout)"
else
	CGROOT=""
	CGNOTE="  /metrics/cadvisor shows only the node's own cgroups, no pod rows: $(cat "$STATE/cgroups.err")"
fi

./bin/k8smon -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=demo-node-1 \
	-httpListenAddr=127.0.0.1:$PORT -leaderElection.namespace=default -path.sysfs="$SYSFS" \
	$COMPFLAGS >"$STATE/k8smon.log" 2>&1 &
K8SMON=$!
# Until the agent has written the example K8sMonitor's status (it does so
# once it leads, 0.3 s later, or with its first pod list, 5 s later): the
# table printed below then shows it Accepted. At most 30 s.
i=0
while [ $i -lt 60 ] && kill -0 $K8SMON 2>/dev/null &&
	[ -z "$(kubectl get kmon default -o jsonpath='{.status.observedGeneration}' 2>/dev/null)" ]; do
	sleep 0.5
	i=$((i + 1))
done
if ! kill -0 $K8SMON 2>/dev/null; then
	echo "demo: k8smon exited:"; cat "$STATE/k8smon.log"; exit 1
fi

cat <<MSG

k8smon demo is running (Ctrl-C stops it).

  fake API server   $API   (export KUBECONFIG=$STATE/kubeconfig)
  k8smon            http://127.0.0.1:$PORT/metrics
                    http://127.0.0.1:$PORT/metrics/node
                    http://127.0.0.1:$PORT/metrics/cadvisor
                    http://127.0.0.1:$PORT/metrics/kube-state
                    http://127.0.0.1:$PORT/metrics/apps
                    http://127.0.0.1:$PORT/metrics/self
                    http://127.0.0.1:$PORT/metrics/components   (kubelet, API server, CoreDNS, ...
                        $COMPNOTE)
                    http://127.0.0.1:$PORT/config
  example apps      frontend 127.0.0.1:$P1, checkout 127.0.0.1:$P2, grafana 127.0.0.1:$P3
$CGNOTE
  logs              $STATE/*.log

  kubectl explain k8smonitor.spec           every K8sMonitor field (also scraperule.spec)
  kubectl patch kmon default --type=merge -p '{"spec":{"interval":"2h"}}'
                                            refused by the CRD's rules, like a real server
MSG
echo "\$ kubectl get kmon,sr -A"
kubectl get kmon,sr -A 2>&1 || true
echo
# Stay in the foreground until Ctrl-C (or until k8smon dies).
wait $K8SMON
echo "demo: k8smon exited with status $?; log in $STATE/k8smon.log"
