#!/bin/sh
# Staleness markers in remote write, read back from the real receivers
# (tests/peers: victoria-metrics single-node, Prometheus with
# --web.enable-remote-write-receiver). Two agents in Kubernetes mode (fake API
# server) each scrape one application pod served on 127.0.0.1 and push to both:
# agent A as by default, agent B with -promscrape.noStaleMarkers (the
# control). Both receivers look back 5 minutes (Prometheus' lookback,
# victoria-metrics -search.maxStalenessInterval=5m), so without a marker a
# series vanished from its target is still returned at "now".
#   1. demo_gone vanishes from both targets: A's ends at once in both
#      receivers (a query at now returns nothing), B's is still returned;
#      A's demo_keep goes on; victoria-metrics' raw export holds exactly one
#      marker (NaN) for A's demo_gone, never a second one;
#   2. both pods are deleted: A's up and demo_keep end, B's are still
#      returned; the rendered kube-state section (both agents lead, no
#      election) ends A's kube_pod_info of the pod too, B's is still
#      returned, and A counts its markers in
#      k8smon_remotewrite_stale_markers_total{source="kube-state"}.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
. tests/lib/realapi.sh
. tests/lib/fakeapi.sh
. tests/lib/rw.sh
rw_test_init rwstale
real_peers victoria-metrics prometheus

VMP=$(free_port)
PP=$(free_port)
rw_vm_start -search.maxStalenessInterval=5m || bail "victoria-metrics starts"
rw_prom_start /dev/null || bail "prometheus starts"
fakeapi_start "$TMP/api" --load crds || bail "fake API server"

# the two targets: a static file each, served by python's http.server
PA=$(free_port); PB=$(free_port)
for t in a b; do
	mkdir -p "$TMP/srv-$t"
	printf 'demo_keep 1\ndemo_gone{k="x"} 2\n' >"$TMP/srv-$t/metrics"
done
python3 -m http.server "$PA" --bind 127.0.0.1 --directory "$TMP/srv-a" >/dev/null 2>&1 &
PIDS="$PIDS $!"
python3 -m http.server "$PB" --bind 127.0.0.1 --directory "$TMP/srv-b" >/dev/null 2>&1 &
PIDS="$PIDS $!"
wait_http "http://127.0.0.1:$PA/metrics" && wait_http "http://127.0.0.1:$PB/metrics" || bail "target servers"

pod() { # pod NAME NODE PORT
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","namespace":"demo","uid":"u-%s","labels":{"app":"%s"},
	  "annotations":{"victoriametrics.com/scrape":"true","victoriametrics.com/port":"%s","victoriametrics.com/interval":"1s"}},
	  "spec":{"nodeName":"%s","containers":[{"name":"main","image":"x","ports":[{"containerPort":%s,"protocol":"TCP"}]}]},
	  "status":{"phase":"Running","podIP":"127.0.0.1","hostIP":"127.0.0.1","conditions":[{"type":"Ready","status":"True"}]}}' \
		"$1" "$1" "$1" "$3" "$2" "$3"
}
fake_ctl POST /objects "$(pod stale-a sa-node "$PA")" >/dev/null
fake_ctl POST /objects "$(pod stale-b sb-node "$PB")" >/dev/null

agent() { # agent NODE CLUSTER LOG [ARGS]
	node=$1 cl=$2 log=$3; shift 3
	"$AGENT" -promscrape.kubernetes -promscrape.allowLoopback -kubeconfig="$KUBECONFIG" -nodeName="$node" \
		-leaderElection=false -httpListenAddr=127.0.0.1:0 -promscrape.kubernetes.collectors=app,kube-state \
		-promscrape.kubernetes.interval=1s -remoteWrite.url="http://127.0.0.1:$VMP/api/v1/write" \
		-remoteWrite.url="http://127.0.0.1:$PP/api/v1/write" -remoteWrite.label=cluster="$cl" "$@" >"$log" 2>&1 &
	PIDS="$PIDS $!"
}
agent sa-node stale-a "$TMP/agent-a.log"
agent sb-node stale-b "$TMP/agent-b.log" -promscrape.noStaleMarkers

# none: the query at now returns no series
none() { [ -z "$($1 "$2" | val)" ]; }
for q in vmq pq; do
	for cl in stale-a stale-b; do
		check "$q: demo_gone{cluster=\"$cl\"} arrives" wait_for 60 has $q "demo_gone{cluster=\"$cl\"}"
	done
