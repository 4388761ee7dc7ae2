#!/bin/sh
# tests/fakecomp/fakecomp.py, the stand-in for the kubelet, kube-apiserver, scheduler,
# controller-manager, kube-proxy, CoreDNS and etcd that test_components.sh scrapes:
#   - it serves the recorded fixtures (tests/fakecomp/fixtures, from the real
#     components) byte for byte, gzip when asked, with the recorded Content-Type;
#   - it authenticates a bearer token by a TokenReview and authorizes it by a
#     SubjectAccessReview against the fake API server, as the components do: a known
#     and authorized token 200, an authorized-nowhere token 403 (the kubelet's plain
#     text body, the JSON Status of the k8s.io/apiserver based ones), an unknown or
#     missing token 401; kube-proxy and CoreDNS need none; etcd wants a client
#     certificate (the TLS handshake fails without one);
#   - every fault mode does what it says (down: connection refused; slow: no reply;
#     401/403 whatever the token; garbage; N series; N MiB), and "ok" restores it.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
TMP=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
FX=tests/fakecomp/fixtures

python3 tests/fakeapi/fakeapi.py --state-dir "$TMP/api" >"$TMP/api.out" 2>"$TMP/api.err" &
PIDS="$PIDS $!"
wait_for 60 test -s "$TMP/api/server.json" || { fail "fakeapi did not start: $(tail -3 "$TMP/api.err")"; finish; }
j() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); [d:=d[k] for k in sys.argv[2:]]; print(d)' "$@"; }
API=$(j "$TMP/api/server.json" url)
ATOK=$(j "$TMP/api/server.json" token)
curl -sf --cacert "$TMP/api/ca.crt" -X POST "$API/_fake/auth" -d '{
  "users": {"tok-agent": {"username": "system:serviceaccount:k8smon:k8smon"},
            "tok-other": {"username": "system:serviceaccount:x:other"}},
  "rules": [{"user": "system:serviceaccount:k8smon:k8smon", "allowed": true}],
  "default_allowed": false}' >/dev/null || fail "fakeapi /_fake/auth"

python3 tests/fakecomp/fakecomp.py --state-dir "$TMP/fc" --api-url "$API" --api-ca "$TMP/api/ca.crt" \
	--api-token "$ATOK" >"$TMP/fc.out" 2>"$TMP/fc.err" &
PIDS="$PIDS $!"
wait_for 60 grep -q READY "$TMP/fc.out" || { fail "fakecomp did not start: $(tail -3 "$TMP/fc.err")"; finish; }
CTL=$(awk '/READY/ {print $2}' "$TMP/fc.out")
port() { j "$TMP/fc/server.json" ports "$1"; }
CA="--cacert $TMP/fc/ca.crt"
ECERT="--cert $TMP/fc/etcd-client.crt --key $TMP/fc/etcd-client.key"
fault() { curl -sf -X POST "$CTL/fault" -d "$1" >/dev/null; }
code() { curl -s -o "$TMP/body" -w '%{http_code}' -m 20 "$@"; }

