#include "http/deflate_line.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* A shorter match costs about as many bits as its literals. */
#define MIN_MATCH 4
#define MAX_MATCH 258
#define MAX_DIST 32768u
#define NLITLEN 286
#define NDIST 30
#define NCL 19
#define MAX_BITS 15
#define MAX_CL_BITS 7

/* Bytes after which a line is re-aligned with its neighbour when they
 * differ: the ends of label values and names, and the value's separators. */
static const bool delim[256] = {
	['"'] = true, [','] = true, ['{'] = true, ['}'] = true, [' '] = true, ['\n'] = true,
	['='] = true,
};

/* Order in which the code-length code lengths are sent (RFC 1951 3.2.7). */
static const uint8_t cl_order[NCL] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

int dfl_init(struct dfl *d)
{
	memset(d, 0, sizeof(*d));
	d->syms = malloc(DFL_BLOCK_SYMS * sizeof(*d->syms));
	d->win = malloc(DFL_WIN);
	d->head = calloc((size_t)1 << DFL_HASH_BITS, sizeof(*d->head));
	if (!d->syms || !d->win || !d->head) {
		dfl_fini(d);
		return KM_ENOMEM;
	}
	return 0;
}

void dfl_fini(struct dfl *d)
{
	free(d->syms);
	free(d->win);
	free(d->head);
	memset(d, 0, sizeof(*d));
}

/* Length 3..258 -> literal/length symbol 257..285, its extra bits and their
 * count (RFC 1951 3.2.5). */
static unsigned len_code(unsigned len, unsigned *extra, unsigned *nextra)
{
	unsigned x = len - 3, e;

	if (len == MAX_MATCH) {
		*extra = *nextra = 0;
		return 285;
	}
	if (x < 8) {
		*extra = *nextra = 0;
		return 257 + x;
	}
	e = (unsigned)(31 - __builtin_clz(x)) - 2;
	*nextra = e;
	*extra = x & ((1u << e) - 1);
	return 257 + 4 * e + 4 + ((x >> e) & 3);
}

/* Distance 1..32768 -> distance symbol 0..29, extra bits and count. */
static unsigned dist_code(unsigned dist, unsigned *extra, unsigned *nextra)
{
	unsigned x = dist - 1, e;

	if (x < 4) {
		*extra = *nextra = 0;
		return x;
	}
	e = (unsigned)(31 - __builtin_clz(x)) - 1;
	*nextra = e;
	*extra = x & ((1u << e) - 1);
	return 2 * e + 2 + ((x >> e) & 1);
}

/* Huffman code lengths for freq[0..n), none over limit. At least two
 * symbols get a code (inflaters reject a lone code of length 0), so the
 * code is always complete. Too deep a tree is rebuilt from halved counts:
 * equal counts give a balanced tree, well within the limits here. */
static void huff_lengths(uint32_t *freq, unsigned n, unsigned limit, uint8_t *len)
{
	uint64_t leaf[NLITLEN];
	uint32_t w[2 * NLITLEN];
	uint16_t parent[2 * NLITLEN];
	uint8_t depth[2 * NLITLEN];
	unsigned m, nz = 0;

	for (unsigned s = 0; s < n && nz < 2; s++)
		nz += freq[s] > 0;
	for (unsigned s = 0; s < n && nz < 2; s++)
		if (!freq[s]) {
			freq[s] = 1;
			nz++;
		}
	for (;;) {
		unsigned li = 0, ii, next, maxd = 0;

		m = 0;
		/* Leaves sorted by count (insertion sort: n <= 286, per block). */
		for (unsigned s = 0; s < n; s++) {
			uint64_t k;
			unsigned j;

			if (!freq[s])
				continue;
			k = (uint64_t)freq[s] << 16 | s;
			for (j = m; j > 0 && leaf[j - 1] > k; j--)
				leaf[j] = leaf[j - 1];
			leaf[j] = k;
			m++;
		}
		if (m < 2) {
			/* Not reached (two counts were made non-zero above). */
			depth[0] = 1;
			break;
		}
		for (unsigned j = 0; j < m; j++)
			w[j] = (uint32_t)(leaf[j] >> 16);
		/* Two queues: the sorted leaves and the internal nodes, which
		 * are made in non-decreasing weight order. */
		ii = m;
		next = m;
		for (unsigned k = 0; k + 1 < m; k++) {
			unsigned pick[2];

			for (int t = 0; t < 2; t++) {
				if (li < m && (ii >= next || w[li] <= w[ii]))
					pick[t] = li++;
				else
					pick[t] = ii++;
			}
			w[next] = w[pick[0]] + w[pick[1]];
			parent[pick[0]] = parent[pick[1]] = (uint16_t)next;
			next++;
		}
		depth[next - 1] = 0;
		for (unsigned j = next - 1; j-- > 0;) {
			depth[j] = (uint8_t)(depth[parent[j]] + 1);
			if (j < m && depth[j] > maxd)
				maxd = depth[j];
		}
		if (maxd <= limit)
			break;
		for (unsigned s = 0; s < n; s++)
			if (freq[s])
				freq[s] = (freq[s] + 1) / 2;
	}
	memset(len, 0, n);
	for (unsigned j = 0; j < m; j++)
		len[leaf[j] & 0xffff] = depth[j];
}

