#!/bin/sh
# A real single-node Kubernetes cluster on this machine, in the foreground
# until SIGTERM/SIGINT, then torn down (containers, mounts, cgroups, bridge,
# iptables rule):
#
#   tests/peers/cluster.sh DIR &
#   (wait for DIR/ready; then DIR/api/admin.kubeconfig; kill the script's pid to stop)
#
# Pieces: etcd + kube-apiserver (tests/peers/apiserver.sh, in DIR/api),
# kube-controller-manager, kube-scheduler and a kubelet (peer kubernetes-node,
# tests/peers/build.sh) with Debian's containerd + runc (cgroupfs driver) and
# CNI plugins (bridge k8smon0 + host-local 10.244.0.0/24 + loopback). Needs
# root and `apt-get install containerd runc containernetworking-plugins
# iptables` (.ci/deps.sh installs them).
#
# No registry: the sandbox image k8smon.local/pause:1 is tests/peers/pause.c
# built static; DIR/images/*.tar present when the script starts are imported
# too (ctr -n k8s.io images import), so a caller adds its own images there.
# Pods use imagePullPolicy: Never (or IfNotPresent) for them.
#
# The `kubernetes` Service (10.96.0.1:443) is reached as kube-proxy would make
# it reachable for hostNetwork pods: one iptables nat OUTPUT DNAT rule to the
# apiserver's loopback port (no kube-proxy, no cluster DNS).
#
# K8SMON_CLUSTER_RUNC: another runc binary (e.g. a wrapper adding --debug --log).
# Node name: k8smon-node. Files: DIR/{containerd,kcm,scheduler,kubelet}.log,
# DIR/ready (or DIR/failed with the reason).
set -u
DIR=${1:?usage: cluster.sh DIR}
# runc, iptables, ip and ldconfig live in sbin, which a CI PATH may leave out
PATH=$PATH:/usr/sbin:/sbin
HERE=$(cd "$(dirname "$0")" && pwd)
# A mount namespace of its own: a pod's mountPropagation: HostToContainer (the
# chart's /host/root) needs / to be a shared mount, which it is under systemd
# but not on every CI machine (containerd: 'path "/" is mounted on "/" but it
# is not a shared or slave mount'). Making / rshared only in here leaves the
# host as it is, and the pods' mounts and netns files go with the namespace.
if [ "${K8SMON_CLUSTER_MNTNS:-}" != "$$" ]; then
	K8SMON_CLUSTER_MNTNS=$$ exec unshare --mount --propagation private sh "$0" "$@"
fi
mount --make-rshared / || { echo "cluster.sh: mount --make-rshared / failed" >&2; exit 1; }
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
rm -f "$DIR/ready" "$DIR/failed"
NODE=k8smon-node
SVCIP=10.96.0.1
BRIDGE=k8smon0
CG=/sys/fs/cgroup

