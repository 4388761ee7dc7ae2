/* Streaming text-format parser. Lines are assembled in one capped buffer,
 * then parsed whole: a chunk boundary can then never fall inside a token,
 * and a line is the unit of rejection. Families seen (declared or sampled)
 * live in a small open-addressing table over one capped arena. */
#include "expo/parser.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/parse.h"
#include "base/utf8.h"
#include "base/vec.h"

/* Bytes of the offending line handed to the error callback. */
#define ERR_EXCERPT 256
/* Family names, HELP and UNIT texts together; past this, metadata of new
 * families is simply not remembered (samples still parse, untyped). */
#define FAMILY_ARENA_CAP (16u << 20)
#define NO_OFF UINT32_MAX

struct family {
	uint32_t name_off, name_len;
	uint32_t help_off;  /* NO_OFF when no HELP */
	uint32_t unit_off;  /* NO_OFF when no UNIT */
	uint8_t type;       /* enum expo_ftype */
	bool typed;         /* a TYPE line was accepted */
	bool has_samples;
};

struct expo_parser {
	struct expo_parser_opts opts;
	struct expo_parser_cb cb;
	struct expo_parse_stats stats;
	uint64_t line_no;
	char *line;          /* owned, opts.max_line + 1 bytes (room for a NUL) */
	size_t len;
	bool overflow;       /* current line passed max_line: skipping to "\n" */
	bool eof;            /* OpenMetrics "# EOF" seen */
	int abort_rc;        /* callback's non-zero return, sticky until reset */
	struct labels lbls;  /* built only when build_set (expo_parser_label_set) */
	bool skip_set;       /* the callback wants the slices only */
	struct label_ref *refs; /* owned, max_labels: the current sample's labels
				 * as slices of the line (or of vals), sorted */
	size_t nrefs;
	size_t *voff;        /* owned, max_labels: offset in vals of an
			      * unescaped value, SIZE_MAX when it lies in the line */
	struct buf vals;     /* the current sample's unescaped values (scratch
			      * is reused by the value and timestamp) */
	size_t *seen;        /* owned, max_labels * 2: offsets/lengths of the
			      * current line's label names (an empty value
			      * leaves no trace in lbls, duplicates must still
			      * be caught) */
	struct buf scratch;  /* unescaped label value / HELP text */
	struct buf name;     /* NUL-terminated metric name of the current sample */
	/* The family of the last sample (name above), while no comment line
	 * or new family since can have changed what that name resolves to:
	 * a family's samples come in runs, so most samples skip the lookup. */
	struct family *last_fam;
	bool last_created, last_valid;
	struct family *fams; /* owned */
	size_t nfams, fams_alloc;
	uint32_t *slots;     /* owned hash table of family index + 1 (0 = empty) */
	size_t nslots;       /* power of two */
	struct buf arena;    /* family names, HELP, UNIT, NUL-terminated */
};

static const char *const perr_names[EXPO_E__COUNT] = {
	[EXPO_E_SYNTAX] = "syntax",
	[EXPO_E_METRIC_NAME] = "invalid_metric_name",
	[EXPO_E_LABEL_NAME] = "invalid_label_name",
	[EXPO_E_LABEL_SYNTAX] = "invalid_label",
	[EXPO_E_ESCAPE] = "bad_escape",
	[EXPO_E_UTF8] = "invalid_utf8",
	[EXPO_E_DUP_LABEL] = "duplicate_label",
	[EXPO_E_TOO_MANY_LABELS] = "too_many_labels",
	[EXPO_E_LABEL_TOO_LONG] = "label_too_long",
	[EXPO_E_VALUE] = "invalid_value",
	[EXPO_E_TIMESTAMP] = "invalid_timestamp",
	[EXPO_E_LINE_TOO_LONG] = "line_too_long",
	[EXPO_E_BAD_TYPE] = "invalid_metadata",
	[EXPO_E_DUP_META] = "duplicate_metadata",
	[EXPO_E_TYPE_LATE] = "type_after_samples",
	[EXPO_E_AFTER_EOF] = "data_after_eof",
	[EXPO_E_NO_EOF] = "missing_eof",
};

const char *expo_perr_name(enum expo_perr e)
{
	if ((unsigned)e >= EXPO_E__COUNT)
		return "unknown";
	return perr_names[e];
}

static const char *const ftype_names[] = {
	[EXPO_FT_UNTYPED] = "untyped",
	[EXPO_FT_COUNTER] = "counter",
	[EXPO_FT_GAUGE] = "gauge",
	[EXPO_FT_HISTOGRAM] = "histogram",
	[EXPO_FT_SUMMARY] = "summary",
	[EXPO_FT_GAUGEHISTOGRAM] = "gaugehistogram",
	[EXPO_FT_INFO] = "info",
	[EXPO_FT_STATESET] = "stateset",
};

const char *expo_ftype_name(enum expo_ftype t)
{
	if ((unsigned)t >= sizeof(ftype_names) / sizeof(ftype_names[0]))
		return "untyped";
	return ftype_names[t];
}

