/* Exposition parser: golden text and OpenMetrics documents, every garbage
 * class with its reason, chunk splits at every offset (and byte by byte),
 * caps, metadata rules, callback abort, reuse, and the writer -> parser
 * round trip. */
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
#include "expo/parser.h"
#include "expo/writer.h"

struct collect {
	struct buf out;
	int abort_after; /* 0: never */
	int seen;
	int errors;
	enum expo_perr last;
};

static int on_sample(void *ctx, const struct expo_sample_ev *s)
{
	struct collect *c = ctx;
	char v[EXPO_DOUBLE_MAX];

	expo_fmt_double(v, s->value);
	buf_adds(&c->out, s->name);
	labels_render(s->labels, &c->out);
	buf_printf(&c->out, " %s", v);
	if (s->has_ts)
		buf_printf(&c->out, " @%lld", (long long)s->ts_ms);
	buf_printf(&c->out, " [%s %s", s->family, expo_ftype_name(s->type));
	if (s->help)
		buf_printf(&c->out, " help=%s", s->help);
	if (s->unit)
		buf_printf(&c->out, " unit=%s", s->unit);
	if (s->is_created)
		buf_adds(&c->out, " created");
	buf_adds(&c->out, "]\n");
	c->seen++;
	if (c->abort_after && c->seen >= c->abort_after)
		return KM_EAGAIN;
	return 0;
}

static void on_error(void *ctx, uint64_t line, enum expo_perr why, const char *text, size_t n)
{
	struct collect *c = ctx;

	(void)line;
	(void)text;
	assert_true(n <= 256);
	c->errors++;
	c->last = why;
}

static void collect_init(struct collect *c)
{
	memset(c, 0, sizeof(*c));
	buf_init(&c->out, 1 << 22);
}

static struct expo_parse_stats parse(enum expo_format fmt, const char *doc, size_t n,
				     struct collect *c, size_t max_line, size_t max_labels)
{
	struct expo_parser_opts o = { .format = fmt, .max_line = max_line, .max_labels = max_labels };
	struct expo_parser_cb cb = { .sample = on_sample, .error = on_error, .ctx = c };
	struct expo_parse_stats st;

	assert_int_equal(expo_parse_buffer(&o, &cb, doc, n, &st), 0);
	return st;
}

static const char text_doc[] =
	"# HELP http_requests_total The total number of HTTP requests.\n"
	"# TYPE http_requests_total counter\n"
	"http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
	"http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
	"\n"
	"# Escaping in label values:\n"
	"msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
	"\n"
	"# Minimalistic line:\n"
	"metric_without_timestamp_and_labels 12.47\n"
	"\n"
	"# A weird metric from before the epoch:\n"
	"something_weird{problem=\"division by zero\"} +Inf -3982045\n"
	"\n"
	"# A histogram, which has a pretty complex representation in the text format:\n"
	"# HELP http_request_duration_seconds A histogram of the request duration.\n"
	"# TYPE http_request_duration_seconds histogram\n"
	"http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
	"http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
	"http_request_duration_seconds_sum 53423\n"
	"http_request_duration_seconds_count 144320\n"
	"\n"
	"# Finally a summary, which has a complex representation, too:\n"
	"# HELP rpc_duration_seconds A summary of the RPC duration in seconds.\n"
	"# TYPE rpc_duration_seconds summary\n"
	"rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
	"rpc_duration_seconds_sum 1.7560473e+07\n"
	"rpc_duration_seconds_count 2693\n"
	"# HELP esc Backslash \\\\ and\\nnewline \"quotes\" stay.\n"
	"# TYPE esc gauge\n"
	"esc{ a = \"1\" , b=\"2\", } NaN\n"
	"esc{} -Inf\n"
	"\tesc{c=\"\"}\t-0.5e-3\t-1\n"
	"untyped_thing:rate5m{x=\"\xc3\xa9\"} .5\n"
	"inf_words{w=\"a\"} infinity\n"
	"inf_words{w=\"b\"} -INF\n";

