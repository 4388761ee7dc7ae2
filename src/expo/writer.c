#include "expo/writer.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"
#include "base/utf8.h"

const char *expo_type_name(enum expo_type type)
{
	switch (type) {
	case EXPO_COUNTER: return "counter";
	case EXPO_GAUGE: return "gauge";
	case EXPO_HISTOGRAM: return "histogram";
	case EXPO_SUMMARY: return "summary";
	case EXPO_UNTYPED: break;
	}
	return "untyped";
}

/* True when none of the 8 bytes in w needs a look: all ASCII, none NUL,
 * '\\', '\n' or (quote) '"'. Word-at-a-time zero-byte test: (x - 0x01..)
 * & ~x & 0x80.. is non-zero exactly when x has a zero byte. */
static inline bool clean8(uint64_t w, bool quote)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t bs = w ^ (ones * '\\'), nl = w ^ (ones * '\n'), q = w ^ (ones * '"');
	uint64_t bad = w & highs;

	bad |= (w - ones) & ~w & highs;
	bad |= (bs - ones) & ~bs & highs;
	bad |= (nl - ones) & ~nl & highs;
	if (quote)
		bad |= (q - ones) & ~q & highs;
	return bad == 0;
}

/* Copies clean runs in bulk and escapes only what must be escaped. A byte
 * that does not start a valid UTF-8 sequence becomes U+FFFD: values taken
 * from files (mount points, interface names, os-release, udev) may hold
 * any bytes, and one invalid label value makes Prometheus reject the whole
 * scrape. */
static inline uint64_t load64(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

static inline uint64_t load32(const unsigned char *p)
{
	uint32_t w;

	memcpy(&w, p, 4);
	return w;
}

static inline uint64_t load16(const unsigned char *p)
{
	uint16_t w;

	memcpy(&w, p, 2);
	return w;
}

/* True when no byte of u[0..n) needs a look (see clean8). Every byte is
 * tested by whole words: the last word overlaps the one before it, and a
 * string under 8 bytes is loaded as two overlapping halves padded with
 * blanks. Most HELP texts and label values are short and plain, and the
 * byte loop below cost ~10 instructions a byte for what is left after the
 * last whole word (label values such as "cpu0" are nothing but that). */
static bool all_clean(const unsigned char *u, size_t n, bool quote)
{
	const uint64_t blanks = 0x2020202020202020ull;
	uint64_t w;

	if (n >= 8) {
		for (size_t i = 0; i + 8 < n; i += 8)
			if (!clean8(load64(u + i), quote))
				return false;
		return clean8(load64(u + n - 8), quote);
	}
	if (n >= 4)
		w = load32(u) | load32(u + n - 4) << 32;
	else if (n >= 2)
		w = load16(u) | load16(u + n - 2) << 16 | (blanks << 32);
	else if (n == 1)
		w = u[0] | (blanks << 8);
	else
		return true;
	return clean8(w, quote);
}

static int escape(struct buf *b, const char *v, size_t n, bool quote)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t i = 0;
	int rc;

	if (all_clean(u, n, quote))
		return buf_add(b, v, n);
	while (i < n) {
		size_t run = 0;

		while (i + run < n) {
			uint32_t cp;
			size_t k;
			uint64_t w;

			/* HELP texts and label values are mostly plain ASCII:
			 * skip it 8 bytes at a time (~12 % of a node scrape's
			 * instructions went to this loop byte by byte). */
			if (n - i - run >= 8) {
				memcpy(&w, u + i + run, 8);
				if (clean8(w, quote)) {
					run += 8;
					continue;
				}
			}
			if (u[i + run] < 0x80) {
				/* Compared inline, not with strchr(): this runs for
				 * every byte of every label value. NUL stops the run
				 * too: it becomes U+FFFD (readers reject it). */
				unsigned char c = u[i + run];
				if (c == '\\' || c == '\n' || (quote && c == '"') || c == 0)
					break;
				run++;
				continue;
			}
			k = utf8_decode(u + i + run, n - i - run, &cp);
			if (!k)
				break;
			run += k;
		}
		if (run) {
			rc = buf_add(b, v + i, run);
			if (rc)
				return rc;
			i += run;
			continue;
		}
		if (u[i] >= 0x80 || u[i] == 0)
			rc = buf_add(b, UTF8_REPLACEMENT, 3);
		else
			rc = buf_add(b, v[i] == '\n' ? "\\n" : v[i] == '"' ? "\\\"" : "\\\\", 2);
		if (rc)
			return rc;
		i++;
	}
	return 0;
}

