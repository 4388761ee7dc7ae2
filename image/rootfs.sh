#!/bin/sh
# Assembles the root filesystem of the k8smon container image in DESTDIR:
#   image/rootfs.sh BIN DESTDIR
# The one list of what the image holds: `make image` (image/build.sh) packs
# DESTDIR into an OCI archive and the Dockerfile copies it into a scratch
# image, so both images have the same files.
#   /usr/bin/k8smon         BIN, without debug sections
#   the dynamic loader and exactly the shared libraries the agent loads: the
#     ones BIN is linked against and, in Kubernetes mode, libcurl (dlopen()ed
#     by src/dl/curl.c under the SONAME of src/dl/curl.h) with everything it
#     is linked against, and, with -remoteWrite.url, libsnappy (dlopen()ed by
#     src/dl/snappy.c under DL_SNAPPY_SONAME) with libstdc++ and the rest it
#     is linked against, and libzstd (src/dl/zstd.c), and, with -tls, bearer
#     tokens or hashmod, libgnutls (src/dl/gnutls.c, DL_GNUTLS_SONAME) with
#     everything it is linked against; each at the path ldd resolves it to, so the loader
#     finds it in its default directories without an ld.so.cache
#   /etc/ssl/certs/ca-certificates.crt  (libcurl's default CA bundle on Debian)
#   /etc/passwd, /etc/group (root and nobody/nogroup 65534), /etc/nsswitch.conf
#   empty /proc, /sys, /dev (the runtime mounts them) and /tmp
# Prints the files it copied (DESTDIR-relative), sorted.
set -eu
[ $# -eq 2 ] || { echo "usage: image/rootfs.sh BIN DESTDIR" >&2; exit 2; }
BIN=$1
DEST=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CA=/etc/ssl/certs/ca-certificates.crt
[ -x "$BIN" ] || { echo "rootfs: $BIN: no such executable (make bin/k8smon)" >&2; exit 1; }
[ -r "$CA" ] || { echo "rootfs: $CA missing (apt-get install ca-certificates)" >&2; exit 1; }
# dlopened HEADER MACRO PACKAGE: the path ldconfig gives the SONAME that
# MACRO (in src/dl/HEADER) names, the host's architecture first.
dlopened() {
	so=$(sed -n "s/^#define $2 \"\(.*\)\"\$/\1/p" "$ROOT/src/dl/$1")
	[ -n "$so" ] || { echo "rootfs: $2 not found in src/dl/$1" >&2; return 1; }
	path=$(ldconfig -p | awk -v s="$so" '$1 == s && /x86-64|x86_64|aarch64|AArch64/ { print $NF; exit }')
	[ -n "$path" ] || path=$(ldconfig -p | awk -v s="$so" '$1 == s { print $NF; exit }')
	[ -n "$path" ] || { echo "rootfs: $so not found by ldconfig -p (apt-get install $3)" >&2; return 1; }
	echo "$path"
}
CURL=$(dlopened curl.h DL_CURL_SONAME libcurl4)
SNAPPY=$(dlopened snappy.h DL_SNAPPY_SONAME libsnappy1v5)
# libzstd (VictoriaMetrics' remote-write protocol, src/dl/zstd.c) is also one
# of libcurl's own libraries on Debian; named here so that the image does not
# depend on that.
ZSTD=$(dlopened zstd.h DL_ZSTD_SONAME libzstd1)
GNUTLS=$(dlopened gnutls.h DL_GNUTLS_SONAME libgnutls30)

# libs FILE: the absolute paths ldd resolves FILE's libraries (and the loader)
# to; fails on a library ldd cannot find.
libs() {
	out=$(ldd "$1") || { echo "rootfs: ldd $1 failed" >&2; return 1; }
	if echo "$out" | grep -q 'not found'; then
		echo "rootfs: $1: $(echo "$out" | grep 'not found')" >&2
		return 1
	fi
	echo "$out" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}
# (Separate assignments: a failing `libs` stops the script, in a pipeline it would not.)
BIN_LIBS=$(libs "$BIN")
CURL_LIBS=$(libs "$CURL")
SNAPPY_LIBS=$(libs "$SNAPPY")
GNUTLS_LIBS=$(libs "$GNUTLS")
LIBS=$(printf '%s\n' $BIN_LIBS "$CURL" $CURL_LIBS "$SNAPPY" "$ZSTD" $SNAPPY_LIBS "$GNUTLS" $GNUTLS_LIBS | sort -u)

rm -rf "$DEST"
mkdir -p "$DEST/usr/bin" "$DEST/etc/ssl/certs" "$DEST/proc" "$DEST/sys" "$DEST/dev" "$DEST/tmp"
strip --strip-debug -o "$DEST/usr/bin/k8smon" "$BIN"
for l in $LIBS; do
	mkdir -p "$DEST$(dirname "$l")"
	# The file itself, not the symlink chain: one name per library, the one
	# the loader looks for.
	cp -L "$l" "$DEST$l"
done
cp -L "$CA" "$DEST$CA"
cat >"$DEST/etc/passwd" <<'PW'
root:x:0:0:root:/root:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PW
cat >"$DEST/etc/group" <<'GR'
root:x:0:
nogroup:x:65534:
GR
# Without it glibc tries DNS before /etc/hosts for host names.
cat >"$DEST/etc/nsswitch.conf" <<'NS'
passwd: files
group: files
hosts: files dns
NS
# Modes do not depend on the umask (the Dockerfile copies them as they are;
# image/oci.py packs them as they are, owned by root).
find "$DEST" -type d -exec chmod 0755 {} +
chmod 1777 "$DEST/tmp"
find "$DEST" -type f -perm /111 -exec chmod 0755 {} +
find "$DEST" -type f ! -perm /111 -exec chmod 0644 {} +
(cd "$DEST" && find . -type f | sed 's|^\./|/|' | sort)