static const char text_want[] =
	"http_requests_total{code=\"200\",method=\"post\"} 1027 @1395066363000 [http_requests_total counter help=The total number of HTTP requests.]\n"
	"http_requests_total{code=\"400\",method=\"post\"} 3 @1395066363000 [http_requests_total counter help=The total number of HTTP requests.]\n"
	"msdos_file_access_time_seconds{error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\",path=\"C:\\\\DIR\\\\FILE.TXT\"} 1458255915 [msdos_file_access_time_seconds untyped]\n"
	"metric_without_timestamp_and_labels 12.47 [metric_without_timestamp_and_labels untyped]\n"
	"something_weird{problem=\"division by zero\"} +Inf @-3982045 [something_weird untyped]\n"
	"http_request_duration_seconds_bucket{le=\"0.05\"} 24054 [http_request_duration_seconds histogram help=A histogram of the request duration.]\n"
	"http_request_duration_seconds_bucket{le=\"+Inf\"} 144320 [http_request_duration_seconds histogram help=A histogram of the request duration.]\n"
	"http_request_duration_seconds_sum 53423 [http_request_duration_seconds histogram help=A histogram of the request duration.]\n"
	"http_request_duration_seconds_count 144320 [http_request_duration_seconds histogram help=A histogram of the request duration.]\n"
	"rpc_duration_seconds{quantile=\"0.5\"} 4773 [rpc_duration_seconds summary help=A summary of the RPC duration in seconds.]\n"
	"rpc_duration_seconds_sum 17560473 [rpc_duration_seconds summary help=A summary of the RPC duration in seconds.]\n"
	"rpc_duration_seconds_count 2693 [rpc_duration_seconds summary help=A summary of the RPC duration in seconds.]\n"
	"esc{a=\"1\",b=\"2\"} NaN [esc gauge help=Backslash \\ and\nnewline \"quotes\" stay.]\n"
	"esc -Inf [esc gauge help=Backslash \\ and\nnewline \"quotes\" stay.]\n"
	"esc -0.0005 @-1 [esc gauge help=Backslash \\ and\nnewline \"quotes\" stay.]\n"
	"untyped_thing:rate5m{x=\"\xc3\xa9\"} 0.5 [untyped_thing:rate5m untyped]\n"
	"inf_words{w=\"a\"} +Inf [inf_words untyped]\n"
	"inf_words{w=\"b\"} -Inf [inf_words untyped]\n";

static void test_text_golden(void **state)
{
	struct collect c;
	struct expo_parse_stats st;

	(void)state;
	collect_init(&c);
	st = parse(EXPO_FMT_TEXT, text_doc, strlen(text_doc), &c, 0, 0);
	assert_string_equal(buf_cstr(&c.out), text_want);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.samples, 18);
	assert_int_equal(c.errors, 0);
	buf_fini(&c.out);
}

static const char om_doc[] =
	"# TYPE acme_http_router_request_seconds summary\n"
	"# UNIT acme_http_router_request_seconds seconds\n"
	"# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.\n"
	"acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n"
	"acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n"
	"acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n"
	"# TYPE go_goroutines gauge\n"
	"go_goroutines 69 1520879607.789\n"
	"# TYPE foo counter\n"
	"# HELP foo A \\\"quoted\\\" help.\n"
	"foo_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
	"foo_created{a=\"b\"} 1520430000.123\n"
	"# TYPE build info\n"
	"build_info{version=\"1.2\"} 1\n"
	"# TYPE hh histogram\n"
	"hh_bucket{le=\"1\"} 2 # {id=\"x\"} 0.5 123\n"
	"hh_bucket{le=\"+Inf\"} 3\n"
	"# TYPE other unknown\n"
	"other 1\n"
	"# EOF\n";

static const char om_want[] =
	"acme_http_router_request_seconds_sum{method=\"GET\",path=\"/api/v1\"} 9036.32 [acme_http_router_request_seconds summary help=Latency though all of ACME's HTTP request router. unit=seconds]\n"
	"acme_http_router_request_seconds_count{method=\"GET\",path=\"/api/v1\"} 807283 [acme_http_router_request_seconds summary help=Latency though all of ACME's HTTP request router. unit=seconds]\n"
	"acme_http_router_request_seconds_created{method=\"GET\",path=\"/api/v1\"} 1605281325 [acme_http_router_request_seconds summary help=Latency though all of ACME's HTTP request router. unit=seconds created]\n"
	"go_goroutines 69 @1520879607789 [go_goroutines gauge]\n"
	"foo_total{a=\"b\"} 17 @1520879607789 [foo counter help=A \"quoted\" help.]\n"
	"foo_created{a=\"b\"} 1.520430000123e+09 [foo counter help=A \"quoted\" help. created]\n"
	"build_info{version=\"1.2\"} 1 [build info]\n"
	"hh_bucket{le=\"1\"} 2 [hh histogram]\n"
	"hh_bucket{le=\"+Inf\"} 3 [hh histogram]\n"
	"other 1 [other untyped]\n";

