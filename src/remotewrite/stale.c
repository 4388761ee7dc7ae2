#include "remotewrite/stale.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/hash.h"
#include "dl/snappy.h"

bool rw_is_stale_nan(double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	return bits == RW_STALE_NAN_BITS;
}

/* One series of a decoded chunk: its label fields and its sample's time. */
struct stale_series {
	const char *labels;
	size_t len;
	int64_t ts;
};

typedef int (*series_fn)(void *ctx, const struct stale_series *s);

static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	*v = 0;
	for (int sh = 0; sh < 64; sh += 7) {
		if (*p >= end)
			return KM_EIO;
		*v |= (uint64_t)(**p & 0x7f) << sh;
		if (!(*(*p)++ & 0x80))
			return 0;
	}
	return KM_EIO;
}

/* The label fields (contiguous and first, as pb.c writes them) and the
 * sample time of one TimeSeries message. */
static int parse_series(const unsigned char *p, const unsigned char *end, struct stale_series *s)
{
	const unsigned char *lab = NULL, *lab_end = NULL;
	uint64_t len, v;

	s->ts = 0;
	while (p < end) {
		const unsigned char *start = p, *f;
		unsigned char key = *p++;

		if (get_varint(&p, end, &len) || len > (uint64_t)(end - p))
			return KM_EIO;
		f = p;
		p += len;
		if (key == 0x0a) {
			if (lab && lab_end != start)
				return KM_EIO; /* labels after the sample: not ours */
			if (!lab)
				lab = start;
			lab_end = p;
		} else if (key == 0x12) {
			/* Sample { double value = 1; int64 timestamp = 2; } */
			while (f < p) {
				unsigned char k = *f++;

				if (k == 0x09 && p - f >= 8) {
					f += 8;
				} else if (k == 0x10 && !get_varint(&f, p, &v)) {
					s->ts = (int64_t)v;
				} else {
					return KM_EIO;
				}
			}
		} else {
			return KM_EIO;
		}
	}
	s->labels = (const char *)lab;
	s->len = lab ? (size_t)(lab_end - lab) : 0;
	return 0;
}

/* Calls fn for each series of k, in order. */
static int each_series(const struct rw_chunks *k, series_fn fn, void *ctx)
{
	struct rw_chunk_ref ch;
	struct buf in, raw;
	size_t off = 0;
	int rc = 0;

	buf_init(&in, 64u << 20);
	buf_init(&raw, 64u << 20);
	while (!rc && rw_chunks_next(k, &off, &ch)) {
		char pre[10];
		size_t n = 0, v = ch.raw, outlen;
		const unsigned char *p, *end;

		/* the chunk's element stream behind its own preamble: a
		 * snappy block (chunks.h) */
		do {
			pre[n++] = (char)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
			v >>= 7;
		} while (v);
		buf_reset(&in);
		buf_reset(&raw);
		if ((rc = buf_add(&in, pre, n)) || (rc = buf_add(&in, ch.z, ch.zlen)) ||
		    (rc = buf_reserve(&raw, ch.raw + 1)))
			break;
		outlen = ch.raw;
		if (dl_snappy.uncompress(in.data, in.len, raw.data, &outlen) != SNAPPY_OK || outlen != ch.raw) {
			rc = KM_EIO;
			break;
		}
		p = (const unsigned char *)raw.data;
		end = p + outlen;
		while (!rc && p < end) {
			struct stale_series s;
			uint64_t len;

			if (*p++ != 0x0a || get_varint(&p, end, &len) || len > (uint64_t)(end - p)) {
				rc = KM_EIO;
				break;
			}
			rc = parse_series(p, p + len, &s);
			if (!rc)
				rc = fn(ctx, &s);
			p += len;
		}
	}
	buf_fini(&in);
	buf_fini(&raw);
	return rc;
}

static uint64_t labels_hash(const struct stale_series *s)
{
	return hash64(s->labels, s->len);
}

struct hashes {
	uint64_t *v;
	size_t n, cap;
};

static int add_hash(void *ctx, const struct stale_series *s)
{
	struct hashes *h = ctx;

	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 1024;
		uint64_t *v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return KM_ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n++] = labels_hash(s);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

struct marking {
	const struct hashes *cur;
	int64_t prev_ms, ts;
	struct rw_chunker ck;
};

