#!/bin/sh
# Full chaos run (issue 9 item 4): tests/chaos/chaos.py for CHAOS_SECONDS (default 600)
# with a CHAOS_OUTAGE-second (default 60) API server outage, then writes the "## Chaos"
# section of BENCHMARKS.md (CHAOS_WRITE=0: print only). Exit status = chaos.py's.
#   K8SMON_BIN  agent binary (default bin/k8smon)   CHAOS_SEED  random seed
#   CHAOS_CHURN churn ops/s (default 10)            CHAOS_FAULTS faults/s (default 1)
#   CHAOS_RESTART_RV low|high (default low: the restarted server counts from 1000 again)
set -u
cd "$(dirname "$0")/../.."
SECS=${CHAOS_SECONDS:-600}
BIN=${K8SMON_BIN:-./bin/k8smon}
TMP=${CHAOS_TMP:-$(mktemp -d)}
OUT=${CHAOS_OUT:-$TMP/chaos.json}
rc=0
python3 tests/chaos/chaos.py --binary "$BIN" --seconds "$SECS" --outage "${CHAOS_OUTAGE:-60}" \
	--churn-rate "${CHAOS_CHURN:-10}" --fault-rate "${CHAOS_FAULTS:-1}" \
	--restart-rv "${CHAOS_RESTART_RV:-low}" --tmp "$TMP" --out "$OUT" || rc=$?
[ "${CHAOS_WRITE:-1}" = 1 ] && python3 tests/chaos/report.py chaos "$OUT" "$BIN"
echo "chaos: report $OUT, logs in $TMP"
exit $rc
