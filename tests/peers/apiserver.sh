#!/bin/sh
# Starts a real etcd + kube-apiserver (built by tests/peers/build.sh) on loopback
# free ports, in the foreground, until it gets SIGTERM/SIGINT; stops both on exit.
#
#   tests/peers/apiserver.sh DIR &
#   (wait for DIR/ready; then use DIR/admin.kubeconfig; kill the script's pid to stop)
#
# SIGHUP: the kube-apiserver crashes (SIGKILL) and starts again on the same port over
# the same etcd; DIR/restarts counts the restarts once each new server is ready.
#
# DIR receives: ca.crt/ca.key (cluster CA), apiserver.crt/.key (serving, SAN
# 127.0.0.1/localhost and 10.96.0.1, the `kubernetes` Service's cluster IP that
# pods of tests/peers/cluster.sh reach it by), admin.crt/.key (CN=k8smon-admin, O=system:masters),
# sa.key/sa.pub (service-account signing key), admin.kubeconfig, url, etcd_url
# (etcd's client URL: its v3 JSON gateway answers POST /v3/kv/compaction), etcd/
# (data), etcd.log, apiserver.log, audit-policy.yaml, audit.log, and finally `ready`
# (or `failed` with the reason).
#
# The server: --authorization-mode=Node,RBAC, client-certificate authentication
# against ca.crt, service-account tokens (issuer https://kubernetes.default.svc.cluster.local,
# signing key sa.key: TokenRequest / `kubectl create token` and TokenReview work),
# default admission plugins. Audit log (JSON lines, audit.k8s.io/v1 Event) at level
# Metadata for every service account's request (verb, objectRef, user, userAgent,
# response code, authorization decision), nothing for other users: the tests compare
# what the agent's account did with what its RBAC grants.
# APISERVER_ARGS and K8SMON_APISERVER_ARGS (optional, word-split): extra kube-apiserver
# flags, e.g. --watch-cache-sizes=pods#0 or an --admission-control-config-file. No
# controller-manager, scheduler or kubelet: nothing
# reconciles (no pods from Deployments, no default ServiceAccounts, no token
# Secrets filled in); tests create what they need.
set -u
DIR=${1:?usage: apiserver.sh DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
rm -f "$DIR/ready" "$DIR/failed"

die() { echo "$*" >"$DIR/failed"; echo "apiserver.sh: $*" >&2; exit 1; }

# KUBERNETES_BIN / ETCD_BIN from the caller (build.sh --env) or built here.
[ -n "${KUBERNETES_BIN:-}" ] && [ -n "${ETCD_BIN:-}" ] ||
	eval "$("$HERE/build.sh" --env kubernetes etcd)" || die "peers kubernetes/etcd not built (tests/peers/build.sh)"
[ -x "$KUBERNETES_BIN/kube-apiserver" ] && [ -x "$ETCD_BIN/etcd" ] || die "kube-apiserver or etcd missing"

. "$HERE/../lib/ports.sh"

EPID="" APID=""
# kube-apiserver first (its graceful shutdown wants etcd), then etcd; SIGKILL
# whatever is still there after 10 s.
halt() { # pid
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || return 0
	n=0
	while kill -0 "$1" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
stop() {
	trap - EXIT INT TERM
	halt "$APID"
	halt "$EPID"
	free_port_cleanup
	exit 0
}
trap stop EXIT INT TERM

# ---- certificates
cd "$DIR" || exit 1
ossl() { openssl "$@" >>"$DIR/openssl.log" 2>&1 || die "openssl $1 failed (see $DIR/openssl.log)"; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=k8smon-test-ca"
printf 'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >srv.ext
ossl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver"
ossl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 2 -extfile srv.ext
printf 'extendedKeyUsage=clientAuth\n' >cli.ext
ossl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=k8smon-admin"
ossl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 2 -extfile cli.ext
ossl genrsa -out sa.key 2048
ossl rsa -in sa.key -pubout -out sa.pub

# A port from free_port is free when handed out, not when the server binds it: another
# process (other tests, benchmarks on the same machine) may take it in between. A
# server that exits on "address already in use" is started again on new ports (3 tries).
# The probes have a timeout: the process that took the port may never answer.
port_taken() { # LOG: the server exited because its port was taken
	grep -q 'address already in use' "$1" 2>/dev/null
}

# ---- etcd
start_etcd() {
	EPORT=$(free_port); PPORT=$(free_port)
	rm -rf "$DIR/etcd"
	"$ETCD_BIN/etcd" --name k8smon-test --data-dir "$DIR/etcd" \
		--listen-client-urls "http://127.0.0.1:$EPORT" --advertise-client-urls "http://127.0.0.1:$EPORT" \
		--listen-peer-urls "http://127.0.0.1:$PPORT" --initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
		--initial-cluster "k8smon-test=http://127.0.0.1:$PPORT" --unsafe-no-fsync \
		--listen-metrics-urls "" >"$DIR/etcd.log" 2>&1 &
	EPID=$!
}
try=1
start_etcd
i=0
until curl -sf --max-time 5 "http://127.0.0.1:$EPORT/health" >/dev/null 2>&1; do
	if ! kill -0 "$EPID" 2>/dev/null; then
		wait "$EPID" 2>/dev/null
		if [ $try -lt 3 ] && port_taken "$DIR/etcd.log"; then
			echo "apiserver.sh: etcd's port $EPORT or $PPORT was taken meanwhile: new ports" >&2
			mv "$DIR/etcd.log" "$DIR/etcd.log.$try"
			try=$((try + 1)); i=0
			start_etcd
			continue
		fi
		die "etcd exited: $(tail -3 "$DIR/etcd.log")"
	fi
	i=$((i + 1)); [ $i -gt 600 ] && die "etcd not healthy after 60 s"
	sleep 0.1
done
echo "http://127.0.0.1:$EPORT" >"$DIR/etcd_url"

# ---- kube-apiserver
APORT=$(free_port)
cat >"$DIR/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  userGroups: ["system:serviceaccounts"]
- level: None
EOF
start_apiserver() {
	"$KUBERNETES_BIN/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$EPORT" \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APORT" \
		--tls-cert-file="$DIR/apiserver.crt" --tls-private-key-file="$DIR/apiserver.key" \
		--client-ca-file="$DIR/ca.crt" \
		--authorization-mode=Node,RBAC \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$DIR/sa.pub" --service-account-signing-key-file="$DIR/sa.key" \
		--service-cluster-ip-range=10.96.0.0/16 \
		--allow-privileged=true \
		--cert-dir="$DIR/certs" \
		--profiling=false \
		--audit-policy-file="$DIR/audit-policy.yaml" --audit-log-path="$DIR/audit.log" \
		--audit-log-format=json \
		${APISERVER_ARGS:-} ${K8SMON_APISERVER_ARGS:-} \
		--v=1 >>"$DIR/apiserver.log" 2>&1 &
	APID=$!
}
# url and admin.kubeconfig for APORT
write_url() {
	URL="https://127.0.0.1:$APORT"
	echo "$URL" >"$DIR/url"
	cat >"$DIR/admin.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: real
  cluster:
    server: $URL
    certificate-authority: $DIR/ca.crt
users:
- name: admin
  user:
    client-certificate: $DIR/admin.crt
    client-key: $DIR/admin.key
contexts:
- name: admin
  context: {cluster: real, user: admin}
current-context: admin
EOF
}
# Ready = /readyz answers 200 (etcd reachable, post-start hooks done: bootstrap
# RBAC roles, the default namespaces, the priority-and-fairness configuration).
# wait_ready first: the first start, which moves to a new port if its port was taken
# (a restart after SIGHUP keeps its port: the clients hold the URL).
wait_ready() {
	i=0 try=1
	until [ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' --cacert ca.crt --cert admin.crt --key admin.key "$URL/readyz")" = 200 ]; do
		if ! kill -0 "$APID" 2>/dev/null; then
			wait "$APID" 2>/dev/null
			if [ "${1:-}" = first ] && [ $try -lt 3 ] && port_taken "$DIR/apiserver.log"; then
				echo "apiserver.sh: kube-apiserver's port $APORT was taken meanwhile: a new port" >&2
				mv "$DIR/apiserver.log" "$DIR/apiserver.log.$try"
				try=$((try + 1)); i=0
				APORT=$(free_port)
				write_url
				start_apiserver
				continue
			fi
			die "kube-apiserver exited: $(tail -5 "$DIR/apiserver.log")"
		fi
		i=$((i + 1)); [ $i -gt 1200 ] && die "kube-apiserver not ready after 120 s: $(tail -5 "$DIR/apiserver.log")"
		sleep 0.1
	done
}
write_url
start_apiserver
wait_ready first
echo "$URL" >"$DIR/ready"
echo "apiserver.sh: ready at $URL (kubeconfig $DIR/admin.kubeconfig)" >&2
RESTART=0 RESTARTS=0
trap 'RESTART=1' HUP
while :; do
	if [ "$RESTART" = 1 ]; then
		RESTART=0
		kill -9 "$APID" 2>/dev/null; wait "$APID" 2>/dev/null
		start_apiserver
		wait_ready
		RESTARTS=$((RESTARTS + 1)); echo "$RESTARTS" >"$DIR/restarts"
		echo "apiserver.sh: restarted ($RESTARTS) at $URL" >&2
	fi
	kill -0 "$APID" 2>/dev/null || { echo "kube-apiserver exited" >"$DIR/failed"; break; }
	kill -0 "$EPID" 2>/dev/null || { echo "etcd exited" >"$DIR/failed"; break; }
	sleep 1 & wait $!
done
stop