struct expo_parser *expo_parser_new(const struct expo_parser_opts *opts,
				    const struct expo_parser_cb *cb)
{
	struct expo_parser *p;

	if (!cb || !cb->sample)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (opts)
		p->opts = *opts;
	if (!p->opts.max_line)
		p->opts.max_line = EXPO_MAX_LINE_DEFAULT;
	if (!p->opts.max_labels)
		p->opts.max_labels = LABELS_MAX_DEFAULT;
	if (!p->opts.max_families)
		p->opts.max_families = EXPO_MAX_FAMILIES_DEFAULT;
	p->cb = *cb;
	p->line = malloc(p->opts.max_line + 1);
	p->seen = calloc(p->opts.max_labels * 2, sizeof(*p->seen));
	p->refs = calloc(p->opts.max_labels, sizeof(*p->refs));
	p->voff = calloc(p->opts.max_labels, sizeof(*p->voff));
	if (!p->line || !p->seen || !p->refs || !p->voff) {
		free(p->line);
		free(p->seen);
		free(p->refs);
		free(p->voff);
		free(p);
		return NULL;
	}
	labels_init(&p->lbls, p->opts.max_labels);
	buf_init(&p->scratch, p->opts.max_line + 1);
	buf_init(&p->vals, p->opts.max_line + 1);
	buf_init(&p->name, p->opts.max_line + 1);
	buf_init(&p->arena, FAMILY_ARENA_CAP);
	return p;
}

void expo_parser_free(struct expo_parser *p)
{
	if (!p)
		return;
	free(p->line);
	free(p->seen);
	free(p->refs);
	free(p->voff);
	labels_fini(&p->lbls);
	buf_fini(&p->scratch);
	buf_fini(&p->vals);
	buf_fini(&p->name);
	buf_fini(&p->arena);
	free(p->fams);
	free(p->slots);
	free(p);
}

void expo_parser_reset(struct expo_parser *p)
{
	memset(&p->stats, 0, sizeof(p->stats));
	p->line_no = 0;
	p->len = 0;
	p->overflow = false;
	p->eof = false;
	p->abort_rc = 0;
	labels_reset(&p->lbls);
	buf_reset(&p->arena);
	p->nfams = 0;
	p->last_valid = false;
	if (p->slots)
		memset(p->slots, 0, p->nslots * sizeof(*p->slots));
}

void expo_parser_label_set(struct expo_parser *p, bool build)
{
	p->skip_set = !build;
}

const struct expo_parse_stats *expo_parser_stats(const struct expo_parser *p)
{
	return &p->stats;
}

/* ---- family table ---- */

static const char *fam_name(const struct expo_parser *p, const struct family *f)
{
	return p->arena.data + f->name_off;
}

static struct family *fam_find(struct expo_parser *p, const char *s, size_t n)
{
	size_t mask, i;

	if (!p->nslots)
		return NULL;
	mask = p->nslots - 1;
	for (i = hash64(s, n) & mask; p->slots[i]; i = (i + 1) & mask) {
		struct family *f = &p->fams[p->slots[i] - 1];

		if (f->name_len == n && memcmp(fam_name(p, f), s, n) == 0)
			return f;
	}
	return NULL;
}

static void slot_insert(struct expo_parser *p, size_t idx)
{
	const struct family *f = &p->fams[idx];
	size_t mask = p->nslots - 1;
	size_t i = hash64(fam_name(p, f), f->name_len) & mask;

	while (p->slots[i])
		i = (i + 1) & mask;
	p->slots[i] = (uint32_t)(idx + 1);
}

/* Adds a family; NULL when a cap or memory stops it (the caller then goes
 * on without remembering metadata: parsing itself never depends on it). */
static struct family *fam_add(struct expo_parser *p, const char *s, size_t n)
{
	struct family *f;
	size_t off = p->arena.len, i;

	p->last_valid = false; /* the table may move */
	if (p->nfams >= p->opts.max_families)
		return NULL;
	if (VEC_RESERVE(p->fams, p->fams_alloc, p->nfams + 1, 64, p->opts.max_families))
		return NULL;
	/* Keep the table at most half full. */
	if ((p->nfams + 1) * 2 > p->nslots) {
		size_t ns = p->nslots ? p->nslots * 2 : 128;
		uint32_t *nsl = calloc(ns, sizeof(*nsl));

		if (!nsl)
			return NULL;
		free(p->slots);
		p->slots = nsl;
		p->nslots = ns;
		for (i = 0; i < p->nfams; i++)
			slot_insert(p, i);
	}
	if (buf_add(&p->arena, s, n) || buf_addc(&p->arena, '\0')) {
		buf_truncate(&p->arena, off);
		return NULL;
	}
	f = &p->fams[p->nfams];
	memset(f, 0, sizeof(*f));
	f->name_off = (uint32_t)off;
	f->name_len = (uint32_t)n;
	f->help_off = NO_OFF;
	f->unit_off = NO_OFF;
	f->type = EXPO_FT_UNTYPED;
	slot_insert(p, p->nfams);
	p->nfams++;
	return f;
}