/* Canonical codes for len[0..n), bit-reversed for LSB-first output. */
static void huff_codes(const uint8_t *len, unsigned n, uint16_t *code)
{
	unsigned count[MAX_BITS + 1] = {0}, next[MAX_BITS + 1], c = 0;

	for (unsigned s = 0; s < n; s++)
		count[len[s]]++;
	count[0] = 0;
	for (unsigned b = 1; b <= MAX_BITS; b++) {
		c = (c + count[b - 1]) << 1;
		next[b] = c;
	}
	for (unsigned s = 0; s < n; s++) {
		unsigned l = len[s], v, r = 0;

		if (!l)
			continue;
		v = next[l]++;
		for (unsigned b = 0; b < l; b++) {
			r = r << 1 | (v & 1);
			v >>= 1;
		}
		code[s] = (uint16_t)r;
	}
}

/* Bit writer into reserved space. */
struct bw {
	uint8_t *p;
	uint64_t bits;
	unsigned n;
};

static inline void put(struct bw *w, uint32_t v, unsigned n)
{
	w->bits |= (uint64_t)v << w->n;
	w->n += n;
	if (w->n >= 32) {
		w->p[0] = (uint8_t)w->bits;
		w->p[1] = (uint8_t)(w->bits >> 8);
		w->p[2] = (uint8_t)(w->bits >> 16);
		w->p[3] = (uint8_t)(w->bits >> 24);
		w->p += 4;
		w->bits >>= 32;
		w->n -= 32;
	}
}

/* The code-length symbols of the run-length coded lengths (RFC 1951 3.2.7):
 * sym[i] | extra << 8. Returns their count. */
static unsigned cl_symbols(const uint8_t *lens, unsigned total, uint16_t *sym)
{
	unsigned i = 0, k = 0;

	while (i < total) {
		unsigned v = lens[i], run = 1;

		while (i + run < total && lens[i + run] == v)
			run++;
		i += run;
		if (v == 0) {
			while (run >= 11) {
				unsigned r = run > 138 ? 138 : run;
				sym[k++] = (uint16_t)(18 | (r - 11) << 8);
				run -= r;
			}
			if (run >= 3) {
				sym[k++] = (uint16_t)(17 | (run - 3) << 8);
				run = 0;
			}
		} else {
			sym[k++] = (uint16_t)v;
			run--;
			while (run >= 3) {
				unsigned r = run > 6 ? 6 : run;
				sym[k++] = (uint16_t)(16 | (r - 3) << 8);
				run -= r;
			}
		}
		while (run--)
			sym[k++] = (uint16_t)v;
	}
	return k;
}

/* Writes the buffered symbols as one dynamic-Huffman block (final: the
 * last one, then padded to a byte). */
