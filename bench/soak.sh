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
python3 tests/chaos/report.py soak "$OUT" "$BIN" "$WARM" "${SOAK_WRITE:-1}"
exit $rc
