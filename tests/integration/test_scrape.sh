#!/bin/sh
# Application scraping end to end: the fake API server holds pods whose
# status.podIP is 127.0.0.1 and whose ports are served by tests/scrape/targets.py.
# Annotations added/changed/removed -> targets follow within a second; a
# ScrapeRule switching victoriametrics.com -> prometheus.io; two agents with
# different -nodeName split targets without overlap or gap; hostile targets
# fail alone (up=0 + lastError) while a healthy one keeps up=1.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
TMP=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
fakeapi_start "$TMP" --load crds || { fail "fake API server"; finish; }

P_OK=$(free_port); P_OK2=$(free_port); P_N2=$(free_port); P_PROM=$(free_port)
P_SLOW=$(free_port); P_END=$(free_port); P_GARB=$(free_port); P_MIL=$(free_port)
P_CLASH=$(free_port); P_UTF=$(free_port); P_TLS=$(free_port); P_REDIR=$(free_port); P_GZ=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=wrong.example -keyout "$TMP/k.pem" -out "$TMP/c.pem" >/dev/null 2>&1
python3 tests/scrape/targets.py --tls-cert "$TMP/c.pem" --tls-key "$TMP/k.pem" \
	$P_OK:ok:3 $P_OK2:ok:5 $P_N2:ok:2 $P_PROM:ok:1 $P_SLOW:slow $P_END:endless $P_GARB:garbage \
	$P_MIL:million $P_CLASH:clash $P_UTF:badutf8 $P_TLS:tls $P_REDIR:redirect $P_GZ:gzip >"$TMP/targets.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 60 grep -q READY "$TMP/targets.out"

# pod NS NAME NODE PORT [annotation-prefix] [extra-annotations-json]
pod() {
	python3 - "$@" <<'PY'
import json, sys
ns, name, node, port = sys.argv[1:5]
prefix = sys.argv[5] if len(sys.argv) > 5 else "victoriametrics.com"
extra = json.loads(sys.argv[6]) if len(sys.argv) > 6 else {}
ann = {} if prefix == "none" else {prefix + "/scrape": "true", prefix + "/port": port, prefix + "/interval": "1s"}
ann.update(extra)
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": name, "namespace": ns, "uid": name + "-uid", "labels": {"app": name}, "annotations": ann},
  "spec": {"nodeName": node, "containers": [{"name": "main", "image": "x", "ports": [{"name": "metrics", "containerPort": int(port), "protocol": "TCP"}]}],
           "initContainers": [{"name": "init", "image": "x", "ports": [{"containerPort": 1, "protocol": "TCP"}]}]},
  "status": {"phase": "Running", "podIP": "127.0.0.1", "hostIP": "127.0.0.1",
             "conditions": [{"type": "Ready", "status": "True"}]}}))
PY
}
put() { fake_ctl POST /objects "$1" >/dev/null; }

A1=$(free_port); A2=$(free_port)
start_agent() { # start_agent NODE PORT
	"${K8SMON:-./bin/k8smon}" -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName="$1" \
		-httpListenAddr=127.0.0.1:$2 -leaderElection.namespace=default -loggerLevel=INFO \
		-promscrape.kubernetes.collectors=app >"$TMP/agent-$1.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_http "http://127.0.0.1:$2/healthz" || fail "agent $1 did not start"
}
start_agent n1 $A1
start_agent n2 $A2
U1=http://127.0.0.1:$A1; U2=http://127.0.0.1:$A2

until_true() { until_ms "$@"; } # MS CMD; tests/lib/common.sh

put "$(pod app a n1 $P_OK)"
check "annotated pod becomes a target within 1 s" until_true 1000 "curl -s $U1/api/v1/targets | grep -q '127.0.0.1:$P_OK'"
check "its samples carry namespace/pod/container/job/instance" until_true 3000 \
	"curl -s $U1/metrics/apps | grep -q 'app_requests_total{code=\"200\",i=\"0\",port=\"$P_OK\",container=\"main\",instance=\"127.0.0.1:$P_OK\",job=\"kubernetes-pods\",namespace=\"app\",node=\"n1\",pod=\"a\"} 0'"