int expo_escape_label(struct buf *b, const char *v, size_t n)
{
	return escape(b, v, n, true);
}

int expo_family(struct buf *b, const char *name, const char *help, enum expo_type type)
{
	size_t mark = b->len;
	int rc = 0;

	if (help) {
		rc = buf_adds(b, "# HELP ");
		if (!rc)
			rc = buf_adds(b, name);
		if (!rc)
			rc = buf_addc(b, ' ');
		if (!rc)
			rc = escape(b, help, strlen(help), false);
		if (!rc)
			rc = buf_addc(b, '\n');
	}
	if (!rc)
		rc = buf_add(b, "# TYPE ", 7);
	if (!rc)
		rc = buf_adds(b, name);
	if (!rc)
		rc = buf_addc(b, ' ');
	if (!rc)
		rc = buf_adds(b, expo_type_name(type));
	if (!rc)
		rc = buf_addc(b, '\n');
	if (rc)
		buf_truncate(b, mark);
	return rc;
}

/* |v| <= 2^53 as decimal digits; no printf on the hot path, where most
 * samples are integral counters. */
static size_t fmt_int(char *dst, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0, len = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		dst[len++] = '-';
	while (n)
		dst[len++] = tmp[--n];
	dst[len] = '\0';
	return len;
}

/* Shortest round trip without printf for the common fixed-notation case
 * 1e-4 <= |v| < 1e5: the fewest fraction digits k (1..14) such that the
 * decimal m / 10^k converts back to v. The division of two exact doubles is
 * correctly rounded, so the test is exactly "strtod of the string gives v".
 * With at most 15 significant digits this is the same string the %.15e
 * path below prints (DBL_DIG: such decimals survive double and back).
 * Returns 0 when the fast path does not apply. */
static size_t fmt_fixed_short(char *dst, double v)
{
	static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
				      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14 };
	double a = fabs(v);
	size_t n = 0;

	if (!(a >= 1e-4 && a < 1e5))
		return 0;
	for (int k = 1; k < 15; k++) {
		double scaled = a * p10[k];
		uint64_t m, ip, fp;
		char frac[16];

		if (scaled >= 1e15)
			return 0;
		m = (uint64_t)(scaled + 0.5);
		if ((double)m / p10[k] != a)
			continue;
		ip = m / (uint64_t)p10[k];
		fp = m % (uint64_t)p10[k];
		if (v < 0)
			dst[n++] = '-';
		n += fmt_int(dst + n, (int64_t)ip);
		dst[n++] = '.';
		for (int i = k - 1; i >= 0; i--) {
			frac[i] = (char)('0' + fp % 10);
			fp /= 10;
		}
		memcpy(dst + n, frac, (size_t)k);
		n += (size_t)k;
		dst[n] = '\0';
		return n;
	}
	return 0;
}

/* The same search for 1e-22 < |v| < 1e-4 (collector durations in seconds,
 * 26 of the ~35 values a node scrape formatted through snprintf and
 * strtod): the fewest fraction digits k (up to 22, where 10^k is still an
 * exact double) whose m / 10^k is v, written in Go's e-notation like the
 * %.15e path below ("5.5803e-05"). Returns 0 when it does not apply. */
