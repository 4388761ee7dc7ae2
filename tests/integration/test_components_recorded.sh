#!/bin/sh
# The component jobs (issue 19) against tests/fakecomp (recorded output of the real
# kubelet, kube-apiserver, scheduler, controller-manager, kube-proxy, CoreDNS and
# etcd, served over HTTPS with TokenReview + SubjectAccessReview against the fake
# API server, etcd with a client certificate), in Kubernetes mode:
#   - every job up 1 with kube-prometheus's ServiceMonitor labels (job, instance,
#     node, metrics_path, namespace, service, endpoint), scrape_duration_seconds and
#     scrape_samples_scraped per target; the recorded series served with their
#     recorded values; /metrics/components = the per-component paths together;
#   - the agent authenticates with its token: the fake API server revoking the grant
#     turns the kubelet's answer into 403 and its up into 0;
#   - each fault (down, slow, 401, 403, garbage, 1M series, huge body) turns that
#     job's up to 0, counts the failure in k8smon_components_scrape_errors_total of
#     /metrics/self, logs a line naming the target (never more lines than failures;
#     the limiter's "N similar lines suppressed" seen), while every other job
#     stays up 1 and kube-state keeps serving; back to normal, the job is up 1 again.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
. tests/lib/fakeapi.sh
. tests/lib/comp_env.sh
TMP=$(mktemp -d)
trap 'comp_stop; [ -n "${KEEP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"' EXIT
[ -x bin/k8smon ] || make -j2 >/dev/null || { fail "make"; finish; }
FX=tests/fakecomp/fixtures
# shellcheck disable=SC2086
# 5 s: the timeout is the interval; the 2 MB API server recording behind Python servers
# (fakecomp, the TokenReview of the fake API server) can take over 2 s on a loaded machine
comp_start "$TMP" -promscrape.kubernetes.interval=5s ${COMP_AGENT_FLAGS:-} || { fail "test bed did not start"; finish; }
ok "fakeapi + fakecomp + agent started"

# upq JOB METRICS_PATH VALUE: a shell command (for until_ms) true once the agent's up
# for that job and path reads VALUE
# (only the kubelet's jobs have a metrics_path label: kube-prometheus adds it there only)
upq() {
	if [ "$1" != kubelet ]; then
		printf 'curl -s %s/metrics/components | grep "^up{" | grep "job=\\"%s\\"" | grep -q "} %s\$"' "$U" "$1" "$3"
	else
		printf 'curl -s %s/metrics/components | grep "^up{" | grep "job=\\"%s\\"" | grep "metrics_path=\\"%s\\"" | grep -q "} %s\$"' "$U" "$1" "$2" "$3"
	fi
}
JOBS="kubelet:/metrics kubelet:/metrics/probes kubelet:/metrics/resource apiserver:- kube-scheduler:- kube-controller-manager:- kube-proxy:- kube-dns:- etcd:-"
for jp in $JOBS; do
	check "up{job=\"${jp%%:*}\"$([ "${jp#*:}" = - ] || echo ",metrics_path=\"${jp#*:}\"")} 1" until_ms 60000 "$(upq "${jp%%:*}" "${jp#*:}" 1)"
done
comp_scrape /metrics/components >"$TMP/all.prom"
comp_scrape /metrics/self >"$TMP/self0.prom"

# kube-prometheus's labels, exactly (tests/fakecomp/README.md lists where each comes from)
python3 - "$TMP/all.prom" "$FC_JSON" >"$TMP/labels.out" 2>&1 <<'PY'
import json, re, sys
ports = json.load(open(sys.argv[2]))["ports"]
want = {
    ("kubelet", "/metrics"): {"job": "kubelet", "namespace": "kube-system", "service": "kubelet",
                              "endpoint": "https-metrics", "node": "k8smon-node", "instance": "127.0.0.1:%d" % ports["kubelet"]},
    ("apiserver", "/metrics"): {"job": "apiserver", "namespace": "default", "service": "kubernetes",
                                "endpoint": "https", "instance": "127.0.0.1:%d" % ports["kube-apiserver"]},
    # kube-prometheus's kubeadm platform: Services <component>-prometheus-discovery
    ("kube-scheduler", "/metrics"): {"job": "kube-scheduler", "namespace": "kube-system",
                                     "service": "kube-scheduler-prometheus-discovery",
                                     "endpoint": "https-metrics", "instance": "127.0.0.1:%d" % ports["kube-scheduler"]},
    ("kube-controller-manager", "/metrics"): {"job": "kube-controller-manager", "namespace": "kube-system",
                                              "service": "kube-controller-manager-prometheus-discovery",
                                              "endpoint": "https-metrics",
                                              "instance": "127.0.0.1:%d" % ports["kube-controller-manager"]},
    ("kube-dns", "/metrics"): {"job": "kube-dns", "namespace": "kube-system", "service": "kube-dns",
                               "endpoint": "metrics", "pod": "coredns-1", "instance": "127.0.0.1:%d" % ports["coredns"]},
    # the kube-proxy PodMonitor: instance = the node's name
    ("kube-proxy", "/metrics"): {"job": "kube-proxy", "namespace": "kube-system", "instance": "k8smon-node"},
}
bad = 0
ups = {}
for line in open(sys.argv[1]):
    if line.startswith("up{"):
        labels = dict(re.findall(r'([a-zA-Z_]\w*)="([^"]*)"', line))
        ups[(labels.get("job"), labels.get("metrics_path", "/metrics"))] = labels
for k, w in want.items():
    got = ups.get(k)
    if got is None:
        print("FAIL no up for", k); bad += 1; continue
    for name, val in w.items():
        if got.get(name) != val:
            print("FAIL %s: %s=%r, want %r (all: %s)" % (k, name, got.get(name), val, got)); bad += 1
    print("labels %s: %s" % (k, got))
sys.exit(1 if bad else 0)
PY
if [ $? -eq 0 ]; then ok "up carries kube-prometheus's job/instance/node/metrics_path/namespace/service/endpoint"; else fail "labels:"; sed 's/^/    /' "$TMP/labels.out"; fi
for f in scrape_duration_seconds scrape_samples_scraped; do
	check "$f per target (kubelet /metrics, etcd)" sh -c "grep -E '^$f\{' '$TMP/all.prom' | grep 'job=\"kubelet\"' | grep -q 'metrics_path=\"/metrics\"' && grep -E '^$f\{' '$TMP/all.prom' | grep -q 'job=\"etcd\"'"
done

# the recorded series, with the recorded values, on each component's own path
# same NAME PATH FIXTURE: every sample of NAME in FIXTURE is in PATH with its labels and value
same() {
	python3 - "$1" "$3" "$TMP/p.prom" <<'PY'
import re, sys
name, fx, got = sys.argv[1:]
S = re.compile(r'^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)')
def load(p):
    out = {}
    for l in open(p):
        m = S.match(l)
        if m and m.group(1) == name:
            # an empty label value is no label (the exposition format's rule)
            out.setdefault(frozenset((k, v) for k, v in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "") if v),
                           float(m.group(3)))
    return out
want, have = load(fx), load(got)
if not want:
    print("no %s in %s" % (name, fx)); sys.exit(1)
miss = [k for k, v in want.items() if not any(k <= hk and hv == v for hk, hv in have.items())]
print("%s: %d recorded, %d served, %d missing" % (name, len(want), len(have), len(miss)))
sys.exit(1 if miss else 0)
PY
}
while read -r path name fx; do
	comp_scrape "$path" >"$TMP/p.prom"
	if out=$(same "$name" "$path" "$FX/$fx"); then ok "$path: $out"; else fail "$path: $out"; fi
