#!/bin/sh
# -http.auth=kubernetes against the fake API server's TokenReview and
# SubjectAccessReview: 401 (with the Bearer challenge) without a token or
# with an unknown one, 403 for a user the SAR denies, 200 for an allowed one,
# authorization per path, the decision cached (a second request sends no
# review), a rejected token cached whatever the path, a flood of made-up tokens
# bounded by the review budget (429 beyond), 503 when the API fails, probes
# open, outcomes counted, and
# -http.auth=kubernetes refused in host mode.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=$(mktemp -d)
PID=""
trap 'kill $PID 2>/dev/null; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds || { fail "fake API server"; finish; }

# prom may read /metrics and /metrics/node; eve is a valid user with no grant.
fake_ctl POST /auth '{"users": {"tok-prom": {"username": "system:serviceaccount:monitoring:prometheus", "uid": "u1", "groups": ["system:serviceaccounts"]},
                                "tok-eve": {"username": "eve", "uid": "u2"}},
                      "rules": [{"user": "system:serviceaccount:monitoring:prometheus", "verb": "get",
                                 "path": ["/metrics", "/metrics/node", "/metrics/self"], "allowed": true}],
                      "default_allowed": false}' >/dev/null

PORT=$(free_port)
U=http://127.0.0.1:$PORT
$BIN -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName=n1 -http.auth=kubernetes \
	-httpListenAddr=127.0.0.1:$PORT -leaderElection=false -loggerLevel=INFO >"$TMP/k8smon.log" 2>&1 &
PID=$!
wait_http "$U/healthz" || { fail "agent did not start"; cat "$TMP/k8smon.log"; finish; }

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
until_ok() { # until_ok SECONDS COMMAND: poll every 0.2 s
	n=$(( $1 * 5 )); shift
	while [ $n -gt 0 ]; do sh -c "$*" && return 0; sleep 0.2; n=$((n - 1)); done
	return 1
}
reviews() { fake_ctl GET /requests | python3 -c 'import json,sys; c=json.load(sys.stdin)["counts"]; print(sum(v for k,v in c.items() if "tokenreviews" in k or "subjectaccessreviews" in k))'; }
self_metric() { # self_metric RESULT: value of k8smon_http_auth_total{result=RESULT}
	curl -s -H 'Authorization: Bearer tok-prom' "$U/metrics/self" | sed -n "s/^k8smon_http_auth_total{result=\"$1\"} //p"
}

check "/healthz open without a token" test "$(code $U/healthz)" = 200
check "/ (landing page: paths and version only) open without a token" test "$(code $U/)" = 200
check "/config needs a token" test "$(code $U/config)" = 401
check "/readyz open without a token" sh -c "c=\$(curl -s -o /dev/null -w '%{http_code}' $U/readyz); test \$c = 200 -o \$c = 503"
check "no token: 401" test "$(code $U/metrics)" = 401
check "401 carries WWW-Authenticate: Bearer" sh -c "curl -s -D - -o /dev/null $U/metrics | grep -qi '^WWW-Authenticate: Bearer'"
check "401 body has no metrics" sh -c "! curl -s $U/metrics | grep -q '^node_\|^k8smon_\|^#'"
check "Basic auth: 401" test "$(code -u user:pass $U/metrics)" = 401
check "unknown token: 401" test "$(code -H 'Authorization: Bearer nope' $U/metrics)" = 401
check "denied user: 403" test "$(code -H 'Authorization: Bearer tok-eve' $U/metrics)" = 403
check "403 body has no metrics" sh -c "! curl -s -H 'Authorization: Bearer tok-eve' $U/metrics | grep -q '^node_\|^#'"
check "allowed user: 200 with data" sh -c "curl -s -f -H 'Authorization: Bearer tok-prom' $U/metrics/node | grep -q '^node_load1 '"
check "allowed user, path not granted (/metrics/kube-state): 403" \
	test "$(code -H 'Authorization: Bearer tok-prom' $U/metrics/kube-state)" = 403
