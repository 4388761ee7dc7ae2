#!/usr/bin/env python3
"""report.py chaos REPORT.json BINARY            -- writes the "## Chaos" section of BENCHMARKS.md
   report.py soak REPORT.json BINARY WARMUP [W]  -- prints the soak summary; W=1 (default) also
                                                    writes the "## Soak" section
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
                      "leader, or the kube-state collector switched off by the churned K8sMonitor at that moment) %d times out of %d.\n\n" % (ks["empty"], ks["ok"]))
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


def soak(path, binary, warm, write):
    rep = json.load(open(path)); warm = float(warm)
    s = [(t, rss, fds) for t, rss, fds in rep["samples"] if rss is not None]
    post = [(t, r) for t, r, _ in s if t >= warm] or [(t, r) for t, r, _ in s]
    n = len(post)
    mt = sum(t for t, _ in post) / n; mr = sum(r for _, r in post) / n
    var = sum((t - mt) ** 2 for t, _ in post) or 1.0
    slope = sum((t - mt) * (r - mr) for t, r in post) / var          # bytes per second
    fds = [f for _, _, f in s if f is not None]
    fds_post = [f for t, _, f in s if f is not None and t >= warm] or fds
    polls = rep["endpoints"]
    ok = sum(p["ok"] for p in polls.values()); failed = sum(p["failed"] for p in polls.values())
    r = {"seconds_planned": rep["seconds"], "seconds_run": rep["chaos_seconds_actual"], "samples": len(s),
         "warmup_s": warm, "rss_start_kib": s[0][1] // 1024, "rss_at_warmup_kib": post[0][1] // 1024,
         "rss_end_kib": s[-1][1] // 1024, "rss_max_kib": max(x[1] for x in s) // 1024,
         "rss_slope_bytes_per_hour": round(slope * 3600), "fd_min": min(fds), "fd_max": max(fds),
         "fd_min_after_warmup": min(fds_post), "fd_max_after_warmup": max(fds_post),
         "polls_ok": ok, "polls_failed": failed, "final_diff": rep["final_diff"],
         "pid_unchanged": rep["pid_unchanged_alive"], "faults": rep["faults"], "churn": rep["churn"]}
    win = {}
    for t, rss, _f in s:
        win.setdefault(int(t // 600), []).append(rss)
    r["rss_mean_kib_per_10min"] = [round(sum(v) / len(v) / 1024) for _k, v in sorted(win.items())]
    late = [(t, x) for t, x in post if t >= (post[0][0] + post[-1][0]) / 2]
    if len(late) > 2:
        lt = sum(t for t, _ in late) / len(late); lr = sum(x for _, x in late) / len(late)
        lv = sum((t - lt) ** 2 for t, _ in late) or 1.0
        r["rss_slope_second_half_bytes_per_hour"] = round(sum((t - lt) * (x - lr) for t, x in late) / lv * 3600)
    print(json.dumps(r, indent=1))
    if write != "1":
        return r
    hours = r["seconds_run"] / 3600.0
    faults = ", ".join("%s %d" % kv for kv in sorted(rep["faults"].items()))
    churn = ", ".join("%s %d" % kv for kv in sorted(rep["churn"].items()))
    sec = f"""## Soak

    `bench/soak.sh` ({datetime.date.today()}, 2 CPUs, release build `-O2 -g`, `{binary}`):
    the chaos run of `tests/chaos/chaos.py` at a lower rate — {rep['churn_rate']} churn
    operation/s, {rep['fault_rate']} injected fault/s, one {rep['outage']['seconds'] if rep['outage'] else 0} s API server outage
    (killed, restarted on the same port with a new resourceVersion history) at half time, a
    poller scraping every endpoint every 0.5 s — for **{r['seconds_run']:.0f} s ({hours:.2f} h)**
    (planned {r['seconds_planned']:.0f} s). VmRSS and open fds of the agent sampled every 10 s
    ({r['samples']} samples); slope = least-squares line over the samples after a
    {warm:.0f} s warm-up.

    | measure | value |
    |---|---|
    | RSS at start / after warm-up / end / max | {r['rss_start_kib']} / {r['rss_at_warmup_kib']} / {r['rss_end_kib']} / {r['rss_max_kib']} KiB |
    | RSS slope after warm-up | {r['rss_slope_bytes_per_hour']:+d} bytes/hour |
    | RSS slope, second half of the post-warm-up samples | {r.get('rss_slope_second_half_bytes_per_hour', 0):+d} bytes/hour |
    | mean RSS per 10-minute window | {" / ".join(str(x) for x in r['rss_mean_kib_per_10min'])} KiB |
    | open fds min / max (whole run) | {r['fd_min']} / {r['fd_max']} |
    | open fds min / max (after warm-up) | {r['fd_min_after_warmup']} / {r['fd_max_after_warmup']} |
    | endpoint requests 200 / failed | {ok} / {failed} |
    | final diff agent vs API server | {"empty" if not r['final_diff'] else "; ".join(r['final_diff'])} |
    | same PID throughout | {"yes" if r['pid_unchanged'] else "NO"} |

    Faults injected: {faults}. Churn: {churn}.
    The fd count varies with the number of API connections open at the sampling instant
    (watches being re-established after injected faults, HTTP keep-alive of the poller); the
    figure to watch is that the range does not grow with time.
    """
    sec = "\n".join(ln[4:] if ln.startswith("    ") else ln for ln in sec.split("\n"))
    replace_section("Soak", sec)
    return r


if __name__ == "__main__":
    kind, path, binary = sys.argv[1], sys.argv[2], sys.argv[3]
    rep = json.load(open(path))
    if kind == "chaos":
        replace_section("Chaos", chaos(rep, binary))
    elif kind == "soak":
        soak(path, binary, sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else "1")
