# The component jobs' test bed (POSIX sh; source after common.sh and fakeapi.sh):
# the fake API server, tests/fakecomp/fakecomp.py (recorded kubelet, apiserver,
# scheduler, controller-manager, kube-proxy, CoreDNS, etcd; TokenReview and
# SubjectAccessReview against the fake API server) and the agent with every
# component job pointed at it.
#
#   comp_start DIR [agent flags...]   sets U (agent base URL), FC_CTL (fakecomp control
#                                     URL), FC_JSON (its server.json), AGENT_PID,
#                                     FAKECOMP_PID (and fakeapi.sh's variables)
#   comp_stop                         stops the three (their pids only)
#   ($FAKECOMP_ARGS: extra fakecomp.py options, e.g. --fresh-timestamps)
#   fc_fault JSON                     POST JSON to fakecomp's /fault
#   fc_port COMPONENT                 the port fakecomp serves COMPONENT on
#   comp_scrape PATH                  curl the agent's PATH
#
# The cluster seen by the agent: node k8smon-node (InternalIP 127.0.0.1, a
# control-plane node, capacity 110 pods); a CoreDNS pod on it (k8s-app=kube-dns, pod
# IP 127.0.0.1); the default/kubernetes Service whose Endpoints and EndpointSlice
# point at fakecomp's kube-apiserver; PVC default/rec-data (the recorded kubelet's
# volume). The agent's component token ("tok-agent", in DIR/sa/token) belongs to
# system:serviceaccount:k8smon:k8smon, which the fake API server allows.
# fakecomp_start DIR NODE: the agent's component token (tok-agent, DIR/sa/token) known to
# the fake API server already running (fakeapi.sh's CONTROL, API_URL, KUBECONFIG), and
# fakecomp serving the recorded components for NODE with that server's CA. Sets
# FAKECOMP_PID, FC_CTL, FC_JSON. Shared with make demo.
fakecomp_start() {
	cdir=$1; fnode=$2
	mkdir -p "$cdir/sa"
	atok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$cdir/api/server.json")
	fake_ctl POST /auth '{"users": {"tok-agent": {"username": "system:serviceaccount:k8smon:k8smon",
	  "groups": ["system:serviceaccounts", "system:serviceaccounts:k8smon", "system:authenticated"]}},
	  "rules": [{"user": "system:serviceaccount:k8smon:k8smon", "allowed": true}],
	  "default_allowed": false}' >/dev/null || return 1
	printf tok-agent >"$cdir/sa/token"
	python3 tests/fakecomp/fakecomp.py ${FAKECOMP_ARGS:-} --state-dir "$cdir/fc" --fixtures "${FAKECOMP_FIXTURES:-tests/fakecomp/fixtures}" --node "$fnode" --ca-from "$cdir/api" --api-url "$API_URL" \
		--api-ca "$cdir/api/ca.crt" --api-token "$atok" >"$cdir/fakecomp.out" 2>"$cdir/fakecomp.log" &
	FAKECOMP_PID=$!
	wait_for 60 grep -q '^READY' "$cdir/fakecomp.out" || { echo "fakecomp did not start:"; cat "$cdir/fakecomp.log"; return 1; }
	FC_CTL=$(sed -n 's/^READY //p' "$cdir/fakecomp.out")
	FC_JSON=$cdir/fc/server.json
}
# fakecomp_apiserver_objects: the default/kubernetes Endpoints and EndpointSlice (JSON
# list items, comma-separated) pointing at fakecomp's kube-apiserver.
fakecomp_apiserver_objects() {
	apiport=$(fc_port kube-apiserver)
	cat <<EOF
 {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "kubernetes", "namespace": "default"},
  "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": $apiport, "protocol": "TCP"}]}]},
 {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "kubernetes", "namespace": "default",
   "labels": {"kubernetes.io/service-name": "kubernetes"}},
  "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}],
  "ports": [{"name": "https", "port": $apiport, "protocol": "TCP"}]}