static int mark(void *ctx, const struct stale_series *s)
{
	struct marking *m = ctx;
	struct rw_label none = { "", 0, "", 0 };
	struct rw_label_enc enc = { s->labels, s->len };
	uint64_t h, bits = RW_STALE_NAN_BITS;
	double nan;

	if (s->ts != m->prev_ms || !s->labels)
		return 0;
	h = labels_hash(s);
	if (m->cur->n && bsearch(&h, m->cur->v, m->cur->n, sizeof(h), cmp_u64))
		return 0;
	memcpy(&nan, &bits, sizeof(nan));
	/* the series' label fields copied as one pre-encoded "label" */
	return rw_chunker_series_enc(&m->ck, &none, &enc, 1, nan, m->ts);
}

struct rw_chunks *rw_stale_markers(const struct rw_chunks *prev, int64_t prev_ms, const struct rw_chunks *cur,
				   int64_t ts, int *rc)
{
	struct hashes h = { NULL, 0, 0 };
	struct marking m;
	struct rw_chunks *k = NULL;

	*rc = 0;
	if (!prev || !prev->series)
		return NULL;
	m.cur = &h;
	m.prev_ms = prev_ms;
	m.ts = ts;
	rw_chunker_init(&m.ck);
	if (cur && (*rc = each_series(cur, add_hash, &h)))
		goto out;
	if (h.n)
		qsort(h.v, h.n, sizeof(*h.v), cmp_u64);
	if ((*rc = each_series(prev, mark, &m)))
		goto out;
	if (!m.ck.series && !m.ck.pb_series)
		goto out; /* nothing vanished */
	k = rw_chunker_take(&m.ck, rc);
out:
	rw_chunker_fini(&m.ck);
	free(h.v);
	return k;
}

void rw_track_init(struct rw_track *t)
{
	memset(t, 0, sizeof(*t));
	rw_chunker_init(&t->ck);
}

void rw_track_reset(struct rw_track *t)
{
	rw_chunks_unref(t->last);
	t->last = NULL;
	t->nprev = 0;
}

void rw_track_fini(struct rw_track *t)
{
	rw_track_reset(t);
	rw_chunker_fini(&t->ck);
	free(t->cur);
	free(t->prev);
	memset(t, 0, sizeof(*t));
}

void rw_track_begin(struct rw_track *t)
{
	rw_chunker_reset(&t->ck);
	t->ncur = 0;
	t->err = 0;
	t->diverged = false;
}

/* A hash of the label fields for this set only (never stored or shown,
 * unlike base/hash.h's FNV-1a, which is part of behaviour): eight bytes
 * at a time, because it runs over every series of every section at every
 * cycle; FNV-1a's byte at a time was most of the tracking's cost. */
static uint64_t fast_hash(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;

	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (n) {
		uint64_t w = 0;

		memcpy(&w, p, n);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	}
	h ^= h >> 29;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 32);
}

static int grow(struct rw_track *t)
{
	size_t cap = t->capcur ? 2 * t->capcur : 256;
	uint64_t *v = realloc(t->cur, cap * sizeof(*v));

	if (!v)
		return KM_ENOMEM;
	t->cur = v;
	t->capcur = cap;
	return 0;
}

struct replay {
	struct rw_track *t;
	size_t left;
	int64_t ts;
};

static int replay_one(void *ctx, const struct stale_series *s)
{
	struct replay *r = ctx;
	struct rw_label none = { "", 0, "", 0 };
	struct rw_label_enc enc = { s->labels, s->len };

	if (!r->left)
		return 0;
	r->left--;
	return rw_chunker_series_enc(&r->t->ck, &none, &enc, 1, 0.0, r->ts);
}

/* This cycle stopped following the last one at series ncur: from here on
 * its series are kept as chunks of their own, the ncur before copied from
 * the last cycle's (the same label sets in the same order). */
static int diverge(struct rw_track *t, int64_t cycle_ms)
{
	struct replay r = { t, t->ncur, cycle_ms };

	t->diverged = true;
	while (t->capcur < t->ncur)
		if (grow(t))
			return KM_ENOMEM;
	if (t->ncur)
		memcpy(t->cur, t->prev, t->ncur * sizeof(*t->cur));
	return t->ncur ? each_series(t->last, replay_one, &r) : 0;
}

