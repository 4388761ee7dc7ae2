#!/bin/sh
# Installs the Debian packages that building, testing and the demo need, when missing.
# Idempotent: does nothing when everything is present. Needs root (or sudo) to install.
set -eu
# libyaml-dev, libjansson-dev and zlib1g-dev also ship the static archives (.a)
# that the Makefile links (PKGS_STATIC_*); -z pack-relative-relocs needs
# binutils >= 2.38 and glibc >= 2.36 (Debian 12).
# `deps.sh --build`: only what building bin/k8smon and the image needs (the
# Dockerfile's build stage; ca-certificates is the bundle image/rootfs.sh copies).
BUILD_PKGS="gcc make pkg-config libcurl4-openssl-dev libgnutls28-dev libyaml-dev libjansson-dev
libmicrohttpd-dev libcmocka-dev zlib1g-dev libpcre2-dev libsnappy-dev libzstd-dev python3 ca-certificates"
# libsnappy-dev: snappy-c.h for remote write (libsnappy1v5 is dlopen()ed, src/dl/snappy.h);
# libzstd-dev: zstd.h for the VictoriaMetrics protocol (libzstd1 dlopen()ed, src/dl/zstd.h).
# protobuf-compiler: tests/unit/test_remotewrite.c checks the WriteRequest
# encoder against `protoc --decode_raw`; python3-snappy: tests/lib/rw_receiver.py
# decodes pushed bodies independently of libsnappy's C++ API (python3-zstandard: of libzstd).
# tzdata: CronJob spec.timeZone (kube_cronjob_next_schedule_time) is read from /usr/share/zoneinfo.
# skopeo: tests/integration/test_image.sh reads the image archive with it (and
# the README pushes the image with it). containerd, runc, the CNI plugins and
# iptables: the real-kubelet cluster (tests/peers/cluster.sh). iproute2: network
# namespaces for test_e2e_prometheus.sh and the container network tests.
# dbus (dbus-daemon), python3-dbus and python3-gi: test_node_systemd.sh runs a
# fake systemd manager (tests/systemd/fake_systemd.py) on a private bus.
PKGS="$BUILD_PKGS openssl curl tzdata
prometheus-node-exporter prometheus lua5.1 victoria-metrics python3-yaml util-linux skopeo
protobuf-compiler python3-snappy python3-zstandard containerd runc containernetworking-plugins iptables iproute2
dbus python3-dbus python3-gi"
BUILD_ONLY=0
[ "${1:-}" = "--build" ] && BUILD_ONLY=1 && PKGS=$BUILD_PKGS
[ -n "${K8SMON_EXTRA_PKGS:-}" ] && PKGS="$PKGS $K8SMON_EXTRA_PKGS"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# kubectl (the demo and the kubectl tests): the upstream binary when present,
# else Debian's kubernetes-client (1.20: no `patch --subresource`, which
# test_kubectl.sh skips on clients that lack it).
[ $BUILD_ONLY = 1 ] || command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"
# The real-server tier (tests/peers/build.sh) builds kube-apiserver, etcd and helm
# from the Go module proxy with Go >= 1.26 (k8s.io/kubernetes v1.36 says go 1.26.0).
# Debian 12's golang-go is 1.19 (too old, and without GOTOOLCHAIN), so it is not
# installed here: see README "Real peers" for getting Go. No Go = that tier fails.
if [ $BUILD_ONLY = 0 ] && [ ! -x /usr/local/go/bin/go ] && ! command -v go >/dev/null 2>&1; then
	echo "deps: WARNING: no Go toolchain (/usr/local/go/bin/go); tests/integration/test_real_apiserver.sh will fail (README: Real peers)" >&2
fi
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
# The Debian packages start their services; the tests run their own instances.
for svc in prometheus prometheus-node-exporter victoria-metrics; do
	$SUDO systemctl stop "$svc" 2>/dev/null || true
done
# containerd too, when it was installed just now (one already in use stays up):
# tests/peers/cluster.sh runs its own, with its own socket and state.
case " $missing " in *" containerd "*) $SUDO systemctl stop containerd 2>/dev/null || true ;; esac