static void test_openmetrics_golden(void **state)
{
	struct collect c;
	struct expo_parse_stats st;

	(void)state;
	collect_init(&c);
	st = parse(EXPO_FMT_OPENMETRICS, om_doc, strlen(om_doc), &c, 0, 0);
	assert_string_equal(buf_cstr(&c.out), om_want);
	assert_int_equal(st.errors, 0);
	assert_true(st.eof_seen);
	buf_fini(&c.out);

	/* Missing # EOF, and data after it, are counted. */
	collect_init(&c);
	st = parse(EXPO_FMT_OPENMETRICS, "a 1\n", 4, &c, 0, 0);
	assert_int_equal(st.samples, 1);
	assert_int_equal(st.err[EXPO_E_NO_EOF], 1);
	st = parse(EXPO_FMT_OPENMETRICS, "a 1\n# EOF\nb 2\n", 14, &c, 0, 0);
	assert_int_equal(st.err[EXPO_E_AFTER_EOF], 1);
	assert_int_equal(st.err[EXPO_E_NO_EOF], 0);
	/* In 0.0.4 "# EOF" is a comment, and "untyped" is a type, "unknown" not. */
	st = parse(EXPO_FMT_TEXT, "# EOF\nb 2\n# TYPE x unknown\n", 27, &c, 0, 0);
	assert_int_equal(st.samples, 1);
	assert_int_equal(st.err[EXPO_E_BAD_TYPE], 1);
	/* 0.0.4 timestamps are integers only. */
	st = parse(EXPO_FMT_TEXT, "b 2 1.5\n", 8, &c, 0, 0);
	assert_int_equal(st.err[EXPO_E_TIMESTAMP], 1);
	buf_fini(&c.out);
}

struct bad {
	const char *line;
	enum expo_perr why;
};

static void test_garbage(void **state)
{
	static const struct bad cases[] = {
		{ "1abc 1", EXPO_E_METRIC_NAME },
		{ "a-b 1", EXPO_E_METRIC_NAME },
		{ "\"quoted\" 1", EXPO_E_METRIC_NAME },
		{ "{a=\"b\"} 1", EXPO_E_METRIC_NAME },
		{ "m{1a=\"b\"} 1", EXPO_E_LABEL_NAME },
		{ "m{a:b=\"b\"} 1", EXPO_E_LABEL_NAME },
		{ "m{__name__=\"x\"} 1", EXPO_E_LABEL_NAME },
		{ "m{a} 1", EXPO_E_LABEL_SYNTAX },
		{ "m{a=b} 1", EXPO_E_LABEL_SYNTAX },
		{ "m{a=\"b\" c=\"d\"} 1", EXPO_E_LABEL_SYNTAX },
		{ "m{a=\"b\"", EXPO_E_LABEL_SYNTAX },
		{ "m{a=\"b} 1", EXPO_E_LABEL_SYNTAX },
		{ "m{,} 1", EXPO_E_LABEL_SYNTAX },
		{ "m{a=\"\\t\"} 1", EXPO_E_ESCAPE },
		{ "m{a=\"\\x41\"} 1", EXPO_E_ESCAPE },
		{ "m{a=\"\xff\"} 1", EXPO_E_UTF8 },
		{ "m{a=\"\xc3\"} 1", EXPO_E_UTF8 },
		{ "m{a=\"\xed\xa0\x80\"} 1", EXPO_E_UTF8 },
		{ "m{a=\"1\",a=\"2\"} 1", EXPO_E_DUP_LABEL },
		{ "m{a=\"\",b=\"1\",a=\"2\"} 1", EXPO_E_DUP_LABEL },
		{ "m", EXPO_E_SYNTAX },
		{ "m{}", EXPO_E_SYNTAX },
		{ "m 1 2 3", EXPO_E_SYNTAX },
		{ "m abc", EXPO_E_VALUE },
		{ "m 0x10", EXPO_E_VALUE },
		{ "m 1_000", EXPO_E_VALUE },
		{ "m 1e400", EXPO_E_VALUE },
		{ "m nan(0)", EXPO_E_VALUE },
		{ "m +NaN", EXPO_E_VALUE },
		{ "m 1,5", EXPO_E_VALUE },
		{ "m 1\r", EXPO_E_VALUE },
		{ "m 1 12a", EXPO_E_TIMESTAMP },
		{ "m 1 99999999999999999999", EXPO_E_TIMESTAMP },
		{ "# TYPE m", EXPO_E_BAD_TYPE },
		{ "# TYPE m bogus", EXPO_E_BAD_TYPE },
		{ "# TYPE m counter extra", EXPO_E_BAD_TYPE },
		{ "# TYPE", EXPO_E_BAD_TYPE },
		{ "# HELP 1m text", EXPO_E_METRIC_NAME },
		{ "# HELP m bad \\t escape", EXPO_E_ESCAPE },
		{ "# HELP m bad \\\" in 0.0.4", EXPO_E_ESCAPE },
		{ "# HELP m \xff", EXPO_E_UTF8 },
	};
	struct collect c;
	size_t i;

	(void)state;
	collect_init(&c);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct expo_parse_stats st;
		char doc[256];
		int n = snprintf(doc, sizeof(doc), "ok 1\n%s\nok2 2\n", cases[i].line);

		c.errors = 0;
		st = parse(EXPO_FMT_TEXT, doc, (size_t)n, &c, 0, 0);
		if (st.errors != 1 || st.err[cases[i].why] != 1)
			fail_msg("line '%s': want %s, got %llu errors, last %s", cases[i].line,
				 expo_perr_name(cases[i].why), (unsigned long long)st.errors,
				 expo_perr_name(c.last));
		/* The good lines around it still parse. */
		assert_int_equal(st.samples, 2);
		assert_int_equal(c.errors, 1);
	}
	buf_fini(&c.out);
}

