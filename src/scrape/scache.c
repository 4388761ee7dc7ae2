#include "scrape/scache.h"

#include <stdlib.h>
#include <string.h>

#include "scrape/series.h"

void scache_forget(struct scache *c)
{
	free(c->v);
	c->v = NULL;
	c->cap = c->nlast = c->n = 0;
	c->on = false;
}

void scache_end(struct scache *c)
{
	if (c->on)
		scache_forget(c);
}

void scache_fini(struct scache *c)
{
	scache_forget(c);
}

uint64_t scache_ctx(const struct tlabels *tl, bool honor, bool force_ns, bool splice)
{
	/* series_id mixes each pair's lengths in: ("ab","c") != ("a","bc") */
	const char flags[3] = { (char)honor, (char)force_ns, (char)splice };
	uint64_t h = series_id("ctx", 3, flags, sizeof(flags));

	for (size_t i = 0; i < tl->n; i++) {
		const char *n = tl->v[i].name, *v = tl->v[i].value;

		h = h * 0x9e3779b97f4a7c15ull ^ series_id(n, strlen(n), v, strlen(v));
	}
	return h;
}

void scache_begin(struct scache *c, bool on, uint64_t ctx)
{
	c->ctx = ctx;
	c->n = 0;
	c->on = on;
}

uint64_t scache_hash(const char *series, size_t len)
{
	return series_id(series, len, "", 0);
}

void scache_add(struct scache *c, uint64_t h)
{
	if (!c->on)
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;
		uint64_t *v;

		if (cap > SCACHE_MAX_SERIES)
			cap = SCACHE_MAX_SERIES;
		if (c->n == cap || !(v = realloc(c->v, cap * sizeof(*v)))) {
			scache_forget(c);
			return;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = h;
}

void scache_commit(struct scache *c, size_t n)
{
	if (!c->on || c->n != n || !n) {
		scache_forget(c);
		return;
	}
	c->nlast = n;
	c->ctx_last = c->ctx;
	c->on = false;
	/* A target that shrank gives the rest back. */
	if (c->cap > 2 * n + 1024) {
		uint64_t *v = realloc(c->v, n * sizeof(*v));

		if (v) {
			c->v = v;
			c->cap = n;
		}
	}
}
