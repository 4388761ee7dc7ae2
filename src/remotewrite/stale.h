/* Staleness markers for series a target stopped exposing, from the chunks
 * its scrapes were encoded into (chunks.h).
 *
 * A marker is a sample with Prometheus' StaleNaN (value.StaleNaN, the NaN
 * with bits RW_STALE_NAN_BITS): Prometheus and VictoriaMetrics end the
 * series there instead of showing its last value for the lookback window.
 * The series of two scrapes are compared by their encoded label fields
 * (TimeSeries.labels, sorted by name, so the same set is the same bytes):
 * no id or text of the scrape is needed, and nothing here runs unless the
 * caller saw that something vanished (scrape/stale.c). Pure functions;
 * needs libsnappy loaded (dl/snappy.h). */
#ifndef K8SMON_REMOTEWRITE_STALE_H
#define K8SMON_REMOTEWRITE_STALE_H

#include <stdbool.h>
#include <stdint.h>

#include "remotewrite/chunks.h"

#define RW_STALE_NAN_BITS 0x7ff0000000000002ull

/* Whether v is a staleness marker's value (not any NaN: the bits). */
bool rw_is_stale_nan(double v);

/* Markers at ts for the series of prev that are not in cur (cur NULL: for
 * all of prev). Only prev's series whose sample is at prev_ms, the time of
 * its scrape, count: a sample with a timestamp of its own is not tracked
 * for staleness, as in Prometheus (honor_timestamps). Returns a new
 * rw_chunks (the caller owns it), or NULL: *rc 0 when nothing vanished,
 * else KM_ENOMEM, KM_EIO (a chunk that does not decode). */
struct rw_chunks *rw_stale_markers(const struct rw_chunks *prev, int64_t prev_ms, const struct rw_chunks *cur,
				   int64_t ts, int *rc);

#endif
