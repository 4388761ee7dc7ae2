/* Golden cases for the exposition writer: escaping, number formatting,
 * family headers, rollback on cap. */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "expo/writer.h"

static void check_num(double v, const char *want)
{
	char got[EXPO_DOUBLE_MAX];
	size_t n = expo_fmt_double(got, v);

	assert_int_equal(n, strlen(want));
	assert_string_equal(got, want);
}

static void test_numbers(void **state)
{
	(void)state;
	check_num(0, "0");
	check_num(1, "1");
	check_num(-1, "-1");
	check_num(NAN, "NaN");
	check_num(INFINITY, "+Inf");
	check_num(-INFINITY, "-Inf");
	/* Integers stay integers, even large ones (up to 2^53). */
	check_num(25276059648.0, "25276059648");
	check_num(9007199254740992.0, "9007199254740992");
	check_num(-42, "-42");
	/* Shortest round-trip, Go 'g' layout. */
	check_num(0.71, "0.71");
	check_num(0.1 + 0.2, "0.30000000000000004");
	check_num(123.5, "123.5");
	check_num(1234567.5, "1.2345675e+06");
	check_num(0.0001, "0.0001");
	check_num(0.00001, "1e-05");
	check_num(1.5e-7, "1.5e-07");
	check_num(1e300, "1e+300");
	check_num(4.560939, "4.560939");
	check_num(-0.25, "-0.25");
	check_num(1.0 / 3.0, "0.3333333333333333");
}

/* Reference for |v| < 1e-4: the shortest printf %e mantissa that reads
 * back as v (trailing zeros dropped), in Go's layout (two exponent digits
 * at least). */
static void ref_small(char *out, size_t cap, double v)
{
	char tmp[64], *e, *m_end;

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	e = strchr(tmp, 'e');
	m_end = e;
	while (m_end[-1] == '0')
		m_end--;
	if (m_end[-1] == '.')
		m_end--;
	snprintf(out, cap, "%.*se%c%02d", (int)(m_end - tmp), tmp, e[1], abs(atoi(e + 2)));
}

/* Small values (collector durations) have a printf-free path: the same
 * strings as the reference for ns / 1e9 over 1 ns .. 100 us, and for
 * 200000 pseudo-random values between 1e-22 and 1e-4, either sign. */
static void test_numbers_small(void **state)
{
	char got[EXPO_DOUBLE_MAX], want[64];
	uint64_t x = 88172645463325252ull;

	(void)state;
	for (int64_t ns = 1; ns < 100000; ns += 1 + ns / 512) {
		double v = (double)ns / 1e9;

		if (v >= 1e-4)
			break;
		expo_fmt_double(got, v);
		ref_small(want, sizeof(want), v);
		if (strcmp(got, want) != 0)
			fail_msg("%" PRId64 " ns: got %s, want %s", ns, got, want);
	}
	for (int i = 0; i < 200000; i++) {
		double v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* mantissa in [1,10), exponent -22..-5, a few short decimals */
		v = (1.0 + (double)(x >> 11) / 9007199254740992.0 * 9.0);
		if (i % 3 == 0)
			v = (double)(int64_t)(v * 1e4) / 1e4;
		v /= pow(10, 5 + (int)(x % 18));
		if (i & 1)
			v = -v;
		if (!(fabs(v) < 1e-4))
			continue;
		expo_fmt_double(got, v);
		ref_small(want, sizeof(want), v);
		if (strcmp(got, want) != 0)
			fail_msg("%.17g: got %s, want %s", v, got, want);
	}
}

static void test_family_and_escaping(void **state)
{
	struct buf b;
	struct label_pair l[] = {
		{ "path", "C:\\dir" }, { "q", "say \"hi\"" }, { "nl", "a\nb" },
	};

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(expo_family(&b, "m_total", "Help with \\ and\nnewline \"quoted\".", EXPO_COUNTER), 0);
	assert_int_equal(expo_sample(&b, "m_total", l, 3, 2.5), 0);
	assert_int_equal(expo_sample(&b, "m_total", NULL, 0, 7), 0);
	assert_int_equal(expo_sample_ts(&b, "m_total", l, 1, 1, 1700000000123), 0);
	assert_string_equal(buf_cstr(&b),
			    "# HELP m_total Help with \\\\ and\\nnewline \"quoted\".\n"
			    "# TYPE m_total counter\n"
			    "m_total{path=\"C:\\\\dir\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\"} 2.5\n"
			    "m_total 7\n"
			    "m_total{path=\"C:\\\\dir\"} 1 1700000000123\n");
	buf_fini(&b);
}

/* Label values and HELP taken from files may hold any bytes: what is not
 * UTF-8 becomes U+FFFD (one per byte), valid sequences pass unchanged. */
