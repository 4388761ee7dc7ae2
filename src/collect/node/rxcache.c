/* Per-filter cache of regex decisions for the node collector (see struct
 * rxcache in node_int.h). The table is rebuilt, never deleted from, so
 * linear probing needs no tombstones. */
#include "collect/node/node_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

static void clear_entries(struct rxcache *c)
{
	for (size_t i = 0; i < c->nslots; i++)
		free(c->ent[i].s);
	free(c->ent);
	c->ent = NULL;
	c->nslots = c->nused = c->nlive = 0;
	seqpred_forget(&c->seq);
}

void rxcache_fini(struct rxcache *c)
{
	seqpred_fini(&c->seq);
	clear_entries(c);
	free(c->pattern);
	c->pattern = NULL;
	c->rx = NULL;
	c->checked = false;
}

/* Slot holding s, or the free slot where it would go (table not empty). */
static struct rxcache_ent *slot_find(struct rxcache *c, const char *s, size_t n, uint32_t h)
{
	size_t mask = c->nslots - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct rxcache_ent *e = &c->ent[i];

		if (!e->s || (e->hash == h && e->n == n && memcmp(e->s, s, n) == 0))
			return e;
	}
}

/* Rebuilds into nslots slots; drops entries of older generations when
 * drop_stale. On allocation failure the table is left as it was. */
static int rebuild(struct rxcache *c, size_t nslots, bool drop_stale)
{
	struct rxcache_ent *old = c->ent;
	size_t oldn = c->nslots;

	c->ent = calloc(nslots, sizeof(*c->ent));
	if (!c->ent) {
		c->ent = old;
		return -1;
	}
	seqpred_forget(&c->seq);
	c->nslots = nslots;
	c->nused = 0;
	for (size_t i = 0; i < oldn; i++) {
		struct rxcache_ent *e = &old[i];

		if (!e->s)
			continue;
		if (drop_stale && e->gen != (uint8_t)c->gen) {
			free(e->s);
			continue;
		}
		*slot_find(c, e->s, e->n, e->hash) = *e;
		c->nused++;
	}
	free(old);
	return 0;
}

/* Points c at rx, emptying it when rx is not the filter it was built for. */
static bool bind_filter(struct rxcache *c, const struct rx *rx)
{
	const char *pat;

	if (c->rx == rx && c->checked)
		return true;
	pat = rx_pattern(rx);
	if (c->rx == rx && c->pattern && strcmp(c->pattern, pat) == 0) {
		c->checked = true;
		return true;
	}
	rxcache_fini(c);
	c->epoch = c->epoch + 1 ? c->epoch + 1 : 1;
	c->pattern = strdup(pat);
	if (!c->pattern)
		return false;
	c->rx = rx;
	c->checked = true;
	return true;
}

uint32_t rxcache_bind(struct rxcache *c, const struct rx *rx)
{
	return bind_filter(c, rx) ? c->epoch : 0;
}

bool node_rx_match(struct rxcache *c, const struct rx *rx, const char *s, size_t n)
{
	struct rxcache_ent *e;
	size_t guess;
	uint32_t h;
	char *copy;
	bool m;

	if (n > NODE_RXCACHE_NAME_MAX || !bind_filter(c, rx))
		return rx_match(rx, s, n);
	guess = seqpred_guess(&c->seq);
	if (guess < c->nslots) {
		e = &c->ent[guess];
		if (e->s && e->n == n && memcmp(e->s, s, n) == 0)
			goto hit;
	}
	h = hash32(s, n);
	if (c->nslots) {
		e = slot_find(c, s, n, h);
		if (e->s)
			goto hit;
	}
	m = rx_match(rx, s, n);
	/* Load factor at most 1/2; a full cache just stops remembering. */
	if (c->nused >= NODE_RXCACHE_MAX)
		return m;
	if ((c->nused + 1) * 2 > c->nslots && rebuild(c, c->nslots ? c->nslots * 2 : 64, false))
		return m;
	copy = malloc(n + 1);
	if (!copy)
		return m;
	memcpy(copy, s, n);
	copy[n] = '\0';
	e = slot_find(c, s, n, h);
	*e = (struct rxcache_ent){ .s = copy, .n = (uint16_t)n, .hash = h, .gen = (uint8_t)c->gen, .match = m };
	c->nused++;
	c->nlive++;
	seqpred_note(&c->seq, (size_t)(e - c->ent));
	return m;
hit:
	if (e->gen != (uint8_t)c->gen) {
		e->gen = (uint8_t)c->gen;
		c->nlive++;
	}
	seqpred_note(&c->seq, (size_t)(e - c->ent));
	return e->match;
}

void rxcache_sweep(struct rxcache *c)
{
	/* Counted, not searched for: a scan of every slot of the nine tables
	 * was 1.2 % of a node scrape's cycles. */
	if (c->nlive < c->nused)
		rebuild(c, c->nslots, true);
	c->gen++;
	c->nlive = 0;
	c->checked = false;
	seqpred_restart(&c->seq);
}
