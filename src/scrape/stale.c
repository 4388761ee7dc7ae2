/* Staleness markers in remote write, as Prometheus' scrape loop and
 * vmagent send them (docs/remote-write.md "Staleness markers"):
 *  - a series of the last scrape missing from this one: a marker at this
 *    scrape's time;
 *  - a failed scrape (up 0, also over sample_limit or a budget): markers
 *    for every series of the last scrape, whose samples then count as
 *    gone, so the first good scrape after it sends none;
 *  - a removed target: markers for every series of its last scrape, its
 *    up and scrape_* included, at the time it is removed (vmagent's
 *    choice; Prometheus waits two intervals), none at shutdown.
 * A series with a timestamp of its own gets none (Prometheus does not
 * track it). The common case costs nothing per sample: the ids or blob
 * comparison that computes scrape_series_added says whether anything
 * vanished, and only then are the last scrape's chunks (kept until the
 * next scrape ends, a reference shared with the remote-write cycle)
 * decoded (remotewrite/stale.h). */
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "remotewrite/stale.h"
#include "scrape/scrape_int.h"

void scrape_mgr_set_stale_markers(struct scrape_mgr *m, bool on)
{
	if (m)
		atomic_store(&m->no_stale, !on);
}

static void set_prev(struct tstate *s, struct rw_chunks *k, int64_t ms)
{
	atomic_fetch_sub(&s->m->kept_bytes, s->stale_acct);
	rw_chunks_unref(s->stale_prev);
	s->stale_prev = rw_chunks_ref(k);
	s->stale_prev_ms = ms;
	s->stale_acct = k ? k->len : 0;
	atomic_fetch_add(&s->m->kept_bytes, s->stale_acct);
}

/* *to followed by k (k's reference is taken over). On failure *to is
 * kept and k dropped: markers lost, logged. */
static void append(struct scrape_mgr *m, struct rw_chunks **to, struct rw_chunks *k)
{
	struct rw_chunks *c;
	int rc;

	if (!k)
		return;
	if (!*to) {
		*to = k;
		return;
	}
	c = rw_chunks_cat(*to, k, &rc);
	rw_chunks_unref(k);
	if (!c) {
		log_limited(&m->drop_log, 60000, LOG_WARN, "scrape", "staleness markers dropped: out of memory");
		return;
	}
	rw_chunks_unref(*to);
	*to = c;
}

static struct rw_chunks *markers(struct tstate *s, const struct rw_chunks *cur, int64_t ts)
{
	struct rw_chunks *mk;
	int rc;

	if (ts <= s->stale_prev_ms)
		ts = s->stale_prev_ms + 1; /* after the last sample, whatever the clock did */
	mk = rw_stale_markers(s->stale_prev, s->stale_prev_ms, cur, ts, &rc);
	if (rc)
		log_limited(&s->m->drop_log, 60000, LOG_WARN, "scrape", "%s: staleness markers not made: %s",
			    s->t->d->url, km_strerror(rc));
	if (mk)
		atomic_fetch_add(&s->m->stale_markers, mk->series);
	return mk;
}

struct rw_chunks *stale_after_scrape(struct tstate *s, struct rw_chunks *k, bool up)
{
	struct rw_chunks *mk = NULL;

	if (atomic_load(&s->m->no_stale)) {
		set_prev(s, NULL, 0);
		return NULL;
	}
	/* Good scrape: the scrape_series_added comparison said whether a
	 * series vanished. Failed: everything but up and scrape_* did, if
	 * the last scrape had more. */
	if (s->stale_prev && k && (up ? s->vanished : s->stale_prev->series > k->series))
		mk = markers(s, k, s->scrape_ms);
	set_prev(s, k, s->scrape_ms);
	return mk;
}

void stale_pend(struct tstate *s, struct rw_chunks *mk)
{
	append(s->m, &s->stale_pending, mk);
}

void stale_gone(struct tstate *s)
{
	struct scrape_mgr *m = s->m;

	if (!m->stopping && !atomic_load(&m->no_stale) && s->stale_prev) {
		/* what the cycle has not taken yet goes first, oldest first
		 * (as in scrape_mgr_push_collect), then the new markers */
		append(m, &m->stale_gone, s->stale_pending);
		s->stale_pending = NULL;
		append(m, &m->stale_gone, s->pushed);
		s->pushed = NULL;
		append(m, &m->stale_gone, markers(s, NULL, clock_wall_ms()));
	}
	stale_fini(s);
}

void stale_fini(struct tstate *s)
{
	set_prev(s, NULL, 0);
	rw_chunks_unref(s->stale_pending);
	s->stale_pending = NULL;
}