static void test_metadata_rules(void **state)
{
	struct collect c;
	struct expo_parse_stats st;
	const char *doc;

	(void)state;
	collect_init(&c);
	/* TYPE after samples of the family: rejected, samples stay untyped. */
	doc = "m 1\n# TYPE m gauge\nm{a=\"x\"} 2\n";
	st = parse(EXPO_FMT_TEXT, doc, strlen(doc), &c, 0, 0);
	assert_int_equal(st.err[EXPO_E_TYPE_LATE], 1);
	assert_string_equal(buf_cstr(&c.out), "m 1 [m untyped]\nm{a=\"x\"} 2 [m untyped]\n");
	/* Second TYPE and second HELP: rejected, the first one stays. */
	buf_reset(&c.out);
	doc = "# TYPE m gauge\n# TYPE m counter\n# HELP m one\n# HELP m two\nm 1\n";
	st = parse(EXPO_FMT_TEXT, doc, strlen(doc), &c, 0, 0);
	assert_int_equal(st.err[EXPO_E_DUP_META], 2);
	assert_string_equal(buf_cstr(&c.out), "m 1 [m gauge help=one]\n");
	/* HELP after samples is fine; an empty HELP is fine. */
	buf_reset(&c.out);
	doc = "m 1\n# HELP m\nm 2\n";
	st = parse(EXPO_FMT_TEXT, doc, strlen(doc), &c, 0, 0);
	assert_int_equal(st.errors, 0);
	assert_string_equal(buf_cstr(&c.out), "m 1 [m untyped]\nm 2 [m untyped help=]\n");
	/* Suffixes only bind to families whose type has them. */
	buf_reset(&c.out);
	doc = "# TYPE g gauge\ng_total 1\ng_sum 2\n";
	st = parse(EXPO_FMT_TEXT, doc, strlen(doc), &c, 0, 0);
	assert_string_equal(buf_cstr(&c.out), "g_total 1 [g_total untyped]\ng_sum 2 [g_sum untyped]\n");
	buf_fini(&c.out);
}