/* Stores text in the arena; NO_OFF when it does not fit. */
static uint32_t arena_str(struct expo_parser *p, const char *s, size_t n)
{
	size_t off = p->arena.len;

	if (buf_add(&p->arena, s, n) || buf_addc(&p->arena, '\0')) {
		buf_truncate(&p->arena, off);
		return NO_OFF;
	}
	return (uint32_t)off;
}

/* ---- lexing helpers over one line s[0..n) ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Byte classes of the sample line scans: one table load per byte instead
 * of a chain of compares, and a name's validity follows from where its run
 * of name bytes stops (no second pass over it). */
enum {
	PC_LABEL = 1,   /* [a-zA-Z0-9_]: label name bytes */
	PC_METRIC = 2,  /* label name bytes and ':' */
	PC_DIGIT = 4,   /* [0-9]: no name starts with one */
	PC_LDELIM = 8,  /* what may end a label name: blank = , } " */
	PC_VSTOP = 16,  /* what ends a plain label value: " \ NUL, non-ASCII */
};
#define PC_L(c) [c] = PC_LABEL | PC_METRIC
#define PC_D(c) [c] = PC_LABEL | PC_METRIC | PC_DIGIT
#define PC_HI16(b) [b] = PC_VSTOP, [b + 1] = PC_VSTOP, [b + 2] = PC_VSTOP, [b + 3] = PC_VSTOP, \
	[b + 4] = PC_VSTOP, [b + 5] = PC_VSTOP, [b + 6] = PC_VSTOP, [b + 7] = PC_VSTOP, [b + 8] = PC_VSTOP, \
	[b + 9] = PC_VSTOP, [b + 10] = PC_VSTOP, [b + 11] = PC_VSTOP, [b + 12] = PC_VSTOP, [b + 13] = PC_VSTOP, \
	[b + 14] = PC_VSTOP, [b + 15] = PC_VSTOP
static const unsigned char pclass[256] = {
	PC_L('a'), PC_L('b'), PC_L('c'), PC_L('d'), PC_L('e'), PC_L('f'), PC_L('g'), PC_L('h'), PC_L('i'),
	PC_L('j'), PC_L('k'), PC_L('l'), PC_L('m'), PC_L('n'), PC_L('o'), PC_L('p'), PC_L('q'), PC_L('r'),
	PC_L('s'), PC_L('t'), PC_L('u'), PC_L('v'), PC_L('w'), PC_L('x'), PC_L('y'), PC_L('z'),
	PC_L('A'), PC_L('B'), PC_L('C'), PC_L('D'), PC_L('E'), PC_L('F'), PC_L('G'), PC_L('H'), PC_L('I'),
	PC_L('J'), PC_L('K'), PC_L('L'), PC_L('M'), PC_L('N'), PC_L('O'), PC_L('P'), PC_L('Q'), PC_L('R'),
	PC_L('S'), PC_L('T'), PC_L('U'), PC_L('V'), PC_L('W'), PC_L('X'), PC_L('Y'), PC_L('Z'),
	PC_L('_'), PC_D('0'), PC_D('1'), PC_D('2'), PC_D('3'), PC_D('4'), PC_D('5'), PC_D('6'), PC_D('7'),
	PC_D('8'), PC_D('9'),
	[':'] = PC_METRIC,
	[' '] = PC_LDELIM, ['\t'] = PC_LDELIM, ['='] = PC_LDELIM, [','] = PC_LDELIM, ['}'] = PC_LDELIM,
	['"'] = PC_LDELIM | PC_VSTOP, ['\\'] = PC_VSTOP, [0] = PC_VSTOP,
	PC_HI16(0x80), PC_HI16(0x90), PC_HI16(0xa0), PC_HI16(0xb0),
	PC_HI16(0xc0), PC_HI16(0xd0), PC_HI16(0xe0), PC_HI16(0xf0),
};
#undef PC_L
#undef PC_D
#undef PC_HI16

static unsigned pc(char c)
{
	return pclass[(unsigned char)c];
}

static size_t skip_blanks(const char *s, size_t n, size_t i)
{
	while (i < n && is_blank(s[i]))
		i++;
	return i;
}

static size_t token_end(const char *s, size_t n, size_t i)
{
	while (i < n && !is_blank(s[i]))
		i++;
	return i;
}

static void line_error(struct expo_parser *p, enum expo_perr e, const char *s, size_t n)
{
	p->stats.errors++;
	p->stats.err[e]++;
	if (p->cb.error)
		p->cb.error(p->cb.ctx, p->line_no, e, s, n > ERR_EXCERPT ? ERR_EXCERPT : n);
}

/* Go's strconv.ParseFloat as Prometheus' textparse uses it: no hex, no "p"
 * exponents, no "_" separators; "NaN" unsigned; [+-]Inf/Infinity in any
 * case; a finite literal that overflows is an error. tmp: where strtod's
 * NUL-terminated copy goes when the fast path does not decide. */
