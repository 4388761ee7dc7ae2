/* The target set: discovered targets keyed by a stable identity, and the diff
 * that turns a fresh discovery pass into adds and removes while unchanged
 * targets keep their state (scrape schedule, last result, series).
 *
 * Identity = hash of (rule namespace/name, final labels, URL): what names
 * the series a target produces. A target whose labels or address change is
 * a new target (its old series end). Interval and timeout are not part of
 * it: a target whose schedule alone changes keeps its last samples, health
 * and series, and only its schedule is retuned (issue 13: restarting it
 * made its series vanish from /metrics/apps until the first new scrape,
 * which Prometheus reads as stale). The same holds for a rule change that
 * keeps the identity: the kept target takes the new rule.
 *
 * Ownership: the set owns its targets; a target owns its disc_target and a
 * reference to its rule. state is the scraper's and is freed through the
 * removed callback. Loop thread only, except where scrape.c locks. */
#ifndef K8SMON_SCRAPE_TARGET_H
#define K8SMON_SCRAPE_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "scrape/discovery.h"
#include "scrape/rule.h"

struct target {
	uint64_t id;
	struct scrape_rule *rule;   /* reference held */
	struct disc_target *d;      /* owned */
	void *state;                /* scraper state; NULL until started */
};

struct tset {
	struct target **v;          /* owned, sorted by id, unique */
	size_t n, cap;
};

/* A new target taking d (on success) and a reference to r. */
struct target *target_new(struct scrape_rule *r, struct disc_target *d);
/* Frees t (state must already be released). */
void target_free(struct target *t);
uint64_t target_identity(const struct scrape_rule *r, const struct disc_target *d);

void tset_init(struct tset *s);
/* Frees every target, calling removed(t) first for each. */
void tset_fini(struct tset *s, void (*removed)(struct target *t, void *arg), void *arg);

/* What tset_update tells the owner of the targets' state (arg is theirs).
 *  removed: t leaves the set (freed right after);
 *  retuned: t is kept (same identity) and has just taken the fresh
 *    target's disc_target and rule because its interval, timeout or rule
 *    differ; prev is its replaced disc_target (freed right after). May be
 *    NULL. */
struct tset_cbs {
	void (*removed)(struct target *t, void *arg);
	void (*retuned)(struct target *t, const struct disc_target *prev, void *arg);
	void *arg;
};

/* Replaces the set by fresh (n targets, all taken, may contain duplicate
 * identities: the first wins). Targets whose identity already exists are
 * dropped from fresh and the old one is kept (taking the fresh one's
 * schedule and rule, see retuned); old targets missing from fresh are
 * passed to removed() and freed. New targets have state NULL. Counts go to
 * added, removed_n and retuned_n when non-NULL. Never fails: on ENOMEM
 * growing the array the old set is kept and KM_ENOMEM returned (fresh is
 * freed). */
int tset_update(struct tset *s, struct target **fresh, size_t n, const struct tset_cbs *cbs,
		size_t *added, size_t *removed_n, size_t *retuned_n);

#endif
