#define PCRE2_CODE_UNIT_WIDTH 8
#include "base/rx.h"

#include <pcre2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"

static void jit_publish(struct rx *r);

struct rx {
	pcre2_code *code;          /* interpreted; owned */
	pcre2_match_context *mctx; /* the limits; read-only once built */
	/* A JIT-compiled copy of code, published once RX_JIT_AFTER matches
	 * have run (NULL before, and when the JIT is unavailable); owned. */
	_Atomic(pcre2_code *) jitted;
	_Atomic unsigned uses;     /* matches so far, until jitted is set */
	char *pattern;
};

/* Process-wide: limit hits are a property of the patterns users wrote, not
 * of one owner, and one log line per interval is enough for all of them. */
static _Atomic uint64_t limit_hits;
static _Atomic uint64_t limit_suppressed;
static _Atomic int64_t limit_logged_ms = INT64_MIN / 2;

uint64_t rx_limit_hits(void)
{
	return atomic_load(&limit_hits);
}

bool rx_jit_used(const struct rx *r)
{
	return atomic_load_explicit(&((struct rx *)r)->jitted, memory_order_acquire) != NULL;
}

/* ---- RE2 syntax check ------------------------------------------------------ */

/* A pattern being checked, copied to out as it goes. */
struct scan {
	const char *p;
	size_t i, n;
	char *out;
	size_t o;
};

static void put(struct scan *s, size_t len)
{
	if (len > s->n - s->i)
		len = s->n - s->i;
	memcpy(s->out + s->o, s->p + s->i, len);
	s->o += len;
	s->i += len;
}

/* The escape at s->i (a '\\' and at least one more byte): NULL, or what is
 * not RE2 about it. */
static const char *scan_escape(struct scan *s, bool in_class)
{
	char e = s->p[s->i + 1];

	if (e == 'Q') {
		const char *end = strstr(s->p + s->i + 2, "\\E");
		if (in_class)
			return "\\Q...\\E inside a character class";
		put(s, end ? (size_t)(end - (s->p + s->i)) + 2 : s->n - s->i);
		return NULL;
	}
	/* Go reads \1 .. \7 followed by an octal digit as octal, PCRE2 as a
	 * backreference when the pattern has that many groups: refused. In a
	 * class both read octal. */
	if (e >= '1' && e <= '9' && !in_class)
		return "a backreference (\\1 .. \\9)";
	switch (e) {
	case 'k': return "a named backreference \\k<name>";
	case 'g': return "a backreference or subroutine call \\g";
	case 'C': return "\\C (a single byte)";
	case 'K': return "\\K (reset of the match start)";
	case 'v':
		/* RE2's \v is a vertical tab, PCRE2's any vertical space. */
		memcpy(s->out + s->o, "\\x0B", 4);
		s->o += 4;
		s->i += 2;
		return NULL;
	case 'a': case 'f': case 't': case 'n': case 'r': case 'x':
	case 'A': case 'z': case 'b': case 'B': case 'd': case 'D':
	case 's': case 'S': case 'w': case 'W': case 'p': case 'P':
	case 'E':
		put(s, 2);
		/* \x{41}, \p{Greek}: the braces are not a repetition. */
		if ((e == 'x' || e == 'p' || e == 'P') && s->i < s->n && s->p[s->i] == '{') {
			const char *end = memchr(s->p + s->i, '}', s->n - s->i);
			put(s, end ? (size_t)(end - (s->p + s->i)) + 1 : s->n - s->i);
		}
		return NULL;
	default:
		if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))
			return "an escape that RE2 does not have (\\h \\R \\X \\N \\G \\Z \\e \\c \\o \\u ...)";
		put(s, 2); /* octal digits, escaped punctuation */
		return NULL;
	}
}

/* A character class at s->i ('['). */
static const char *scan_class(struct scan *s)
{
	const char *bad;

	put(s, 1);
	if (s->i < s->n && s->p[s->i] == '^')
		put(s, 1);
	if (s->i < s->n && s->p[s->i] == ']')
		put(s, 1);
	while (s->i < s->n && s->p[s->i] != ']') {
		if (s->p[s->i] == '\\' && s->i + 1 < s->n) {
			if ((bad = scan_escape(s, true)))
				return bad;
		} else if (s->p[s->i] == '[' && s->i + 1 < s->n && s->p[s->i + 1] == ':') {
			const char *end = strstr(s->p + s->i + 2, ":]");
			put(s, end ? (size_t)(end - (s->p + s->i)) + 2 : 1);
		} else {
			put(s, 1);
		}
	}
	put(s, 1);
	return NULL;
}