static int go_float(const char *t, size_t n, struct buf *tmp, double *out)
{
	const char *w = t;
	size_t wn = n;
	bool neg = false;
	char *end;
	double v;

	if (n == 0)
		return KM_EINVAL;
	{
		/* Integers of up to 15 digits, most values (counts), are exact
		 * as doubles: converted here, without the 5 memchr, the case
		 * compares and strtod below (bench/scrape.sh: a few per cent of
		 * a scrape). Anything else takes the general path. */
		size_t k = t[0] == '-' || t[0] == '+';
		uint64_t u = 0;

		if (n - k >= 1 && n - k <= 15) {
			size_t j = k;

			while (j < n && t[j] >= '0' && t[j] <= '9')
				u = u * 10 + (uint64_t)(t[j++] - '0');
			if (j == n) {
				*out = t[0] == '-' ? -(double)u : (double)u;
				return 0;
			}
		}
	}
	if (n == 3 && strncasecmp(t, "nan", 3) == 0) {
		*out = NAN;
		return 0;
	}
	if (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-';
		w++;
		wn--;
	}
	if ((wn == 3 && strncasecmp(w, "inf", 3) == 0) ||
	    (wn == 8 && strncasecmp(w, "infinity", 8) == 0)) {
		*out = neg ? -INFINITY : INFINITY;
		return 0;
	}
	if (memchr(t, 'x', n) || memchr(t, 'X', n) || memchr(t, 'p', n) ||
	    memchr(t, 'P', n) || memchr(t, '_', n))
		return KM_EINVAL;
	/* Only digits may start the mantissa (strtod would take "nan(..)"). */
	if (wn == 0 || !((w[0] >= '0' && w[0] <= '9') || w[0] == '.'))
		return KM_EINVAL;
	/* strtod needs a terminated copy: the line may be the caller's
	 * (const) chunk, parsed in place. */
	buf_reset(tmp);
	if (buf_add(tmp, t, n))
		return KM_EINVAL;
	v = strtod(tmp->data, &end);
	if (end != tmp->data + n || isnan(v))
		return KM_EINVAL;
	if (isinf(v))
		return KM_ERANGE;
	*out = v;
	return 0;
}

/* Unescapes a HELP text into p->scratch. */
static int unescape_help(struct expo_parser *p, const char *s, size_t n, enum expo_perr *why)
{
	bool om = p->opts.format == EXPO_FMT_OPENMETRICS;
	size_t i;

	buf_reset(&p->scratch);
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\') {
			if (++i >= n) {
				*why = EXPO_E_ESCAPE;
				return KM_EPARSE;
			}
			c = s[i];
			if (c == 'n')
				c = '\n';
			else if (c != '\\' && !(om && c == '"')) {
				*why = EXPO_E_ESCAPE;
				return KM_EPARSE;
			}
		}
		if (buf_addc(&p->scratch, c)) {
			*why = EXPO_E_LINE_TOO_LONG;
			return KM_ETOOBIG;
		}
	}
	if (!utf8_valid(p->scratch.data ? p->scratch.data : "", p->scratch.len) ||
	    memchr(buf_cstr(&p->scratch), '\0', p->scratch.len)) {
		*why = EXPO_E_UTF8;
		return KM_EPARSE;
	}
	return 0;
}

static bool type_from(const char *s, size_t n, bool om, enum expo_ftype *t)
{
	static const struct { const char *name; enum expo_ftype t; bool text, om; } types[] = {
		{ "counter", EXPO_FT_COUNTER, true, true },
		{ "gauge", EXPO_FT_GAUGE, true, true },
		{ "histogram", EXPO_FT_HISTOGRAM, true, true },
		{ "summary", EXPO_FT_SUMMARY, true, true },
		{ "untyped", EXPO_FT_UNTYPED, true, false },
		{ "unknown", EXPO_FT_UNTYPED, false, true },
		{ "gaugehistogram", EXPO_FT_GAUGEHISTOGRAM, false, true },
		{ "info", EXPO_FT_INFO, false, true },
		{ "stateset", EXPO_FT_STATESET, false, true },
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strlen(types[i].name) == n && memcmp(types[i].name, s, n) == 0 &&
		    (om ? types[i].om : types[i].text)) {
			*t = types[i].t;
			return true;
		}
	}
	return false;
}

/* "# HELP", "# TYPE", "# UNIT", "# EOF" or a plain comment. s points after
 * the '#'. Returns 0 or a reason through *why (KM_EPARSE). */
