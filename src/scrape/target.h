/* The target set: discovered targets keyed by a stable identity, and the diff
 * that turns a fresh discovery pass into adds and removes while unchanged
 * targets keep their state (scrape schedule, last result, series).
 *
 * Identity = hash of (rule, final labels, URL, interval, timeout): a target
 * whose labels, address or schedule change is a new target, exactly as
 * Prometheus restarts a scrape loop when its target hash changes.
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

/* Replaces the set by fresh (n targets, all taken, may contain duplicate
 * identities: the first wins). Targets whose identity already exists are
 * dropped from fresh and the old one is kept; old targets missing from fresh
 * are passed to removed() and freed. New targets have state NULL. Counts go
 * to added and removed_n when non-NULL. Never fails: on ENOMEM growing the
 * array the old set is kept and KM_ENOMEM returned (fresh is freed). */
int tset_update(struct tset *s, struct target **fresh, size_t n,
		void (*removed)(struct target *t, void *arg), void *arg,
		size_t *added, size_t *removed_n);

#endif