/* Appends a literal at *p (the test buffers are sized for it). */
static char *put(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static void test_caps(void **state)
{
	struct collect c;
	struct expo_parse_stats st;
	char doc[8192];
	char *p;
	int i;

	(void)state;
	collect_init(&c);
	/* Line cap: the long line is one error; neighbours parse. */
	p = doc;
	p = put(p, "a 1\nlong{x=\"");
	for (i = 0; i < 100; i++)
		*p++ = 'v';
	p = put(p, "\"} 1\nb 2\n");
	st = parse(EXPO_FMT_TEXT, doc, (size_t)(p - doc), &c, 64, 0);
	assert_int_equal(st.err[EXPO_E_LINE_TOO_LONG], 1);
	assert_int_equal(st.samples, 2);
	/* A last unterminated overlong line too. */
	st = parse(EXPO_FMT_TEXT, doc, (size_t)(p - doc) - 9, &c, 64, 0);
	assert_int_equal(st.err[EXPO_E_LINE_TOO_LONG], 1);
	assert_int_equal(st.samples, 1);
	/* Label count cap. */
	st = parse(EXPO_FMT_TEXT, "m{a=\"1\",b=\"2\",c=\"3\"} 1\nm{a=\"1\",b=\"2\"} 1\n", 41, &c, 0, 2);
	assert_int_equal(st.err[EXPO_E_TOO_MANY_LABELS], 1);
	assert_int_equal(st.samples, 1);
	/* A NUL or invalid UTF-8 in a value without escapes (the borrowed
	 * fast path) is rejected as in an escaped one; valid UTF-8 is kept. */
	{
		static const char odd[] = "m{a=\"x\0y\"} 1\nm{a=\"x\xff\"} 1\nm{a=\"\xc3\xa9\"} 2\n";

		st = parse(EXPO_FMT_TEXT, odd, sizeof(odd) - 1, &c, 0, 0);
	}
	assert_int_equal(st.err[EXPO_E_UTF8], 2);
	assert_int_equal(st.samples, 1);
	/* Label value length cap (4096 bytes; escapes count once). */
	p = doc;
	p = put(p, "m{a=\"");
	for (i = 0; i < LABELS_VALUE_MAX + 1; i++)
		*p++ = 'v';
	p = put(p, "\"} 1\n");
	st = parse(EXPO_FMT_TEXT, doc, (size_t)(p - doc), &c, 0, 0);
	assert_int_equal(st.err[EXPO_E_LABEL_TOO_LONG], 1);
	p = doc;
	p = put(p, "m{a=\"");
	for (i = 0; i < LABELS_VALUE_MAX; i++)
		*p++ = 'v';
	p = put(p, "\"} 1\n");
	st = parse(EXPO_FMT_TEXT, doc, (size_t)(p - doc), &c, 0, 0);
	assert_int_equal(st.errors, 0);
	buf_fini(&c.out);
}

/* Feeding in two chunks split at every offset, and byte by byte, gives the
 * same samples and counters as one buffer. */
static void split_check(enum expo_format fmt, const char *doc, const char *want)
{
	size_t n = strlen(doc), cut;
	struct expo_parser_opts o = { .format = fmt };
	struct collect c;
	struct expo_parser_cb cb = { .sample = on_sample, .ctx = &c };
	struct expo_parser *p;

	collect_init(&c);
	p = expo_parser_new(&o, &cb);
	assert_non_null(p);
	for (cut = 0; cut <= n; cut++) {
		expo_parser_reset(p);
		buf_reset(&c.out);
		assert_int_equal(expo_parser_feed(p, doc, cut), 0);
		assert_int_equal(expo_parser_feed(p, doc + cut, n - cut), 0);
		assert_int_equal(expo_parser_finish(p), 0);
		if (strcmp(buf_cstr(&c.out), want) != 0)
			fail_msg("split at %zu differs", cut);
		assert_int_equal(expo_parser_stats(p)->errors, 0);
	}
	expo_parser_reset(p);
	buf_reset(&c.out);
	for (cut = 0; cut < n; cut++)
		assert_int_equal(expo_parser_feed(p, doc + cut, 1), 0);
	assert_int_equal(expo_parser_finish(p), 0);
	assert_string_equal(buf_cstr(&c.out), want);
	expo_parser_free(p);
	buf_fini(&c.out);
}

static void test_chunk_splits(void **state)
{
	(void)state;
	split_check(EXPO_FMT_TEXT, text_doc, text_want);
	split_check(EXPO_FMT_OPENMETRICS, om_doc, om_want);
}

static void test_abort_and_reuse(void **state)
{
	struct expo_parser_opts o = { 0 };
	struct collect c;
	struct expo_parser_cb cb = { .sample = on_sample, .ctx = &c };
	struct expo_parser *p;

	(void)state;
	collect_init(&c);
	c.abort_after = 2;
	p = expo_parser_new(&o, &cb);
	assert_int_equal(expo_parser_feed(p, "a 1\nb 2\nc 3\n", 12), KM_EAGAIN);
	assert_int_equal(expo_parser_feed(p, "d 4\n", 4), KM_EAGAIN);
	assert_int_equal(expo_parser_finish(p), KM_EAGAIN);
	assert_int_equal(c.seen, 2);
	expo_parser_reset(p);
	c.abort_after = 0;
	assert_int_equal(expo_parser_feed(p, "d 4\n", 4), 0);
	assert_int_equal(expo_parser_finish(p), 0);
	assert_int_equal(expo_parser_stats(p)->samples, 1);
	expo_parser_free(p);
	/* A callback is required. */
	cb.sample = NULL;
	assert_null(expo_parser_new(&o, &cb));
	assert_string_equal(expo_perr_name(EXPO_E_UTF8), "invalid_utf8");
	assert_string_equal(expo_perr_name((enum expo_perr)999), "unknown");
	buf_fini(&c.out);
}

/* Writer output parses back to the same samples, bit for bit. */
struct rt {
	int i;
	const double *vals;
};

static int rt_sample(void *ctx, const struct expo_sample_ev *s)
{
	struct rt *r = ctx;
	double want = r->vals[r->i];

	if (isnan(want))
		assert_true(isnan(s->value));
	else if (want == 0) /* the writer prints -0 as "0", as Go does */
		assert_true(s->value == 0);
	else
		assert_memory_equal(&want, &s->value, sizeof(double));
	assert_string_equal(s->name, "rt_metric");
	assert_string_equal(labels_get(s->labels, "v"), "a\\b\"c\nd\xc3\xa9");
	assert_string_equal(labels_get(s->labels, "idx"), r->i % 2 ? "odd" : "even");
	assert_int_equal(s->type, EXPO_FT_GAUGE);
	assert_string_equal(s->help, "Help with \\ and\nnewline.");
	if (r->i == 3) {
		assert_true(s->has_ts);
		assert_int_equal(s->ts_ms, 1234567);
	}
	r->i++;
	return 0;
}

static void test_round_trip(void **state)
{
	static const double vals[] = {
		0, 1, -1, 0.1, 1e-300, 5e-324, 1.7976931348623157e308, -2.5e-7, 123456789012345678.0,
		1.0 / 3, NAN, INFINITY, -INFINITY, 0.30000000000000004, 4.35, -0.0,
	};
	size_t n = sizeof(vals) / sizeof(vals[0]), i;
	struct buf b;
	struct rt r = { 0, vals };
	struct expo_parser_cb cb = { .sample = rt_sample, .ctx = &r };
	struct expo_parse_stats st;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(expo_family(&b, "rt_metric", "Help with \\ and\nnewline.", EXPO_GAUGE), 0);
	for (i = 0; i < n; i++) {
		struct label_pair l[2] = {
			{ "idx", i % 2 ? "odd" : "even" },
			{ "v", "a\\b\"c\nd\xc3\xa9" },
		};

		if (i == 3)
			assert_int_equal(expo_sample_ts(&b, "rt_metric", l, 2, vals[i], 1234567), 0);
		else
			assert_int_equal(expo_sample(&b, "rt_metric", l, 2, vals[i]), 0);
	}
	assert_int_equal(expo_parse_buffer(NULL, &cb, b.data, b.len, &st), 0);
	assert_int_equal(st.errors, 0);
	assert_int_equal((size_t)r.i, n);
	buf_fini(&b);
}

/* Integer literals (the parser's fast path up to 15 digits) parse to the
 * same double, bit for bit, as strtod; longer ones and malformed ones take
 * the general path. */
static int int_sample(void *ctx, const struct expo_sample_ev *s)
{
	double *got = ctx;

	*got = s->value;
	return 0;
}

static void test_integer_values(void **state)
{
	static const char *const ok[] = {
		"0", "-0", "+0", "7", "+12", "-12", "007", "999999999999999", "-999999999999999",
		"1000000000000000", "9007199254740993", "18446744073709551617", "123456789012345678901234",
	};
	static const char *const bad[] = { "-", "+", "12a", "1_000", "--1", "0x10", "1.2.3", "+-1" };
	struct expo_parser_cb cb = { .sample = int_sample };
	struct expo_parse_stats st;
	char line[64];
	double got;

	(void)state;
	cb.ctx = &got;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		double want = strtod(ok[i], NULL);
		int n = snprintf(line, sizeof(line), "m %s\n", ok[i]);

		got = 42;
		assert_int_equal(expo_parse_buffer(NULL, &cb, line, (size_t)n, &st), 0);
		assert_int_equal(st.samples, 1);
		assert_memory_equal(&want, &got, sizeof(double));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = snprintf(line, sizeof(line), "m %s\n", bad[i]);

		assert_int_equal(expo_parse_buffer(NULL, &cb, line, (size_t)n, &st), 0);
		assert_int_equal(st.samples, 0);
		assert_int_equal(st.errors, 1);
	}
}