static int parse_comment(struct expo_parser *p, const char *s, size_t n, enum expo_perr *why)
{
	bool om = p->opts.format == EXPO_FMT_OPENMETRICS;
	size_t i = skip_blanks(s, n, 0), kw = i, ke, ns, ne;
	struct family *f;
	enum { K_HELP, K_TYPE, K_UNIT } k;
	int rc;

	p->last_valid = false; /* metadata may change what a name resolves to */
	ke = token_end(s, n, i);
	if (om && ke - kw == 3 && memcmp(s + kw, "EOF", 3) == 0 && skip_blanks(s, n, ke) == n) {
		p->eof = true;
		p->stats.eof_seen = true;
		return 0;
	}
	if (ke - kw == 4 && memcmp(s + kw, "HELP", 4) == 0)
		k = K_HELP;
	else if (ke - kw == 4 && memcmp(s + kw, "TYPE", 4) == 0)
		k = K_TYPE;
	else if (om && ke - kw == 4 && memcmp(s + kw, "UNIT", 4) == 0)
		k = K_UNIT;
	else
		return 0; /* an ordinary comment */
	ns = skip_blanks(s, n, ke);
	ne = token_end(s, n, ns);
	if (ne == ns) {
		*why = EXPO_E_BAD_TYPE;
		return KM_EPARSE;
	}
	if (!metric_name_valid(s + ns, ne - ns)) {
		*why = EXPO_E_METRIC_NAME;
		return KM_EPARSE;
	}
	i = skip_blanks(s, n, ne);
	f = fam_find(p, s + ns, ne - ns);
	if (k == K_TYPE) {
		size_t te = token_end(s, n, i);
		enum expo_ftype t;

		if (te == i || skip_blanks(s, n, te) != n || !type_from(s + i, te - i, om, &t)) {
			*why = EXPO_E_BAD_TYPE;
			return KM_EPARSE;
		}
		if (f && f->typed) {
			*why = EXPO_E_DUP_META;
			return KM_EPARSE;
		}
		if (f && f->has_samples) {
			*why = EXPO_E_TYPE_LATE;
			return KM_EPARSE;
		}
		if (!f)
			f = fam_add(p, s + ns, ne - ns);
		if (f) {
			f->typed = true;
			f->type = (uint8_t)t;
		}
		return 0;
	}
	if (f && ((k == K_HELP && f->help_off != NO_OFF) || (k == K_UNIT && f->unit_off != NO_OFF))) {
		*why = EXPO_E_DUP_META;
		return KM_EPARSE;
	}
	if (k == K_HELP) {
		rc = unescape_help(p, s + i, n - i, why);
		if (rc)
			return KM_EPARSE;
	} else {
		/* UNIT: one token, "" allowed. */
		size_t ue = token_end(s, n, i);

		if (skip_blanks(s, n, ue) != n) {
			*why = EXPO_E_BAD_TYPE;
			return KM_EPARSE;
		}
		buf_reset(&p->scratch);
		if (buf_add(&p->scratch, s + i, ue - i)) {
			*why = EXPO_E_LINE_TOO_LONG;
			return KM_EPARSE;
		}
	}
	if (!f)
		f = fam_add(p, s + ns, ne - ns);
	if (f) {
		uint32_t off = arena_str(p, buf_cstr(&p->scratch), p->scratch.len);

		if (k == K_HELP)
			f->help_off = off;
		else
			f->unit_off = off;
	}
	return 0;
}

/* Byte order of label names, as struct labels sorts them. */
static int order_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	int c;

	if (an && bn && a[0] != b[0]) /* the usual case, without a call */
		return (unsigned char)a[0] < (unsigned char)b[0] ? -1 : 1;
	c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : an < bn ? -1 : an > bn ? 1 : 0;
}

/* Reads a quoted label value starting after the opening quote at s[*i];
 * *v, *vn: the unescaped bytes (the line's own when it has no escape,
 * else p->scratch's); *i after the closing quote. */
static int label_value(struct expo_parser *p, const char *s, size_t n, size_t *i,
		       const char **v, size_t *vn, enum expo_perr *why)
{
	size_t j = *i;

	/* Most values are plain ASCII without escapes: borrowed from the
	 * line, with no copy and no separate NUL and UTF-8 pass. */
	while (j < n && !(pc(s[j]) & PC_VSTOP))
		j++;
	if (j < n && s[j] == '"') {
		if (j - *i > LABELS_VALUE_MAX) {
			*why = EXPO_E_LABEL_TOO_LONG;
			return KM_EPARSE;
		}
		*v = s + *i;
		*vn = j - *i;
		*i = j + 1;
		return 0;
	}
	j = *i;
	buf_reset(&p->scratch);
	for (;;) {
		size_t run = j;
		char c;

		while (j < n && s[j] != '"' && s[j] != '\\')
			j++;
		if (j - run > LABELS_VALUE_MAX - p->scratch.len) {
			*why = EXPO_E_LABEL_TOO_LONG;
			return KM_EPARSE;
		}
		if (buf_add(&p->scratch, s + run, j - run))
			goto nomem;
		if (j >= n) {
			*why = EXPO_E_LABEL_SYNTAX; /* unterminated */
			return KM_EPARSE;
		}
		if (s[j] == '"')
			break;
		if (j + 1 >= n) {
			*why = EXPO_E_LABEL_SYNTAX;
			return KM_EPARSE;
		}
		c = s[j + 1];
		if (c == 'n')
			c = '\n';
		else if (c != '\\' && c != '"') {
			*why = EXPO_E_ESCAPE;
			return KM_EPARSE;
		}
		if (p->scratch.len + 1 > LABELS_VALUE_MAX) {
			*why = EXPO_E_LABEL_TOO_LONG;
			return KM_EPARSE;
		}
		if (buf_addc(&p->scratch, c))
			goto nomem;
		j += 2;
	}
	if ((p->scratch.len && memchr(p->scratch.data, '\0', p->scratch.len)) ||
	    !utf8_valid(buf_cstr(&p->scratch), p->scratch.len)) {
		*why = EXPO_E_UTF8;
		return KM_EPARSE;
	}
	*v = buf_cstr(&p->scratch);
	*vn = p->scratch.len;
	*i = j + 1;
	return 0;
nomem:
	*why = EXPO_E_LINE_TOO_LONG;
	return KM_EPARSE;
}