check "up 1 for the target" until_true 3000 "curl -s $U1/metrics/apps | grep -q '^up{.*pod=\"a\"} 1'"
check "scrape_samples_scraped 3" sh -c "curl -s $U1/metrics/apps | grep -q '^scrape_samples_scraped{.*pod=\"a\"} 3'"
check "init container port is not a target" sh -c "! curl -s $U1/api/v1/targets | grep -q '127.0.0.1:1\"'"
put "$(pod app a n1 $P_OK2)"
check "changed port annotation followed within 1 s" until_true 1000 \
	"curl -s $U1/api/v1/targets | grep -q '127.0.0.1:$P_OK2' && ! curl -s $U1/api/v1/targets | grep -q '127.0.0.1:$P_OK\"'"
put "$(pod app a n1 $P_OK2 none)"
check "annotation removed: target gone within 1 s" until_true 1000 "! curl -s $U1/api/v1/targets | grep -q '127.0.0.1:$P_OK2'"
check "and its samples are gone from /metrics/apps" until_true 1000 "! curl -s $U1/metrics/apps | grep -q 'pod=\"a\"'"

# Sharding: pods on n1 and n2; each agent scrapes only its own.
for i in 1 2 3; do put "$(pod shard s1-$i n1 $P_OK)"; put "$(pod shard s2-$i n2 $P_N2)"; done
check "n1 has exactly its 3 pods" until_true 3000 "test \$(curl -s $U1/api/v1/targets | grep -o '\"pod\":\"s[12]-[0-9]\"' | sort -u | grep -c s1-) -eq 3"
check "n2 has exactly its 3 pods" until_true 3000 "test \$(curl -s $U2/api/v1/targets | grep -o '\"pod\":\"s[12]-[0-9]\"' | sort -u | grep -c s2-) -eq 3"
check "no overlap: n1 has no n2 pod" sh -c "! curl -s $U1/api/v1/targets | grep -q '\"pod\":\"s2-'"
check "no overlap: n2 has no n1 pod" sh -c "! curl -s $U2/api/v1/targets | grep -q '\"pod\":\"s1-'"
# Three replicas expose the same families: HELP/TYPE once per response, before
# the family's first sample.
check "3 replicas' samples in /metrics/apps" until_true 3000 "test \$(curl -s $U1/metrics/apps | grep -c '^app_requests_total{.*pod=\"s1-') -eq 9"
curl -s $U1/metrics/apps >"$TMP/apps.txt"
check "# TYPE app_requests_total counter once" test "$(grep -c '^# TYPE app_requests_total counter$' "$TMP/apps.txt")" -eq 1
check "# HELP app_requests_total Requests. once" test "$(grep -c '^# HELP app_requests_total Requests\.$' "$TMP/apps.txt")" -eq 1
check "TYPE before the family's first sample" sh -c "awk '/^# TYPE app_requests_total /{t=NR} /^app_requests_total[{ ]/{if(!f)f=NR} END{exit !(t && t<f)}' $TMP/apps.txt"
# promtool parses with expfmt, which rejects a second HELP/TYPE or a TYPE after
# samples ("error while linting"); its only lint is the synthetic series' missing HELP.
check "promtool check metrics parses /metrics/apps" sh -c "! promtool check metrics <$TMP/apps.txt 2>&1 | grep -v ' no help text\$' | grep -q ."
# Read with gzip, /metrics/apps is one gzip member (the streamed response's
# line deflate writer, src/http/deflate_line.c): Python's zlib (one member,
# nothing after it), gzip and curl --compressed decode it to the text of an
# identity read taken back to back (a scrape may land between the two:
# retried).
cat >"$TMP/gz_same.sh" <<EOF
curl -s -D "$TMP/gz.h" -H 'Accept-Encoding: gzip' $U1/metrics/apps >"$TMP/apps.gz" &&
curl -s $U1/metrics/apps >"$TMP/apps.id" &&
grep -qi '^content-encoding: gzip' "$TMP/gz.h" &&
python3 -c "
import sys, zlib
z = open(sys.argv[1], 'rb').read()
d = zlib.decompressobj(31)
t = d.decompress(z)
sys.exit(0 if d.eof and not d.unused_data and t == open(sys.argv[2], 'rb').read() else 1)" "$TMP/apps.gz" "$TMP/apps.id"
EOF
check "gzip read: one member, decoded = the identity read" until_true 5000 "sh $TMP/gz_same.sh"
check "gzip read: gzip -t accepts it" sh -c "gzip -t <$TMP/apps.gz"
check "curl --compressed decodes /metrics/apps" sh -c "curl -s --compressed $U1/metrics/apps | grep -c '^app_requests_total{.*pod=\"s1-' | grep -qx 9"
gzip -dc <"$TMP/apps.gz" >"$TMP/apps.gzt"
check "promtool check metrics parses the gzip read" sh -c "! promtool check metrics <$TMP/apps.gzt 2>&1 | grep -v ' no help text\$' | grep -q ."
fake_ctl DELETE "/objects?resource=pods&namespace=shard" >/dev/null