static int emit_block(struct dfl *d, bool final, struct buf *out)
{
	uint32_t fll[NLITLEN] = {0}, fd[NDIST] = {0}, fcl[NCL] = {0};
	uint8_t lens[NLITLEN + NDIST], lcl[NCL];
	uint16_t cll[NLITLEN], cd[NDIST], ccl[NCL], cls[NLITLEN + NDIST];
	unsigned hlit = NLITLEN, hdist = NDIST, hclen = NCL, ncls, e, ne;
	struct bw w;
	size_t room;
	int rc;

	for (size_t i = 0; i < d->nsyms; i++) {
		const struct dfl_sym *s = &d->syms[i];
		if (!s->dist) {
			fll[s->len]++;
			continue;
		}
		fll[len_code(s->len, &e, &ne)]++;
		fd[dist_code(s->dist, &e, &ne)]++;
	}
	fll[256] = 1;
	huff_lengths(fll, NLITLEN, MAX_BITS, lens);
	huff_lengths(fd, NDIST, MAX_BITS, lens + NLITLEN);
	while (hlit > 257 && !lens[hlit - 1])
		hlit--;
	while (hdist > 1 && !lens[NLITLEN + hdist - 1])
		hdist--;
	/* The two length lists are sent back to back. */
	memmove(lens + hlit, lens + NLITLEN, hdist);
	ncls = cl_symbols(lens, hlit + hdist, cls);
	for (unsigned i = 0; i < ncls; i++)
		fcl[cls[i] & 0xff]++;
	huff_lengths(fcl, NCL, MAX_CL_BITS, lcl);
	while (hclen > 4 && !lcl[cl_order[hclen - 1]])
		hclen--;
	huff_codes(lcl, NCL, ccl);
	huff_codes(lens, hlit, cll);
	huff_codes(lens + hlit, hdist, cd);

	/* Worst case: 17 header bits, 3 per code-length length, 7 + 7 per
	 * length, 15 + 5 + 15 + 13 per symbol, the end code and 7 pad bits. */
	room = (17 + 3 * NCL + 14 * (size_t)(hlit + hdist) + 48 * d->nsyms + 15 + 7 + 64) / 8 + 8;
	rc = buf_reserve(out, room);
	if (rc)
		return rc;
	w.p = (uint8_t *)out->data + out->len;
	w.bits = d->bits;
	w.n = d->nbits;
	put(&w, final ? 1 : 0, 1);
	put(&w, 2, 2);
	put(&w, hlit - 257, 5);
	put(&w, hdist - 1, 5);
	put(&w, hclen - 4, 4);
	for (unsigned i = 0; i < hclen; i++)
		put(&w, lcl[cl_order[i]], 3);
	for (unsigned i = 0; i < ncls; i++) {
		unsigned s = cls[i] & 0xff, x = cls[i] >> 8;
		put(&w, ccl[s], lcl[s]);
		if (s == 16)
			put(&w, x, 2);
		else if (s == 17)
			put(&w, x, 3);
		else if (s == 18)
			put(&w, x, 7);
	}
	for (size_t i = 0; i < d->nsyms; i++) {
		const struct dfl_sym *s = &d->syms[i];
		unsigned c;

		if (!s->dist) {
			put(&w, cll[s->len], lens[s->len]);
			continue;
		}
		c = len_code(s->len, &e, &ne);
		put(&w, cll[c], lens[c]);
		put(&w, e, ne);
		c = dist_code(s->dist, &e, &ne);
		put(&w, cd[c], lens[hlit + c]);
		put(&w, e, ne);
	}
	put(&w, cll[256], lens[256]);
	if (final && w.n % 8)
		put(&w, 0, 8 - w.n % 8);
	while (w.n >= 8) {
		*w.p++ = (uint8_t)w.bits;
		w.bits >>= 8;
		w.n -= 8;
	}
	out->len = (size_t)((char *)w.p - out->data);
	out->data[out->len] = '\0';
	d->bits = w.bits;
	d->nbits = w.n;
	d->nsyms = 0;
	return 0;
}

static inline int add_sym(struct dfl *d, unsigned len, unsigned dist, struct buf *out)
{
	if (d->nsyms == DFL_BLOCK_SYMS) {
		int rc = emit_block(d, false, out);
		if (rc)
			return rc;
	}
	d->syms[d->nsyms].len = (uint16_t)len;
	d->syms[d->nsyms].dist = (uint16_t)dist;
	d->nsyms++;
	return 0;
}

static int add_literals(struct dfl *d, const uint8_t *p, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		int rc = add_sym(d, p[i], 0, out);
		if (rc)
			return rc;
	}
	return 0;
}

/* A match of len (>= 3) bytes at dist, in pieces of at most 258 with none
 * under 3. */
static int add_match(struct dfl *d, size_t len, unsigned dist, struct buf *out)
{
	while (len) {
		size_t l = len;
		int rc;

		if (l > MAX_MATCH)
			l = len - MAX_MATCH < 3 ? len - 3 : MAX_MATCH;
		rc = add_sym(d, (unsigned)l, dist, out);
		if (rc)
			return rc;
		len -= l;
	}
	return 0;
}

/* Length of the common prefix of a and b, at most max. */
static inline size_t common(const uint8_t *a, const uint8_t *b, size_t max)
{
	size_t m = 0;

	while (m + 8 <= max) {
		uint64_t x, y;
		memcpy(&x, a + m, 8);
		memcpy(&y, b + m, 8);
		if (x != y)
			return m + (size_t)(__builtin_ctzll(x ^ y) >> 3);
		m += 8;
	}
	while (m < max && a[m] == b[m])
		m++;
	return m;
}

static inline uint32_t hash4(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return (v * 2654435761u) >> (32 - DFL_HASH_BITS);
}

/* Codes win[a..b), which the line before did not give: a match wherever a
 * token start (a, or a byte after a delimiter) repeats an earlier token
 * start within reach, literals otherwise. */