/* pairs: the scraped text between the braces is offered for copying only
 * when it is exactly what the writer makes of the parsed labels. */
struct pairs_seen {
	bool got;
	char text[128]; /* pairs, or "(null)" */
	char rendered[128]; /* the writer's rendering of the labels */
};

static int pairs_sample(void *ctx, const struct expo_sample_ev *s)
{
	struct pairs_seen *ps = ctx;
	struct label_ref ref;
	struct buf b;
	size_t it = 0;

	ps->got = true;
	snprintf(ps->text, sizeof(ps->text), "%.*s", s->pairs ? (int)s->pairs_len : 6,
		 s->pairs ? s->pairs : "(null)");
	buf_init(&b, 1 << 12);
	while (labels_next(s->labels, &it, &ref)) {
		assert_int_equal(buf_printf(&b, "%s%s=\"", it > 1 ? "," : "", ref.name), 0);
		assert_int_equal(expo_escape_label(&b, ref.value, ref.value_len), 0);
		assert_int_equal(buf_addc(&b, '"'), 0);
	}
	snprintf(ps->rendered, sizeof(ps->rendered), "%s", buf_cstr(&b));
	buf_fini(&b);
	return 0;
}

static void test_pairs(void **state)
{
	static const char *const canon[] = {
		"m 1", "m{} 1", "m{a=\"1\"} 1", "m{a=\"1\",ab=\"x\\\"y\\n\\\\z\"} 1", "m{a=\"1\",b=\"\xc3\xa9\"} 2 17",
	};
	static const char *const other[] = {
		"m{b=\"1\",a=\"2\"} 1", "m{ab=\"1\",a=\"2\"} 1", "m{a=\"1\", b=\"2\"} 1", "m{a =\"1\"} 1",
		"m{a= \"1\"} 1", "m{ a=\"1\"} 1", "m{a=\"1\" } 1", "m{a=\"1\",} 1", "m{a=\"\",b=\"2\"} 1",
		"m{ } 1",
	};
	struct pairs_seen ps;
	struct expo_parser_cb cb = { .sample = pairs_sample, .ctx = &ps };
	struct expo_parse_stats st;

	(void)state;
	for (size_t i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
		memset(&ps, 0, sizeof(ps));
		assert_int_equal(expo_parse_buffer(NULL, &cb, canon[i], strlen(canon[i]), &st), 0);
		assert_true(ps.got);
		assert_string_equal(ps.text, ps.rendered);
	}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		memset(&ps, 0, sizeof(ps));
		assert_int_equal(expo_parse_buffer(NULL, &cb, other[i], strlen(other[i]), &st), 0);
		assert_true(ps.got);
		assert_string_equal(ps.text, "(null)");
	}
}