# Built-in rule covers prometheus.io too; a ScrapeRule takes the pods it
# selects from it (each pod scraped once), the built-in keeps the others.
put "$(pod prom p n1 $P_PROM prometheus.io)"
put "$(pod prom v n1 $P_OK victoriametrics.com)"
check "built-in rule: prometheus.io pod scraped" until_true 2000 "curl -s $U1/api/v1/targets | grep -q '\"pod\":\"p\"'"
cat >"$TMP/sr.json" <<JSON
{"apiVersion":"k8smon.io/v1alpha1","kind":"ScrapeRule","metadata":{"name":"r","namespace":"prom","generation":1},
 "spec":{"role":"pod","annotationPrefix":"victoriametrics.com","interval":"1s"}}
JSON
# POOL POD: scrape pools of that pod's targets, one per line.
cat >"$TMP/POOL" <<SH
#!/bin/sh
curl -s $U1/api/v1/targets | python3 -c "
import json,sys
for t in json.load(sys.stdin)['data']['activeTargets']:
    if t['labels'].get('pod') == sys.argv[1]: print(t['scrapePool'])" "\$1"
SH
chmod +x "$TMP/POOL"
put "$(cat "$TMP/sr.json")"
check "ScrapeRule victoriametrics.com: pod v only under the rule, p still under the built-in" until_true 2000 \
	"test \"\$($TMP/POOL v | tr '\n' ' ')\" = 'prom/r ' && test \"\$($TMP/POOL p | tr '\n' ' ')\" = 'kubernetes-pods '"
check "job label from the rule" until_true 2000 "curl -s $U1/metrics/apps | grep -q 'job=\"prom/r\"'"
put "$(sed 's/victoriametrics.com/prometheus.io/; s/"generation":1/"generation":2/' "$TMP/sr.json")" # a spec change bumps the generation
check "switched to prometheus.io: p under the rule, v back to the built-in" until_true 2000 \
	"test \"\$($TMP/POOL p | tr '\n' ' ')\" = 'prom/r ' && test \"\$($TMP/POOL v | tr '\n' ' ')\" = 'kubernetes-pods '"
fake_ctl DELETE "/objects?resource=scraperules&group=k8smon.io&namespace=prom&name=r" >/dev/null
fake_ctl DELETE "/objects?resource=pods&namespace=prom" >/dev/null

# namespaceSelector on a namespace label other than its name: the Namespace
# objects are watched, and a label change moves the namespace in or out.
# A rule reaches beyond its namespace only where a K8sMonitor allows it; the
# built-in rule (which would scrape both annotated pods) is off meanwhile.
put '{"apiVersion":"k8smon.io/v1alpha1","kind":"K8sMonitor","metadata":{"name":"cross","generation":1,"creationTimestamp":"2024-01-01T00:00:00Z"},
 "spec":{"scrape":{"allowLoopback":true,"crossNamespaceRules":["default"],"builtinRule":false}}}'
check "K8sMonitor with crossNamespaceRules applied" until_true 5000 "curl -s $U1/config | grep -q '\"source\": \"K8sMonitor/cross\"'"
nsobj() { printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s","labels":{"kubernetes.io/metadata.name":"%s","team":"%s"}}}' "$1" "$1" "$2"; }
put "$(nsobj shop-a shop)"
put "$(nsobj shop-b web)"
put "$(pod shop-a sa n1 $P_OK)"
put "$(pod shop-b sb n1 $P_OK2)"
put '{"apiVersion":"k8smon.io/v1alpha1","kind":"ScrapeRule","metadata":{"name":"team","namespace":"default","generation":1},
 "spec":{"role":"pod","annotationPrefix":"victoriametrics.com","interval":"1s","namespaceSelector":{"matchLabels":{"team":"shop"}}}}'
