#!/bin/sh
# Libraries mapped per mode (/proc/PID/maps): host mode, also with -tls, maps
# neither libcurl nor OpenSSL nor a JIT-compiled regex (anonymous executable
# memory; libcurl is loaded with dlopen() only in Kubernetes mode,
# src/dl/curl.h), and still serves; host mode without -tls maps no GnuTLS
# (libmicrohttpd is linked from its archive, GnuTLS loaded at first use,
# src/dl/gnutls.h), with -tls it does; without a loadable GnuTLS, -tls exits 2
# with one line naming the library and plain host mode serves; Kubernetes mode
# against the fake API server maps libcurl (and OpenSSL through it) and
# works (ready, kube-state served, an API-backed scrape of /metrics/apps).
# Without a loadable libcurl, Kubernetes mode exits 2 with one line naming
# the library (checked in a private mount namespace where libcurl is hidden;
# skipped where unshare -m is not permitted).
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
PID=""
FAKEAPI_PID=""
trap 'kill $PID $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT

# maps_has PID REGEX: some mapping's path matches (basename, e.g. libcurl\.so).
maps_has() { awk '{print $6}' "/proc/$1/maps" | grep -q "/$2"; }
stop() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=""; }

# --- host mode ---------------------------------------------------------------
PORT=$(free_port)
U=http://127.0.0.1:$PORT
$BIN -httpListenAddr=127.0.0.1:$PORT >"$TMP/host.log" 2>&1 &
PID=$!
wait_http "$U/healthz" || { fail "host mode did not start"; cat "$TMP/host.log"; finish; }
check "host mode serves /metrics/node" sh -c "curl -sf $U/metrics/node | grep -q '^node_load1 '"
check "host mode serves gzip" sh -c "curl -sf --compressed $U/metrics/node | grep -q '^node_load1 '"
if maps_has "$PID" 'libcurl[.-]'; then fail "host mode maps libcurl"; else ok "host mode: no libcurl mapping"; fi
if maps_has "$PID" 'lib\(crypto\|ssl\)\.so'; then fail "host mode maps OpenSSL"; else ok "host mode: no libcrypto/libssl mapping"; fi
# zlib, jansson and libyaml are linked from their static archives (Makefile
# PKGS_STATIC_*): a shared copy would cost ~0.2 MiB of RSS just by being mapped.
if maps_has "$PID" 'lib\(z\|jansson\|yaml-0\)\.so'; then fail "host mode maps a shared zlib, jansson or libyaml"
else ok "host mode: zlib, jansson, libyaml linked in (no shared mapping)"; fi
maps_has "$PID" 'libpcre2-8\.so' && ok "host mode: libpcre2-8 mapped (sanity of the check)" ||
	fail "libpcre2-8 not seen in /proc/$PID/maps: the check looks at the wrong process"
# GnuTLS and the eight libraries it needs were ~2.3 MiB of host mode's 5.7 MiB
# peak RSS (BENCHMARKS.md "Node collector: issue 18, fourth pass").
if maps_has "$PID" 'lib\(gnutls\|p11-kit\|nettle\|hogweed\|gmp\|tasn1\|unistring\|idn2\)\.so'; then
	fail "host mode maps GnuTLS or one of its libraries: $(awk '{print $6}' "/proc/$PID/maps" | grep -o 'lib[a-z0-9-]*\.so' | sort -u | tr '\n' ' ')"
else ok "host mode: no GnuTLS mapping (libgnutls, p11-kit, nettle, gmp, ...)"; fi
if maps_has "$PID" 'libmicrohttpd\.so'; then fail "host mode maps a shared libmicrohttpd (it needs libgnutls)"
else ok "host mode: libmicrohttpd linked in (no shared mapping)"; fi
# PCRE2's JIT writes its code to anonymous executable memory: none in host
# mode, whose regexes (node filters, compiled at every start from their
# defaults) are interpreted until they have matched RX_JIT_AFTER times
# (src/base/rx.h); JIT-compiling them at start mapped PCRE2's JIT compiler,
# ~0.2 MiB of RSS (issue 18).
for i in 1 2 3 4 5; do curl -sf -o /dev/null "$U/metrics/node"; done
anon_x=$(awk '$2 ~ /x/ && $6 == ""' "/proc/$PID/maps")
if [ -z "$anon_x" ]; then ok "host mode: no anonymous executable mapping (PCRE2's JIT not run)"
else fail "host mode has anonymous executable memory (a regex JIT-compiled): $anon_x"; fi
stop