static void test_invalid_utf8_replaced(void **state)
{
	struct buf b;
	struct label_pair l = { "v", "ok\xc3\xa9 \xe9t\xc3 \xed\xa0\x80 \xf0\x9f\x98\x80" };

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(expo_family(&b, "m", "h\xff", EXPO_GAUGE), 0);
	assert_int_equal(expo_sample(&b, "m", &l, 1, 1), 0);
	assert_string_equal(buf_cstr(&b),
			    "# HELP m h\xef\xbf\xbd\n"
			    "# TYPE m gauge\n"
			    "m{v=\"ok\xc3\xa9 \xef\xbf\xbdt\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80\"} 1\n");
	/* A NUL (a value with an explicit length) is not representable
	 * either; the three escapes still apply around it. */
	buf_reset(&b);
	assert_int_equal(expo_escape_label(&b, "a\0b\"\\\n", 6), 0);
	assert_int_equal(b.len, 11);
	assert_memory_equal(b.data, "a\xef\xbf\xbd" "b\\\"\\\\\\n", 11);
	buf_fini(&b);
}

/* The escape loop skips plain ASCII 8 bytes at a time: every special byte
 * at every position of values 1-24 bytes long (inside, across and after
 * the 8-byte words) is still seen, in label values and in HELP ('"' is
 * escaped in label values only). */
/* expo_family_sample() writes what expo_family() then expo_sample() with no
 * labels write, with the same return code, whether the pieces fit the
 * buffer's allocation (one-piece path) or not (growth, or a cap that stops
 * the HELP, TYPE or sample line). */
static void test_family_sample_same(void **state)
{
	static const char *const helps[] = { NULL, "", "Plain help.", "Two\nlines \\ here.",
					     "Quote \" ok", "Bad \xff byte", "x" };
	static const char *const names[] = { "m", "node_memory_MemTotal_bytes",
					     "node_netstat_TcpExt_SyncookiesSent" };
	static const double vals[] = { 0, 1, -3, 1024.5, 21.868000000000002, 1.5e-7, 1e300, NAN, INFINITY };
	static const enum expo_type types[] = { EXPO_GAUGE, EXPO_COUNTER, EXPO_UNTYPED };

	(void)state;
	for (size_t h = 0; h < sizeof(helps) / sizeof(helps[0]); h++)
	for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++)
	for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++)
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
	for (size_t cap = 8; cap <= 160; cap += 8) {
		for (int pre = 0; pre < 2; pre++) {
			struct buf a, b;
			int ra, rb;

			buf_init(&a, cap);
			buf_init(&b, cap);
			assert_int_equal(buf_adds(&a, "x\n"), 0);
			assert_int_equal(buf_adds(&b, "x\n"), 0);
			if (pre) { /* room allocated up front, as for a node body */
				assert_int_equal(buf_reserve(&a, cap - 4), 0);
				assert_int_equal(buf_reserve(&b, cap - 4), 0);
			}
			ra = expo_family(&a, names[n], helps[h], types[t]);
			if (!ra)
				ra = expo_sample(&a, names[n], NULL, 0, vals[v]);
			rb = expo_family_sample(&b, names[n], helps[h], types[t], vals[v]);
			assert_int_equal(rb, ra);
			assert_int_equal(b.len, a.len);
			assert_memory_equal(b.data, a.data, a.len + 1);
			buf_fini(&a);
			buf_fini(&b);
		}
	}
}

static void test_escape_every_position(void **state)
{
	static const struct {
		const char *in;       /* the byte(s) put at the position */
		const char *label;    /* expected in a label value */
		const char *help;     /* expected in HELP */
	} sp[] = {
		{ "\\", "\\\\", "\\\\" }, { "\n", "\\n", "\\n" }, { "\"", "\\\"", "\"" },
		{ "\xff", "\xef\xbf\xbd", "\xef\xbf\xbd" }, { "\xc3\xa9", "\xc3\xa9", "\xc3\xa9" },
		{ "\x80", "\xef\xbf\xbd", "\xef\xbf\xbd" },
	};
	struct buf b, want;
	char in[40];

	(void)state;
	buf_init(&b, 4096);
	buf_init(&want, 4096);
	for (size_t k = 0; k < sizeof(sp) / sizeof(sp[0]); k++) {
		for (size_t len = 1; len <= 24; len++) {
			for (size_t pos = 0; pos < len; pos++) {
				size_t sl = strlen(sp[k].in), n = 0;

				for (size_t j = 0; j < pos; j++)
					in[n++] = 'a' + (char)(j % 26);
				memcpy(in + n, sp[k].in, sl);
				n += sl;
				for (size_t j = pos + 1; j < len; j++)
					in[n++] = 'A' + (char)(j % 26);
				in[n] = '\0';
				for (int help = 0; help < 2; help++) {
					buf_reset(&b);
					buf_reset(&want);
					if (help)
						assert_int_equal(expo_family(&b, "m", in, EXPO_GAUGE), 0);
					else
						assert_int_equal(expo_escape_label(&b, in, n), 0);
					if (help)
						assert_int_equal(buf_adds(&want, "# HELP m "), 0);
					assert_int_equal(buf_add(&want, in, pos), 0);
					assert_int_equal(buf_adds(&want, help ? sp[k].help : sp[k].label), 0);
					assert_int_equal(buf_add(&want, in + pos + sl, n - pos - sl), 0);
					if (help)
						assert_int_equal(buf_adds(&want, "\n# TYPE m gauge\n"), 0);
					if (b.len != want.len || memcmp(b.data, want.data, b.len) != 0)
						fail_msg("special %zu at %zu of %zu (%s): got %.*s", k, pos, len,
							 help ? "HELP" : "label", (int)b.len, b.data);
				}
			}
		}
	}
	buf_fini(&want);
	buf_fini(&b);
}