# every fixture served as recorded
for f in "$FX"/*/*.prom; do
	comp=$(basename "$(dirname "$f")"); n=$(basename "$f" .prom)
	path=/$(echo "$n" | tr _ /)
	case $comp in
	kube-proxy|coredns) url="http://127.0.0.1:$(port "$comp")$path"; args="" ;;
	etcd) url="https://127.0.0.1:$(port "$comp")$path"; args="$CA $ECERT" ;;
	*) url="https://127.0.0.1:$(port "$comp")$path"; args="$CA -H Authorization:Bearer\ tok-agent" ;;
	esac
	# shellcheck disable=SC2086
	c=$(eval curl -s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' $args "$url")
	if [ "$c" = 200 ] && cmp -s "$TMP/body" "$f"; then ok "$comp $path: the recording, byte for byte"
	else fail "$comp $path: status $c, body differs from $f"; fi
	if [ -s "${f%.prom}.ctype" ]; then
		check "$comp $path: recorded Content-Type" grep -qiF "content-type: $(cat "${f%.prom}.ctype")" "$TMP/hdr"
	fi
done
KL="https://127.0.0.1:$(port kubelet)"
SC="https://127.0.0.1:$(port kube-scheduler)"
check "gzip when accepted, same body" sh -c "curl -s $CA --compressed -H 'Authorization: Bearer tok-agent' -D '$TMP/gz.h' '$KL/metrics' | cmp -s - '$FX/kubelet/metrics.prom' && grep -qi 'content-encoding: gzip' '$TMP/gz.h'"

# authentication and authorization as the components do them
c=$(code $CA -H "Authorization: Bearer tok-other" "$KL/metrics")
if [ "$c" = 403 ] && grep -q '^Forbidden (user=system:serviceaccount:x:other, verb=get, resource=nodes, subresource(s)=\[metrics\])' "$TMP/body"; then
	ok "kubelet: authenticated but not authorized -> 403 with the kubelet's message"; else fail "kubelet 403: $c $(head -c 200 "$TMP/body")"; fi
c=$(code $CA -H "Authorization: Bearer nope" "$KL/metrics")
if [ "$c" = 401 ] && [ "$(cat "$TMP/body")" = Unauthorized ]; then ok "kubelet: unknown token -> 401 Unauthorized"; else fail "kubelet 401: $c"; fi
check "kubelet: no token -> 401" test "$(code $CA "$KL/metrics")" = 401
c=$(code $CA -H "Authorization: Bearer tok-other" "$SC/metrics")
if [ "$c" = 403 ] && grep -q '"reason": "Forbidden"' "$TMP/body" && grep -q 'cannot get path \\"/metrics\\"' "$TMP/body"; then
	ok "scheduler: not authorized -> 403 Status (non-resource /metrics)"; else fail "scheduler 403: $c $(head -c 200 "$TMP/body")"; fi
check "scheduler: unknown token -> 401 Status" sh -c "[ \"\$(curl -s -o '$TMP/b2' -w '%{http_code}' $CA -H 'Authorization: Bearer nope' '$SC/metrics')\" = 401 ] && grep -q '\"reason\": \"Unauthorized\"' '$TMP/b2'"
# the grant is what decides: allowing the other account turns its 403 into 200
curl -sf --cacert "$TMP/api/ca.crt" -X POST "$API/_fake/auth" -d '{"rules": [{"user": "*", "allowed": true}]}' >/dev/null
check "kubelet: the same token once the API server allows it -> 200" test "$(code $CA -H "Authorization: Bearer tok-other" "$KL/metrics")" = 200
check "etcd: no client certificate -> handshake refused" sh -c "! curl -s -o /dev/null $CA 'https://127.0.0.1:$(port etcd)/metrics'"
check "kube-proxy: plain HTTP, no token needed" test "$(code "http://127.0.0.1:$(port kube-proxy)/metrics")" = 200

# fault modes
fault '{"component":"kubelet","mode":"down"}'
check "down: connection refused" sh -c "curl -s -o /dev/null $CA '$KL/metrics'; [ \$? = 7 ]"
check "down: the other components still answer" test "$(code "http://127.0.0.1:$(port coredns)/metrics")" = 200
fault '{"component":"kubelet","mode":"ok"}'
check "ok after down: the same port serves again" test "$(code $CA -H "Authorization: Bearer tok-agent" "$KL/metrics")" = 200
fault '{"component":"kubelet","mode":"slow"}'
check "slow: no reply within curl's 3 s" sh -c "curl -s -o /dev/null -m 3 $CA -H 'Authorization: Bearer tok-agent' '$KL/metrics'; [ \$? = 28 ]"
for m in 401 403; do
	fault "{\"component\":\"kube-scheduler\",\"mode\":\"$m\"}"
	check "mode $m: $m with a good token" test "$(code $CA -H "Authorization: Bearer tok-agent" "$SC/metrics")" = "$m"
done
fault '{"component":"kubelet","mode":"garbage"}'
check "garbage: 200 and not the exposition format" sh -c "[ \"\$(curl -s -o '$TMP/g' -w '%{http_code}' $CA -H 'Authorization: Bearer tok-agent' '$KL/metrics')\" = 200 ] && [ -s '$TMP/g' ] && ! grep -qa '^# TYPE' '$TMP/g'"
fault '{"component":"kubelet","mode":"series","series":200000}'
check "series: 200000 distinct series" sh -c "curl -s $CA -H 'Authorization: Bearer tok-agent' '$KL/metrics' | grep -c '^fakecomp_flood{' | grep -qx 200000"
fault '{"component":"kubelet","mode":"huge","mb":8}'
check "huge: at least 8 MiB" sh -c "[ \$(curl -s $CA -H 'Authorization: Bearer tok-agent' '$KL/metrics' | wc -c) -ge 8388608 ]"
check "unknown mode refused" sh -c "! curl -sf -X POST '$CTL/fault' -d '{\"component\":\"kubelet\",\"mode\":\"melt\"}'"
fault '{"component":"kubelet","mode":"ok","set":{"kubelet_running_pods":109}}'
curl -s $CA -H "Authorization: Bearer tok-agent" "$KL/metrics" >"$TMP/set.prom"
check "set: kubelet_running_pods reads 109" grep -qx 'kubelet_running_pods 109' "$TMP/set.prom"
check "set: every other line as recorded" sh -c "diff '$TMP/set.prom' '$FX/kubelet/metrics.prom' | grep -c '^[<>]' | grep -qx 2"
fault '{"component":"*","mode":"ok"}'
check "all ok again" test "$(code $CA -H "Authorization: Bearer tok-agent" "$KL/metrics")" = 200
check "request log counts by component, path and status" sh -c "curl -s '$CTL/requests' | grep -q '\"kubelet /metrics 401\"'"
finish
