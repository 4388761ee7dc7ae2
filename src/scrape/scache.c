#include "scrape/scache.h"

#include <stdlib.h>

#include "scrape/series.h"

void scache_forget(struct scache *c)
{
	free(c->last);
	c->last = NULL;
	c->nlast = 0;
}

void scache_end(struct scache *c)
{
	buf_fini(&c->cur);
	c->on = false;
}

void scache_fini(struct scache *c)
{
	scache_end(c);
	scache_forget(c);
}

uint64_t scache_ctx(const struct tlabels *tl, bool honor, bool force_ns, bool splice)
{
	/* series_id mixes each pair's lengths in: ("ab","c") != ("a","bc") */
	uint64_t h = series_id("ctx", 3, "", (size_t)honor | (size_t)force_ns << 1 | (size_t)splice << 2);

	for (size_t i = 0; i < tl->n; i++) {
		const char *n = tl->v[i].name, *v = tl->v[i].value;

		h = h * 0x9e3779b97f4a7c15ull ^ series_id(n, strlen(n), v, strlen(v));
	}
	return h;
}

void scache_begin(struct scache *c, bool on, uint64_t ctx, size_t hint)
{
	buf_fini(&c->cur);
	buf_init(&c->cur, (size_t)SCACHE_MAX_SERIES * sizeof(uint64_t));
	c->ctx = ctx;
	c->on = on;
	if (on && hint && hint <= SCACHE_MAX_SERIES)
		(void)buf_reserve(&c->cur, (hint + hint / 8 + 1) * sizeof(uint64_t));
}

uint64_t scache_hash(const char *series, size_t len)
{
	return series_id(series, len, "", 0);
}

void scache_add(struct scache *c, uint64_t h)
{
	if (c->on && buf_add(&c->cur, &h, sizeof(h)))
		c->on = false;
}

void scache_commit(struct scache *c, size_t n)
{
	size_t nc = c->cur.len / sizeof(uint64_t);
	char *raw;
	uint64_t *v;

	scache_forget(c);
	if (!c->on || nc != n || !n) {
		scache_end(c);
		return;
	}
	/* shrunk to size: the buffer grew by doubling */
	raw = buf_steal(&c->cur);
	v = raw ? realloc(raw, n * sizeof(*v)) : NULL;
	if (!v) {
		free(raw);
	} else {
		c->last = v;
		c->nlast = n;
		c->ctx_last = c->ctx;
	}
	scache_end(c);
}