/* A group opening "(?" at s->i. */
static const char *scan_group(struct scan *s)
{
	const char *g = s->p + s->i + 2;
	size_t j = 0;

	switch (g[0]) {
	case ':': put(s, 3); return NULL;
	case '=': return "a lookahead (?=...)";
	case '!': return "a negative lookahead (?!...)";
	case '>': return "an atomic group (?>...)";
	case '(': return "a conditional (?(...)...)";
	case 'C': return "a callout (?C...)";
	case '#': return "a comment (?#...)";
	case '|': return "a branch reset group (?|...)";
	case '&': return "a subroutine call (?&name)";
	case '\'': return "a named group (?'name'...) (RE2: (?P<name>...) or (?<name>...))";
	case 'R': case '+': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return "recursion or a subroutine call (?R) (?1)";
	case '<':
		if (g[1] == '=')
			return "a lookbehind (?<=...)";
		if (g[1] == '!')
			return "a negative lookbehind (?<!...)";
		put(s, 3);
		return NULL;
	case 'P':
		if (g[1] == '=')
			return "a named backreference (?P=name)";
		if (g[1] == '>')
			return "a subroutine call (?P>name)";
		put(s, 3);
		return NULL;
	default:
		break;
	}
	if (g[0] == '-' && g[1] >= '0' && g[1] <= '9')
		return "recursion or a subroutine call (?-1)";
	/* Flags: RE2 has i, m, s and U, and '-' to clear them. */
	while (g[j] && strchr("imsU-", g[j]))
		j++;
	if (g[j] != ':' && g[j] != ')') {
		s->i += 2 + j;
		return "a flag that RE2 does not have (RE2: i, m, s, U)";
	}
	put(s, 2 + j + 1);
	return NULL;
}

/* Length of a counted repetition {n} {n,} {n,m} at s->i, or 0 when the '{'
 * is a literal (as in RE2 and PCRE2 10.42). */
static size_t repetition_len(const struct scan *s)
{
	size_t j = s->i + 1, d = j;

	while (j < s->n && s->p[j] >= '0' && s->p[j] <= '9')
		j++;
	if (j == d)
		return 0;
	if (j < s->n && s->p[j] == ',') {
		j++;
		while (j < s->n && s->p[j] >= '0' && s->p[j] <= '9')
			j++;
	}
	return j < s->n && s->p[j] == '}' ? j + 1 - s->i : 0;
}

/* Why pattern p is not RE2 syntax, with the offset of the construct in
 * *off, or NULL when nothing PCRE-only was found (PCRE2 then reports plain
 * syntax errors). Copies p to out (room for 2 * strlen(p) + 1 bytes), with
 * RE2's \v spelled \x0B. */
static const char *re2_check(const char *p, char *out, size_t *off)
{
	struct scan s = { .p = p, .n = strlen(p), .out = out };
	const char *bad = NULL;
	int q = 0; /* 1: after a quantifier, 2: after its lazy '?' */

	while (!bad && s.i < s.n) {
		char c = p[s.i];
		size_t len = 0;

		*off = s.i;
		if (c == '\\' && s.i + 1 < s.n) {
			bad = scan_escape(&s, false);
			q = 0;
		} else if (c == '[') {
			bad = scan_class(&s);
			q = 0;
		} else if (c == '(' && s.i + 1 < s.n && p[s.i + 1] == '*') {
			bad = "a backtracking control verb or option (*...)";
		} else if (c == '(' && s.i + 1 < s.n && p[s.i + 1] == '?') {
			bad = scan_group(&s);
			q = 0;
		} else if (c == '*' || c == '+' || c == '?' || (c == '{' && (len = repetition_len(&s)))) {
			if (q && c == '+')
				bad = "a possessive quantifier (*+ ++ ?+ {n}+)";
			put(&s, c == '{' ? len : 1);
			q = (q == 1 && c == '?') ? 2 : 1;
		} else {
			put(&s, 1);
			q = 0;
		}
	}
	if (bad && p[*off] == '(' && s.i > *off)
		*off = s.i; /* a flag: point at it */
	out[s.o] = 0;
	return bad;
}

