# The kube-state pod sharding tests' helpers (kubeState.podSharding=node,
# docs/kube-state-sharding.md; POSIX sh), after tests/lib/common.sh. One copy
# of the rule every such test checks: the agents in node mode (A and B) and a
# reference in leader mode (R) over the same server, the union of A's and B's
# /metrics/kube-state equal to R's series for series, no series from both.
# Uses the caller's BIN, TMP and PIDS.

# shard_agent NAME NODE POD ARGS...: an agent with only the kube-state
# collector on a free port (P_NAME), its log in $TMP/NAME.log, its pid added
# to PIDS. SHARD_KUBECONFIG (default $KUBECONFIG) and SHARD_LEASE_NS (default
# "default") say which server and Lease namespace.
shard_agent() {
	name=$1 node=$2 pod=$3; shift 3
	port=$(free_port)
	"$BIN" -promscrape.kubernetes -kubeconfig="${SHARD_KUBECONFIG:-$KUBECONFIG}" -nodeName="$node" \
		-podName="$pod" -httpListenAddr=127.0.0.1:$port -leaderElection.namespace="${SHARD_LEASE_NS:-default}" \
		-promscrape.kubernetes.collectors=kube-state "$@" >"$TMP/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	eval "P_$name=$port"
	wait_http "http://127.0.0.1:$port/healthz" || { fail "agent $name did not start"; cat "$TMP/$name.log"; finish; }
}

# compare: fetches A, B and R into $TMP/ks.{A,B,R} (sample lines, sorted;
# kube_state_metrics_* are each agent's own); holds when R is not empty,
# sort(A + B) == R and no sample line is in both A and B.
compare() {
	for n in A B R; do
		eval "p=\$P_$n"
		curl -sf "127.0.0.1:$p/metrics/kube-state" | grep -v '^#' | grep -v '^kube_state_metrics_' | sort >"$TMP/ks.$n" || return 1
	done
	sort "$TMP/ks.A" "$TMP/ks.B" >"$TMP/union"
	[ -s "$TMP/ks.R" ] && cmp -s "$TMP/union" "$TMP/ks.R" && [ -z "$(uniq -d "$TMP/union")" ]
}

# poll SECS CMD: until CMD (evaluated in this shell, so it may call compare
# and read its files) holds, every 0.1 s; 1 after SECS. A generous bound: the
# watches are polled, not waited for.
poll() {
	secs=$1; shift
	i=0
	until eval "$*"; do
		i=$((i + 1))
		[ $i -gt $((secs * 10)) ] && return 1
		sleep 0.1
	done
}
settle() { poll 60 compare; }

# pods N: kube_pod_info lines of agent N's last fetch (by compare).
pods() { grep -c '^kube_pod_info{' "$TMP/ks.$1"; }
# has_pod N POD: agent N's last fetch has default/POD.
has_pod() { grep -q "^kube_pod_info{namespace=\"default\",pod=\"$2\"" "$TMP/ks.$1"; }

# fake_agentpod NAME NODE READY: an agent pod as the chart labels it, in
# default, for the fake API server (fake_ctl POST /objects).
fake_agentpod() {
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","namespace":"default","labels":{"app.kubernetes.io/name":"k8smon"}},"spec":{"nodeName":"%s","containers":[{"name":"k8smon","image":"k8smon:dev"}]},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"%s"}]}}' "$1" "$2" "$3"
}
# fake_plainpod NAME NODE PHASE: a one-container pod in default (NODE "": not scheduled).
fake_plainpod() {
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","namespace":"default"},"spec":{"nodeName":"%s","containers":[{"name":"c","image":"busybox:1.36"}]},"status":{"phase":"%s"}}' "$1" "$2" "$3"
}