/* "{" already consumed at s[*i - 1]; fills p->lbls. *canon: the text
 * between the braces is what a writer makes of p->lbls (see pairs in
 * parser.h): no blanks, names in ascending order, no empty value, no
 * trailing comma. Escapes need no check: \\ \" \n are the only ones
 * accepted and the only ones a writer makes. */
static int parse_labels(struct expo_parser *p, const char *s, size_t n, size_t *pi,
			bool *canon, enum expo_perr *why)
{
	size_t i = *pi;
	size_t count = 0;
	bool c = true;
	int rc;

	for (;;) {
		size_t ns, ne, b = i, vn;
		const char *v;
		bool ok;

		i = skip_blanks(s, n, i);
		c = c && i == b;
		if (i < n && s[i] == '}') {
			c = c && count == 0; /* "{}" yes, "{a="1",}" no */
			i++;
			break;
		}
		ns = i;
		while (i < n && (pc(s[i]) & PC_LABEL))
			i++;
		ok = i > ns && !(pc(s[ns]) & PC_DIGIT);
		if (i < n && !(pc(s[i]) & PC_LDELIM)) {
			ok = false; /* a byte no label name has: to the delimiter */
			while (i < n && !(pc(s[i]) & PC_LDELIM))
				i++;
		}
		ne = i;
		if (ne - ns > LABELS_NAME_MAX) {
			*why = EXPO_E_LABEL_TOO_LONG;
			return KM_EPARSE;
		}
		if (!ok || (ne - ns == 8 && memcmp(s + ns, "__name__", 8) == 0)) {
			*why = ne == ns && (i >= n || s[i] != '=') ? EXPO_E_LABEL_SYNTAX
								   : EXPO_E_LABEL_NAME;
			return KM_EPARSE;
		}
		i = skip_blanks(s, n, i);
		if (i >= n || s[i] != '=') {
			*why = EXPO_E_LABEL_SYNTAX;
			return KM_EPARSE;
		}
		i = skip_blanks(s, n, i + 1);
		if (i >= n || s[i] != '"') {
			*why = EXPO_E_LABEL_SYNTAX;
			return KM_EPARSE;
		}
		c = c && i == ne + 1; /* name="value" */
		i++;
		rc = label_value(p, s, n, &i, &v, &vn, why);
		if (rc)
			return rc;
		c = c && vn && (!count || order_bytes(s + p->seen[2 * count - 2], p->seen[2 * count - 1],
								   s + ns, ne - ns) < 0);
		for (size_t k = 0; k < count; k++) {
			if (p->seen[2 * k + 1] == ne - ns &&
			    memcmp(s + p->seen[2 * k], s + ns, ne - ns) == 0) {
				*why = EXPO_E_DUP_LABEL;
				return KM_EPARSE;
			}
		}
		if (count >= p->opts.max_labels) {
			*why = EXPO_E_TOO_MANY_LABELS;
			return KM_EPARSE;
		}
		p->seen[2 * count] = ns;
		p->seen[2 * count + 1] = ne - ns;
		count++;
		if (vn) { /* an empty value is no label (labels_setn) */
			p->refs[p->nrefs] = (struct label_ref){ s + ns, ne - ns, v, vn };
			p->voff[p->nrefs] = SIZE_MAX;
			if (v == p->scratch.data) {
				/* unescaped: scratch is reused, vals keeps it
				 * for the sample (its pointer is set at the end,
				 * vals may move as it grows) */
				p->voff[p->nrefs] = p->vals.len;
				if (buf_add(&p->vals, v, vn)) {
					*why = EXPO_E_LINE_TOO_LONG;
					return KM_EPARSE;
				}
			}
			p->nrefs++;
		}
		rc = p->skip_set ? 0 : labels_setn(&p->lbls, s + ns, ne - ns, v, vn);
		if (rc) {
			*why = rc == KM_ETOOBIG ? EXPO_E_TOO_MANY_LABELS : EXPO_E_SYNTAX;
			return rc == KM_ENOMEM ? KM_ENOMEM : KM_EPARSE;
		}
		b = i;
		i = skip_blanks(s, n, i);
		c = c && i == b;
		if (i < n && s[i] == ',') {
			i++;
			continue;
		}
		if (i < n && s[i] == '}') {
			i++;
			break;
		}
		*why = EXPO_E_LABEL_SYNTAX;
		return KM_EPARSE;
	}
	for (size_t k = 0; k < p->nrefs; k++) {
		if (p->voff[k] != SIZE_MAX)
			p->refs[k].value = p->vals.data + p->voff[k];
	}
	/* Written in order (the usual case, always when canonical): no sort;
	 * else insertion sort, a sample has a handful of labels. */
	for (size_t k = 1; !c && k < p->nrefs; k++) {
		for (size_t j = k; j > 0 && order_bytes(p->refs[j - 1].name, p->refs[j - 1].name_len,
							 p->refs[j].name, p->refs[j].name_len) > 0; j--) {
			struct label_ref r = p->refs[j];

			p->refs[j] = p->refs[j - 1];
			p->refs[j - 1] = r;
		}
	}
	*pi = i;
	*canon = c;
	return 0;
}