# --- host mode with -tls -----------------------------------------------------
if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=k8smon-lazy" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$TMP/tls.key" -out "$TMP/tls.crt" >/dev/null 2>&1; then
	PORT=$(free_port)
	$BIN -httpListenAddr=127.0.0.1:$PORT -tls -tlsCertFile="$TMP/tls.crt" -tlsKeyFile="$TMP/tls.key" \
		>"$TMP/tls.log" 2>&1 &
	PID=$!
	wait_for 60 curl -s -o /dev/null --cacert "$TMP/tls.crt" "https://127.0.0.1:$PORT/healthz"
	check "host mode -tls serves HTTPS" sh -c "curl -sf --cacert '$TMP/tls.crt' https://127.0.0.1:$PORT/metrics/node | grep -q '^node_load1 '"
	if maps_has "$PID" 'libcurl[.-]\|lib\(crypto\|ssl\)\.so'; then
		fail "host mode with -tls maps libcurl or OpenSSL"
	else
		ok "host mode with -tls: no libcurl/libcrypto/libssl mapping"
	fi
	if maps_has "$PID" 'libgnutls\.so\.30'; then ok "host mode with -tls: libgnutls.so.30 loaded"
	else fail "host mode with -tls serves HTTPS without libgnutls mapped: the check looks at the wrong process"; fi
	stop
	# Without a loadable GnuTLS: -tls refused with one line, plain host mode
	# unaffected (private mount namespace hiding the library).
	LIBGNUTLS=$(ldconfig -p 2>/dev/null | awk '$1 == "libgnutls.so.30" && /x86-64|x32|64bit/ {print $NF; exit}')
	[ -n "$LIBGNUTLS" ] || LIBGNUTLS=$(ldconfig -p 2>/dev/null | awk '$1 == "libgnutls.so.30" {print $NF; exit}')
	if [ -n "$LIBGNUTLS" ] && unshare -m sh -c "mount --bind /dev/null '$LIBGNUTLS'" 2>/dev/null; then
		unshare -m sh -c "mount --bind /dev/null '$LIBGNUTLS' && exec $BIN -httpListenAddr=127.0.0.1:$(free_port) \
			-tls -tlsCertFile='$TMP/tls.crt' -tlsKeyFile='$TMP/tls.key'" >"$TMP/nognutls.out" 2>&1
		rc=$?
		check "no loadable GnuTLS: -tls exits 2" test $rc -eq 2
		check "no loadable GnuTLS: one line naming libgnutls.so.30" sh -c \
			"test \$(wc -l <'$TMP/nognutls.out') -eq 1 && grep -q '^k8smon: .*cannot load libgnutls.so.30' '$TMP/nognutls.out'" ||
			cat "$TMP/nognutls.out"
		PORT=$(free_port)
		unshare -m sh -c "mount --bind /dev/null '$LIBGNUTLS' && exec $BIN -httpListenAddr=127.0.0.1:$PORT" \
			>"$TMP/nognutls-host.log" 2>&1 &
		PID=$!
		wait_http "http://127.0.0.1:$PORT/healthz"
		check "no loadable GnuTLS: host mode still serves /metrics/node" \
			sh -c "curl -sf http://127.0.0.1:$PORT/metrics/node | grep -q '^node_load1 '"
		stop
	else
		fail "no libgnutls.so.30 in ldconfig -p or unshare -m not permitted: the GnuTLS-missing case not checked"
	fi
	# A mismatched pair is still refused at startup (GnuTLS check).
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other" \
		-keyout "$TMP/other.key" -out "$TMP/other.crt" >/dev/null 2>&1
	$BIN -httpListenAddr=127.0.0.1:$(free_port) -tls -tlsCertFile="$TMP/tls.crt" -tlsKeyFile="$TMP/other.key" \
		>"$TMP/mismatch.out" 2>&1
	check "mismatched key exits 2" test $? -eq 2
	check "mismatched key: one line naming -tlsKeyFile" sh -c \
		"test \$(wc -l <'$TMP/mismatch.out') -eq 1 && grep -q 'tlsKeyFile=.*does not match' '$TMP/mismatch.out'"
