#!/usr/bin/env python3
"""report.py chaos REPORT.json BINARY -- writes the "## Chaos" section of BENCHMARKS.md
from a tests/chaos/chaos.py report."""
import datetime
import json
import re
import sys


def replace_section(title, sec, path="BENCHMARKS.md"):
    text = open(path).read()
    pat = re.compile(r"## %s\n.*?(?=\n## |\Z)" % re.escape(title), re.S)
    if pat.search(text):
        text = pat.sub(lambda m: sec.rstrip("\n"), text)
    else:
        text = text.rstrip("\n") + "\n\n" + sec
    open(path, "w").write(text)


def chaos(rep, binary):
    faults = rep["faults"]
    rows = "\n".join("| %s | %d |" % kv for kv in sorted(faults.items()))
    eps = "\n".join("| `%s` | %d | %d | %.0f |" % (e, p["ok"], p["failed"], p["max_ms"])
                    for e, p in rep["endpoints"].items())
    churn = ", ".join("%s %d" % kv for kv in sorted(rep["churn"].items()))
    sc = rep.get("self_counters") or {}
    selfc = ", ".join("`%s` %d" % (k, v) for k, v in sorted(sc.items()))
    o = rep.get("outage") or {}
    diff = "**empty**" if not rep["final_diff"] else "; ".join(rep["final_diff"])
    fc = rep["final_counts"]
    ks = rep["endpoints"].get("/metrics/kube-state", {})
    empty_note = ""
    if "empty" in ks:
        empty_note = ("`/metrics/kube-state` answered 200 without any `kube_pod_info` (agent not the "
                      "leader at that moment) %d times out of %d.\n\n" % (ks["empty"], ks["ok"]))
    st = rep["process_start_time"]
    rss = [s[1] for s in rep["samples"] if s[1]]
    fds = [s[2] for s in rep["samples"] if s[2]]
    return f"""## Chaos

`tests/chaos/run.sh` ({datetime.date.today()}, 2 CPUs, `{binary}`, seed {rep['seed']}):
the agent (Kubernetes mode, node demo-node-1, Lease election on) against
`tests/fakeapi/fakeapi.py` loaded with `crds/` and `examples/cluster`, for
**{rep['chaos_seconds_actual']:.0f} s** of churn at {rep['churn_rate']:g} operations/s (pods
created/deleted on demo-node-1..3 and unscheduled in three namespaces, nodes flapping — Ready
toggled and a label changed —, the K8sMonitor and three ScrapeRules edited with valid and
invalid specs) while the fake injected {rep['fault_rate']:g} fault/s at random. At half time
the API server was **killed (SIGKILL), left down {o.get('seconds', 0):.0f} s** and started again
on the same port and state dir with the objects dumped just before ({o.get('objects', 0)}
objects) and a new resourceVersion history (counter {o.get('old_rv')} → restarted at
{o.get('new_rv_start')}, so every RV the agent held was "too large"). A poller scraped every
endpoint back to back for the whole run.

Faults injected, by kind:

| fault | count |
|---|---|
{rows}

Endpoint availability (poller, whole run including the outage and the convergence):

| endpoint | 200 | failed | max latency ms |
|---|---|---|---|
{eps}

| end-of-run check | result |
|---|---|
| final diff (kube_pod_info, kube_node_info, node Ready condition, node label, kube_namespace_*, `/config` vs the API server's objects and the final K8sMonitor) | {diff} ({fc['pods']} pods, {fc['nodes']} nodes, {fc['namespaces']} namespaces compared) |
| converged after faults stopped and the final K8sMonitor was written | {rep['converged_after_s']} s |
| same PID, `process_start_time_seconds` unchanged | {"yes" if rep['pid_unchanged_alive'] and st[0] == st[1] else "NO"} |
| exit status on SIGTERM at the end | {rep['exit_after_sigterm']} |
| RSS min / max during the run | {min(rss) // 1024 if rss else 0} / {max(rss) // 1024 if rss else 0} KiB |
| open fds min / max | {min(fds) if fds else 0} / {max(fds) if fds else 0} |

Churn operations: {churn}.

{empty_note}Agent self-metrics at the end (the per-resource kube-state counters start again each time
the Lease is re-acquired, because the kube-state reflectors are recreated; the Lease
renewals themselves hit injected stalls and errors, hence the leader transitions): {selfc}.

The shortened run (`tests/integration/test_chaos.sh`, part of `make test`) does the same for
75 s with a 10 s outage.
"""


if __name__ == "__main__":
    kind, path, binary = sys.argv[1], sys.argv[2], sys.argv[3]
    rep = json.load(open(path))
    if kind == "chaos":
        replace_section("Chaos", chaos(rep, binary))