check "/config is protected too" test "$(code $U/config)" = 401
check "404 for an unknown path stays 404" test "$(code $U/nope)" = 404

# Cache: once decided, the same token and path send no review for a while.
code -H 'Authorization: Bearer tok-prom' $U/metrics >/dev/null
code -H 'Authorization: Bearer nope' $U/metrics >/dev/null
fake_ctl POST /requests/reset >/dev/null
for i in 1 2 3; do
	code -H 'Authorization: Bearer tok-prom' $U/metrics >/dev/null
	code -H 'Authorization: Bearer nope' $U/metrics >/dev/null
	code -H 'Authorization: Bearer tok-eve' $U/metrics >/dev/null
done
check "cached: repeated requests send no TokenReview/SubjectAccessReview" test "$(reviews)" = 0
check "cached answers unchanged (200/401/403)" sh -c "
	test \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer tok-prom' $U/metrics) = 200 &&
	test \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' $U/metrics) = 401 &&
	test \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer tok-eve' $U/metrics) = 403"
fake_ctl POST /requests/reset >/dev/null
code -H 'Authorization: Bearer tok-prom' $U/metrics/self >/dev/null
check "a new path is reviewed (TokenReview + SubjectAccessReview)" test "$(reviews)" = 2

# The API failing: 503 (the token may be fine), counted as error, not cached.
fake_ctl POST /auth '{"users": {"tok-prom": {"username": "system:serviceaccount:monitoring:prometheus", "uid": "u1"},
                                "tok-eve": {"username": "eve", "uid": "u2"},
                                "tok-new": {"username": "system:serviceaccount:monitoring:prometheus", "uid": "u3"}}}' >/dev/null
fake_ctl POST /fault '{"action": "fail", "count": 1, "code": 500, "path": "tokenreviews"}' >/dev/null
check "API error: 503" test "$(code -H 'Authorization: Bearer tok-new' $U/metrics)" = 503
check "not cached: next request (API back) is 200" test "$(code -H 'Authorization: Bearer tok-new' $U/metrics)" = 200
check "503 carries Retry-After" sh -c "
	curl -s -o /dev/null -X POST --cacert '$TMP/api/ca.crt' -H 'Content-Type: application/json' \
		-d '{\"action\": \"fail\", \"count\": 1, \"code\": 500, \"path\": \"tokenreviews\"}' '$CONTROL/fault' &&
	curl -s -D - -o /dev/null -H 'Authorization: Bearer tok-other' $U/metrics | grep -qi '^Retry-After:'"

# The API answering too slowly: 503 after the 5 s review timeout (the review
# is abandoned, nothing cached); the next scrape asks again and gets in.
# (the stall is 3x the timeout: the bound below separates the two on a
# loaded machine)
fake_ctl POST /fault '{"action": "stall", "seconds": 15, "count": 1, "path": "tokenreviews"}' >/dev/null
t0=$(date +%s%N)
c=$(code -m 20 -H 'Authorization: Bearer tok-new' $U/metrics/self)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "stalled API: 503 after the review timeout (${ms} ms)" sh -c "test $c = 503 && test $ms -ge 4500 && test $ms -lt 12000"
check "after the timeout the next scrape is reviewed again and allowed" until_ok 10 "test \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer tok-new' '$U/metrics/self') = 200"

check "k8smon_http_auth_total counts allowed" test "$(self_metric allowed)" -ge 5
check "k8smon_http_auth_total counts unauthenticated" test "$(self_metric unauthenticated)" -ge 7
check "k8smon_http_auth_total counts forbidden" test "$(self_metric forbidden)" -ge 4
check "k8smon_http_auth_total counts error" test "$(self_metric error)" -ge 3
# Pre-authentication cost: 50 made-up tokens at once cost at most the review
# budget (HTTP_AUTH_REVIEW_BURST 20 + HTTP_AUTH_REVIEW_RATE 2/s of the time taken) in
# TokenReviews; the rest get 429 without a review. A scrape with a cached token
# is not affected.
treviews() { fake_ctl GET /requests | python3 -c 'import json,sys; c=json.load(sys.stdin)["counts"]; print(sum(v for k,v in c.items() if "tokenreviews" in k))'; }
code -H 'Authorization: Bearer tok-prom' $U/metrics/node >/dev/null
fake_ctl POST /requests/reset >/dev/null
t0=$(date +%s%N)
FLOOD=""
for i in $(seq 1 50); do
	curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer flood-$i-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')" $U/metrics >"$TMP/flood.$i" &
	FLOOD="$FLOOD $!"
