#include "scrape/target.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/hash.h"

uint64_t target_identity(const struct scrape_rule *r, const struct disc_target *d)
{
	uint64_t h = tl_hash(&d->labels);

	h = hash64_add_strz(h, r->namespace);
	h = hash64_add_strz(h, r->name);
	h = hash64_add_strz(h, d->url);
	if (d->refused)
		h = hash64_add_strz(h, d->refused); /* a policy change restarts the target */
	return h ? h : 1;
}

struct target *target_new(struct scrape_rule *r, struct disc_target *d)
{
	struct target *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->rule = scrape_rule_ref(r);
	t->d = d;
	t->id = target_identity(r, d);
	return t;
}

void target_free(struct target *t)
{
	if (!t)
		return;
	scrape_rule_unref(t->rule);
	disc_target_free(t->d);
	free(t);
}

void tset_init(struct tset *s)
{
	memset(s, 0, sizeof(*s));
}

void tset_fini(struct tset *s, void (*removed)(struct target *t, void *arg), void *arg)
{
	for (size_t i = 0; i < s->n; i++) {
		if (removed)
			removed(s->v[i], arg);
		target_free(s->v[i]);
	}
	free(s->v);
	tset_init(s);
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = (*(struct target *const *)a)->id, y = (*(struct target *const *)b)->id;

	return x < y ? -1 : x > y;
}

/* Kept target t takes fresh's schedule and rule (fresh keeps the old ones
 * and is freed by the caller) when they differ. */
static bool retune(struct target *t, struct target *fresh, const struct tset_cbs *cbs)
{
	struct disc_target *prev = t->d;
	struct scrape_rule *prev_rule = t->rule;

	if (prev->interval_ms == fresh->d->interval_ms && prev->timeout_ms == fresh->d->timeout_ms &&
	    prev_rule == fresh->rule)
		return false;
	/* The whole disc_target moves: its discovered labels (which carry
	 * __scrape_interval__) follow the schedule. */
	t->d = fresh->d;
	t->rule = fresh->rule;
	fresh->d = prev;
	fresh->rule = prev_rule;
	if (cbs && cbs->retuned)
		cbs->retuned(t, prev, cbs->arg);
	return true;
}

int tset_update(struct tset *s, struct target **fresh, size_t n, const struct tset_cbs *cbs,
		size_t *added, size_t *removed_n, size_t *retuned_n)
{
	struct target **out = malloc((n ? n : 1) * sizeof(*out));
	size_t i = 0, j = 0, k = 0, nadd = 0, nrem = 0, nret = 0;

	if (!out) {
		for (size_t x = 0; x < n; x++)
			target_free(fresh[x]);
		return KM_ENOMEM;
	}
	/* Stable sort keeps "first wins" among duplicate identities. */
	for (size_t x = 1; x < n; x++) {
		struct target *t = fresh[x];
		size_t y = x;
		if (fresh[y - 1]->id <= t->id)
			continue;
		/* Rare path (out of order): fall back to qsort of the rest. */
		(void)y;
		qsort(fresh, n, sizeof(*fresh), cmp_id);
		break;
	}
	while (i < s->n || j < n) {
		if (j < n && k && out[k - 1]->id == fresh[j]->id) {
			target_free(fresh[j++]); /* duplicate in fresh */
			continue;
		}
		if (j >= n || (i < s->n && s->v[i]->id < fresh[j]->id)) {
			if (cbs && cbs->removed)
				cbs->removed(s->v[i], cbs->arg);
			target_free(s->v[i++]);
			nrem++;
		} else if (i >= s->n || fresh[j]->id < s->v[i]->id) {
			out[k++] = fresh[j++];
			nadd++;
		} else {
			/* Same identity: keeps its state, whatever its schedule. */
			nret += retune(s->v[i], fresh[j], cbs);
			out[k++] = s->v[i++];
			target_free(fresh[j++]);
		}
	}
	free(s->v);
	s->v = out;
	s->n = k;
	s->cap = n;
	if (added)
		*added = nadd;
	if (removed_n)
		*removed_n = nrem;
	if (retuned_n)
		*retuned_n = nret;
	return 0;
}