die() { echo "$*" >"$DIR/failed"; echo "cluster.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (containerd, runc, cgroups, CNI)"
# One cluster per machine at a time: the node's cgroups (/kubepods), the bridge,
# the subnet and the Service IP rule are host-wide. A second run waits. The
# lock's fd is closed in every daemon started below (8>&-), so that no
# containerd shim outliving a run holds it.
mkdir -p /run/lock
exec 8>/run/lock/k8smon-cluster.lock
flock -w 900 8 || die "another tests/peers/cluster.sh held /run/lock/k8smon-cluster.lock for 900 s"
for c in containerd ctr runc iptables ip; do
	command -v $c >/dev/null 2>&1 || die "$c missing: apt-get install containerd runc containernetworking-plugins iptables"
done
for p in bridge host-local loopback; do
	[ -x /usr/lib/cni/$p ] || die "/usr/lib/cni/$p missing: apt-get install containernetworking-plugins"
done
[ -n "${KUBERNETES_NODE_BIN:-}" ] || eval "$("$HERE/build.sh" --env kubernetes-node)" ||
	die "peer kubernetes-node not built (tests/peers/build.sh kubernetes-node)"
[ -n "${KUBERNETES_BIN:-}" ] || eval "$("$HERE/build.sh" --env kubernetes)" ||
	die "peer kubernetes not built (tests/peers/build.sh kubernetes)"
for b in kubelet kube-controller-manager kube-scheduler; do
	[ -x "$KUBERNETES_NODE_BIN/$b" ] || die "$KUBERNETES_NODE_BIN/$b missing"
done
export KUBERNETES_BIN KUBERNETES_NODE_BIN

APIPID="" CTDPID="" KCMPID="" SCHPID="" KLPID="" NATRULE=""
CTD_SOCK="$DIR/containerd/containerd.sock"

halt() { # pid
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || return 0
	n=0
	while kill -0 "$1" 2>/dev/null && [ $n -lt 150 ]; do sleep 0.1; n=$((n + 1)); done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
ctr_() { ctr --address "$CTD_SOCK" -n k8s.io "$@"; }
# Every container containerd still runs is killed and deleted (the kubelet is
# stopped first, so nothing restarts them); then containerd itself, then what
# is left mounted under DIR (rootfs overlays, shm, pod volumes), the pods'
# network namespaces, the kubepods cgroups of every v1 controller (or v2),
# the bridge and the DNAT rule.
teardown() {
	halt "$KLPID"
	if [ -n "$CTDPID" ] && kill -0 "$CTDPID" 2>/dev/null; then
		for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
		n=0
		while [ -n "$(ctr_ tasks ls 2>/dev/null | awk 'NR > 1 && $3 != "STOPPED"')" ] && [ $n -lt 100 ]; do
			sleep 0.1; n=$((n + 1))
		done
		for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks rm -f "$t" >/dev/null 2>&1; done
		for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers rm "$c" >/dev/null 2>&1; done
	fi
	halt "$SCHPID"
	halt "$KCMPID"
	halt "$CTDPID"
	halt "$APIPID"
	awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	for ns in /run/netns/cni-*; do # those that were not there before containerd
		[ -e "$ns" ] || continue
		grep -qxF "$ns" "$DIR/netns-before" 2>/dev/null && continue
		umount "$ns" 2>/dev/null; rm -f "$ns"
	done
	if [ -f "$CG/cgroup.controllers" ]; then
		roots="$CG"
	else
		roots=$(ls -d "$CG"/*/ 2>/dev/null)
	fi
	for r in $roots; do
		[ -d "$r/kubepods" ] && find "$r/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	ip link del "$BRIDGE" 2>/dev/null
	# shellcheck disable=SC2086
	[ -n "$NATRULE" ] && iptables -t nat -D OUTPUT $NATRULE 2>/dev/null
	return 0
}
stop() {
	trap - EXIT INT TERM
	teardown
	free_port_cleanup
	[ -f "$DIR/failed" ] && exit 1
	exit 0
}
trap stop EXIT INT TERM

# A failed start leaves DIR/failed; the EXIT trap tears down what started.
wait_for() { # seconds description command...
	secs=$1 what=$2; shift 2
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt $((secs * 5)) ] && die "$what not after $secs s"
		sleep 0.2
	done
}
alive() { # pid name log
	kill -0 "$1" 2>/dev/null || die "$2 exited: $(tail -5 "$3")"
}

# ---- apiserver (etcd + kube-apiserver on loopback)
"$HERE/apiserver.sh" "$DIR/api" 2>"$DIR/apiserver-sh.log" 8>&- &
APIPID=$!
i=0
until [ -f "$DIR/api/ready" ]; do
	[ -f "$DIR/api/failed" ] && die "apiserver.sh: $(cat "$DIR/api/failed")"
	kill -0 "$APIPID" 2>/dev/null || die "apiserver.sh exited: $(tail -3 "$DIR/apiserver-sh.log")"
	i=$((i + 1)); [ $i -gt 900 ] && die "apiserver not ready after 180 s"
	sleep 0.2
done
API=$(cat "$DIR/api/url")
APORT=${API##*:}
KC="$DIR/api/admin.kubeconfig"
KUBECTL="$KUBERNETES_BIN/kubectl --kubeconfig $KC"
NATRULE="-d $SVCIP/32 -p tcp --dport 443 -m comment --comment k8smon-cluster:$DIR -j DNAT --to-destination 127.0.0.1:$APORT"
# shellcheck disable=SC2086
iptables -t nat -A OUTPUT $NATRULE || die "iptables DNAT $SVCIP:443 -> 127.0.0.1:$APORT failed"

# ---- certificates: the kubelet's client identity (Node authorizer)
cd "$DIR" || exit 1
ossl() { openssl "$@" >>"$DIR/openssl.log" 2>&1 || die "openssl $1 failed (see $DIR/openssl.log)"; }
printf 'extendedKeyUsage=clientAuth\n' >cli.ext
ossl req -newkey rsa:2048 -nodes -keyout kubelet.key -out kubelet.csr -subj "/O=system:nodes/CN=system:node:$NODE"
ossl x509 -req -in kubelet.csr -CA api/ca.crt -CAkey api/ca.key -CAcreateserial -out kubelet.crt -days 2 -extfile cli.ext
cat >kubelet.kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters:
- name: real
  cluster: {server: "$API", certificate-authority: "$DIR/api/ca.crt"}
users:
- name: kubelet
  user: {client-certificate: "$DIR/kubelet.crt", client-key: "$DIR/kubelet.key"}
contexts:
- name: kubelet
  context: {cluster: real, user: kubelet}
current-context: kubelet
EOF

# ---- controller-manager and scheduler (admin identity; no serving port unless
# K8SMON_CLUSTER_SERVE=1: then each serves /metrics on a free loopback port,
# written to DIR/kcm.port and DIR/scheduler.port, with the delegated TokenReview /
# SubjectAccessReview of a real control plane; tests/fakecomp/record.sh uses it)
KCM_SERVE="--secure-port=0" SCH_SERVE="--secure-port=0"
if [ "${K8SMON_CLUSTER_SERVE:-0}" = 1 ]; then
	for c in kcm scheduler; do
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' >"$DIR/$c.port"
		mkdir -p "$DIR/$c-certs"
	done
	KCM_SERVE="--secure-port=$(cat "$DIR/kcm.port") --bind-address=127.0.0.1 --cert-dir=$DIR/kcm-certs --authentication-kubeconfig=$KC --authorization-kubeconfig=$KC"
	SCH_SERVE="--secure-port=$(cat "$DIR/scheduler.port") --bind-address=127.0.0.1 --cert-dir=$DIR/scheduler-certs --authentication-kubeconfig=$KC --authorization-kubeconfig=$KC"
fi
# shellcheck disable=SC2086
"$KUBERNETES_NODE_BIN/kube-controller-manager" --kubeconfig="$KC" \
	--service-account-private-key-file="$DIR/api/sa.key" --root-ca-file="$DIR/api/ca.crt" \
	--leader-elect=false $KCM_SERVE --controllers='*' --v=1 >"$DIR/kcm.log" 2>&1 8>&- &
KCMPID=$!
# shellcheck disable=SC2086
"$KUBERNETES_NODE_BIN/kube-scheduler" --kubeconfig="$KC" --leader-elect=false \
	$SCH_SERVE --v=1 >"$DIR/scheduler.log" 2>&1 8>&- &
SCHPID=$!

# ---- containerd (its own root, state and socket under DIR)
mkdir -p "$DIR/containerd" "$DIR/cni/net.d" "$DIR/images"
cat >"$DIR/containerd/config.toml" <<EOF
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
[grpc]
  address = "$CTD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "k8smon.local/pause:1"
  # The kubelet asks for oom_score_adj -998 (sandboxes) / -997 (critical pods);
  # a negative value needs CAP_SYS_RESOURCE, which a sandboxed CI machine may
  # not have in its bounding set (runc: "failed to update
  # /proc/self/oom_score_adj: Permission denied"). Clamp to containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "${K8SMON_CLUSTER_RUNC:-runc}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni/net.d"
EOF
cat >"$DIR/cni/net.d/10-k8smon.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "k8smon-test",
  "plugins": [{
    "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {"type": "host-local", "dataDir": "$DIR/cni/ipam",
             "ranges": [[{"subnet": "10.244.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}
  }]
}
EOF
ls -d /run/netns/cni-* >"$DIR/netns-before" 2>/dev/null
containerd --config "$DIR/containerd/config.toml" >"$DIR/containerd.log" 2>&1 8>&- &
CTDPID=$!
wait_for 30 "containerd socket" ctr --address "$CTD_SOCK" version
alive "$CTDPID" containerd "$DIR/containerd.log"

# ---- images: the pause binary, then whatever the caller put in DIR/images
gcc -static -Os -s -Wall -Wextra -Werror -o "$DIR/pause" "$HERE/pause.c" >>"$DIR/images.log" 2>&1 ||
	die "pause.c does not build static (libc6-dev): $(tail -3 "$DIR/images.log")"
python3 "$HERE/mkimage.py" "$DIR/images/pause.tar" k8smon.local/pause:1 --entrypoint /pause "$DIR/pause=/pause" ||
	die "mkimage pause failed"
for t in "$DIR"/images/*.tar; do
	ctr_ images import "$t" >>"$DIR/images.log" 2>&1 || die "ctr images import $t: $(tail -3 "$DIR/images.log")"
done

# ---- kubelet (cgroupfs; cgroup v1 allowed: CI machines may still be v1/hybrid)
. "$HERE/../lib/ports.sh"
NODEIP=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
[ -n "$NODEIP" ] || NODEIP=127.0.0.1
mkdir -p "$DIR/kubelet" "$DIR/pod-logs"
cat >"$DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$CTD_SOCK
podLogsDir: $DIR/pod-logs
port: $(free_port)
readOnlyPort: 0
healthzPort: 0
address: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$DIR/api/ca.crt"}
authorization: {mode: Webhook}
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
resolvConf: /etc/resolv.conf
EOF
"$KUBERNETES_NODE_BIN/kubelet" --config="$DIR/kubelet/config.yaml" --kubeconfig="$DIR/kubelet.kubeconfig" \
	--root-dir="$DIR/kubelet" --hostname-override="$NODE" --node-ip="$NODEIP" \
	--containerd="$CTD_SOCK" \
	--v=1 >"$DIR/kubelet.log" 2>&1 8>&- &
KLPID=$!

# Ready = the node reports Ready (runtime and CNI up) and the default
# ServiceAccount exists (the controller-manager runs): pods can be created.
node_ready() {
	alive "$KLPID" kubelet "$DIR/kubelet.log"
	alive "$KCMPID" kube-controller-manager "$DIR/kcm.log"
	alive "$SCHPID" kube-scheduler "$DIR/scheduler.log"
	[ "$($KUBECTL get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] &&
		$KUBECTL get serviceaccount default >/dev/null 2>&1
}
i=0
until node_ready; do
	i=$((i + 1)); [ $i -gt 300 ] && die "node $NODE not Ready after 300 s: $(tail -3 "$DIR/kubelet.log")"
	sleep 1
done
echo "$API" >"$DIR/ready"
echo "cluster.sh: node $NODE Ready (kubeconfig $KC)" >&2
while :; do
	for p in "$APIPID:apiserver" "$CTDPID:containerd" "$KCMPID:kube-controller-manager" "$SCHPID:kube-scheduler" "$KLPID:kubelet"; do
		kill -0 "${p%%:*}" 2>/dev/null || { echo "${p#*:} exited" >"$DIR/failed"; stop; }
	done
	sleep 1 & wait $!
done