else
	fail "openssl could not make a certificate"
fi

# --- Kubernetes mode -----------------------------------------------------------
fakeapi_start "$TMP" --load crds --load examples/cluster || { fail "fake API server"; finish; }
PORT=$(free_port)
U=http://127.0.0.1:$PORT
$BIN -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=demo-node-1 \
	-httpListenAddr=127.0.0.1:$PORT -leaderElection=false >"$TMP/kube.log" 2>&1 &
PID=$!
wait_http "$U/healthz" || { fail "Kubernetes mode did not start"; cat "$TMP/kube.log"; finish; }
wait_for 60 sh -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' $U/readyz)\" = 200"
check "Kubernetes mode ready (API synced through libcurl)" \
	sh -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' $U/readyz)\" = 200"
check "Kubernetes mode serves kube_pod_info" sh -c "curl -sf $U/metrics/kube-state | grep -q '^kube_pod_info{'"
if maps_has "$PID" 'libcurl\.so\.4'; then ok "Kubernetes mode: libcurl.so.4 mapped"; else fail "Kubernetes mode: libcurl not mapped"; fi
if maps_has "$PID" 'libcrypto\.so'; then ok "Kubernetes mode: libcrypto mapped (libcurl's TLS)"; else fail "Kubernetes mode: libcrypto not mapped"; fi
stop

# --- Kubernetes mode without a loadable libcurl ---------------------------------
LIBCURL=$(ldconfig -p 2>/dev/null | awk '$1 == "libcurl.so.4" && /x86-64|x32|64bit/ {print $NF; exit}')
[ -n "$LIBCURL" ] || LIBCURL=$(ldconfig -p 2>/dev/null | awk '$1 == "libcurl.so.4" {print $NF; exit}')
if [ -n "$LIBCURL" ] && unshare -m sh -c "mount --bind /dev/null '$LIBCURL'" 2>/dev/null; then
	unshare -m sh -c "mount --bind /dev/null '$LIBCURL' && exec $BIN -promscrape.kubernetes \
		-kubeconfig='$KUBECONFIG' -httpListenAddr=127.0.0.1:$(free_port)" >"$TMP/nocurl.out" 2>&1
	rc=$?
	check "no loadable libcurl: Kubernetes mode exits 2" test $rc -eq 2
	check "no loadable libcurl: one line naming libcurl.so.4" sh -c \
		"test \$(wc -l <'$TMP/nocurl.out') -eq 1 && grep -q '^k8smon: cannot load libcurl.so.4' '$TMP/nocurl.out'"
	PORT=$(free_port)
	unshare -m sh -c "mount --bind /dev/null '$LIBCURL' && exec $BIN -httpListenAddr=127.0.0.1:$PORT" \
		>"$TMP/nocurl-host.log" 2>&1 &
	PID=$!
	wait_http "http://127.0.0.1:$PORT/healthz"
	check "no loadable libcurl: host mode still serves /metrics/node" \
		sh -c "curl -sf http://127.0.0.1:$PORT/metrics/node | grep -q '^node_load1 '"
	stop
else
	. tests/lib/skip.sh
	skip_part lazy_libs:no-libcurl "unshare -m not permitted: libcurl-missing case not checked"
fi
finish