done
for q in vmq pq; do
	for cl in stale-a stale-b; do
		check "$q: kube_pod_info{cluster=\"$cl\",pod=\"stale-a\"} arrives" \
			wait_for 60 has $q "kube_pod_info{cluster=\"$cl\",pod=\"stale-a\"}"
	done
done
# a few more scrapes with demo_gone, then it vanishes from both targets
sleep 3
for t in a b; do printf 'demo_keep 1\n' >"$TMP/srv-$t/metrics.new" && mv "$TMP/srv-$t/metrics.new" "$TMP/srv-$t/metrics"; done
for q in pq vmq; do
	check "$q: with markers, demo_gone ends as soon as it vanishes" wait_for 60 none $q 'demo_gone{cluster="stale-a"}'
done
for q in pq vmq; do
	check "$q: without markers (-promscrape.noStaleMarkers), demo_gone is still returned" \
		has $q 'demo_gone{cluster="stale-b"}'
	check "$q: demo_keep goes on" has $q 'demo_keep{cluster="stale-a"}'
done
# a few more scrapes without demo_gone: its one marker is not sent again
sleep 5
export_nans() { # how many NaN points victoria-metrics holds for SELECTOR
	curl -sf "http://127.0.0.1:$VMP/api/v1/export" --data-urlencode "match[]=$1" |
		/usr/bin/python3 -c 'import json,sys,math
n = 0
for line in sys.stdin:
    if line.strip():
        n += sum(1 for v in json.loads(line)["values"] if v is None or (isinstance(v, float) and math.isnan(v)) or v in ("NaN", "nan"))
print(n)'
}
echo "victoria-metrics export of A's demo_gone: $(curl -sf "http://127.0.0.1:$VMP/api/v1/export" --data-urlencode 'match[]=demo_gone{cluster="stale-a"}' | head -c 600)"
check "victoria-metrics holds exactly one marker for A's demo_gone" [ "$(export_nans 'demo_gone{cluster="stale-a"}')" = 1 ]
check "victoria-metrics holds no marker for B's demo_gone" [ "$(export_nans 'demo_gone{cluster="stale-b"}')" = 0 ]

# --- 2. the pods go away
fake_ctl DELETE "/objects?resource=pods&namespace=demo&name=stale-a" >/dev/null
fake_ctl DELETE "/objects?resource=pods&namespace=demo&name=stale-b" >/dev/null
for q in pq vmq; do
	check "$q: A's pod deleted: its up ends" wait_for 60 none $q 'up{cluster="stale-a",pod="stale-a"}'
	check "$q: A's pod deleted: its demo_keep ends" wait_for 60 none $q 'demo_keep{cluster="stale-a"}'
	check "$q: A's pod deleted: its scrape_series_added ends" wait_for 60 none $q 'scrape_series_added{cluster="stale-a",pod="stale-a"}'
done
for q in pq vmq; do
	check "$q: A's pod deleted: its kube_pod_info (kube-state section) ends" \
		wait_for 60 none $q 'kube_pod_info{cluster="stale-a",pod="stale-a"}'
done
for q in pq vmq; do
	check "$q: without markers, B's up is still returned" has $q 'up{cluster="stale-b",pod="stale-b"}'
	check "$q: without markers, B's kube_pod_info of the deleted pod is still returned" \
		has $q 'kube_pod_info{cluster="stale-b",pod="stale-a"}'
done
ks_markers() { # LOG: that agent's k8smon_remotewrite_stale_markers_total{source="kube-state"}
	port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$1" | head -1)
	curl -sf "http://127.0.0.1:$port/metrics/self" |
		awk '$1 == "k8smon_remotewrite_stale_markers_total{source=\"kube-state\"}" { print $2 }'
}
MA=$(ks_markers "$TMP/agent-a.log"); MB=$(ks_markers "$TMP/agent-b.log")
echo "kube-state markers counted: A $MA, B $MB"
check "A counts its kube-state markers" [ "${MA:-0}" -ge 1 ]
check "B (-promscrape.noStaleMarkers) makes none" [ "$MB" = 0 ]
check "no sanitizer report or crash in the agents' logs" sh -c \
	"! grep -lE 'AddressSanitizer|LeakSanitizer|runtime error|Segmentation' '$TMP'/agent*.log"
finish
