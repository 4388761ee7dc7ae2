#!/bin/sh
# -tls with self-signed certificates made by the openssl CLI: curl --cacert
# verifies; the certificate files are replaced while two scrapers run (new
# connection per scrape, and one keep-alive connection): no scrape fails and
# the new certificate is served within a few seconds (served fingerprint);
# an invalid replacement keeps the previous certificate with a log line and a
# counted failure; bad files at startup exit 2 with one line naming the flag;
# only TLS 1.2 (ECDHE, AEAD) and TLS 1.3 are negotiated.
set -u
. tests/lib/common.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
PID=""
LOOP=""
trap 'kill $PID $LOOP 2>/dev/null; rm -rf "$TMP"' EXIT

mkcert() { # mkcert NAME: self-signed for 127.0.0.1/localhost
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=k8smon-$1" \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$TMP/$1.key" -out "$TMP/$1.crt" >/dev/null 2>&1
}
fp_file() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }
fp_served() {
	openssl s_client -connect 127.0.0.1:$PORT -servername localhost </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//'
}
mkcert one && mkcert two || { fail "openssl could not make certificates"; finish; }
# The scrapers trust both (as after a CA bundle update ahead of a rotation).
cat "$TMP/one.crt" "$TMP/two.crt" >"$TMP/trust.pem"
cp "$TMP/one.crt" "$TMP/tls.crt"
cp "$TMP/one.key" "$TMP/tls.key"

PORT=$(free_port)
U=https://127.0.0.1:$PORT
$BIN -httpListenAddr=127.0.0.1:$PORT -tls -tlsCertFile="$TMP/tls.crt" -tlsKeyFile="$TMP/tls.key" \
	-loggerLevel=INFO >"$TMP/k8smon.log" 2>&1 &
PID=$!
wait_for 60 curl -s -o /dev/null --cacert "$TMP/one.crt" "$U/healthz"
curl -s -o /dev/null --cacert "$TMP/one.crt" "$U/healthz" || { fail "agent did not start"; cat "$TMP/k8smon.log"; finish; }

check "HTTPS scrape verified with --cacert" sh -c "curl -sf --cacert '$TMP/one.crt' $U/metrics/node | grep -q '^node_load1 '"
check "served certificate is the first one" test "$(fp_served)" = "$(fp_file "$TMP/one.crt")"
check "an untrusted certificate is rejected by curl" sh -c "! curl -sf --cacert '$TMP/two.crt' $U/healthz"
check "plain HTTP on the TLS port gets no data" sh -c "! curl -sf http://127.0.0.1:$PORT/metrics/node | grep -q node_"
check "certificate expiry exported" sh -c "curl -sf --cacert '$TMP/one.crt' $U/metrics/self | grep -q '^k8smon_http_tls_certificate_expiry_timestamp_seconds [1-9]'"

# Protocol floor (src/http/tls.h TLS_PRIORITIES): TLS 1.2 with ECDHE + AEAD, or TLS 1.3.
# @SECLEVEL=0 lets OpenSSL 3 offer the legacy protocols, so a refusal is the server's.
hs() { # hs S_CLIENT_OPTIONS...: prints the negotiated "protocol cipher", or "none"
	echo | timeout 5 openssl s_client -connect 127.0.0.1:$PORT -servername localhost "$@" 2>/dev/null |
		sed -n 's/^New, \([^,]*\), Cipher is \(.*\)$/\1 \2/p' | grep -v NONE || echo none
}
check "TLS 1.0 refused" test "$(hs -tls1 -cipher 'DEFAULT:@SECLEVEL=0')" = none
check "TLS 1.1 refused" test "$(hs -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')" = none
check "TLS 1.2 RSA key exchange (AES128-SHA) refused" test "$(hs -tls1_2 -cipher 'AES128-SHA:@SECLEVEL=0')" = none
check "TLS 1.2 RSA key exchange (AES128-GCM-SHA256) refused" test "$(hs -tls1_2 -cipher AES128-GCM-SHA256)" = none
check "TLS 1.2 ECDHE with CBC (ECDHE-RSA-AES128-SHA) refused" test "$(hs -tls1_2 -cipher 'ECDHE-RSA-AES128-SHA:@SECLEVEL=0')" = none
check "TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 accepted" test "$(hs -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256)" = "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256"
check "TLS 1.2 ECDHE-RSA-CHACHA20-POLY1305 accepted" test "$(hs -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305)" = "TLSv1.2 ECDHE-RSA-CHACHA20-POLY1305"
check "TLS 1.3 accepted" sh -c "echo '$(hs -tls1_3)' | grep -q '^TLSv1.3 '"