EOF
}
# fakecomp_flags DIR: the agent flags (one per line, no spaces) that point every
# component job at fakecomp on loopback.
fakecomp_flags() {
	cdir=$1
	cat <<EOF
-components=kubelet,apiserver,kube-scheduler,kube-controller-manager,kube-proxy,coredns,etcd
-components.tokenFile=$cdir/sa/token
-components.caFile=$cdir/fc/ca.crt
-components.kubelet.address=127.0.0.1
-components.kubelet.port=$(fc_port kubelet)
-components.controlPlaneAddress=127.0.0.1
-components.kube-scheduler.port=$(fc_port kube-scheduler)
-components.kube-controller-manager.port=$(fc_port kube-controller-manager)
-components.kube-proxy.address=127.0.0.1
-components.kube-proxy.port=$(fc_port kube-proxy)
-components.coredns.port=$(fc_port coredns)
-components.etcd.port=$(fc_port etcd)
-components.etcd.certFile=$cdir/fc/etcd-client.crt
-components.etcd.keyFile=$cdir/fc/etcd-client.key
-components.etcd.caFile=$cdir/fc/ca.crt
EOF
}
comp_start() {
	cdir=$1; shift
	fakeapi_start "$cdir" --load crds || return 1
	fakecomp_start "$cdir" k8smon-node || return 1
	apiport=$(fc_port kube-apiserver)
	fake_ctl POST /objects "$(cat <<EOF
[
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "k8smon-node",
   "labels": {"kubernetes.io/hostname": "k8smon-node", "node-role.kubernetes.io/control-plane": ""}},
  "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": "k8smon-node"}],
   "capacity": {"pods": "110", "cpu": "2", "memory": "4Gi"}, "allocatable": {"pods": "110", "cpu": "2", "memory": "4Gi"},
   "conditions": [{"type": "Ready", "status": "True"}]}},
 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}},
 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "coredns-1", "namespace": "kube-system",
   "labels": {"k8s-app": "kube-dns"}},
  "spec": {"nodeName": "k8smon-node", "containers": [{"name": "coredns", "image": "coredns/coredns:1.15.0",
   "ports": [{"name": "metrics", "containerPort": 9153, "protocol": "TCP"}]}]},
  "status": {"phase": "Running", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}},
 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default",
   "labels": {"component": "apiserver", "provider": "kubernetes"}},
  "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": $apiport}]}},
$(fakecomp_apiserver_objects),
 {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "rec-data", "namespace": "default"},
  "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "rec-local", "volumeName": "rec-pv",
   "resources": {"requests": {"storage": "1Gi"}}},
  "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}}
]
EOF
)" >"$cdir/objects.out"
	grep -q '"loaded"' "$cdir/objects.out" || { echo "fake API server refused the objects:"; cat "$cdir/objects.out"; return 1; }
	port=$(free_port)
	U=http://127.0.0.1:$port
	# shellcheck disable=SC2046 # fakecomp_flags: one flag per line, no spaces
	"${K8SMON_BIN:-./bin/k8smon}" -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=k8smon-node \
		-httpListenAddr=127.0.0.1:$port -leaderElection.namespace=default -loggerLevel=DEBUG \
		$(fakecomp_flags "$cdir") \
		"$@" >"$cdir/k8smon.log" 2>&1 &
	AGENT_PID=$!
	wait_http "$U/healthz" || { echo "agent did not start:"; tail -20 "$cdir/k8smon.log"; return 1; }
}
comp_stop() {
	for p in ${AGENT_PID:-} ${FAKECOMP_PID:-} ${FAKEAPI_PID:-}; do kill "$p" 2>/dev/null; done
	AGENT_PID="" FAKECOMP_PID="" FAKEAPI_PID=""
}
fc_fault() { curl -sf -X POST "$FC_CTL/fault" -d "$1" >/dev/null; }
fc_port() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ports"][sys.argv[2]])' "$FC_JSON" "$1"; }
comp_scrape() { curl -s "$U$1"; }
