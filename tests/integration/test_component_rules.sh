#!/bin/sh
# kube-prometheus's KubeletDown, KubeAPIDown, KubePersistentVolumeFillingUp,
# KubeletTooManyPods and KubeAPIErrorBudgetBurn (with the apiserver SLO recording
# rules they need), unchanged (examples/prometheus/rules), fed ONLY by what the agent
# serves: the agent runs its component jobs against tests/fakecomp (recorded real
# components) and the fake API server; its /metrics/components and /metrics/kube-state
# are scraped in each phase of the scenarios (healthy, kubelet down, a full volume, a
# crowded kubelet, the API server refusing the Lease renewals so that no agent leads), each scrape taken once the agent's own
# `up` / series show the phase; tests/e2e/comp_rules.py turns the scrapes into unit
# tests (gauges and `up` as served, counters growing per scenario), which
#   - promtool test rules (Prometheus peer, tests/peers/versions), and
#   - vmalert-tool unittest (VictoriaMetrics peer `vmalert`)
# must pass: each alert silent while healthy and firing once its fault lasted longer
# than its `for:`.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
. tests/lib/fakeapi.sh
. tests/lib/comp_env.sh
TMP=$(mktemp -d)
trap 'comp_stop; [ -n "${KEEP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"' EXIT
[ -x bin/k8smon ] || make -j2 >/dev/null || { fail "make"; finish; }
eval "$(tests/peers/build.sh --env prometheus vmalert)" || { fail "peers prometheus/vmalert do not build (tests/peers/build.sh prometheus vmalert)"; finish; }
PROMTOOL=$PROMETHEUS_BIN/promtool
VMTOOL=$VMALERT_BIN/vmalert-tool
# shellcheck disable=SC2086
comp_start "$TMP" -promscrape.kubernetes.interval=5s -leaderElection.leaseDuration=6s \
	-leaderElection.renewDeadline=4s -leaderElection.retryPeriod=1s ${COMP_AGENT_FLAGS:-} || { fail "test bed did not start"; finish; }

# (the apiserver's up has no metrics_path: kube-prometheus adds it to the kubelet's only)
upq() {
	if [ "$1" = apiserver ]; then
		printf 'curl -s %s/metrics/components | grep "^up{" | grep "job=\\"apiserver\\"" | grep -q "} %s\$"' "$U" "$3"
	else
		printf 'curl -s %s/metrics/components | grep "^up{" | grep "job=\\"%s\\"" | grep "metrics_path=\\"%s\\"" | grep -q "} %s\$"' "$U" "$1" "$2" "$3"
	fi
}
# phase NAME CONDITION: once CONDITION (a shell command) holds, scrape the agent into
# TMP/phases/NAME (kube-state with the job label the chart's scrape gives it)
phase() {
	if until_ms 90000 "$2" >/dev/null; then ok "phase $1: agent shows it"; else fail "phase $1: not reached ($2)"; fi
	mkdir -p "$TMP/phases/$1"
	comp_scrape /metrics/components >"$TMP/phases/$1/components.prom"
	comp_scrape /metrics/kube-state | sed -E 's/^(kube_[a-z_:0-9]*)\{/\1{job="kube-state-metrics",/; s/^(kube_[a-z_:0-9]*) /\1{job="kube-state-metrics"} /' \
		>"$TMP/phases/$1/kube-state.prom"
}
all_up="$(upq kubelet /metrics 1) && $(upq apiserver /metrics 1) && curl -s $U/metrics/kube-state | grep -q '^kube_node_status_capacity{.*resource=\"pods\"'"
phase healthy "$all_up"
fc_fault '{"component":"kubelet","mode":"down"}'
phase kubelet-down "$(upq kubelet /metrics 0)"
fc_fault '{"component":"kubelet","mode":"ok","set":{"kubelet_volume_stats_available_bytes":1}}'
phase volume-full "$(upq kubelet /metrics 1) && curl -s $U/metrics/kubelet | grep -q '^kubelet_volume_stats_available_bytes{.*} 1\$'"
fc_fault '{"component":"kubelet","mode":"ok","set":{"kubelet_running_pods":109}}'
phase crowded "curl -s $U/metrics/kubelet | grep -q '^kubelet_running_pods{.*} 109\$'"
fc_fault '{"component":"kubelet","mode":"ok"}'
# the API server answers the Lease renewals with 503: the agent stops leading, and
# no agent serves the apiserver job (the leader's alone) -- what a cluster whose API
# server is gone looks like through k8smon
fake_ctl POST /fault '{"action":"fail","count":1000000,"code":503,"path":"leases"}' >/dev/null
phase apiserver-gone "curl -s $U/metrics/self | grep -q '^k8smon_leader{[^}]*} 0' && ! curl -s $U/metrics/components | grep -q '^up{.*job=\"apiserver\"'"
check "the healthy scrape has the inputs: kubelet_volume_stats_*, kubelet_running_pods, kubelet_node_name, apiserver_request_total" sh -c \
	"for m in kubelet_volume_stats_available_bytes kubelet_volume_stats_capacity_bytes kubelet_volume_stats_used_bytes kubelet_running_pods kubelet_node_name apiserver_request_total apiserver_request_sli_duration_seconds_bucket; do grep -q \"^\$m{\" '$TMP/phases/healthy/components.prom' || { echo \$m; exit 1; }; done"

# apiserver:burnrate* (verb read) adds the slow cluster-scope reads from the le="30" bucket,
# and the namespace-scope ones from le="5": without either series the read burn rate is
# empty and KubeAPIErrorBudgetBurn can never fire. (kube-prometheus's own apiserver drop
# list removes le="30"; kube-prometheus-stack put it back in 2025, and so do the
# component jobs: src/collect/components/drops.c.)
for b in cluster:30 namespace:5 resource:1; do
	check "the read burn-rate input apiserver_request_sli_duration_seconds_bucket{scope=\"${b%:*}\",le=\"${b#*:}\"} is served" sh -c \
		"grep '^apiserver_request_sli_duration_seconds_bucket{' '$TMP/phases/healthy/components.prom' | grep 'scope=\"${b%:*}\"' | grep -q 'le=\"${b#*:}\"'"
done
python3 tests/e2e/shorten_rules.py --for 0 examples/prometheus/rules "$TMP/rules" >/dev/null || { fail "shorten_rules.py"; finish; }
python3 tests/e2e/comp_rules.py "$TMP/phases" "$TMP/prom" --rules "$TMP/rules" >"$TMP/prom.list" || { fail "comp_rules.py"; finish; }
python3 tests/e2e/comp_rules.py "$TMP/phases" "$TMP/vm" --rules "$TMP/rules" --vm >"$TMP/vm.list" || { fail "comp_rules.py --vm"; finish; }
for f in $(cat "$TMP/prom.list"); do
	a=$(basename "$f" .yaml)
	if "$PROMTOOL" test rules "$f" >"$TMP/out" 2>&1; then ok "promtool: $a silent while healthy, fires on the agent's fault phase"
	else fail "promtool test rules $a"; sed 's/^/    /' "$TMP/out" | head -30; fi
done
for f in $(cat "$TMP/vm.list"); do
	a=$(basename "$f" .yaml)
	if (cd "$TMP" && "$VMTOOL" unittest --files "$f") >"$TMP/out" 2>&1; then ok "vmalert-tool: $a silent while healthy, fires on the agent's fault phase"
	else fail "vmalert-tool unittest $a"; grep -v '^{"ts"\|^20[0-9][0-9]-' "$TMP/out" | sed 's/^/    /' | head -30; fi
done
finish