/* ---- compile ----------------------------------------------------------------- */

static struct rx *rx_compile(const char *pattern, bool anchored, bool jit_now, char *err,
			     size_t errlen)
{
	struct rx *r = NULL;
	char *re2 = NULL, *wrapped = NULL;
	size_t n = strlen(pattern), m, bad_off = 0;
	const char *bad;
	int ecode = 0;
	PCRE2_SIZE eoff = 0;

	re2 = malloc(2 * n + 1);
	wrapped = malloc(2 * n + 8);
	r = calloc(1, sizeof(*r));
	if (!re2 || !wrapped || !r) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	bad = re2_check(pattern, re2, &bad_off);
	if (bad) {
		snprintf(err, errlen, "invalid regex %s: %s is not supported (RE2 syntax) at offset %zu",
			 pattern, bad, bad_off);
		goto fail;
	}
	m = strlen(re2);
	/* Anchor both ends the way Prometheus does: ^(?:pattern)$ */
	if (anchored) {
		memcpy(wrapped, "^(?:", 4);
		memcpy(wrapped + 4, re2, m);
		memcpy(wrapped + 4 + m, ")$", 3);
	} else {
		memcpy(wrapped, re2, m + 1);
	}
	r->code = pcre2_compile((PCRE2_SPTR)wrapped, PCRE2_ZERO_TERMINATED,
				PCRE2_DOLLAR_ENDONLY | PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C,
				&ecode, &eoff, NULL);
	if (!r->code) {
		PCRE2_UCHAR msg[160];
		size_t off = (size_t)eoff;
		pcre2_get_error_message(ecode, msg, sizeof(msg));
		/* The offset within the user's pattern, not our wrapper. */
		if (anchored)
			off = off >= 4 ? off - 4 : 0;
		snprintf(err, errlen, "invalid regex %s: %s at offset %zu", pattern,
			 (const char *)msg, off > n ? n : off);
		goto fail;
	}
	r->mctx = pcre2_match_context_create(NULL);
	r->pattern = strdup(pattern);
	if (!r->mctx || !r->pattern) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pcre2_set_match_limit(r->mctx, RX_MATCH_LIMIT);
	pcre2_set_depth_limit(r->mctx, RX_DEPTH_LIMIT);
	/* Relabel regexes come from ScrapeRules, where a hostile pattern
	 * meets the match limit per sample: JIT-compiled right away (a limit
	 * hit costs ~8x more interpreted). Filters wait for RX_JIT_AFTER
	 * matches (rx.h). */
	if (jit_now)
		jit_publish(r);
	free(re2);
	free(wrapped);
	return r;
fail:
	free(re2);
	free(wrapped);
	rx_free(r);
	return NULL;
}

struct rx *rx_new(const char *pattern, char *err, size_t errlen)
{
	return rx_compile(pattern, true, true, err, errlen);
}

struct rx *rx_new_filter(const char *pattern, char *err, size_t errlen)
{
	return rx_compile(pattern, true, false, err, errlen);
}

struct rx *rx_new_search(const char *pattern, char *err, size_t errlen)
{
	return rx_compile(pattern, false, false, err, errlen);
}

void rx_free(struct rx *r)
{
	if (!r)
		return;
	pcre2_match_context_free(r->mctx);
	pcre2_code_free(atomic_load(&r->jitted));
	pcre2_code_free(r->code);
	free(r->pattern);
	free(r);
}

const char *rx_pattern(const struct rx *r)
{
	return r->pattern;
}

/* ---- match --------------------------------------------------------------------- */

static void limit_hit(const struct rx *r, size_t n)
{
	int64_t now = clock_mono_ms(), last = atomic_load(&limit_logged_ms);
	uint64_t more;

	atomic_fetch_add(&limit_hits, 1);
	if (now - last < RX_LIMIT_LOG_MS ||
	    !atomic_compare_exchange_strong(&limit_logged_ms, &last, now)) {
		atomic_fetch_add(&limit_suppressed, 1);
		return;
	}
	more = atomic_exchange(&limit_suppressed, 0);
	log_warn("regex", "regex %.200s hit its match limit (%u steps) on a %zu-byte subject: "
		 "counted as no match (k8smon_regex_limit_hits_total; %llu more since the last line)",
		 r->pattern, RX_MATCH_LIMIT, n, (unsigned long long)more);
}