static bool has_suffix(const char *s, size_t n, const char *suf, size_t *base)
{
	size_t k = strlen(suf);

	if (n <= k || memcmp(s + n - k, suf, k) != 0)
		return false;
	*base = n - k;
	return true;
}

/* Which family a sample name belongs to (see parser.h). */
static struct family *resolve_family(struct expo_parser *p, const char *s, size_t n,
				     bool *created)
{
	static const struct { const char *suf; unsigned types; } sufs[] = {
		{ "_total", 1u << EXPO_FT_COUNTER },
		{ "_created", (1u << EXPO_FT_COUNTER) | (1u << EXPO_FT_HISTOGRAM) |
			      (1u << EXPO_FT_SUMMARY) | (1u << EXPO_FT_GAUGEHISTOGRAM) },
		{ "_bucket", (1u << EXPO_FT_HISTOGRAM) | (1u << EXPO_FT_GAUGEHISTOGRAM) },
		{ "_count", (1u << EXPO_FT_HISTOGRAM) | (1u << EXPO_FT_SUMMARY) },
		{ "_sum", (1u << EXPO_FT_HISTOGRAM) | (1u << EXPO_FT_SUMMARY) },
		{ "_gcount", 1u << EXPO_FT_GAUGEHISTOGRAM },
		{ "_gsum", 1u << EXPO_FT_GAUGEHISTOGRAM },
		{ "_info", 1u << EXPO_FT_INFO },
	};
	struct family *f = fam_find(p, s, n);
	size_t i, base;

	*created = false;
	if (f && (f->typed || f->help_off != NO_OFF || f->unit_off != NO_OFF))
		return f;
	for (i = 0; i < sizeof(sufs) / sizeof(sufs[0]); i++) {
		struct family *b;

		if (!has_suffix(s, n, sufs[i].suf, &base))
			continue;
		b = fam_find(p, s, base);
		if (b && b->typed && (sufs[i].types & (1u << b->type))) {
			*created = i == 1;
			return b;
		}
	}
	if (!f)
		f = fam_add(p, s, n);
	return f;
}

static int parse_sample(struct expo_parser *p, const char *s, size_t n, enum expo_perr *why)
{
	bool om = p->opts.format == EXPO_FMT_OPENMETRICS;
	struct expo_sample_ev ev;
	struct family *f;
	size_t i = skip_blanks(s, n, 0), ns = i, ne, vs, ve;
	bool created = false, ok;
	int rc;

	while (i < n && (pc(s[i]) & PC_METRIC))
		i++;
	ok = i > ns && !(pc(s[ns]) & PC_DIGIT);
	if (i < n && !is_blank(s[i]) && s[i] != '{') {
		ok = false; /* a byte no metric name has: to the token's end */
		while (i < n && !is_blank(s[i]) && s[i] != '{')
			i++;
	}
	ne = i;
	if (!ok) {
		*why = EXPO_E_METRIC_NAME;
		return KM_EPARSE;
	}
	labels_reset(&p->lbls);
	p->nrefs = 0;
	buf_reset(&p->vals);
	memset(&ev, 0, sizeof(ev));
	ev.pairs = "";
	if (i < n && s[i] == '{') {
		size_t open = i + 1;
		bool canon;

		i++;
		rc = parse_labels(p, s, n, &i, &canon, why);
		if (rc)
			return rc;
		ev.pairs = canon ? s + open : NULL;
		ev.pairs_len = canon ? i - 1 - open : 0;
	}
	ev.series = s + ns;
	ev.series_len = i - ns;
	vs = skip_blanks(s, n, i);
	if (vs == i && i < n) {
		*why = EXPO_E_SYNTAX; /* "}" glued to the value is fine, "x}y" not */
		if (i > 0 && s[i - 1] != '}')
			return KM_EPARSE;
	}
	ve = token_end(s, n, vs);
	if (ve == vs) {
		*why = EXPO_E_SYNTAX; /* missing value */
		return KM_EPARSE;
	}
	if (go_float(s + vs, ve - vs, &p->scratch, &ev.value)) {
		*why = EXPO_E_VALUE;
		return KM_EPARSE;
	}
	i = skip_blanks(s, n, ve);
	if (i < n && !(om && s[i] == '#')) {
		size_t te = token_end(s, n, i);

		if (om) {
			double ts;

			if (go_float(s + i, te - i, &p->scratch, &ts) || !isfinite(ts) ||
			    fabs(ts * 1000.0) >= 9.2e18) {
				*why = EXPO_E_TIMESTAMP;
				return KM_EPARSE;
			}
			ev.ts_ms = (int64_t)(ts * 1000.0);
		} else if (parse_i64(s + i, te - i, &ev.ts_ms)) {
			*why = EXPO_E_TIMESTAMP;
			return KM_EPARSE;
		}
		ev.has_ts = true;
		i = skip_blanks(s, n, te);
	}
	/* OpenMetrics exemplar: " # {labels} value [ts]", skipped whole. */
	if (i < n && !(om && s[i] == '#' && i > 0 && is_blank(s[i - 1]))) {
		*why = EXPO_E_SYNTAX;
		return KM_EPARSE;
	}
	if (p->last_valid && p->name.len == ne - ns && memcmp(p->name.data, s + ns, ne - ns) == 0) {
		f = p->last_fam;
		created = p->last_created;
	} else {
		p->last_valid = false;
		buf_reset(&p->name);
		if (buf_add(&p->name, s + ns, ne - ns)) {
			*why = EXPO_E_LINE_TOO_LONG;
			return KM_EPARSE;
		}
		f = resolve_family(p, s + ns, ne - ns, &created);
		p->last_fam = f;
		p->last_created = created;
		p->last_valid = true;
	}
	ev.name = buf_cstr(&p->name);
	ev.name_len = ne - ns;
	ev.labels = p->skip_set ? NULL : &p->lbls;
	ev.refs = p->refs;
	ev.nrefs = p->nrefs;
	ev.is_created = om && created;
	ev.family = ev.name;
	ev.type = EXPO_FT_UNTYPED;
	ev.line_no = p->line_no;
	if (f) {
		f->has_samples = true;
		ev.family = fam_name(p, f);
		ev.type = (enum expo_ftype)f->type;
		if (f->help_off != NO_OFF)
			ev.help = p->arena.data + f->help_off;
		if (f->unit_off != NO_OFF)
			ev.unit = p->arena.data + f->unit_off;
	}
	p->stats.samples++;
	rc = p->cb.sample(p->cb.ctx, &ev);
	if (rc) {
		p->abort_rc = rc;
		return rc;
	}
	return 0;
}

