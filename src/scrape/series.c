#include "scrape/series.h"

#include <stdlib.h>
#include <string.h>

#include "scrape/blob.h"

/* Word-at-a-time multiply-mix: computed for every sample of a push-only
 * scrape, where FNV-1a (a byte at a time) cost ~80 ms per million samples
 * (BENCHMARKS.md). The lengths go in first, so ("ab","c") and ("a","bc")
 * differ. */
#define SERIES_K1 0x9e3779b97f4a7c15ull
#define SERIES_K2 0xd6e8feb86659fd93ull

static uint64_t mix(uint64_t h)
{
	h ^= h >> 32;
	h *= SERIES_K2;
	h ^= h >> 29;
	return h;
}

static uint64_t absorb(uint64_t h, const char *p, size_t n)
{
	uint64_t w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * SERIES_K1;
		h ^= h >> 31;
	}
	if (n) {
		w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * SERIES_K1;
		h ^= h >> 31;
	}
	return h;
}

uint64_t series_id(const char *name, size_t nlen, const char *pairs, size_t plen)
{
	uint64_t h = mix(SERIES_K2 ^ ((uint64_t)nlen << 32 | (uint64_t)(plen & 0xffffffffu)));

	return mix(absorb(absorb(h, name, nlen), pairs, plen));
}

uint64_t *series_ids_of_blob(const char *data, size_t len, size_t *n)
{
	const char *p = data, *end = data + len, *name = NULL;
	struct blob_rec r;
	struct buf pairs;
	size_t nlen = 0, k = 0;
	uint64_t *v;

	*n = 0;
	while (p < end && blob_next(&p, end, &r))
		*n += r.kind == BLOB_REC_SAMPLE;
	if (!*n || !(v = malloc(*n * sizeof(*v))))
		return NULL;
	buf_init(&pairs, BLOB_PAIRS_MAX);
	for (p = data; p < end && blob_next(&p, end, &r);) {
		if (r.kind == BLOB_REC_NAME) {
			name = r.a;
			nlen = r.alen;
		} else if (r.kind == BLOB_REC_SAMPLE && k < *n) {
			if (blob_pairs(&pairs, &r)) { /* out of memory: the caller counts all as new */
				free(v);
				v = NULL;
				break;
			}
			v[k++] = series_id(name ? name : "", nlen, pairs.data ? pairs.data : "", pairs.len);
		}
	}
	buf_fini(&pairs);
	return v;
}

/* In-place heapsort: no callback per comparison (qsort's cost was a tenth
 * of the scrape loop's CPU when every scrape sorted). */
static void sift_down(uint64_t *v, size_t i, size_t n)
{
	uint64_t x = v[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && v[c + 1] > v[c])
			c++;
		if (v[c] <= x)
			break;
		v[i] = v[c];
		i = c;
	}
	v[i] = x;
}

void series_sort_ids(uint64_t *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(v, i, n);
	for (size_t end = n; end > 1; end--) {
		uint64_t t = v[0];

		v[0] = v[end - 1];
		v[end - 1] = t;
		sift_down(v, 0, end - 1);
	}
}

uint64_t series_count_new(const uint64_t *cur, size_t n, const uint64_t *prev, size_t np)
{
	uint64_t added = 0;
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		if (i && cur[i] == cur[i - 1])
			continue;
		while (j < np && prev[j] < cur[i])
			j++;
		if (j >= np || prev[j] != cur[i])
			added++;
	}
	return added;
}

uint64_t series_ids_added(const uint64_t *prev, size_t np, const uint64_t *cur, size_t nc)
{
	uint64_t removed;

	return series_ids_diff(prev, np, cur, nc, &removed);
}

uint64_t series_ids_diff(const uint64_t *prev, size_t np, const uint64_t *cur, size_t nc, uint64_t *removed)
{
	uint64_t *a = NULL, *b = NULL, added = nc;

	*removed = 0;
	if (!prev)
		np = 0;
	if (np == nc && (!nc || memcmp(prev, cur, nc * sizeof(*cur)) == 0))
		return 0;
	*removed = np ? 1 : 0; /* until counted */
	if (!nc)
		return 0;
	if (!(b = malloc(nc * sizeof(*b))) || (np && !(a = malloc(np * sizeof(*a)))))
		goto out;
	memcpy(b, cur, nc * sizeof(*b));
	series_sort_ids(b, nc);
	if (np) {
		memcpy(a, prev, np * sizeof(*a));
		series_sort_ids(a, np);
	}
	added = series_count_new(b, nc, a, np);
	*removed = series_count_new(a, np, b, nc);
out:
	free(a);
	free(b);
	return added;
}
