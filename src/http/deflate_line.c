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
	d->prev = malloc(DFL_LINE_MAX);
	d->pend = malloc(DFL_LINE_MAX);
	if (!d->syms || !d->prev || !d->pend) {
		dfl_fini(d);
		return KM_ENOMEM;
	}
	return 0;
}

void dfl_fini(struct dfl *d)
{
	free(d->syms);
	free(d->prev);
	free(d->pend);
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

/* Codes cur[0..n) given that the pn bytes before it are prev: runs common
 * to both become matches at distance pn - j + i; after a difference both
 * sides skip to the next delimiter (the same byte) and compare again. */
static int code_line(struct dfl *d, const uint8_t *cur, size_t n, const uint8_t *prev, size_t pn,
		     struct buf *out)
{
	size_t i = 0, j = 0, lit = 0;
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
			rc = add_literals(d, cur + lit, i - lit, out);
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
	return add_literals(d, cur + lit, n - lit, out);
}

/* Codes every complete line of p[0..n) (against the line before each) and
 * returns how many bytes that took; the line before the rest becomes
 * d->prev. */
static int code_lines(struct dfl *d, const uint8_t *p, size_t n, size_t *used, struct buf *out)
{
	const uint8_t *prev = (const uint8_t *)d->prev, *s = p, *end = p + n;
	size_t pn = d->prev_len;
	int rc;

	for (;;) {
		const uint8_t *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len;

		if (!nl)
			break;
		len = (size_t)(nl + 1 - s);
		rc = code_line(d, s, len, prev, pn, out);
		if (rc)
			return rc;
		prev = s;
		pn = len;
		s = nl + 1;
	}
	if (prev != (const uint8_t *)d->prev) {
		if (pn <= DFL_LINE_MAX) {
			memcpy(d->prev, prev, pn);
			d->prev_len = pn;
		} else {
			d->prev_len = 0;
		}
	}
	*used = (size_t)(s - p);
	return 0;
}

/* Codes the incomplete line kept from the last write. */
static int code_pend(struct dfl *d, struct buf *out)
{
	char *t;
	int rc = code_line(d, (const uint8_t *)d->pend, d->pend_len, (const uint8_t *)d->prev,
			   d->prev_len, out);

	if (rc)
		return rc;
	/* It is now the line before the next: swap the two buffers. */
	t = d->prev;
	d->prev = d->pend;
	d->pend = t;
	d->prev_len = d->pend_len;
	d->pend_len = 0;
	return 0;
}

int dfl_write(struct dfl *d, const char *in, size_t n, bool finish, struct buf *out)
{
	const uint8_t *p = (const uint8_t *)in;
	size_t used;
	int rc;

	if (d->done)
		return KM_EINVAL;
	if (!n)
		p = (const uint8_t *)"";
	if (d->pend_len) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl + 1 - p) : n;

		if (d->pend_len + take > DFL_LINE_MAX) {
			/* Too long to match: literals, and nothing to match
			 * the next bytes against. */
			rc = add_literals(d, (const uint8_t *)d->pend, d->pend_len, out);
			if (rc)
				return rc;
			d->pend_len = 0;
			d->prev_len = 0;
		} else {
			memcpy(d->pend + d->pend_len, p, take);
			d->pend_len += take;
			p += take;
			n -= take;
			if (nl || finish) {
				rc = code_pend(d, out);
				if (rc)
					return rc;
			}
		}
	}
	rc = code_lines(d, p, n, &used, out);
	if (rc)
		return rc;
	p += used;
	n -= used;
	if (n && (finish || n > DFL_LINE_MAX)) {
		rc = code_line(d, p, n, (const uint8_t *)d->prev, d->prev_len, out);
		if (rc)
			return rc;
		d->prev_len = 0;
	} else if (n) {
		memcpy(d->pend, p, n);
		d->pend_len = n;
	}
	if (!finish)
		return 0;
	rc = emit_block(d, true, out);
	if (rc)
		return rc;
	d->done = true;
	return 0;
}
