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
	static const unsigned char h[4] = { BLOB_SAMPLE, 0, 0, 0 };

	*mark = b->len;
	return buf_add(b, h, sizeof(h));
}

int blob_sample_pairs_end(struct buf *b, size_t mark)
{
	size_t n = b->len - mark - 4;
	unsigned char *l = (unsigned char *)b->data + mark + 1;

	if (n > BLOB_PAIRS_MAX)
		return KM_ETOOBIG;
	l[0] = (unsigned char)(n & 0xff);
	l[1] = (unsigned char)((n >> 8) & 0xff);
	l[2] = (unsigned char)(n >> 16);
	/* The value length, filled in by blob_sample_close. */
	return buf_addc(b, 0);
}

int blob_sample_close(struct buf *b, size_t mark)
{
	const unsigned char *l = (const unsigned char *)b->data + mark + 1;
	size_t vpos = mark + 4 + ((size_t)l[0] | (size_t)l[1] << 8 | (size_t)l[2] << 16);
	size_t n = b->len - vpos - 1;

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
	uint64_t *v;
	size_t k = 0;

	*n = count_samples(p, len);
	if (!*n || !(v = malloc(*n * sizeof(*v))))
		return NULL;
	while (walk_next(&w, &r)) {
		/* The NUL between name and pairs keeps ("ab","c") apart from
		 * ("a","bc"). */
		uint64_t h = hash64_add(hash64(w.name, w.name_len), "", 1);
		v[k++] = hash64_add(h, r.a, r.alen);
	}
	series_sort_ids(v, k);
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
		if (more_a != more_b || ra.alen != rb.alen || a.name_len != b.name_len ||
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
