#!/bin/sh
# The container image (make image: image/build.sh) as a runtime would see it:
#   - the build is reproducible (two builds, same bytes);
#   - the OCI archive is well formed: oci-layout, index.json -> manifest ->
#     config and layer, each blob's sha256 and size equal to what refers to
#     it, the config's diff_id the sha256 of the uncompressed layer, media
#     types of the image spec; the config runs /usr/bin/k8smon as 65534:65534,
#     the USER and ENTRYPOINT of the Dockerfile, whose build stage runs the
#     same image/rootfs.sh and whose final stage copies only its output;
#     skopeo (the README's push tool) reads and copies it;
#   - the unpacked root filesystem holds the binary, the loader, the CA
#     bundle, passwd/group entries for 65534 and a world-writable /tmp;
#   - inside it (chroot, private mount namespace with /proc, /sys and /dev
#     bound as a runtime mounts them), as uid/gid 65534 with no groups, no
#     capabilities (bounding set included) and no_new_privs:
#     `k8smon -version` prints the host binary's version, host mode serves
#     node_ families on /metrics and /metrics/node, and Kubernetes mode (the
#     dlopen()ed libcurl and OpenSSL) syncs with the fake API server over TLS,
#     verified with the image's CA bundle, and serves kube_pod_info; with a
#     -remoteWrite.url (the dlopen()ed libsnappy) every shared library in the image is mapped
#     by that process or by host mode with -tls (the dlopen()ed GnuTLS), which
#     serves HTTPS (the image holds exactly what the agent loads).
# Needs root (chroot, mount); anything missing fails, nothing is skipped.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
PID=""
FAKEAPI_PID=""
trap 'kill $PID $FAKEAPI_PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$TMP"' EXIT
stop() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=""; }

[ "$(id -u)" -eq 0 ] || { fail "needs root (chroot and bind mounts)"; finish; }
for t in skopeo unshare setpriv python3 curl; do
	command -v $t >/dev/null 2>&1 || { fail "$t missing (.ci/deps.sh installs it)"; finish; }
done

# --- build, twice --------------------------------------------------------------
sh image/build.sh "$BIN" "$TMP/a/k8smon-image.tar" >"$TMP/build.out" 2>&1 ||
	{ fail "image/build.sh failed"; cat "$TMP/build.out"; finish; }
ok "image/build.sh: $(cat "$TMP/build.out")"
sh image/build.sh "$BIN" "$TMP/b/k8smon-image.tar" >/dev/null 2>&1
check "reproducible: a second build gives the same bytes" cmp "$TMP/a/k8smon-image.tar" "$TMP/b/k8smon-image.tar"
ARCHIVE=$TMP/a/k8smon-image.tar