done <<'EOF'
/metrics/kubelet kubelet_running_pods kubelet/metrics.prom
/metrics/kubelet kubelet_volume_stats_available_bytes kubelet/metrics.prom
/metrics/kubelet prober_probe_total kubelet/metrics_probes.prom
/metrics/kubelet node_memory_working_set_bytes kubelet/metrics_resource.prom
/metrics/apiserver apiserver_request_total kube-apiserver/metrics.prom
/metrics/kube-scheduler scheduler_schedule_attempts_total kube-scheduler/metrics.prom
/metrics/kube-controller-manager workqueue_adds_total kube-controller-manager/metrics.prom
/metrics/kube-proxy kubeproxy_sync_proxy_rules_duration_seconds_count kube-proxy/metrics.prom
/metrics/coredns coredns_dns_requests_total coredns/metrics.prom
/metrics/etcd etcd_server_has_leader etcd/metrics.prom
EOF
n_all=$(grep -vc '^#' "$TMP/all.prom")
n_sum=0
for p in kubelet apiserver kube-scheduler kube-controller-manager kube-proxy coredns etcd; do
	n_sum=$((n_sum + $(comp_scrape "/metrics/$p" | grep -vc '^#')))
done
# the two reads are scrapes apart: the same series, values may move
check "/metrics/components = the seven per-component paths together ($n_all vs $n_sum samples)" \
	sh -c "[ $n_all -gt 1000 ] && [ \$(( $n_all - $n_sum )) -le 50 ] && [ \$(( $n_sum - $n_all )) -le 50 ]"
# (promtool's naming lints are about the components' own names; a parse error is ours)
check "promtool parses /metrics/components" sh -c "! promtool check metrics <'$TMP/all.prom' 2>&1 | grep -q 'error while linting'"