static void test_types(void **state)
{
	(void)state;
	assert_string_equal(expo_type_name(EXPO_GAUGE), "gauge");
	assert_string_equal(expo_type_name(EXPO_UNTYPED), "untyped");
	assert_string_equal(expo_type_name(EXPO_HISTOGRAM), "histogram");
	assert_string_equal(expo_type_name(EXPO_SUMMARY), "summary");
}

static void test_cap_rolls_back(void **state)
{
	struct buf b;
	struct label_pair l = { "device", "a-rather-long-device-name-that-does-not-fit" };

	(void)state;
	buf_init(&b, 40);
	assert_int_equal(expo_sample(&b, "x", NULL, 0, 1), 0);
	assert_int_equal(expo_sample(&b, "node_network_receive_bytes_total", &l, 1, 1), KM_ETOOBIG);
	/* The partial line is gone; what was written before stays. */
	assert_string_equal(buf_cstr(&b), "x 1\n");
	assert_int_equal(expo_family(&b, "long_family_name", "long help text here", EXPO_GAUGE), KM_ETOOBIG);
	assert_string_equal(buf_cstr(&b), "x 1\n");
	buf_fini(&b);
}

/* Pre-rendered spans give the same bytes as expo_sample_ts() with the same
 * labels: escaping, commas between spans, empty spans skipped, no braces
 * without labels; a write over the cap rolls back. */
static void test_sample_spans(void **state)
{
	struct label_pair l[] = {
		{ "a", "x\"y" }, { "cpu", "total" }, { "id", "/p\\q" }, { "z", "a\nb" },
	};
	struct buf want;
	struct buf pre;
	struct buf got;
	struct expo_span sp[4];
	size_t mid;

	(void)state;
	buf_init(&want, 4096);
	buf_init(&pre, 4096);
	buf_init(&got, 4096);
	assert_int_equal(expo_sample_ts(&want, "m", l, 4, 0.25, 1700000000123), 0);
	assert_int_equal(expo_sample_ts(&want, "m", NULL, 0, 3, -1), 0);
	/* spans: [a], [cpu, id], (empty), [z] */
	assert_int_equal(expo_label_pairs(&pre, l, 1), 0);
	mid = pre.len;
	assert_int_equal(expo_label_pairs(&pre, l + 1, 2), 0);
	assert_int_equal(expo_label_pairs(&pre, l + 3, 1), 0);
	assert_string_equal(buf_cstr(&pre), "a=\"x\\\"y\"cpu=\"total\",id=\"/p\\\\q\"z=\"a\\nb\"");
	sp[0] = (struct expo_span){ pre.data, mid };
	sp[1] = (struct expo_span){ pre.data + mid, strlen("cpu=\"total\",id=\"/p\\\\q\"") };
	sp[2] = (struct expo_span){ NULL, 0 };
	sp[3] = (struct expo_span){ sp[1].p + sp[1].n, pre.len - mid - sp[1].n };
	assert_int_equal(expo_sample_spans(&got, "m", sp, 4, 0.25, 1700000000123), 0);
	assert_int_equal(expo_sample_spans(&got, "m", sp + 2, 1, 3, -1), 0);
	assert_string_equal(buf_cstr(&got), buf_cstr(&want));
	buf_fini(&got);
	buf_init(&got, 20);
	assert_int_equal(expo_sample_spans(&got, "m", sp, 2, 1, -1), KM_ETOOBIG);
	assert_int_equal(got.len, 0);
	buf_fini(&got);
	buf_fini(&pre);
	buf_fini(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_numbers_small),
		cmocka_unit_test(test_family_and_escaping),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_escape_every_position),
		cmocka_unit_test(test_family_sample_same),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_cap_rolls_back),
		cmocka_unit_test(test_sample_spans),
	};
	return cmocka_run_group_tests_name("expo", tests, NULL, NULL);
}
