/* Buffers with caps, bounded parsing, durations, regexes, backoff. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/parse.h"
#include "base/rx.h"
#include "base/utf8.h"
#include "base/vec.h"

static void test_buf_cap(void **state)
{
	struct buf b;
	char *p;

	(void)state;
	buf_init(&b, 10);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_adds(&b, "hello"), 0);
	assert_int_equal(buf_printf(&b, "%d", 1234), 0);
	assert_string_equal(buf_cstr(&b), "hello1234");
	/* 11 bytes > cap 10: refused, contents unchanged. */
	assert_int_equal(buf_adds(&b, "xx"), KM_ETOOBIG);
	assert_int_equal(buf_printf(&b, "%s", "yy"), KM_ETOOBIG);
	assert_string_equal(buf_cstr(&b), "hello1234");
	assert_int_equal(buf_addc(&b, '!'), 0);
	assert_int_equal(b.len, 10);
	buf_truncate(&b, 5);
	assert_string_equal(buf_cstr(&b), "hello");
	p = buf_steal(&b);
	assert_string_equal(p, "hello");
	free(p);
	assert_int_equal(b.len, 0);
	buf_fini(&b);
}

static void test_buf_growth(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_printf(&b, "line %d\n", i), 0);
	assert_true(strstr(buf_cstr(&b), "line 9999\n") != NULL);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	buf_fini(&b);
}

/* The byte-at-a-time definition parse_field must agree with. */
static bool ref_field(const char **p, const char *end, const char **field, size_t *len)
{
	const char *q = *p;

	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (q >= end || *q == '\n')
		return false;
	*field = q;
	while (q < end && *q != ' ' && *q != '\t' && *q != '\n')
		q++;
	*len = (size_t)(q - *field);
	*p = q;
	return true;
}

/* parse_field against its definition: fields and blank runs of 0-20 bytes,
 * bytes near the delimiters (\r, \v, NUL, 0x80, 0xa0, 0x09 + 0x80) and an
 * end anywhere (a faster scan, such as by words, must give the same). */
static void test_parse_field_reference(void **state)
{
	static const char pool[] = { ' ', ' ', '\t', '\n', 'a', '7', '\r', '\v', '\0', (char)0x80,
				     (char)0xa0, (char)0x89, (char)0x8a, '!' };
	char s[64];
	uint32_t x = 12345;

	(void)state;
	for (int iter = 0; iter < 200000; iter++) {
		size_t n = 0, cut;

		while (n < sizeof(s)) {
			size_t run;

			x = x * 1103515245u + 12345u;
			run = (x >> 16) % 21;
			x = x * 1103515245u + 12345u;
			for (size_t k = 0; k < run && n < sizeof(s); k++) {
				x = x * 1103515245u + 12345u;
				s[n++] = (x >> 20) % 4 ? pool[(x >> 16) % sizeof(pool)] : ((x >> 24) & 1 ? ' ' : 'b');
			}
		}
		x = x * 1103515245u + 12345u;
		cut = (x >> 16) % (sizeof(s) + 1);
		{
			const char *p1 = s, *p2 = s, *end = s + cut, *f1 = NULL, *f2 = NULL;
			size_t l1 = 0, l2 = 0;

			for (;;) {
				bool r1 = parse_field(&p1, end, &f1, &l1);
				bool r2 = ref_field(&p2, end, &f2, &l2);

				assert_int_equal(r1, r2);
				if (!r1)
					break;
				assert_ptr_equal(f1, f2);
				assert_int_equal(l1, l2);
				assert_ptr_equal(p1, p2);
				if (p1 < end && *p1 == '\n')
					p1++, p2++;
			}
		}
	}
}

