#!/bin/sh
# Soak (issue 9 item 5): the chaos run of tests/chaos/chaos.py at a lower rate for
# SOAK_SECONDS (default 3600) against the release build (-O2, no sanitizer, no valgrind),
# VmRSS and open fds of the agent sampled every 10 s. Reports the RSS slope after warm-up
# (least-squares line over the samples after SOAK_WARMUP seconds, default 600, in bytes per
# hour) and the fd count min/max, and writes the "## Soak" section of BENCHMARKS.md
# (SOAK_WRITE=0: print only).
#   SOAK_SECONDS  run length (s)          SOAK_OUTAGE  API server outage (s, default 60)
#   SOAK_CHURN    churn ops/s (default 1)  SOAK_FAULTS  faults/s (default 0.05)
#   K8SMON_BIN    agent binary (default bin/k8smon)
set -eu
cd "$(dirname "$0")/.."
SECS=${SOAK_SECONDS:-3600}
WARM=${SOAK_WARMUP:-600}
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=${SOAK_TMP:-$(mktemp -d)}
OUT=${SOAK_OUT:-$TMP/soak.json}
rc=0
python3 tests/chaos/chaos.py --binary "$BIN" --seconds "$SECS" --outage "${SOAK_OUTAGE:-60}" \
	--outage-at 0.5 --churn-rate "${SOAK_CHURN:-1}" --fault-rate "${SOAK_FAULTS:-0.05}" \
	--poll-pause 0.5 --sample-every 10 --converge 120 --tmp "$TMP" --out "$OUT" || rc=$?
python3 - "$OUT" "$WARM" "$BIN" "${SOAK_WRITE:-1}" <<'PY'
import json, re, sys, datetime, subprocess
rep = json.load(open(sys.argv[1])); warm = float(sys.argv[2]); binary = sys.argv[3]
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
print(json.dumps(r, indent=1))
if sys.argv[4] != "1":
    sys.exit(0)
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
p = "BENCHMARKS.md"
text = open(p).read()
pat = re.compile(r"## Soak\n.*?(?=\n## |\Z)", re.S)
text = pat.sub(lambda m: sec.rstrip("\n"), text) if pat.search(text) else text.rstrip("\n") + "\n\n" + sec
open(p, "w").write(text)
PY
exit $rc