static size_t fmt_exp_small(char *dst, double v)
{
	static const double p10[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
	double a = fabs(v);
	char digits[24];
	size_t n = 0, nd = 0;

	if (!(a > 1e-22 && a < 1e-4))
		return 0;
	for (int k = 1; k < 23; k++) {
		double scaled = a * p10[k];
		uint64_t m;
		int x;

		if (scaled >= 1e15)
			return 0;
		m = (uint64_t)(scaled + 0.5);
		if (m == 0 || (double)m / p10[k] != a)
			continue;
		for (; m; m /= 10)
			digits[nd++] = (char)('0' + m % 10);
		x = k - ((int)nd - 1); /* v = d.ddd * 10^-x */
		if (v < 0)
			dst[n++] = '-';
		dst[n++] = digits[--nd];
		if (nd)
			dst[n++] = '.';
		while (nd)
			dst[n++] = digits[--nd];
		dst[n++] = 'e';
		dst[n++] = '-';
		if (x >= 10)
			dst[n++] = (char)('0' + x / 10);
		else
			dst[n++] = '0';
		dst[n++] = (char)('0' + x % 10);
		dst[n] = '\0';
		return n;
	}
	return 0;
}

size_t expo_fmt_double(char *dst, double v)
{
	char tmp[EXPO_DOUBLE_MAX];
	char *e, *m_end;
	int exp10, prec;
	size_t n;

	if (isnan(v))
		return (size_t)snprintf(dst, EXPO_DOUBLE_MAX, "NaN");
	if (isinf(v))
		return (size_t)snprintf(dst, EXPO_DOUBLE_MAX, v > 0 ? "+Inf" : "-Inf");
	if (v == 0)
		return (size_t)snprintf(dst, EXPO_DOUBLE_MAX, "0");
	if (fabs(v) <= 9007199254740992.0 && v == floor(v))
		return fmt_int(dst, (int64_t)v);

	n = fmt_fixed_short(dst, v);
	if (!n)
		n = fmt_exp_small(dst, v);
	if (n)
		return n;
	/* Shortest round trip: 15 significant digits are exact for any decimal
	 * that has at most 15; strip zeros to get the shortest. Else 16, 17. */
	for (prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	e = strchr(tmp, 'e');
	{
		/* "e+05" / "e-308", written by snprintf above: always parses. */
		int64_t x = 0;
		parse_i64(e + 1, strlen(e + 1), &x);
		exp10 = (int)x;
	}
	m_end = e;
	while (m_end > tmp && m_end[-1] == '0')
		m_end--;
	if (m_end > tmp && m_end[-1] == '.')
		m_end--;
	/* Significant digits left in the mantissa. */
	prec = 0;
	for (char *p = tmp; p < m_end; p++)
		if (*p >= '0' && *p <= '9')
			prec++;
	if (exp10 < -4 || exp10 >= 6) {
		/* Go's layout: mantissa, 'e', sign, at least two exponent digits. */
		n = (size_t)(m_end - tmp);
		memcpy(dst, tmp, n);
		n += (size_t)snprintf(dst + n, EXPO_DOUBLE_MAX - n, "e%c%02d",
				      exp10 < 0 ? '-' : '+', abs(exp10));
		return n;
	}
	return (size_t)snprintf(dst, EXPO_DOUBLE_MAX, "%.*f",
				prec - 1 - exp10 > 0 ? prec - 1 - exp10 : 0, v);
}

/* Appends n bytes of p at *w (space checked by the caller). */
static inline char *put(char *w, const char *p, size_t n)
{
	memcpy(w, p, n);
	return w + n;
}

int expo_family_sample(struct buf *b, const char *name, const char *help, enum expo_type type,
		       double v)
{
	const char *tn = expo_type_name(type);
	size_t nl = strlen(name), hl = help ? strlen(help) : 0, tl = strlen(tn), vl, need;
	char num[EXPO_DOUBLE_MAX];
	char *w;
	int rc;

	/* ~200 of a node scrape's ~250 families: the pieces written once
	 * with one space check, not ~12 appends each measuring its string
	 * again. A HELP text to escape or a buffer to grow takes the general
	 * path. */
	vl = expo_fmt_double(num, v);
	need = (help ? 7 + nl + 1 + hl + 1 : 0) + 7 + nl + 1 + tl + 1 + nl + 1 + vl + 1;
	if (need < b->alloc - b->len && (!help || all_clean((const unsigned char *)help, hl, false))) {
		w = b->data + b->len;
		if (help) {
			w = put(w, "# HELP ", 7);
			w = put(w, name, nl);
			*w++ = ' ';
			w = put(w, help, hl);
			*w++ = '\n';
		}
		w = put(w, "# TYPE ", 7);
		w = put(w, name, nl);
		*w++ = ' ';
		w = put(w, tn, tl);
		*w++ = '\n';
		w = put(w, name, nl);
		*w++ = ' ';
		w = put(w, num, vl);
		*w++ = '\n';
		*w = '\0';
		b->len += need;
		return 0;
	}
	rc = expo_family(b, name, help, type);
	if (!rc)
		rc = expo_sample(b, name, NULL, 0, v);
	return rc;
}

int expo_label_pairs(struct buf *b, const struct label_pair *labels, size_t nlabels)
{
	size_t mark = b->len;
	int rc = 0;

	for (size_t i = 0; !rc && i < nlabels; i++) {
		if (i)
			rc = buf_addc(b, ',');
		if (!rc)
			rc = buf_adds(b, labels[i].name);
		if (!rc)
			rc = buf_add(b, "=\"", 2);
		if (!rc)
			rc = expo_escape_label(b, labels[i].value, strlen(labels[i].value));
		if (!rc)
			rc = buf_addc(b, '"');
	}
	if (rc)
		buf_truncate(b, mark);
	return rc;
}

int expo_series(struct buf *b, const char *name, const struct label_pair *labels,
		size_t nlabels)
{
	size_t mark = b->len;
	int rc = buf_adds(b, name);

	if (!rc && nlabels) {
		rc = buf_addc(b, '{');
		if (!rc)
			rc = expo_label_pairs(b, labels, nlabels);
		if (!rc)
			rc = buf_addc(b, '}');
	}
	if (rc)
		buf_truncate(b, mark);
	return rc;
}

int expo_sample_spans(struct buf *b, const char *name, const struct expo_span *spans,
		      size_t nspans, double value, int64_t ts_ms)
{
	size_t mark = b->len;
	bool first = true;
	int rc = buf_adds(b, name);

	for (size_t i = 0; !rc && i < nspans; i++) {
		if (!spans[i].n)
			continue;
		rc = buf_addc(b, first ? '{' : ',');
		if (!rc)
			rc = buf_add(b, spans[i].p, spans[i].n);
		first = false;
	}
	if (!rc && !first)
		rc = buf_addc(b, '}');
	if (!rc)
		rc = expo_value(b, value, ts_ms);
	if (rc)
		buf_truncate(b, mark);
	return rc;
}

int expo_value(struct buf *b, double value, int64_t ts_ms)
{
	char num[EXPO_DOUBLE_MAX + 24];
	size_t n;

	num[0] = ' ';
	n = 1 + expo_fmt_double(num + 1, value);
	if (ts_ms >= 0) {
		num[n++] = ' ';
		n += fmt_int(num + n, ts_ms);
	}
	num[n++] = '\n';
	return buf_add(b, num, n);
}

int expo_sample_ts(struct buf *b, const char *name, const struct label_pair *labels,
		   size_t nlabels, double value, int64_t ts_ms)
{
	size_t mark = b->len;
	int rc = expo_series(b, name, labels, nlabels);

	if (!rc)
		rc = expo_value(b, value, ts_ms);
	if (rc)
		buf_truncate(b, mark);
	return rc;
}

int expo_sample(struct buf *b, const char *name, const struct label_pair *labels,
		size_t nlabels, double value)
{
	return expo_sample_ts(b, name, labels, nlabels, value, -1);
}