static void test_parse_numbers(void **state)
{
	uint64_t u;
	int64_t i;
	double d;
	bool bo;

	(void)state;
	assert_int_equal(parse_u64("12345", 5, &u), 0);
	assert_int_equal(u, 12345);
	assert_int_equal(parse_u64("18446744073709551615", 20, &u), 0);
	assert_int_equal(parse_u64("18446744073709551616", 20, &u), KM_ERANGE);
	assert_int_equal(parse_hex_u64("00000A1f", 8, &u), 0);
	assert_true(u == 0xa1f);
	assert_int_equal(parse_hex_u64("ffffffffffffffff", 16, &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(parse_hex_u64("10000000000000000", 17, &u), KM_ERANGE);
	assert_int_equal(parse_hex_u64("0000000000000000001", 19, &u), 0); /* leading zeros */
	assert_true(u == 1);
	assert_int_equal(parse_hex_u64("12g", 3, &u), KM_EINVAL);
	assert_int_equal(parse_hex_u64("", 0, &u), KM_EINVAL);
	assert_int_equal(parse_u64("", 0, &u), KM_EINVAL);
	assert_int_equal(parse_u64("12a", 3, &u), KM_EINVAL);
	assert_int_equal(parse_u64("-1", 2, &u), KM_EINVAL);
	/* Only n bytes are read. */
	assert_int_equal(parse_u64("42xyz", 2, &u), 0);
	assert_int_equal(u, 42);
	assert_int_equal(parse_i64("-9223372036854775808", 20, &i), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(parse_i64("9223372036854775808", 19, &i), KM_ERANGE);
	assert_int_equal(parse_double("1.5e3", 5, &d), 0);
	assert_true(d == 1500);
	assert_int_equal(parse_double("NaN", 3, &d), 0);
	assert_true(isnan(d));
	assert_int_equal(parse_double("-Inf", 4, &d), 0);
	assert_true(isinf(d) && d < 0);
	assert_int_equal(parse_double("0x10", 4, &d), KM_EINVAL);
	assert_int_equal(parse_double("1.5 ", 4, &d), KM_EINVAL);
	assert_int_equal(parse_double("", 0, &d), KM_EINVAL);
	/* Digit strings (the integer fast path up to 15 digits, strtod from
	 * 16) give strtod's double; only n bytes are read. */
	{
		static const char *const ints[] = { "0", "7", "000123", "4294967296", "999999999999999",
						    "123456789012345", "1000000000000000",
						    "9007199254740993", "18446744073709551616" };
		char *end;

		for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
			assert_int_equal(parse_double(ints[k], strlen(ints[k]), &d), 0);
			assert_true(d == strtod(ints[k], &end));
		}
		assert_int_equal(parse_double("12345", 3, &d), 0);
		assert_true(d == 123);
		assert_int_equal(parse_double("12 ", 3, &d), KM_EINVAL);
		assert_int_equal(parse_double("-12", 3, &d), 0);
		assert_true(d == -12);
	}
	assert_int_equal(parse_bool("TRUE", 4, &bo), 0);
	assert_true(bo);
	assert_int_equal(parse_bool("0", 1, &bo), 0);
	assert_false(bo);
	assert_int_equal(parse_bool("maybe", 5, &bo), KM_EINVAL);
}

static void test_parse_duration(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(parse_duration_ms("15s", 3, &ms), 0);
	assert_int_equal(ms, 15000);
	assert_int_equal(parse_duration_ms("1m30s", 5, &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(parse_duration_ms("500ms", 5, &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(parse_duration_ms("2h", 2, &ms), 0);
	assert_int_equal(ms, 7200000);
	assert_int_equal(parse_duration_ms("1m1ms", 5, &ms), 0);
	assert_int_equal(ms, 60001);
	assert_int_equal(parse_duration_ms("0", 1, &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(parse_duration_ms("15", 2, &ms), KM_EINVAL);
	assert_int_equal(parse_duration_ms("abc", 3, &ms), KM_EINVAL);
	assert_int_equal(parse_duration_ms("5x", 2, &ms), KM_EINVAL);
	assert_int_equal(parse_duration_ms("s", 1, &ms), KM_EINVAL);
	assert_int_equal(parse_duration_ms("99999999999999999999s", 21, &ms), KM_ERANGE);
}

static void test_rx_anchored(void **state)
{
	char err[256];
	struct rx *r;

	(void)state;
	r = rx_new("foo|bar", err, sizeof(err));
	assert_non_null(r);
	assert_true(rx_match(r, "foo", 3));
	assert_true(rx_match(r, "bar", 3));
	assert_false(rx_match(r, "xfoo", 4));
	assert_false(rx_match(r, "foox", 4));
	assert_string_equal(rx_pattern(r), "foo|bar");
	rx_free(r);
	r = rx_new("^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$", err, sizeof(err));
	assert_non_null(r);
	assert_true(rx_match(r, "sda1", 4));
	assert_true(rx_match(r, "nvme0n1p2", 9));
	assert_false(rx_match(r, "sda", 3));
	assert_false(rx_match(r, "dm-0", 4));
	rx_free(r);
	assert_null(rx_new("(unclosed", err, sizeof(err)));
	assert_true(strstr(err, "(unclosed") != NULL);
	/* Invalid UTF-8 in the subject is a non-match, not a crash. */
	r = rx_new(".*", err, sizeof(err));
	assert_false(rx_match(r, "\xff\xfe", 2));
	rx_free(r);
}

/* Every construct RE2 lacks is refused at compile time, naming it. */
static void test_rx_re2_rejects(void **state)
{
	static const struct {
		const char *pattern, *named;
	} bad[] = {
		{ "(a)\\1", "backreference (\\1" },
		{ "(?P<x>a)\\k<x>", "named backreference \\k<name>" },
		{ "(a)\\g1", "\\g" },
		{ "(?P<x>a)(?P=x)", "named backreference (?P=name)" },
		{ "foo(?=bar)", "lookahead (?=" },
		{ "foo(?!bar)", "negative lookahead (?!" },
		{ "(?<=foo)bar", "lookbehind (?<=" },
		{ "(?<!foo)bar", "negative lookbehind (?<!" },
		{ "(?>a+)b", "atomic group (?>" },
		{ "a*+b", "possessive quantifier" },
		{ "a++b", "possessive quantifier" },
		{ "a?+b", "possessive quantifier" },
		{ "a{2,3}+b", "possessive quantifier" },
		{ "(a|(?R))", "recursion" },
		{ "(a|(?1))", "recursion" },
		{ "(a)(?-1)", "recursion" },
		{ "(?<n>a)(?&n)", "subroutine call (?&name)" },
		{ "(a)?(?(1)b|c)", "conditional (?(" },
		{ "a\\Cb", "\\C" },
		{ "a(?C1)b", "callout (?C" },
		{ "(*LIMIT_MATCH=99999999)a", "(*...)" },
		{ "a(?#note)b", "comment (?#" },
		{ "(?x) a b", "flag that RE2 does not have" },
		{ "a\\Kb", "\\K" },
		{ "a\\Rb", "escape that RE2 does not have" },
		{ "(?|(a)|(b))", "branch reset" },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rx *r = rx_new(bad[i].pattern, err, sizeof(err));
		if (r)
			fail_msg("%s was accepted", bad[i].pattern);
		if (!strstr(err, bad[i].named) || !strstr(err, "not supported (RE2 syntax)"))
			fail_msg("%s: message \"%s\" does not name %s", bad[i].pattern, err, bad[i].named);
		/* The search variant (node-exporter filters) refuses them too. */
		assert_null(rx_new_search(bad[i].pattern, err, sizeof(err)));
	}
	assert_null(rx_new("a(?<=b)", err, sizeof(err)));
	assert_string_equal(err, "invalid regex a(?<=b): a lookbehind (?<=...) is not supported (RE2 syntax) at offset 1");
}

/* RE2 syntax that looks like the refused constructs is still accepted. */
static void test_rx_re2_accepts(void **state)
{
	static const struct {
		const char *pattern, *yes, *no;
	} ok[] = {
		{ "(?P<name>a+)-(?<other>b)", "aa-b", "a-c" },
		{ "(?i)foo", "FoO", "bar" },
		{ "(?i:f)oo", "Foo", "FOO" },
		{ "(?s).+", "a\nb", "" },
		{ "(?U)a+", "aaa", "b" },
		{ "(?:a|b)+?c", "abac", "abab" },
		{ "a{2}", "aa", "aaa" },
		{ "a{2,}?b", "aaab", "ab" },
		{ "x{", "x{", "x" },
		{ "\\x{41}+", "AAA", "a" },
		{ "\\pL+\\p{Greek}", "abα", "ab1" },
		{ "[[:alpha:]]+[^]a]", "ab-", "ab]" },
		{ "\\Q(?=a)+\\E", "(?=a)+", "a" },
		{ "[\\1-\\3]", "\x02", "1" },
		{ "\\0101", "\x08" "1", "A" },
		{ "a\\vb", "a\x0b" "b", "a\nb" },
		{ "\\d+\\.\\d+", "1.5", "1x5" },
		{ "(a+)+", "aaaa", "aaab" },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct rx *r = rx_new(ok[i].pattern, err, sizeof(err));
		if (!r)
			fail_msg("%s refused: %s", ok[i].pattern, err);
		if (!rx_match(r, ok[i].yes, strlen(ok[i].yes)))
			fail_msg("%s does not match %s", ok[i].pattern, ok[i].yes);
		if (rx_match(r, ok[i].no, strlen(ok[i].no)))
			fail_msg("%s matches %s", ok[i].pattern, ok[i].no);
		rx_free(r);
	}
}

/* A catastrophic pattern on a long non-matching subject stops at the match
 * limit: no match, and the hit is counted. The same pattern still matches
 * what it should. */
static void test_rx_limit(void **state)
{
	char err[256], s[64];
	long ov[4];
	struct rx *r = rx_new("(a+)+", err, sizeof(err));
	uint64_t hits = rx_limit_hits();

	(void)state;
	assert_non_null(r);
	memset(s, 'a', 40);
	s[40] = 'b';
	assert_false(rx_match(r, s, 41));
	assert_int_equal(rx_limit_hits(), hits + 1);
	assert_false(rx_match_groups(r, s, 41, ov, 4));
	assert_int_equal(ov[0], -1);
	assert_int_equal(rx_limit_hits(), hits + 2);
	assert_true(rx_match(r, s, 40));
	assert_int_equal(rx_limit_hits(), hits + 2);
	rx_free(r);
	/* Our limit, not PCRE2's default (10M): this needs ~1M steps before
	 * the second branch matches, so it is cut off as no match. */
	r = rx_new("(a+)+c|a*", err, sizeof(err));
	assert_non_null(r);
	assert_true(rx_match(r, s, 10));
	assert_false(rx_match(r, s, 20));
	assert_int_equal(rx_limit_hits(), hits + 3);
	rx_free(r);
	/* Search semantics are bounded the same way. */
	r = rx_new_search("(x+x+)+y", err, sizeof(err));
	assert_non_null(r);
	memset(s, 'x', 40);
	assert_false(rx_match(r, s, 40));
	rx_free(r);
	r = rx_new_search("(.*a){20}", err, sizeof(err));
	assert_non_null(r);
	memset(s, 'a', 40);
	s[40] = 'b';
	hits = rx_limit_hits();
	assert_false(rx_match(r, s, 30));
	assert_int_equal(rx_limit_hits(), hits + 1);
	rx_free(r);
}

/* A search-semantics filter is interpreted for its first RX_JIT_AFTER - 1
 * matches (the node collector's filters never get further, so PCRE2's JIT
 * compiler is not mapped) and JIT-compiled from the RX_JIT_AFTER-th on
 * (this CI's x86-64 Debian has the JIT): same answers, the same match
 * limit. A relabel regex (rx_new) is JIT-compiled at once. */
static void test_rx_jit_warmup(void **state)
{
	char err[256], s[64];
	struct rx *r = rx_new("(a+)+", err, sizeof(err));
	uint64_t hits;

	(void)state;
	assert_non_null(r);
	assert_true(rx_jit_used(r));
	rx_free(r);
	r = rx_new_search("^(a+)+$", err, sizeof(err));
	assert_non_null(r);
	for (unsigned i = 0; i + 1 < RX_JIT_AFTER; i++)
		assert_true(rx_match(r, "aaa", 3));
	assert_false(rx_jit_used(r));
	assert_false(rx_match(r, "aab", 3));
	assert_true(rx_jit_used(r));
	assert_true(rx_match(r, "aaa", 3));
	assert_false(rx_match(r, "aab", 3));
	memset(s, 'a', 40);
	s[40] = 'b';
	hits = rx_limit_hits();
	assert_false(rx_match(r, s, 41));
	assert_int_equal(rx_limit_hits(), hits + 1);
	assert_true(rx_match(r, s, 40));
	rx_free(r);
	/* An anchored node filter (systemd's unit filters, compiled at every
	 * start in host mode): anchored as rx_new(), JIT-compiled only at its
	 * RX_JIT_AFTER-th match, as a search filter. */
	r = rx_new_filter("a+\\.service", err, sizeof(err));
	assert_non_null(r);
	assert_false(rx_jit_used(r));
	assert_false(rx_match(r, "xaa.service", 11));
	assert_false(rx_match(r, "aa.services", 11));
	for (unsigned i = 2; i + 1 < RX_JIT_AFTER; i++)
		assert_true(rx_match(r, "aa.service", 10));
	assert_false(rx_jit_used(r));
	assert_false(rx_match(r, "xaa.service", 11));
	assert_true(rx_jit_used(r));
	assert_true(rx_match(r, "aa.service", 10));
	assert_false(rx_match(r, "aa.services", 11));
	rx_free(r);
}

static void test_backoff(void **state)
{
	struct backoff bo;
	int64_t prev_max = 0;

	(void)state;
	backoff_init(&bo, 800, 30000, 42);
	for (int i = 0; i < 20; i++) {
		int64_t d = backoff_next(&bo);
		assert_true(d >= bo.cur_ms / 2 && d <= bo.cur_ms);
		assert_true(bo.cur_ms <= 30000);
		assert_true(bo.cur_ms >= prev_max);
		prev_max = bo.cur_ms;
	}
	assert_int_equal(bo.cur_ms, 30000);
	backoff_reset(&bo);
	assert_true(backoff_next(&bo) <= 800);
}

/* Published FNV-1a vectors: series identities and bucket choices depend on
 * these exact values. */
static void test_hash_fnv1a(void **state)
{
	(void)state;
	assert_true(hash32("", 0) == 0x811c9dc5u);
	assert_true(hash32("a", 1) == 0xe40c292cu);
	assert_true(hash32("foobar", 6) == 0xbf9cf968u);
	assert_true(hash32_str("foobar") == 0xbf9cf968u);
	assert_true(hash32_add(hash32("foo", 3), "bar", 3) == 0xbf9cf968u);
	assert_true(hash64("", 0) == 0xcbf29ce484222325ULL);
	assert_true(hash64("a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(hash64("foobar", 6) == 0x85944171f73967e8ULL);
	assert_true(hash64_str("foobar") == 0x85944171f73967e8ULL);
	assert_true(hash64_add(hash64("foo", 3), "bar", 3) == 0x85944171f73967e8ULL);
	/* With the NULs: the bytes "ab\0c\0". */
	assert_true(hash64_add_strz(hash64_add_strz(HASH64_INIT, "ab"), "c") == 0xad22872f536e4705ULL);
	assert_true(hash64_add_strz(hash64_add_strz(HASH64_INIT, "ab"), "c") !=
		    hash64_add_strz(hash64_add_strz(HASH64_INIT, "a"), "bc"));
}

static void test_utf8_decode_put(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		uint32_t cp; /* 0 with len 0: invalid */
		size_t len;
	} cases[] = {
		{ "A", 1, 'A', 1 },
		{ "\xc3\xa9", 2, 0xe9, 2 },
		{ "\xe2\x82\xac", 3, 0x20ac, 3 },
		{ "\xf0\x9f\x98\x80", 4, 0x1f600, 4 },
		{ "\xf4\x8f\xbf\xbf", 4, 0x10ffff, 4 },
		{ "\xc3", 1, 0, 0 },             /* truncated */
		{ "\xc0\xaf", 2, 0, 0 },         /* overlong */
		{ "\xe0\x80\xaf", 3, 0, 0 },     /* overlong */
		/* Boundaries: U+0080 in 3 bytes is overlong, U+0800 is the first
		 * 3-byte code point; U+10000 in 4 bytes is the first 4-byte one. */
		{ "\xe0\x82\x80", 3, 0, 0 },     /* overlong U+0080 */
		{ "\xe0\x9f\xbf", 3, 0, 0 },     /* overlong U+07FF */
		{ "\xe0\xa0\x80", 3, 0x800, 3 },
		{ "\xf0\x8f\xbf\xbf", 4, 0, 0 }, /* overlong U+FFFF */
		{ "\xf0\x90\x80\x80", 4, 0x10000, 4 },
		{ "\xed\xa0\x80", 3, 0, 0 },     /* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0, 0 }, /* > U+10FFFF */
		{ "\x80", 1, 0, 0 },             /* lone continuation */
		{ "\xe2\x28\xa1", 3, 0, 0 },     /* bad continuation */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t cp = 0x12345;
		char enc[4];
		size_t len = utf8_decode((const unsigned char *)cases[i].s, cases[i].n, &cp);

		assert_int_equal(len, cases[i].len);
		assert_int_equal(utf8_valid(cases[i].s, cases[i].n), len == cases[i].n);
		if (!len) {
			assert_int_equal(cp, 0x12345); /* left alone */
			continue;
		}
		assert_int_equal(cp, cases[i].cp);
		assert_int_equal(utf8_put(cp, enc), len);
		assert_memory_equal(enc, cases[i].s, len);
	}
	assert_true(utf8_valid("h\xc3\xa9 \xe2\x82\xac", 7));
	assert_false(utf8_valid("ok\xff", 3));
	assert_memory_equal(UTF8_REPLACEMENT, "\xef\xbf\xbd", 3);
}

static void test_vec_growth_and_cap(void **state)
{
	int *v = NULL;
	size_t n = 0, alloc = 0;

	(void)state;
	assert_int_equal(VEC_RESERVE(v, alloc, 0, 4, 25), 0);
	assert_null(v); /* nothing needed, nothing allocated */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(VEC_RESERVE(v, alloc, n + 1, 4, 25), 0);
		v[n++] = i;
	}
	assert_int_equal(alloc, 8); /* 4, then doubled */
	assert_int_equal(VEC_RESERVE(v, alloc, 20, 4, 25), 0);
	assert_int_equal(alloc, 20); /* need beats doubling */
	assert_int_equal(VEC_RESERVE(v, alloc, 21, 4, 25), 0);
	assert_int_equal(alloc, 25); /* doubling clamped to the cap */
	/* Past the cap: refused, array unchanged. */
	int *before = v;
	assert_int_equal(VEC_RESERVE(v, alloc, 26, 4, 25), KM_ETOOBIG);
	assert_ptr_equal(v, before);
	assert_int_equal(alloc, 25);
	for (int i = 0; i < 5; i++)
		assert_int_equal(v[i], i);
	free(v);
}

/* The allocation-failure path, reached without a failing malloc: a size in
 * bytes that overflows size_t is KM_ENOMEM and leaves everything as it was. */
static void test_vec_overflow(void **state)
{
	char *v = NULL;
	size_t alloc = 0;

	(void)state;
	assert_int_equal(vec_reserve(&v, &alloc, 2, 1, 2, VEC_UNBOUNDED), 0);
	assert_non_null(v);
	char *before = v;
	assert_int_equal(vec_reserve(&v, &alloc, 8, SIZE_MAX / 4, 2, VEC_UNBOUNDED), KM_ENOMEM);
	assert_ptr_equal(v, before);
	assert_int_equal(alloc, 2);
	/* Doubling overflows and need * elem does too. */
	size_t a2 = SIZE_MAX / 2;
	assert_int_equal(vec_grow(&v, &a2, SIZE_MAX / 2 + 1, 2, 2, VEC_UNBOUNDED), KM_ENOMEM);
	assert_int_equal(a2, SIZE_MAX / 2);
	assert_ptr_equal(v, before);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_growth),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_parse_field_reference),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_rx_anchored),
		cmocka_unit_test(test_rx_re2_rejects),
		cmocka_unit_test(test_rx_re2_accepts),
		cmocka_unit_test(test_rx_limit),
		cmocka_unit_test(test_rx_jit_warmup),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_hash_fnv1a),
		cmocka_unit_test(test_utf8_decode_put),
		cmocka_unit_test(test_vec_growth_and_cap),
		cmocka_unit_test(test_vec_overflow),
	};
	return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
