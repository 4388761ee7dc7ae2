#!/bin/sh
# make demo: a simulated cluster on this machine. Starts the fake API server
# loaded with examples/cluster (nodes, workloads, a crash-looping pod,
# annotated apps), the annotated example apps on loopback, applies the
# examples with kubectl, runs k8smon against it and prints where to look.
# Ctrl-C stops everything.
set -u
cd "$(dirname "$0")/../.."
# K8SMON_DEMO_PORT / K8SMON_DEMO_STATE: another port / state directory (tests, a second demo)
STATE=${K8SMON_DEMO_STATE:-.demo}
case $STATE in /*) ;; *) STATE=$PWD/$STATE ;; esac
PORT=${K8SMON_DEMO_PORT:-9420}
rm -rf "$STATE"; mkdir -p "$STATE"
PIDS=""
K8SMON=""
cleanup() {
	trap - INT TERM EXIT
	echo
	echo "demo: stopping"
	# The agent first, while the API server is up: it releases its Lease.
	if [ -n "$K8SMON" ]; then kill "$K8SMON" 2>/dev/null; wait "$K8SMON" 2>/dev/null; fi
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	exit 0
}
trap cleanup INT TERM EXIT

LOAD=""
[ -d examples/cluster ] && LOAD="--load examples/cluster"
[ -d crds ] && LOAD="--load crds $LOAD"
# shellcheck disable=SC2086
python3 tests/fakeapi/fakeapi.py --port 0 --state-dir "$STATE/api" \
	--kubeconfig-out "$STATE/kubeconfig" $LOAD >"$STATE/fakeapi.out" 2>"$STATE/fakeapi.log" &
PIDS="$PIDS $!"
i=0
until grep -q '^READY' "$STATE/fakeapi.out" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 100 ] && { echo "demo: fake API server did not start"; cat "$STATE/fakeapi.log"; exit 1; }
	sleep 0.1
done
API=$(sed -n 's/^READY //p' "$STATE/fakeapi.out")
export KUBECONFIG="$STATE/kubeconfig"

for spec in 18081:shop-frontend 18082:shop-backend 18083:batch-exporter; do
	python3 tests/demo/demo_app.py "${spec%%:*}" "${spec#*:}" &
	PIDS="$PIDS $!"
done

for f in examples/k8smonitor.yaml examples/scraperule-*.yaml; do
	[ -f "$f" ] && kubectl apply -f "$f" >>"$STATE/kubectl.log" 2>&1
done

./bin/k8smon -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=demo-node-1 \
	-httpListenAddr=127.0.0.1:$PORT -leaderElection.namespace=default \
	>"$STATE/k8smon.log" 2>&1 &
K8SMON=$!
sleep 2
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
                    http://127.0.0.1:$PORT/config
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