/* The slices (ev->refs) are the label set's pairs, in its order, byte for
 * byte, whether or not the set is built: randomized lines (seeded) with
 * labels in any order, empty values, escapes, UTF-8, blanks and trailing
 * commas, fed in random chunks (lines parsed in place and copied). */
struct slice_seen {
	struct buf out;
	bool set; /* this parser builds the label set */
	int samples;
};

static int slice_sample(void *ctx, const struct expo_sample_ev *s)
{
	struct slice_seen *ss = ctx;

	ss->samples++;
	assert_true(ss->set == (s->labels != NULL));
	if (s->labels) {
		assert_int_equal(labels_count(s->labels), s->nrefs);
		for (size_t i = 0; i < s->nrefs; i++) {
			struct label_ref r = labels_at(s->labels, i);

			assert_int_equal(r.name_len, s->refs[i].name_len);
			assert_memory_equal(r.name, s->refs[i].name, r.name_len);
			assert_int_equal(r.value_len, s->refs[i].value_len);
			assert_memory_equal(r.value, s->refs[i].value, r.value_len);
		}
	}
	assert_int_equal(buf_printf(&ss->out, "%s|", s->name), 0);
	for (size_t i = 0; i < s->nrefs; i++) {
		assert_true(s->refs[i].value_len > 0);
		assert_true(i == 0 || memcmp(s->refs[i - 1].name, s->refs[i].name,
					     s->refs[i - 1].name_len < s->refs[i].name_len ?
					     s->refs[i - 1].name_len : s->refs[i].name_len) <= 0);
		assert_int_equal(buf_add(&ss->out, s->refs[i].name, s->refs[i].name_len), 0);
		assert_int_equal(buf_addc(&ss->out, '\x01'), 0);
		assert_int_equal(buf_add(&ss->out, s->refs[i].value, s->refs[i].value_len), 0);
		assert_int_equal(buf_addc(&ss->out, '\x02'), 0);
	}
	return buf_addc(&ss->out, '\n');
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void random_doc(struct buf *b, uint64_t *seed, int lines)
{
	static const char *const names[] = { "a", "ab", "b", "job", "instance", "namespace", "node", "pod", "x", "z_" };
	static const char *const vals[] = { "", "1", "v", "a\\\"b", "back\\\\slash", "nl\\nx", "\xc3\xa9t\xc3\xa9",
					    "long-value-0123456789-0123456789-0123456789", "}{,=" };

	for (int l = 0; l < lines; l++) {
		int nl = (int)(rnd(seed) % 7);

		bool braces = nl || rnd(seed) % 2;

		assert_int_equal(buf_printf(b, "m%d%s", (int)(rnd(seed) % 3), braces ? "{" : ""), 0);
		for (int k = 0; k < nl; k++) {
			const char *sep = rnd(seed) % 8 ? "" : " ";

			assert_int_equal(buf_printf(b, "%s%s%s=%s\"%s\"", k ? "," : "", sep,
						    names[rnd(seed) % (sizeof(names) / sizeof(names[0]))], sep,
						    vals[rnd(seed) % (sizeof(vals) / sizeof(vals[0]))]), 0);
		}
		if (nl && rnd(seed) % 8 == 0)
			assert_int_equal(buf_addc(b, ','), 0);
		if (braces)
			assert_int_equal(buf_addc(b, '}'), 0);
		assert_int_equal(buf_printf(b, " %d\n", l), 0);
	}
}

static void parse_chunks(struct slice_seen *ss, const struct buf *doc, uint64_t seed)
{
	struct expo_parser_cb cb = { .sample = slice_sample, .ctx = ss };
	struct expo_parser *p = expo_parser_new(NULL, &cb);
	size_t off = 0;

	assert_non_null(p);
	expo_parser_label_set(p, ss->set);
	while (off < doc->len) {
		size_t n = 1 + rnd(&seed) % 300;

		if (n > doc->len - off)
			n = doc->len - off;
		assert_int_equal(expo_parser_feed(p, doc->data + off, n), 0);
		off += n;
	}
	assert_int_equal(expo_parser_finish(p), 0);
	expo_parser_free(p);
}

static void test_slices_match_set(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct slice_seen with = { .set = true }, without = { .set = false };
		uint64_t x = seed * 0x9e3779b97f4a7c15ull;
		struct buf doc;

		buf_init(&doc, 1 << 22);
		buf_init(&with.out, 1 << 22);
		buf_init(&without.out, 1 << 22);
		random_doc(&doc, &x, 400);
		parse_chunks(&with, &doc, seed);
		parse_chunks(&without, &doc, seed + 1000);
		assert_true(with.samples > 100); /* most lines are samples (duplicates are not) */
		assert_int_equal(with.samples, without.samples);
		assert_int_equal(with.out.len, without.out.len);
		assert_memory_equal(with.out.data, without.out.data, with.out.len);
		buf_fini(&doc);
		buf_fini(&with.out);
		buf_fini(&without.out);
	}
}