# the agent's token decides: the API server withdrawing the grant -> the kubelet says 403
fake_ctl POST /auth '{"rules": [{"user": "system:serviceaccount:k8smon:k8smon", "allowed": false}], "default_allowed": false}' >/dev/null
check "grant withdrawn: kubelet 403 -> up 0" until_ms 60000 "$(upq kubelet /metrics 0)"
check "grant withdrawn: fakecomp saw the agent's 403s" sh -c "curl -s $FC_CTL/requests | grep -q '\"kubelet /metrics 403\"'"
fake_ctl POST /auth '{"rules": [{"user": "system:serviceaccount:k8smon:k8smon", "allowed": true}], "default_allowed": false}' >/dev/null
check "grant restored: kubelet up 1" until_ms 60000 "$(upq kubelet /metrics 1)"

# errors SELF_FILE: the failed scrapes counted in it (the component scraper's
# k8smon_components_scrape_errors_total, by reason)
ERRX='^k8smon_components_scrape_errors_total[{ ]'
errors() { grep -E "$ERRX" "$1" | awk '{s += $NF} END {print s + 0}'; }
upline() { # job metrics_path value
	sh -c "$(upq "$1" "$2" "$3")"
}
# fault COMPONENT JOB MODE [extra json]: up 0, errors counted, a log line, others unaffected, recovery
fault_case() {
	comp=$1 job=$2 mode=$3 extra=${4:-}
	curl -s "$U/metrics/self" >"$TMP/self.before"
	TARGET="127.0.0.1:$(fc_port "$comp")"
	lines0=$(grep -c "$TARGET" "$TMP/k8smon.log")
	fc_fault "{\"component\":\"$comp\",\"mode\":\"$mode\"$extra}"
	if until_ms 90000 "$(upq "$job" /metrics 0)" >/dev/null; then
		ok "$mode on $comp: up{job=\"$job\"} 0"
	else
		fail "$mode on $comp: up{job=\"$job\"} not 0"; grep "^up{.*job=\"$job\"" "$TMP/all.prom" | head -2
	fi
	# a few more failed scrapes, for the error count and the log rate limit
	e0=$(errors "$TMP/self.before")
	until_ms 60000 "curl -s $U/metrics/self >'$TMP/self.after'; [ \$(grep -E '$ERRX' '$TMP/self.after' | awk '{s += \$NF} END {print s + 0}') -ge $((e0 + 3)) ]" >/dev/null
	e1=$(errors "$TMP/self.after")
	if [ "$e1" -ge $((e0 + 3)) ]; then ok "$mode on $comp: k8smon_components_scrape_errors_total +$((e1 - e0)) ($(diff "$TMP/self.before" "$TMP/self.after" | grep -E '^> k8smon_components_scrape_errors_total' | sed 's/^> //' | tr '\n' ' '))"
	else fail "$mode on $comp: k8smon_components_scrape_errors_total $e0 -> $e1"; fi
	# the log names the target, rate-limited: one line, or lines that say how many
	# similar ones they stand for (the limiter is shared by the component targets: the
	# line may come a limiter period later)
	until_ms 60000 "[ \$(grep -c '$TARGET' '$TMP/k8smon.log') -gt $lines0 ]" >/dev/null
	grep "$TARGET" "$TMP/k8smon.log" | tail -n +$((lines0 + 1)) >"$TMP/lines"
	# (never more lines than failures; the limiter itself is checked once at the end, on
	# the lines that say how many they stand for)
	n=$(wc -l <"$TMP/lines")
	e2=$(curl -s "$U/metrics/self" >"$TMP/self.now"; errors "$TMP/self.now")
	if [ "$n" -ge 1 ] && [ "$n" -le $((e2 - e0)) ]; then
		ok "$mode on $comp: $n log line(s) for $((e2 - e0)) failures: $(tail -1 "$TMP/lines" | cut -c1-220)"
	else fail "$mode on $comp: $n log lines naming $TARGET for $((e2 - e0)) failures"; fi
	others=0
	for jp in $JOBS; do
		[ "${jp%%:*}" = "$job" ] && continue
		upline "${jp%%:*}" "${jp#*:}" 1 || { others=$((others + 1)); echo "    not up: $jp"; }
	done
	check "$mode on $comp: every other job still up 1" test "$others" -eq 0
	check "$mode on $comp: kube-state still served" sh -c "curl -s $U/metrics/kube-state | grep -q '^kube_node_info{'"
	fc_fault "{\"component\":\"$comp\",\"mode\":\"ok\"}"
	check "$mode on $comp: back to normal, up 1" until_ms 90000 "$(upq "$job" /metrics 1)"
}
fault_case kubelet kubelet down
fault_case kube-scheduler kube-scheduler slow
fault_case kube-controller-manager kube-controller-manager 401
fault_case kube-apiserver apiserver 403
fault_case kube-proxy kube-proxy garbage
fault_case coredns kube-dns series ',"series":1000000'
fault_case etcd etcd huge ',"mb":256'
check "the agent is still running" kill -0 "$AGENT_PID"
check "the failure log is rate-limited: lines say how many similar ones they stand for" \
	grep -q 'level=warn subsystem=scrape msg="[^"]*127.0.0.1:[0-9]*/metrics[^"]*([0-9]* similar lines suppressed)' "$TMP/k8smon.log"
finish