# Scrapers: a new connection per scrape (curl), and a keep-alive one (Python).
: >"$TMP/codes"
(
	while :; do
		curl -s -o /dev/null -w '%{http_code}\n' --cacert "$TMP/trust.pem" $U/metrics/node >>"$TMP/codes" 2>/dev/null
	done
) &
LOOP=$!
python3 - "$PORT" "$TMP/trust.pem" "$TMP/ka.out" <<'PY' &
import http.client, ssl, sys, time
port, ca, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
ok = bad = 0
end = time.time() + 9
while time.time() < end:
    try:
        conn.request("GET", "/metrics/self")
        r = conn.getresponse(); body = r.read()
        if r.status == 200 and b"k8smon_build_info" in body: ok += 1
        else: bad += 1
    except Exception as e:
        bad += 1; print("error:", e, file=sys.stderr); conn.close()
    time.sleep(0.05)
open(out, "w").write("%d %d\n" % (ok, bad))
PY
KA=$!
sleep 2
# Rotate the way a Secret update does: new files renamed into place.
cp "$TMP/two.crt" "$TMP/tls.crt.new" && mv "$TMP/tls.crt.new" "$TMP/tls.crt"
cp "$TMP/two.key" "$TMP/tls.key.new" && mv "$TMP/tls.key.new" "$TMP/tls.key"
start=$(date +%s%N); served=""
while [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 30000 ]; do
	served=$(fp_served)
	[ "$served" = "$(fp_file "$TMP/two.crt")" ] && break
	sleep 0.1
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "new certificate served after rotation (${ms} ms)" test "$served" = "$(fp_file "$TMP/two.crt")"
# Files are checked every second; the rest is a loaded CI machine's slack.
check "...within a few seconds" test $ms -le 14000
wait $KA
kill $LOOP 2>/dev/null; wait $LOOP 2>/dev/null; LOOP=""
total=$(grep -c '' "$TMP/codes"); bad=$(grep -vc '^200$' "$TMP/codes")
check "no failed scrape during rotation (new connections: $total, failed: $bad)" test "$total" -gt 10 -a "$bad" = 0
read ka_ok ka_bad <"$TMP/ka.out"
check "no failed scrape during rotation (keep-alive: $ka_ok ok, $ka_bad failed)" test "$ka_ok" -gt 10 -a "$ka_bad" = 0
check "the first certificate is no longer trusted alone" sh -c "! curl -sf --cacert '$TMP/one.crt' $U/healthz"
check "reload counted" sh -c "curl -sf --cacert '$TMP/two.crt' $U/metrics/self | grep -q '^k8smon_http_tls_reloads_total{result=\"success\"} [1-9]'"
check "after the rotation TLS 1.1 and RSA key exchange are still refused" \
	test "$(hs -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0') $(hs -tls1_2 -cipher AES128-GCM-SHA256)" = "none none"

# An invalid replacement (key of another certificate): previous one kept.
n0=$(grep -c 'reload refused.*does not match' "$TMP/k8smon.log")
cp "$TMP/one.key" "$TMP/tls.key.new" && mv "$TMP/tls.key.new" "$TMP/tls.key"
# the refusal first (the agent has looked at the new pair), then what it serves
check "invalid pair: one clear log line" \
	until_ms 60000 "test \$(grep -c 'reload refused.*does not match' '$TMP/k8smon.log') -gt $n0"
check "invalid pair: previous certificate still served" test "$(fp_served)" = "$(fp_file "$TMP/two.crt")"
check "invalid pair: scrapes still succeed" sh -c "curl -sf --cacert '$TMP/two.crt' $U/metrics/node | grep -q '^node_load1 '"
check "invalid pair: failure counted" sh -c "curl -sf --cacert '$TMP/two.crt' $U/metrics/self | grep -q '^k8smon_http_tls_reloads_total{result=\"failure\"} [1-9]'"

kill -TERM $PID
i=0; while kill -0 $PID 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
wait $PID; rc=$?
check "SIGTERM exits 0" test $rc = 0
PID=""

# Startup: bad files exit 2 with one line naming the flag.
startup() { # startup WANT_FLAG ARGS...
	want=$1; shift
	$BIN -httpListenAddr=127.0.0.1:0 "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?
	check "startup $* exits 2" test $rc = 2
	check "startup $*: one line naming $want" sh -c "test \$(wc -l <'$TMP/err') = 1 && grep -q -- '$want' '$TMP/err'"
}
echo garbage >"$TMP/garbage.pem"
startup -tlsKeyFile -tls -tlsCertFile="$TMP/one.crt" -tlsKeyFile="$TMP/missing.key"
startup -tlsCertFile -tls -tlsCertFile="$TMP/garbage.pem" -tlsKeyFile="$TMP/one.key"
startup -tlsKeyFile -tls -tlsCertFile="$TMP/one.crt" -tlsKeyFile="$TMP/two.key"
startup -tls -tls -tlsCertFile="$TMP/one.crt"
finish
