#!/bin/sh
# Issue 13, targets that keep their identity across a change: 1,000 app
# targets inherit the K8sMonitor's default interval; `kubectl apply` changes
# spec.interval (3s -> 5s, then 5s -> 2s). A target whose URL and labels are
# unchanged must keep its samples and `up` in /metrics/apps through the
# change: /metrics/apps is read back to back from the apply until well past
# one old plus one new interval, and every read must show all 1,000 targets
# with up 1 and their samples (zero targets losing their series; a restart
# left them without up or samples until their first scrape at the new
# interval). A ScrapeRule interval change is checked the same way, on a
# subset, and the schedule shown by /api/v1/targets must follow each change.
# No timing assertion: the windows only bound how long we look.
set -u
. tests/lib/common.sh
. tests/lib/fakeapi.sh
BIN=${K8SMON_BIN:-./bin/k8smon}
N=${N:-1000}
TMP=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; kill $FAKEAPI_PID 2>/dev/null; rm -rf "$TMP"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true
[ "$(ulimit -n)" -ge $((N * 3 + 200)) ] 2>/dev/null || { echo "ulimit -n $(ulimit -n) too low for $N targets"; exit 1; }

# ---- N targets on consecutive ports (tests/scrape/bench_targets.c) ---------
cc -O2 -o "$TMP/bench_targets" tests/scrape/bench_targets.c || { fail "build bench_targets"; finish; }
BASE=""
for try in 1 2 3 4 5 6 7 8; do
	b=$(python3 -c 'import random; print(random.randrange(20000, 31000 - '"$N"'))')
	"$TMP/bench_targets" "$b" "$N" 10 >"$TMP/t.out" 2>"$TMP/t.err" &
	TPID=$!
	i=0; while [ $i -lt 100 ] && kill -0 $TPID 2>/dev/null && ! grep -q READY "$TMP/t.out"; do
		sleep 0.1; i=$((i + 1))
	done
	if grep -q READY "$TMP/t.out" && kill -0 $TPID 2>/dev/null; then
		BASE=$b; PIDS="$PIDS $TPID"; break
	fi
	kill $TPID 2>/dev/null # a port of the range was taken: another range
done
[ -n "$BASE" ] || { fail "no free range of $N ports for the targets"; finish; }

fakeapi_start "$TMP" --load crds || { fail "fake API server"; finish; }
# N pods on node keep, annotated with a port but no interval: they inherit
# the K8sMonitor's (default) interval. Pods keep-0..99 are also selected by
# the ScrapeRule below (label sr=yes, prefix prometheus.io).
python3 - "$N" "$BASE" >"$TMP/pods.json" <<'PY'
import json, sys
n, base = int(sys.argv[1]), int(sys.argv[2])
def pod(i):
    pre = "prometheus.io" if i < 100 else "victoriametrics.com"
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "keep-%d" % i, "namespace": "keep", "uid": "u%d" % i,
                         "labels": {"app": "keep", "sr": "yes" if i < 100 else "no"},
                         "annotations": {pre + "/scrape": "true", pre + "/port": str(base + i)}},
            "spec": {"nodeName": "keep", "containers": [{"name": "c", "ports": [{"containerPort": base + i}]}]},
            "status": {"phase": "Running", "podIP": "127.0.0.1"}}
print(json.dumps([pod(i) for i in range(n)]))
PY
curl -sf --cacert "$TMP/api/ca.crt" -X POST -H 'Content-Type: application/json' \
	--data-binary "@$TMP/pods.json" "$CONTROL/objects" >/dev/null || { fail "bulk pod load"; finish; }

monitor() { # monitor INTERVAL
	kubectl apply -f - >/dev/null <<YAML
apiVersion: k8smon.io/v1alpha1
kind: K8sMonitor
metadata: {name: keep}
spec:
  collectors: [app]
  interval: $1
  # The targets listen on 127.0.0.1, all in one namespace: the admin
  # allows both (the defaults refuse loopback and cap 200 per namespace).
  scrape: {allowLoopback: true, maxTargets: 2000, maxTargetsPerNamespace: 2000}
YAML
}
# Two rules: the ScrapeRule "sr" (prometheus.io pods, its own interval) and
# "rest" (the victoriametrics.com pods, no interval: the K8sMonitor's).
rules() { # rules SR_INTERVAL
	kubectl apply -f - >/dev/null <<YAML
apiVersion: k8smon.io/v1alpha1
kind: ScrapeRule
metadata: {name: sr, namespace: keep}
spec:
  role: pod
  annotationPrefix: prometheus.io
  selector: {matchLabels: {sr: "yes"}}
  interval: $1
---
apiVersion: k8smon.io/v1alpha1
kind: ScrapeRule
metadata: {name: rest, namespace: keep}
spec:
  role: pod
  annotationPrefix: victoriametrics.com
YAML
}
monitor 3s || { fail "kubectl apply K8sMonitor"; finish; }
rules 4s || { fail "kubectl apply ScrapeRules"; finish; }