/* JIT-compiles a copy of r's pattern and publishes it. Without the JIT (no
 * executable memory allowed, unsupported CPU) the interpreter keeps running
 * under the same limits. */
static void jit_publish(struct rx *r)
{
	pcre2_code *c = pcre2_code_copy(r->code);

	if (!c)
		return;
	if (pcre2_jit_compile(c, PCRE2_JIT_COMPLETE) != 0) {
		pcre2_code_free(c);
		return;
	}
	atomic_store_explicit(&r->jitted, c, memory_order_release);
}

/* The code to match with: the JIT copy once published. The match that
 * brings the count to RX_JIT_AFTER compiles it (fetch_add gives that count
 * to exactly one thread); the others keep interpreting meanwhile. The
 * struct is const for callers, its warm-up fields are atomics. */
static const pcre2_code *code_for(const struct rx *cr)
{
	struct rx *r = (struct rx *)cr;
	pcre2_code *j = atomic_load_explicit(&r->jitted, memory_order_acquire);

	if (j)
		return j;
	if (atomic_fetch_add_explicit(&r->uses, 1, memory_order_relaxed) + 1 == RX_JIT_AFTER)
		jit_publish(r);
	j = atomic_load_explicit(&r->jitted, memory_order_acquire);
	return j ? j : r->code;
}

/* pcre2_match under the limits; a limit hit is a non-match. */
static int match(const struct rx *r, const char *s, size_t n, pcre2_match_data *md)
{
	/* Invalid UTF-8 in the subject is a non-match, never a crash. */
	int rc = pcre2_match(code_for(r), (PCRE2_SPTR)s, n, 0, 0, md, r->mctx);

	switch (rc) {
	case PCRE2_ERROR_MATCHLIMIT:
	case PCRE2_ERROR_DEPTHLIMIT:
	case PCRE2_ERROR_HEAPLIMIT:
	case PCRE2_ERROR_JIT_STACKLIMIT:
		limit_hit(r, n);
		break;
	default:
		break;
	}
	return rc;
}

bool rx_match(const struct rx *r, const char *s, size_t n)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->code, NULL);
	int rc;

	if (!md)
		return false;
	rc = match(r, s, n, md);
	pcre2_match_data_free(md);
	return rc >= 0;
}

unsigned rx_groups(const struct rx *r)
{
	uint32_t n = 0;

	if (pcre2_pattern_info(r->code, PCRE2_INFO_CAPTURECOUNT, &n) != 0)
		return 0;
	return n;
}

int rx_group_number(const struct rx *r, const char *name, size_t n)
{
	char tmp[256];
	int rc;

	/* PCRE2 wants a C string; group names are short, longer ones cannot
	 * exist (PCRE2 caps names at 32 code units). */
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, name, n);
	tmp[n] = '\0';
	rc = pcre2_substring_number_from_name(r->code, (PCRE2_SPTR)tmp);
	return rc > 0 ? rc : -1;
}

bool rx_match_groups(const struct rx *r, const char *s, size_t n, long *ovec, size_t nov)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->code, NULL);
	PCRE2_SIZE *ov;
	uint32_t have;
	size_t i;
	int rc;

	for (i = 0; i < nov; i++)
		ovec[i] = -1;
	if (!md)
		return false;
	rc = match(r, s, n, md);
	if (rc < 0) {
		pcre2_match_data_free(md);
		return false;
	}
	ov = pcre2_get_ovector_pointer(md);
	have = pcre2_get_ovector_count(md);
	for (i = 0; i < nov / 2 && i < have; i++) {
		if (ov[2 * i] == PCRE2_UNSET || (rc > 0 && (int)i >= rc))
			continue;
		ovec[2 * i] = (long)ov[2 * i];
		ovec[2 * i + 1] = (long)ov[2 * i + 1];
	}
	pcre2_match_data_free(md);
	return true;
}