check "namespaceSelector team=shop: pod of the labelled namespace only" until_true 3000 \
	"curl -s $U1/api/v1/targets | grep -q '\"pod\":\"sa\"' && ! curl -s $U1/api/v1/targets | grep -q '\"pod\":\"sb\"'"
put "$(nsobj shop-b shop)"
check "namespace relabelled team=shop: its pod joins" until_true 3000 "curl -s $U1/api/v1/targets | grep -q '\"pod\":\"sb\"'"
put "$(nsobj shop-a web)"
check "namespace relabelled away: its pod leaves" until_true 3000 "! curl -s $U1/api/v1/targets | grep -q '\"pod\":\"sa\"'"
fake_ctl DELETE "/objects?resource=scraperules&group=k8smon.io&namespace=default&name=team" >/dev/null
fake_ctl DELETE "/objects?resource=k8smonitors&group=k8smon.io&name=cross" >/dev/null
fake_ctl DELETE "/objects?resource=pods&namespace=shop-a" >/dev/null
fake_ctl DELETE "/objects?resource=pods&namespace=shop-b" >/dev/null

# Hostile targets under a rule with sampleLimit; one healthy neighbour.
cat >"$TMP/hostile.json" <<JSON
{"apiVersion":"k8smon.io/v1alpha1","kind":"ScrapeRule","metadata":{"name":"h","namespace":"hostile","generation":1},
 "spec":{"role":"pod","interval":"2s","scrapeTimeout":"1s","sampleLimit":50000}}
JSON
put "$(cat "$TMP/hostile.json")"
put "$(pod hostile good n1 $P_OK)"
for k in slow:$P_SLOW endless:$P_END garbage:$P_GARB million:$P_MIL clash:$P_CLASH utf8:$P_UTF redirect:$P_REDIR gzip:$P_GZ; do
	put "$(pod hostile ${k%%:*} n1 ${k#*:})"
done
put "$(pod hostile tls n1 $P_TLS victoriametrics.com '{"victoriametrics.com/scheme":"https"}')"
# T POD: "health lastError" of that pod's target, from /api/v1/targets.
cat >"$TMP/T" <<SH
#!/bin/sh
curl -s $U1/api/v1/targets | python3 -c "
import json,sys
for t in json.load(sys.stdin)['data']['activeTargets']:
    if t['labels'].get('pod') == sys.argv[1]: print(t['health'], t['lastError'])" "\$1"
SH
chmod +x "$TMP/T"
T() { "$TMP/T" "$1"; }
sleep 4
for k in slow:"timed out" endless:"body size limit" garbage:"parse error" million:"sample limit" \
	utf8:"invalid_utf8\|utf8\|UTF" redirect:"redirects" tls:"TLS"; do
	name=${k%%:*}; want=${k#*:}
	check "hostile $name: down with '$want'" until_true 6000 "$TMP/T $name | grep -q '^down .*\\($want\\)'"
done
T slow >"$TMP/x"; T tls >>"$TMP/x"; T garbage >>"$TMP/x"; cat "$TMP/x"
check "healthy neighbour stays up" sh -c "$TMP/T good | grep -q '^up'"
check "gzip target up" sh -c "$TMP/T gzip | grep -q '^up'"
check "clashing labels renamed exported_*" until_true 3000 \
	"curl -s $U1/metrics/apps | grep -q 'clash_metric{exported_job=\"evil\",exported_namespace=\"evil\",exported_pod=\"evil\",container=\"main\".*namespace=\"hostile\".*pod=\"clash\"}'"
check "up 0 for a hostile target" sh -c "curl -s $U1/metrics/apps | grep -q '^up{.*pod=\"slow\"} 0'"
check "errors by reason in self-metrics" sh -c "curl -s $U1/metrics/self | grep -q '^k8smon_scrape_errors_total{reason=\"sample_limit\"} [1-9]'"
check "targets by health in self-metrics" sh -c "curl -s $U1/metrics/self | grep -q '^k8smon_scrape_targets{health=\"down\"} [1-9]'"
check "agent still healthy" sh -c "curl -s $U1/healthz | grep -q ok"
finish