/* One complete line s[0..n) (no "\n"), borrowed: the parser's copy or
 * the caller's chunk. */
static int parse_line(struct expo_parser *p, const char *s, size_t n)
{
	enum expo_perr why = EXPO_E_SYNTAX;
	size_t i;
	int rc;

	p->stats.lines++;
	if (p->eof) {
		line_error(p, EXPO_E_AFTER_EOF, s, n);
		return 0;
	}
	i = skip_blanks(s, n, 0);
	if (i == n)
		return 0;
	if (s[i] == '#')
		rc = parse_comment(p, s + i + 1, n - i - 1, &why);
	else
		rc = parse_sample(p, s, n, &why);
	if (rc == KM_EPARSE) {
		line_error(p, why, s, n);
		return 0;
	}
	return rc;
}

int expo_parser_feed(struct expo_parser *p, const char *data, size_t n)
{
	int rc;

	if (p->abort_rc)
		return p->abort_rc;
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;

		if (nl && !p->len && !p->overflow && take <= p->opts.max_line) {
			/* The whole line is in this chunk (most are): parsed
			 * where it lies, not copied first (a memmove per line). */
			p->line_no++;
			if ((rc = parse_line(p, data, take)))
				return rc;
			data += take + 1;
			n -= take + 1;
			continue;
		}
		if (!p->overflow) {
			if (take > p->opts.max_line - p->len) {
				p->overflow = true;
			} else {
				memcpy(p->line + p->len, data, take);
				p->len += take;
			}
		}
		if (!nl)
			return 0;
		p->line_no++;
		if (p->overflow) {
			p->stats.lines++;
			line_error(p, p->eof ? EXPO_E_AFTER_EOF : EXPO_E_LINE_TOO_LONG,
				   p->line, p->len);
			rc = 0;
		} else {
			rc = parse_line(p, p->line, p->len);
		}
		p->len = 0;
		p->overflow = false;
		if (rc)
			return rc;
		data += take + 1;
		n -= take + 1;
	}
	return 0;
}

int expo_parser_finish(struct expo_parser *p)
{
	int rc = 0;

	if (p->abort_rc)
		return p->abort_rc;
	if (p->len || p->overflow) {
		p->line_no++;
		if (p->overflow) {
			p->stats.lines++;
			line_error(p, p->eof ? EXPO_E_AFTER_EOF : EXPO_E_LINE_TOO_LONG,
				   p->line, p->len);
		} else {
			rc = parse_line(p, p->line, p->len);
		}
		p->len = 0;
		p->overflow = false;
		if (rc)
			return rc;
	}
	if (p->opts.format == EXPO_FMT_OPENMETRICS && !p->eof)
		line_error(p, EXPO_E_NO_EOF, "", 0);
	return 0;
}

int expo_parse_buffer(const struct expo_parser_opts *opts, const struct expo_parser_cb *cb,
		      const char *data, size_t n, struct expo_parse_stats *stats)
{
	struct expo_parser *p = expo_parser_new(opts, cb);
	int rc;

	if (!p)
		return KM_ENOMEM;
	rc = expo_parser_feed(p, data, n);
	if (!rc)
		rc = expo_parser_finish(p);
	if (stats)
		*stats = p->stats;
	expo_parser_free(p);
	return rc;
}
