#include "scrape/blob.h"

#include <stdlib.h>

#include "base/err.h"
#include "base/hash.h"
#include "scrape/series.h"

int blob_put_name(struct buf *b, const char *name, size_t len)
{
	unsigned char h[3] = { BLOB_NAME, (unsigned char)(len & 0xff), (unsigned char)(len >> 8) };
	size_t start = b->len;
	int rc;

	if (len > BLOB_NAME_MAX)
		return KM_ETOOBIG;
	if ((rc = buf_add(b, h, sizeof(h))) || (rc = buf_add(b, name, len)))
		buf_truncate(b, start);
	return rc;
}

int blob_sample_open(struct buf *b, size_t *mark)
{
	static const unsigned char h[BLOB_SAMPLE_HDR] = { BLOB_SAMPLE };

	*mark = b->len;
	return buf_add(b, h, sizeof(h));
}

static size_t put_varint(unsigned char *q, size_t v)
{
	size_t i = 0;

	while (v >= 0x80) {
		q[i++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	q[i++] = (unsigned char)v;
	return i;
}

int blob_sample_pairs_end(struct buf *b, size_t mark, struct buf *prev)
{
	size_t n, k = 0, h;
	const char *p = blob_sample_pairs(b, mark, &n);
	unsigned char *q = (unsigned char *)b->data + mark;
	int rc;

	if (n > BLOB_PAIRS_MAX)
		return KM_ETOOBIG;
	while (k < n && k < prev->len && p[k] == prev->data[k])
		k++;
	/* prev keeps its first k bytes: only the suffix is copied. */
	buf_truncate(prev, k);
	if ((rc = buf_add(prev, p + k, n - k)))
		return rc;
	h = 1 + put_varint(q + 1, k);
	h += put_varint(q + h, n - k);
	memmove(q + h, p + k, n - k);
	buf_truncate(b, mark + h + n - k);
	/* The value length, filled in by blob_sample_close. */
	return buf_addc(b, 0);
}

int blob_sample_close(struct buf *b, size_t mark)
{
	const unsigned char *q = (const unsigned char *)b->data + mark;
	size_t i = 1, k = 0, sl = 0, vpos, n;

	if (!blob_varint(q, b->len - mark, &i, &k) || !blob_varint(q, b->len - mark, &i, &sl))
		return KM_EINVAL; /* never: pairs_end wrote it */
	vpos = mark + i + sl;
	n = b->len - vpos - 1;
	if (n > BLOB_VALUE_MAX)
		return KM_ETOOBIG;
	b->data[vpos] = (char)n;
	return 0;
}

/* Samples of one blob in order, with the name each is under. */
struct walk {
	const char *p, *end;
	const char *name;
	size_t name_len;
};

/* The next sample's series (name and pairs); false at the end. */
static bool walk_next(struct walk *w, struct blob_rec *r)
{
	while (w->p < w->end && blob_next(&w->p, w->end, r)) {
		if (r->kind == BLOB_REC_NAME) {
			w->name = r->a;
			w->name_len = r->alen;
		} else if (r->kind == BLOB_REC_SAMPLE) {
			return true;
		}
	}
	return false;
}

static size_t count_samples(const char *p, size_t n)
{
	struct walk w = { p, p + n, NULL, 0 };
	struct blob_rec r;
	size_t k = 0;

	while (walk_next(&w, &r))
		k++;
	return k;
}

/* The sorted series hashes of a blob, *n of them; NULL when it has none or
 * on allocation failure (*n is then the count). */
static uint64_t *series_hashes(const char *p, size_t len, size_t *n)
{
	struct walk w = { p, p + len, NULL, 0 };
	struct blob_rec r;
	struct buf pairs;
	uint64_t *v;
	size_t k = 0;

	*n = count_samples(p, len);
	if (!*n || !(v = malloc(*n * sizeof(*v))))
		return NULL;
	buf_init(&pairs, BLOB_PAIRS_MAX);
	while (walk_next(&w, &r)) {
		/* The NUL between name and pairs keeps ("ab","c") apart from
		 * ("a","bc"). */
		uint64_t h = hash64_add(hash64(w.name, w.name_len), "", 1);
		if (blob_pairs(&pairs, &r)) {
			free(v);
			v = NULL;
			goto out;
		}
		v[k++] = hash64_add(h, pairs.data ? pairs.data : "", pairs.len);
	}
	series_sort_ids(v, k);
out:
	buf_fini(&pairs);
	return v;
}

uint64_t blob_series_added(const char *prev, size_t pn, const char *cur, size_t n)
{
	uint64_t removed;

	return blob_series_diff(prev, pn, cur, n, &removed);
}

uint64_t blob_series_diff(const char *prev, size_t pn, const char *cur, size_t n, uint64_t *removed)
{
	struct walk a = { prev, prev ? prev + pn : NULL, NULL, 0 }, b = { cur, cur + n, NULL, 0 };
	struct blob_rec ra, rb;
	uint64_t *hp = NULL, *hc, added;
	size_t np = 0, nc;

	*removed = 0;
	for (;;) {
		bool more_a = prev && walk_next(&a, &ra), more_b = walk_next(&b, &rb);

		if (!more_a && !more_b)
			return 0;
		/* Front-coded alike (blob.h): the same records are the same
		 * pairs, compared without rebuilding them. */
		if (more_a != more_b || ra.alen != rb.alen || ra.shared != rb.shared || a.name_len != b.name_len ||
		    memcmp(ra.a, rb.a, ra.alen) != 0 ||
		    (a.name != b.name && memcmp(a.name, b.name, a.name_len) != 0))
			break;
	}
	/* Not the same series in the same order: compare as sets. */
	*removed = prev && pn ? 1 : 0; /* until counted */
	hc = series_hashes(cur, n, &nc);
	if (!hc && nc)
		return nc;
	if (prev) {
		hp = series_hashes(prev, pn, &np);
		if (!hp && np) {
			free(hc);
			return nc;
		}
	}
	added = series_count_new(hc, nc, hp, np);
	*removed = series_count_new(hp, np, hc, nc);
	free(hc);
	free(hp);
	return added;
}