PORT=$(free_port)
U=http://127.0.0.1:$PORT
"$BIN" -promscrape.kubernetes -kubeconfig="$KUBECONFIG" -nodeName=keep -leaderElection=false \
	-promscrape.kubernetes.collectors=app -httpListenAddr=127.0.0.1:$PORT -loggerLevel=INFO \
	>"$TMP/agent.log" 2>&1 &
PIDS="$PIDS $!"
wait_http "$U/healthz" 20 || { fail "agent did not start"; finish; }

# count_ok FILE: "UP SAMPLES" = targets with up 1, targets with their
# app_family0_total sample, counted by instance.
count_ok() {
	awk '/^up\{/ && $NF == 1 { if (match($0, /instance="[^"]*"/)) up[substr($0, RSTART, RLENGTH)] = 1 }
	     /^app_family0_total\{/ { if (match($0, /instance="[^"]*"/)) s[substr($0, RSTART, RLENGTH)] = 1 }
	     END { nu = 0; ns = 0; for (k in up) nu++; for (k in s) ns++; print nu, ns }' "$1"
}
all_ok() { curl -s "$U/metrics/apps" >"$TMP/apps.txt" && [ "$(count_ok "$TMP/apps.txt")" = "$N $N" ]; }
# n_interval IV: targets whose scrapeInterval is IV in /api/v1/targets.
n_interval() { curl -s "$U/api/v1/targets" | grep -o "\"scrapeInterval\":\"$1\"" | wc -l; }

i=0; until all_ok || [ $i -gt 600 ]; do sleep 0.1; i=$((i + 1)); done
check "all $N targets up with samples before the change" all_ok

# watch WINDOW_S WANT_IV WANT_N: reads /metrics/apps back to back for
# WINDOW_S seconds (and at least until WANT_N targets show WANT_IV, up to 60 s);
# reports the reads and the worst one.
watch() {
	reads=0; bad=0; worst="$N $N"; seen=0
	end=$(( $(date +%s) + $1 )); hard=$(( $(date +%s) + 60 ))
	while :; do
		now=$(date +%s)
		[ "$now" -ge "$hard" ] && break
		[ "$now" -ge "$end" ] && [ "$seen" -ge "$3" ] && break
		curl -s "$U/metrics/apps" >"$TMP/apps.txt"
		c=$(count_ok "$TMP/apps.txt")
		reads=$((reads + 1))
		if [ "$c" != "$N $N" ]; then
			bad=$((bad + 1))
			[ "${c% *}" -le "${worst% *}" ] && worst=$c
		fi
		[ "$seen" -lt "$3" ] && seen=$(n_interval "$2")
	done
	echo "$reads reads, $bad missing targets, worst (up samples): $worst; $seen targets at $2"
	[ "$bad" -eq 0 ] && [ "$seen" -ge "$3" ]
}

NREST=$((N - 100))
monitor 5s
r=$(watch 12 5s $NREST) && ok "K8sMonitor interval 3s -> 5s: no target lost up or samples ($r)" ||
	fail "K8sMonitor interval 3s -> 5s: targets lost their series ($r)"
monitor 2s
r=$(watch 10 2s $NREST) && ok "K8sMonitor interval 5s -> 2s: no target lost up or samples ($r)" ||
	fail "K8sMonitor interval 5s -> 2s: targets lost their series ($r)"
rules 6s
r=$(watch 12 6s 100) && ok "ScrapeRule interval 4s -> 6s: no target lost up or samples ($r)" ||
	fail "ScrapeRule interval 4s -> 6s: targets lost their series ($r)"
check "all $N targets still up with samples" all_ok
check "the 900 K8sMonitor targets scraped at 2s" test "$(n_interval 2s)" -eq $NREST
check "the 100 ScrapeRule targets scraped at 6s" test "$(n_interval 6s)" -eq 100
# Identity changes still replace: a relabeling that adds a label to the
# "sr" targets ends their old series (no target keeps the old label set).
kubectl apply -f - >/dev/null <<YAML
apiVersion: k8smon.io/v1alpha1
kind: ScrapeRule
metadata: {name: sr, namespace: keep}
spec:
  role: pod
  annotationPrefix: prometheus.io
  selector: {matchLabels: {sr: "yes"}}
  interval: 6s
  relabelings: [{targetLabel: team, replacement: a}]
YAML
check "changed labels: the 100 targets are replaced (team=\"a\", old series gone)" until_ms 30000 \
	"curl -s $U/metrics/apps >$TMP/l.txt && test \$(grep -c '^up{.*job=\"keep/sr\".*team=\"a\"} 1' $TMP/l.txt) -eq 100 && ! grep '^up{.*job=\"keep/sr\"' $TMP/l.txt | grep -vq 'team=\"a\"'"
if [ "$FAILS" -ne 0 ]; then
	echo "--- agent log (tail)"; tail -20 "$TMP/agent.log"
fi
finish