void rw_track_add(struct rw_track *t, const char *labels, size_t len, int64_t ts, int64_t cycle_ms)
{
	struct rw_label none = { "", 0, "", 0 };
	struct rw_label_enc enc = { labels, len };
	uint64_t h;

	if (t->err)
		return;
	h = fast_hash(labels, len);
	/* The usual case: the series of the last cycle again, in order.
	 * Nothing is kept: the last cycle's chunks still hold them. */
	if (!t->diverged && t->ncur < t->nprev && t->prev[t->ncur] == h) {
		t->ncur++;
		return;
	}
	if (!t->diverged && (t->err = diverge(t, cycle_ms)))
		return;
	if (t->ncur == t->capcur && (t->err = grow(t)))
		return;
	/* the value is not needed for a marker: 0 compresses best */
	t->err = rw_chunker_series_enc(&t->ck, &none, &enc, 1, 0.0, ts);
	if (!t->err)
		t->cur[t->ncur++] = h;
}

/* Whether some hash of prev (sorted here) is missing from cur (sorted in
 * scratch): the exact test is rw_stale_markers'; this one only spares it
 * when the series are the same in another order. */
static int any_missing(uint64_t *prev, size_t nprev, const uint64_t *cur, size_t ncur, bool *missing)
{
	uint64_t *c = NULL;
	size_t j = 0;

	*missing = false;
	if (ncur) {
		c = malloc(ncur * sizeof(*c));
		if (!c)
			return KM_ENOMEM;
		memcpy(c, cur, ncur * sizeof(*c));
		qsort(c, ncur, sizeof(*c), cmp_u64);
	}
	qsort(prev, nprev, sizeof(*prev), cmp_u64);
	for (size_t i = 0; i < nprev && !*missing; i++) {
		while (j < ncur && c[j] < prev[i])
			j++;
		*missing = j == ncur || c[j] != prev[i];
	}
	free(c);
	return 0;
}

struct rw_chunks *rw_track_end(struct rw_track *t, int64_t ts, uint64_t *n, int *rc)
{
	struct rw_chunks *cur = NULL, *mk = NULL;
	bool missing = false;
	uint64_t *swap;
	size_t cap;

	*n = 0;
	*rc = 0;
	/* The same series as the last cycle, in order: the last cycle's
	 * chunks (and their time) stand for this one. */
	if (!t->err && !t->diverged && t->ncur == t->nprev && t->last)
		return NULL;
	/* the last cycle's series but fewer (its tail vanished) */
	if (!t->err && !t->diverged)
		t->err = diverge(t, ts);
	if (!t->err)
		cur = rw_chunker_take(&t->ck, &t->err);
	/* The chunker's memory (as much as the chunks) is not kept between
	 * cycles: only a cycle that changed needs it. */
	rw_chunker_fini(&t->ck);
	rw_chunker_init(&t->ck);
	if (t->err) {
		/* Not knowing this cycle's series, the next cycle could not
		 * tell which vanished: it starts over. */
		*rc = t->err;
		rw_track_reset(t);
		return NULL;
	}
	if (t->nprev)
		*rc = any_missing(t->prev, t->nprev, t->cur, t->ncur, &missing);
	if (!*rc && missing) {
		mk = rw_stale_markers(t->last, t->last_ms, cur, ts, rc);
		if (mk)
			*n = mk->series;
	}
	rw_chunks_unref(t->last);
	t->last = cur;
	t->last_ms = ts;
	swap = t->prev;
	t->prev = t->cur;
	t->cur = swap;
	cap = t->capprev;
	t->capprev = t->capcur;
	t->capcur = cap;
	t->nprev = t->ncur;
	t->ncur = 0;
	/* Between cycles only prev is needed (the next cycle fills cur only
	 * if it diverges), and only nprev of it: on a kube-state leader of
	 * 500k series that is 4 MiB instead of up to 16. */
	free(t->cur);
	t->cur = NULL;
	t->capcur = 0;
	if (t->nprev && t->nprev < t->capprev) {
		uint64_t *v = realloc(t->prev, t->nprev * sizeof(*v));

		if (v) {
			t->prev = v;
			t->capprev = t->nprev;
		}
	}
	return mk;
}