done
wait $FLOOD
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cat "$TMP"/flood.* >"$TMP/flood"
n=$(treviews); max=$(( 20 + 2 * ms / 1000 + 1 ))
check "50 random tokens: $n TokenReviews in $ms ms (at most $max)" test "$n" -le "$max"
check "...the others answered 429 (401: $(grep -c 401 "$TMP/flood"), 429: $(grep -c 429 "$TMP/flood"))" \
	sh -c "test \$(grep -c 429 '$TMP/flood') -ge $((50 - max)) && test \$(grep -c '^401\$\|^429\$' '$TMP/flood') = 50"
for i in 1 2 3 4 5 6 7 8; do curl -s -D - -o /dev/null -H "Authorization: Bearer flood-more-$i" $U/metrics; done >"$TMP/flood.h"
check "429 carries Retry-After: 1" sh -c "grep -A8 '^HTTP/1.1 429' '$TMP/flood.h' | grep -qi '^Retry-After: 1'"
check "a cached token still scrapes during the flood" test "$(code -H 'Authorization: Bearer tok-prom' $U/metrics/node)" = 200
check "k8smon_http_auth_total counts rate_limited" test "$(self_metric rate_limited)" -ge $((50 - max))
check "k8smon_http_auth_token_reviews_total counts the TokenReviews sent" \
	sh -c "curl -s -H 'Authorization: Bearer tok-prom' $U/metrics/self | grep -q '^k8smon_http_auth_token_reviews_total [1-9]'"
# One made-up token on every path: one TokenReview (the rejection is cached by token).
sleep 1.5
fake_ctl POST /requests/reset >/dev/null
for p in /metrics /metrics/node /metrics/self /config /metrics /metrics/node; do
	echo "$(code -H 'Authorization: Bearer bad-again' $U$p)" >>"$TMP/again"
done
check "the same bad token on 6 requests and 4 paths: one TokenReview ($(treviews))" test "$(treviews)" = 1
check "...and 401 each time" test "$(grep -c '^401$' "$TMP/again")" = 6
sleep 1

check "tokens never appear in the log" sh -c "! grep -q 'tok-prom\|tok-eve\|tok-new' '$TMP/k8smon.log'"

# SIGTERM while a scrape waits for a stalled review: still exits 0 within 2 s.
fake_ctl POST /auth '{"users": {"tok-late": {"username": "late", "uid": "u9"}}}' >/dev/null
fake_ctl POST /fault '{"action": "stall", "seconds": 120, "count": 1, "path": "tokenreviews"}' >/dev/null
curl -s -o /dev/null -m 120 -H 'Authorization: Bearer tok-late' $U/metrics &
sleep 0.5
t0=$(date +%s%N)
kill -TERM $PID
i=0; while kill -0 $PID 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait $PID; rc=$?
# The review stalls 120 s: an exit within 60 s did not wait for it.
check "SIGTERM during a stalled review (stalled 120 s) exits 0 without waiting for it (${ms} ms)" test $rc = 0 -a $ms -le 60000
PID=""

$BIN -http.auth=kubernetes -httpListenAddr=127.0.0.1:0 >"$TMP/out" 2>"$TMP/err"; rc=$?
check "host mode with -http.auth=kubernetes exits 2" test $rc = 2
check "one line naming the flag" sh -c "test \$(wc -l <'$TMP/err') = 1 && grep -q -- '-http.auth' '$TMP/err'"
$BIN -promscrape.kubernetes -http.auth=basic >"$TMP/out" 2>"$TMP/err"; rc=$?
check "-http.auth=basic exits 2" test $rc = 2
finish