/* A name's family is looked up again after metadata (the same sample name
 * belongs to another family once a TYPE declares its base) and for every
 * other name. */
struct fam_seen {
	int n;
	char fam[2][16];
	enum expo_ftype type[2];
};

static int fam_sample(void *ctx, const struct expo_sample_ev *s)
{
	struct fam_seen *fs = ctx;

	if (fs->n < 2) {
		snprintf(fs->fam[fs->n], sizeof(fs->fam[0]), "%s", s->family);
		fs->type[fs->n] = s->type;
	}
	fs->n++;
	return 0;
}

static void test_family_after_metadata(void **state)
{
	static const char doc[] = "# HELP m h\nm_sum 1\n# TYPE m summary\nm_sum 2\n";
	struct fam_seen fs = { 0 };
	struct expo_parser_cb cb = { .sample = fam_sample, .ctx = &fs };
	struct expo_parse_stats st;

	(void)state;
	assert_int_equal(expo_parse_buffer(NULL, &cb, doc, strlen(doc), &st), 0);
	assert_int_equal(fs.n, 2);
	assert_string_equal(fs.fam[0], "m_sum");
	assert_int_equal(fs.type[0], EXPO_FT_UNTYPED);
	assert_string_equal(fs.fam[1], "m");
	assert_int_equal(fs.type[1], EXPO_FT_SUMMARY);
	/* A name of the same length is another name. */
	memset(&fs, 0, sizeof(fs));
	assert_int_equal(expo_parse_buffer(NULL, &cb, "# TYPE a counter\na 1\nb 2\n", 25, &st), 0);
	assert_int_equal(fs.n, 2);
	assert_string_equal(fs.fam[1], "b");
	assert_int_equal(fs.type[1], EXPO_FT_UNTYPED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_golden),
		cmocka_unit_test(test_openmetrics_golden),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_metadata_rules),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_chunk_splits),
		cmocka_unit_test(test_abort_and_reuse),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_integer_values),
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_family_after_metadata),
		cmocka_unit_test(test_slices_match_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
