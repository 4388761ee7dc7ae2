/* Per-target series cache of push-only scrapes (issue 20 item 4).
 *
 * In steady state a target writes the same series in the same order at
 * every scrape; only values and timestamps change. The cache keeps, per
 * position of the last good push-only scrape, a 64-bit hash of the series
 * text as the target wrote it (expo_sample_ev.series: name and braces),
 * beside the series ids that scrape kept (tstate.ids_last, scrape/series.h).
 * A sample whose series text hashes like the one at its position last
 * time, under the same context (target labels, honorLabels, splicing: what
 * the rendered pairs an id is made of depend on), takes that id instead of
 * rendering its pairs, escaping them and hashing the result.
 *
 * What a hit changes is only where the id comes from: the id feeds
 * scrape_series_added and the staleness comparison, and a 64-bit collision
 * of two series texts of one target at one position would make it take
 * the other's id. The pushed bytes are always encoded from the parsed
 * labels, so they are the same with or without the cache.
 *
 * One array, updated in place: the hash of position k is read (lookup)
 * before this scrape's hash is written there, so a scrape needs no second
 * array. 8 bytes a series (counted by the caller in
 * k8smon_scrape_memory_bytes and the memory budget), at most
 * SCACHE_MAX_SERIES per target. Whatever does not end in scache_commit (a
 * failed or aborted scrape, one that stopped recording) forgets the array:
 * no half-updated entry is trusted.
 *
 * Ownership: the cache owns its array; not thread-safe (loop thread). */
#ifndef K8SMON_SCRAPE_SCACHE_H
#define K8SMON_SCRAPE_SCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scrape/tlabels.h"

/* Series of one target the cache keeps at most (32 MiB of hashes). */
#define SCACHE_MAX_SERIES (4u << 20)

struct scache {
	uint64_t *v;             /* owned; [0, n) this scrape's, [n, nlast) the last good one's */
	size_t cap;              /* entries allocated */
	size_t nlast;            /* entries of the last good scrape; 0: none */
	size_t n;                /* entries this scrape recorded */
	uint64_t ctx_last;       /* context the last good scrape ran under */
	uint64_t ctx;            /* this scrape's */
	bool on;                 /* this scrape looks up and records */
};

/* A zeroed struct is an empty, off cache; so is one after scache_fini. */
void scache_fini(struct scache *c);

/* The context of a scrape: the target labels (as sorted in tl), honorLabels,
 * whether the namespace label is forced, splicing. */
uint64_t scache_ctx(const struct tlabels *tl, bool honor, bool force_ns, bool splice);

/* Starts a scrape: on says whether it may use the cache (push only, no
 * metricRelabelings, not turned off), ctx its context. */
void scache_begin(struct scache *c, bool on, uint64_t ctx);

/* The hash of a series text. */
uint64_t scache_hash(const char *series, size_t len);

/* Whether the next sample of this scrape (position c->n) has the series
 * text whose hash is h at the same position of the last good scrape,
 * under the same context. */
static inline bool scache_hit(const struct scache *c, uint64_t h)
{
	return c->on && c->n < c->nlast && c->v[c->n] == h && c->ctx == c->ctx_last;
}

/* Records h for the next sample of this scrape. Out of memory or past
 * SCACHE_MAX_SERIES the scrape stops recording (and looking up): nothing
 * will be kept, nothing fails. */
void scache_add(struct scache *c, uint64_t h);

/* The scrape ended well with n samples kept: its hashes are kept when it
 * recorded all n of them, else the cache forgets. Stops recording. */
void scache_commit(struct scache *c, size_t n);

/* Forgets everything (the ids the hashes stand beside are gone: a failed
 * scrape, a text scrape, out of memory); stops recording. */
void scache_forget(struct scache *c);

/* The scrape is over: one still recording (not committed) forgets, its
 * entries are half this scrape's. */
void scache_end(struct scache *c);

/* Bytes the cache holds. */
static inline size_t scache_bytes(const struct scache *c)
{
	return c->cap * sizeof(uint64_t);
}

#endif
