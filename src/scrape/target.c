#include "scrape/target.h"

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
	h ^= (uint64_t)d->interval_ms * 0x9e3779b97f4a7c15ULL;
	h ^= (uint64_t)d->timeout_ms * 0xc2b2ae3d27d4eb4fULL;
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

int tset_update(struct tset *s, struct target **fresh, size_t n,
		void (*removed)(struct target *t, void *arg), void *arg,
		size_t *added, size_t *removed_n)
{
	struct target **out = malloc((n ? n : 1) * sizeof(*out));
	size_t i = 0, j = 0, k = 0, nadd = 0, nrem = 0;

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
			if (removed)
				removed(s->v[i], arg);
			target_free(s->v[i++]);
			nrem++;
		} else if (i >= s->n || fresh[j]->id < s->v[i]->id) {
			out[k++] = fresh[j++];
			nadd++;
		} else {
			out[k++] = s->v[i++]; /* unchanged: keeps its state */
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
	return 0;
}
