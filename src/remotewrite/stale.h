/* Staleness markers for series a target stopped exposing, from the chunks
 * its scrapes were encoded into (chunks.h).
 *
 * A marker is a sample with Prometheus' StaleNaN (value.StaleNaN, the NaN
 * with bits RW_STALE_NAN_BITS): Prometheus and VictoriaMetrics end the
 * series there instead of showing its last value for the lookback window.
 * The series of two scrapes are compared by their encoded label fields
 * (TimeSeries.labels, sorted by name, so the same set is the same bytes):
 * no id or text of the scrape is needed, and rw_stale_markers runs only
 * when the caller saw that something vanished (scrape/stale.c, rw_track).
 * rw_stale_markers is a pure function; an rw_track is the state of one
 * rendered section (below), used by one thread. Needs libsnappy loaded
 * (dl/snappy.h). */
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

/* The series a rendered section (node, cadvisor, kube-state, ...) pushed at
 * each remote-write cycle, to mark the ones that vanished since the last
 * (rw.c; docs/remote-write.md "Staleness markers"). Per section and label
 * group of destinations, on the collector thread. It keeps a hash of the
 * label fields of every series pushed, in push order (8 bytes a series),
 * and the series themselves compressed (rw_chunks, ~24 bytes a series) to
 * recover the label sets of those that vanish. A cycle with the same
 * series in the same order costs one hash and compare a series and keeps
 * the last cycle's chunks; a cycle that differs chunks its series (the
 * ones before the first difference copied from the last chunks), and only
 * when a hash of the last cycle is missing are the hashes sorted and, when
 * one is really gone, the chunks decoded (rw_stale_markers). */
struct rw_track {
	struct rw_chunker ck;    /* this cycle's series */
	uint64_t *cur, *prev;    /* label-field hashes, push order */
	size_t ncur, nprev, capcur, capprev;
	struct rw_chunks *last;  /* the last cycle's series (owned reference) */
	int64_t last_ms;
	int err;                 /* this cycle could not be tracked (no memory) */
	bool diverged;           /* this cycle left the last one's order: its series are chunked */
};

void rw_track_init(struct rw_track *t);
void rw_track_fini(struct rw_track *t);
/* Starts a cycle of the section. */
void rw_track_begin(struct rw_track *t);
/* One series pushed this cycle: its TimeSeries.labels fields, as pushed,
 * and its sample time (the cycle's, cycle_ms). The caller leaves out samples
 * with a timestamp of their own: not tracked, as in Prometheus. Never fails: a series that
 * cannot be kept (no memory) makes this cycle untracked (rw_track_end). */
void rw_track_add(struct rw_track *t, const char *labels, size_t len, int64_t ts, int64_t cycle_ms);
/* Ends the cycle at ts: markers at ts (a new rw_chunks the caller owns,
 * with *n the marker count) for the last cycle's series not pushed in this
 * one, or NULL (*rc 0: none; else KM_ENOMEM / KM_EIO, markers lost). A
 * section that failed is ended the same way: what it pushed before the
 * error counts as this cycle's series, the rest of the last cycle's are
 * marked (all of them for a section that pushed nothing), and nothing is
 * marked twice. An untracked cycle marks nothing and the next one has
 * nothing to compare with. */
struct rw_chunks *rw_track_end(struct rw_track *t, int64_t ts, uint64_t *n, int *rc);
/* Forgets the last cycle (markers turned off): its series get no marker. */
void rw_track_reset(struct rw_track *t);

#endif