static int code_rest(struct dfl *d, size_t a, size_t b, struct buf *out)
{
	const uint8_t *w = d->win;
	size_t i = a, lit = a;
	int rc;

	while (i + MIN_MATCH <= b) {
		if (i == a || delim[w[i - 1]]) {
			uint32_t h = hash4(w + i), cand = d->head[h];
			uint32_t at = (uint32_t)(d->base + i) + 1, dist = at - cand;

			d->head[h] = at;
			if (cand && dist <= MAX_DIST && dist <= i) {
				size_t m = common(w + i, w + i - dist, b - i);
				if (m >= MIN_MATCH) {
					rc = add_literals(d, w + lit, i - lit, out);
					if (!rc)
						rc = add_match(d, m, dist, out);
					if (rc)
						return rc;
					i += m;
					lit = i;
					continue;
				}
			}
		}
		i++;
	}
	return add_literals(d, w + lit, b - lit, out);
}

/* Codes the line win[c..c+n) against the line before it (d->pstart, when
 * d->has_prev): runs common to both become matches at the distance between
 * them; after a difference both sides skip to the next delimiter (the same
 * byte) and compare again. */
static int code_line(struct dfl *d, size_t c, size_t n, struct buf *out)
{
	const uint8_t *cur = d->win + c, *prev = d->win + d->pstart;
	size_t i = 0, j = 0, lit = 0, pn = d->has_prev ? c - d->pstart : 0;
	int rc;

	if (pn + n > MAX_DIST)
		pn = 0;
	/* A family's first sample after its "# TYPE name type" line: the
	 * name starts 7 bytes into it. */
	if (pn > 7 && n && cur[0] != '#' && prev[0] == '#' && prev[1] == ' ' && prev[6] == ' ')
		j = 7;
	while (i < n && j < pn) {
		size_t m = common(cur + i, prev + j, n - i < pn - j ? n - i : pn - j);
		const uint8_t *q;

		if (m >= MIN_MATCH) {
			rc = code_rest(d, c + lit, c + i, out);
			if (!rc)
				rc = add_match(d, m, (unsigned)(pn - j + i), out);
			if (rc)
				return rc;
			i += m;
			j += m;
			lit = i;
			continue;
		}
		/* Re-align: the next delimiter after i in cur, the same byte
		 * from j on in prev. */
		do
			i++;
		while (i < n && !delim[cur[i]]);
		if (i >= n)
			break;
		q = memchr(prev + j, cur[i], pn - j);
		if (!q)
			break;
		j = (size_t)(q - prev);
	}
	rc = code_rest(d, c + lit, c + n, out);
	if (rc)
		return rc;
	d->pstart = c;
	d->has_prev = true;
	return 0;
}

/* Drops all but the last 32 KiB coded (deflate's reach) from the window. */
static void slide(struct dfl *d)
{
	size_t keep = d->pos > MAX_DIST ? d->pos - MAX_DIST : 0;

	if (!keep)
		return;
	memmove(d->win, d->win + keep, d->wlen - keep);
	d->wlen -= keep;
	d->pos -= keep;
	if (d->pstart < keep)
		d->has_prev = false;
	else
		d->pstart -= keep;
	d->base += keep;
}

/* Codes every complete line in the window; an incomplete one longer than
 * DFL_LINE_MAX (or any, with finish) is coded as it is. */
static int code_window(struct dfl *d, bool finish, struct buf *out)
{
	int rc;

	for (;;) {
		const uint8_t *nl = memchr(d->win + d->pos, '\n', d->wlen - d->pos);
		size_t len = nl ? (size_t)(nl + 1 - (d->win + d->pos)) : d->wlen - d->pos;

		if (!len || (!nl && !finish && len <= DFL_LINE_MAX))
			return 0;
		rc = code_line(d, d->pos, len, out);
		if (rc)
			return rc;
		d->pos += len;
	}
}

int dfl_write(struct dfl *d, const char *in, size_t n, bool finish, struct buf *out)
{
	int rc;

	if (d->done)
		return KM_EINVAL;
	while (n) {
		size_t k;

		if (d->wlen == DFL_WIN)
			slide(d);
		k = DFL_WIN - d->wlen;
		if (k > n)
			k = n;
		memcpy(d->win + d->wlen, in, k);
		d->wlen += k;
		in += k;
		n -= k;
		rc = code_window(d, false, out);
		if (rc)
			return rc;
	}
	if (!finish)
		return 0;
	rc = code_window(d, true, out);
	if (!rc)
		rc = emit_block(d, true, out);
	if (rc)
		return rc;
	d->done = true;
	return 0;
}