# --- the OCI layout --------------------------------------------------------------
mkdir "$TMP/oci" && tar -xf "$ARCHIVE" -C "$TMP/oci" || { fail "archive does not unpack with tar"; finish; }
# Checked here, independently of image/oci.py. Prints the layer blob's path.
LAYER=$(python3 - "$TMP/oci" Dockerfile <<'EOF'
import gzip, hashlib, json, os, platform, re, sys
oci, dockerfile = sys.argv[1], sys.argv[2]
def blob(desc, mt):
    assert desc["mediaType"] == mt, "mediaType %s, want %s" % (desc["mediaType"], mt)
    algo, hexd = desc["digest"].split(":", 1)
    assert algo == "sha256" and re.fullmatch("[0-9a-f]{64}", hexd), desc["digest"]
    path = os.path.join(oci, "blobs", "sha256", hexd)
    data = open(path, "rb").read()
    assert hashlib.sha256(data).hexdigest() == hexd, "digest of %s" % path
    assert len(data) == desc["size"], "size of %s: %d, descriptor %d" % (path, len(data), desc["size"])
    return path, data
assert json.load(open(os.path.join(oci, "oci-layout"))) == {"imageLayoutVersion": "1.0.0"}
idx = json.load(open(os.path.join(oci, "index.json")))
assert idx["schemaVersion"] == 2 and len(idx["manifests"]) == 1, idx
_, mdata = blob(idx["manifests"][0], "application/vnd.oci.image.manifest.v1+json")
m = json.loads(mdata)
assert m["schemaVersion"] == 2 and len(m["layers"]) == 1, m
_, cdata = blob(m["config"], "application/vnd.oci.image.config.v1+json")
lpath, ldata = blob(m["layers"][0], "application/vnd.oci.image.layer.v1.tar+gzip")
c = json.loads(cdata)
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
assert c["os"] == "linux" and c["architecture"] == arch, (c["os"], c["architecture"])
assert c["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(gzip.decompress(ldata)).hexdigest()]}, "diff_id"
df = open(dockerfile).read()
user = re.search(r"^USER (\S+)$", df, re.M).group(1)
entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", df, re.M).group(1))
assert c["config"]["User"] == user == "65534:65534", "User %r, Dockerfile %r" % (c["config"]["User"], user)
assert c["config"]["Entrypoint"] == entry == ["/usr/bin/k8smon"], "Entrypoint %r, Dockerfile %r" % (c["config"]["Entrypoint"], entry)
print(lpath)
EOF
)
if [ -n "$LAYER" ]; then
	ok "index, manifest, config, layer: sha256 digests, sizes, media types, diff_id; User 65534:65534 and Entrypoint /usr/bin/k8smon as in the Dockerfile"
else
	fail "OCI layout check (above)"; finish
fi
# The Dockerfile builds the same root filesystem: its build stage runs
# image/rootfs.sh, its final stage copies exactly that into an empty image.
check "Dockerfile: build stage runs image/rootfs.sh into /rootfs" grep -q 'sh image/rootfs.sh bin/k8smon /rootfs$' Dockerfile
check "Dockerfile: final stage is FROM scratch + COPY --from=build /rootfs/ /" sh -c \
	"sed -n '/^FROM scratch\$/,\$p' Dockerfile | grep -v '^#' | grep -E '^(COPY|ADD|RUN)' | tr '\n' ';' | grep -qx 'COPY --from=build /rootfs/ /;'"
check "Dockerfile: the build stage installs .ci/deps.sh --build" grep -q '^RUN ./.ci/deps.sh --build' Dockerfile
check "skopeo inspect reads the archive (config User 65534:65534)" \
	sh -c "skopeo inspect --config oci-archive:$ARCHIVE | grep -q '\"User\": \"65534:65534\"'"
check "skopeo copy oci-archive: -> oci: (the README's push path, digests checked)" \
	skopeo copy -q oci-archive:"$ARCHIVE" oci:"$TMP/copy:t"
SIZE=$(wc -c <"$LAYER")
echo "image size: $SIZE bytes compressed layer, $(wc -c <"$ARCHIVE") bytes archive"
# Issue 16's goal; debug sections or a library too many would show here.
check "compressed image <= 15 MB ($SIZE bytes)" test "$SIZE" -le 15000000

# --- the root filesystem ----------------------------------------------------------
R=$TMP/rootfs
mkdir "$R" && tar -xzf "$LAYER" -C "$R" --numeric-owner || { fail "layer does not unpack"; finish; }
check "/usr/bin/k8smon: root-owned, mode 755" sh -c "[ \"\$(stat -c '%u %g %a' '$R/usr/bin/k8smon')\" = '0 0 755' ]"
check "/etc/passwd: 65534" grep -q '^nobody:x:65534:65534:' "$R/etc/passwd"
check "/etc/group: 65534" grep -q '^nogroup:x:65534:' "$R/etc/group"
check "CA bundle present" sh -c "grep -q 'BEGIN CERTIFICATE' '$R/etc/ssl/certs/ca-certificates.crt'"
check "/tmp is 1777" sh -c "[ \"\$(stat -c '%a' '$R/tmp')\" = 1777 ]"
check "the loader /lib64/ld-linux-x86-64.so.2 (or the arch's) is there" sh -c "ls '$R'/lib*/ld-linux* >/dev/null"
check "no shell in the image" sh -c "! ls '$R'/bin/sh '$R'/usr/bin/sh 2>/dev/null"

# Runs ROOTFS-relative CMD inside $R as 65534:65534, no groups, no
# capabilities: setpriv empties the inheritable and ambient sets, the Python
# step chroots (needs CAP_SYS_CHROOT, so it comes before the drop), empties
# the bounding set, sets no_new_privs and the ids (which clears the permitted
# and effective sets) and execs CMD with only the environment given as
# VAR=VALUE before `--`. The mounts are private to the process's namespace.
cat >"$TMP/drop.py" <<'EOF'
import ctypes, os, sys
root, rest = sys.argv[1], sys.argv[2:]
sep = rest.index("--")
env, argv = dict(a.split("=", 1) for a in rest[:sep]), rest[sep + 1:]
libc = ctypes.CDLL(None, use_errno=True)
os.chroot(root)
os.chdir("/")
cap = 0
while libc.prctl(24, cap, 0, 0, 0) == 0:  # PR_CAPBSET_DROP until EINVAL past the last
    cap += 1
assert cap > 30, "dropped only %d bounding capabilities" % cap
assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
os.execve(argv[0], argv, env)
EOF
in_image() { # in_image [VAR=VALUE...] -- CMD... (call it last or in a subshell: it execs)
	exec unshare -m --propagation private sh -c '
		R=$1; shift
		for d in proc sys dev; do mount --rbind /$d "$R/$d" || exit 97; done
		exec setpriv --inh-caps=-all --ambient-caps=-all python3 "$0" "$R" "$@"' "$TMP/drop.py" "$R" "$@"
}
# status_ok PID: the process runs in $R as 65534 with no capabilities at all.
status_ok() {
	s=/proc/$1/status
	[ "$(readlink "/proc/$1/root")" = "$R" ] &&
	grep -q '^Uid:[[:space:]]*65534[[:space:]]*65534[[:space:]]*65534[[:space:]]*65534$' "$s" &&
	grep -q '^Gid:[[:space:]]*65534[[:space:]]*65534[[:space:]]*65534[[:space:]]*65534$' "$s" &&
	grep -q '^Groups:[[:space:]]*$' "$s" &&
	[ "$(grep -c '^Cap\(Inh\|Prm\|Eff\|Bnd\|Amb\):[[:space:]]*0000000000000000$' "$s")" = 5 ] &&
	grep -q '^NoNewPrivs:[[:space:]]*1$' "$s"
}

want=$($BIN -version)
got=$(in_image -- /usr/bin/k8smon -version 2>"$TMP/version.err")
if [ "$got" = "$want" ]; then ok "k8smon -version in the image: $got"
else fail "k8smon -version in the image: '$got' (want '$want')"; cat "$TMP/version.err"; fi

# --- host mode inside the image -------------------------------------------------------
PORT=$(free_port)
U=http://127.0.0.1:$PORT
in_image -- /usr/bin/k8smon -httpListenAddr=127.0.0.1:$PORT >"$TMP/host.log" 2>&1 &
PID=$!
if wait_http "$U/healthz" 20; then
	check "host mode in the image: process in the rootfs as 65534:65534, no groups, no capabilities, no_new_privs" status_ok $PID
	check "host mode in the image: /metrics has node_cpu_seconds_total" sh -c "curl -sf $U/metrics | grep -q '^node_cpu_seconds_total{'"
	check "host mode in the image: /metrics/node has node_load1 and node_filesystem_size_bytes" sh -c \
		"curl -sf $U/metrics/node >'$TMP/node.txt' && grep -q '^node_load1 ' '$TMP/node.txt' && grep -q '^node_filesystem_size_bytes{' '$TMP/node.txt'"
else
	fail "host mode did not start in the image"; cat "$TMP/host.log"
fi
stop

# --- host mode with -tls inside the image (the dlopen()ed GnuTLS) ------------------------
: >"$TMP/mapped-tls"
mkdir -p "$R/tls"
if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=k8smon-image" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$R/tls/tls.key" -out "$R/tls/tls.crt" >/dev/null 2>&1 &&
	chmod 0644 "$R/tls/tls.key"; then
	PORT=$(free_port)
	in_image -- /usr/bin/k8smon -httpListenAddr=127.0.0.1:$PORT -tls -tlsCertFile=/tls/tls.crt \
		-tlsKeyFile=/tls/tls.key >"$TMP/tls.log" 2>&1 &
	PID=$!
	if wait_for 20 curl -sf -o /dev/null --cacert "$R/tls/tls.crt" "https://127.0.0.1:$PORT/healthz"; then
		check "host mode -tls in the image: HTTPS /metrics/node has node_load1" sh -c \
			"curl -sf --cacert '$R/tls/tls.crt' https://127.0.0.1:$PORT/metrics/node | grep -q '^node_load1 '"
		awk '$6 ~ /\.so/ { n = split($6, p, "/"); print p[n] }' "/proc/$PID/maps" | sort -u >"$TMP/mapped-tls"
	else
		fail "host mode -tls did not serve HTTPS in the image"; cat "$TMP/tls.log"
	fi
	stop
else
	fail "openssl could not make a certificate"
fi

# --- Kubernetes mode inside the image (dlopen()ed libcurl) ----------------------------------
fakeapi_start "$TMP/api" --load crds --load examples/cluster || { fail "fake API server"; finish; }
# The kubeconfig names no CA: libcurl verifies the server with its default
# bundle, which must be the image's /etc/ssl/certs/ca-certificates.crt (the
# fake API server's CA is added to this test's copy of it).
mkdir -p "$R/k8s" && grep -v 'certificate-authority' "$KUBECONFIG" >"$R/k8s/kubeconfig" &&
	chmod 0644 "$R/k8s/kubeconfig" && cat "$(dirname "$KUBECONFIG")/api/ca.crt" >>"$R/etc/ssl/certs/ca-certificates.crt" ||
	{ fail "kubeconfig for the image"; finish; }
PORT=$(free_port)
U=http://127.0.0.1:$PORT
# With a remote-write URL (nothing listens there: blocks just queue in memory),
# so that the dlopen()ed libsnappy and its libstdc++ are mapped too.
in_image -- /usr/bin/k8smon -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig=/k8s/kubeconfig \
	-nodeName=demo-node-1 -httpListenAddr=127.0.0.1:$PORT -leaderElection=false \
	-remoteWrite.url=http://127.0.0.1:9/api/v1/write >"$TMP/kube.log" 2>&1 &
PID=$!
if wait_http "$U/healthz" 20 && until_ms 30000 "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $U/readyz)\" = 200 ]" >/dev/null; then
	ok "Kubernetes mode in the image: ready (API synced through libcurl over TLS verified with the image's CA bundle)"
	check "Kubernetes mode in the image: process in the rootfs as 65534, no capabilities" status_ok $PID
	check "Kubernetes mode in the image: /metrics/kube-state has kube_pod_info" sh -c \
		"curl -sf $U/metrics/kube-state | grep -q '^kube_pod_info{'"
	# Every library in the image is mapped: none is there for nothing. (One
	# missing could not be mapped, and the agent would not have got here.)
	(cd "$R" && find . -name '*.so*' -type f | sed 's|.*/||' | sort) >"$TMP/image-libs"
	# GnuTLS is loaded by -tls (bearer-token keys and hashmod too): the
	# libraries the -tls run above mapped count as used.
	{ awk '$6 ~ /\.so/ { n = split($6, p, "/"); print p[n] }' "/proc/$PID/maps"; cat "$TMP/mapped-tls"; } |
		sort -u >"$TMP/mapped-libs"
	unused=$(comm -23 "$TMP/image-libs" "$TMP/mapped-libs" | tr '\n' ' ')
	if [ -z "$unused" ] && [ -s "$TMP/image-libs" ]; then
		ok "all $(wc -l <"$TMP/image-libs") libraries of the image are mapped in Kubernetes mode or with -tls"
	else
		fail "libraries in the image that the agent does not map: $unused"
	fi
	check "libcurl.so.4, libssl.so.3, libsnappy.so.1 and libgnutls.so.30 among them" sh -c "grep -qx libcurl.so.4 '$TMP/mapped-libs' && grep -qx 'libssl.so.[0-9]*' '$TMP/mapped-libs' && grep -qx libsnappy.so.1 '$TMP/mapped-libs' && grep -qx libgnutls.so.30 '$TMP/mapped-tls'"
else
	fail "Kubernetes mode in the image did not become ready"; tail -20 "$TMP/kube.log"
fi
stop
finish
