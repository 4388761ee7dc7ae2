#!/bin/sh
# Builds the k8smon container image without a container engine:
#   image/build.sh BIN OUT.tar
# OUT.tar is an OCI image archive (push it with `skopeo copy
# oci-archive:OUT.tar docker://REGISTRY/k8smon:TAG`); the root filesystem is
# assembled by image/rootfs.sh (the Dockerfile copies the same one) in
# OUT.tar's directory, then packed by image/oci.py. The version label and the
# archive's ref name are what `BIN -version` prints.
set -eu
[ $# -eq 2 ] || { echo "usage: image/build.sh BIN OUT.tar" >&2; exit 2; }
DIR=$(dirname "$0")
BIN=$1
OUT=$2
ROOTFS=${OUT%.tar}-rootfs
VERSION=$("$BIN" -version | awk '{ print $2 }')
[ -n "$VERSION" ] || { echo "image: $BIN -version printed no version" >&2; exit 1; }
sh "$DIR/rootfs.sh" "$BIN" "$ROOTFS" >/dev/null
python3 "$DIR/oci.py" "$ROOTFS" "$OUT" --version "$VERSION"
