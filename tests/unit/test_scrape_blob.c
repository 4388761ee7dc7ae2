/* The stored form of scraped samples (scrape/blob.h): records read back as
 * written, length caps, and scrape_series_added between two blobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "scrape/blob.h"

/* Appends one sample record: pairs and value text as given. */
static void put_sample(struct buf *b, const char *pairs, const char *value)
{
	size_t mark;

	assert_int_equal(blob_sample_open(b, &mark), 0);
	assert_int_equal(buf_adds(b, pairs), 0);
	assert_int_equal(blob_sample_pairs_end(b, mark), 0);
	assert_int_equal(buf_adds(b, value), 0);
	assert_int_equal(blob_sample_close(b, mark), 0);
}

/* A blob from a compact description: "#..." a metadata line, "=name" a
 * name record, anything else the pairs of a sample with value " 1\n". */
static void build(struct buf *b, const char *const *spec, size_t n)
{
	buf_init(b, 1 << 20);
	for (size_t i = 0; i < n; i++) {
		if (spec[i][0] == '#') {
			assert_int_equal(buf_adds(b, spec[i]), 0);
			assert_int_equal(buf_addc(b, '\n'), 0);
		} else if (spec[i][0] == '=') {
			assert_int_equal(blob_put_name(b, spec[i] + 1, strlen(spec[i] + 1)), 0);
		} else {
			put_sample(b, spec[i], " 1\n");
		}
	}
}

static void test_records_round_trip(void **state)
{
	struct buf b;
	struct blob_rec r;
	const char *p, *end;

	(void)state;
	buf_init(&b, 1 << 16);
	assert_int_equal(buf_adds(&b, "# TYPE a_total counter\n"), 0);
	assert_int_equal(blob_put_name(&b, "a_total", 7), 0);
	put_sample(&b, "x=\"1\",y=\"2\"", " 5 1700000000000\n");
	put_sample(&b, "", " 6\n");
	p = b.data;
	end = b.data + b.len;
	assert_true(blob_next(&p, end, &r));
	assert_int_equal(r.kind, BLOB_REC_META);
	assert_int_equal(r.alen, strlen("# TYPE a_total counter\n"));
	assert_true(blob_next(&p, end, &r));
	assert_int_equal(r.kind, BLOB_REC_NAME);
	assert_int_equal(r.alen, 7);
	assert_memory_equal(r.a, "a_total", 7);
	assert_true(blob_next(&p, end, &r));
	assert_int_equal(r.kind, BLOB_REC_SAMPLE);
	assert_int_equal(r.alen, strlen("x=\"1\",y=\"2\""));
	assert_memory_equal(r.a, "x=\"1\",y=\"2\"", r.alen);
	assert_int_equal(r.vlen, strlen(" 5 1700000000000\n"));
	assert_memory_equal(r.v, " 5 1700000000000\n", r.vlen);
	assert_true(blob_next(&p, end, &r));
	assert_int_equal(r.kind, BLOB_REC_SAMPLE);
	assert_int_equal(r.alen, 0);
	assert_memory_equal(r.v, " 6\n", 3);
	assert_ptr_equal(p, end);
	/* A cut record is not read past the end. */
	for (size_t cut = 1; cut < b.len; cut++) {
		const char *q = b.data;
		while (q < b.data + cut && blob_next(&q, b.data + cut, &r))
			assert_true(q <= b.data + cut);
	}
	buf_fini(&b);
}

static void test_caps(void **state)
{
	static char big[BLOB_NAME_MAX + 2];
	struct buf b;
	size_t mark;

	(void)state;
	buf_init(&b, 1 << 20);
	memset(big, 'a', sizeof(big) - 1);
	assert_int_equal(blob_put_name(&b, big, BLOB_NAME_MAX + 1), KM_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_int_equal(blob_put_name(&b, big, BLOB_NAME_MAX), 0);
	buf_reset(&b);
	assert_int_equal(blob_sample_open(&b, &mark), 0);
	assert_int_equal(blob_sample_pairs_end(&b, mark), 0);
	assert_int_equal(buf_add(&b, big, BLOB_VALUE_MAX + 1), 0);
	assert_int_equal(blob_sample_close(&b, mark), KM_ETOOBIG);
	buf_fini(&b);
}

static uint64_t added(const char *const *prev, size_t np, const char *const *cur, size_t nc)
{
	struct buf a, b;
	uint64_t n;

	build(&a, prev, np);
	build(&b, cur, nc);
	n = blob_series_added(np ? a.data : NULL, a.len, b.data, b.len);
	buf_fini(&a);
	buf_fini(&b);
	return n;
}

static void test_series_added(void **state)
{
	const char *const base[] = { "# TYPE a counter", "=a", "k=\"1\"", "k=\"2\"", "=b", "k=\"1\"" };
	const char *const same[] = { "=a", "k=\"1\"", "k=\"2\"", "=b", "k=\"1\"" };
	const char *const reordered[] = { "=b", "k=\"1\"", "=a", "k=\"2\"", "k=\"1\"" };
	const char *const one_new[] = { "=a", "k=\"1\"", "k=\"3\"", "=b", "k=\"1\"" };
	const char *const renamed[] = { "=a", "k=\"1\"", "k=\"2\"", "=c", "k=\"1\"" };
	const char *const dup_new[] = { "=a", "k=\"1\"", "k=\"2\"", "=b", "k=\"1\"", "=d", "", "" };
	const char *const split1[] = { "=ab", "" };
	const char *const split2[] = { "=a", "b" };

	(void)state;
	assert_int_equal(added(base, 6, same, 5), 0);      /* metadata is no series */
	assert_int_equal(added(base, 6, reordered, 5), 0); /* a set, not positions */
	assert_int_equal(added(base, 6, one_new, 5), 1);   /* same count, one differs */
	assert_int_equal(added(base, 6, renamed, 5), 1);   /* same pairs, other name */
	assert_int_equal(added(base, 6, dup_new, 8), 1);   /* a repeated new series once */
	assert_int_equal(added(base, 6, base, 3), 0);      /* fewer: none new */
	assert_int_equal(added(NULL, 0, dup_new, 8), 4);   /* no last scrape: distinct ones */
	assert_int_equal(added(split1, 2, split2, 2), 1);  /* name and pairs kept apart */
}

static uint64_t removed(const char *const *prev, size_t np, const char *const *cur, size_t nc)
{
	struct buf a, b;
	uint64_t n = 42;

	build(&a, prev, np);
	build(&b, cur, nc);
	(void)blob_series_diff(np ? a.data : NULL, a.len, b.data, b.len, &n);
	buf_fini(&a);
	buf_fini(&b);
	return n;
}

/* Series of the last scrape not in this one, for staleness markers. */
static void test_series_removed(void **state)
{
	const char *const base[] = { "# TYPE a counter", "=a", "k=\"1\"", "k=\"2\"", "=b", "k=\"1\"" };
	const char *const same[] = { "=a", "k=\"1\"", "k=\"2\"", "=b", "k=\"1\"" };
	const char *const reordered[] = { "=b", "k=\"1\"", "=a", "k=\"2\"", "k=\"1\"" };
	const char *const one_new[] = { "=a", "k=\"1\"", "k=\"3\"", "=b", "k=\"1\"" };
	const char *const renamed[] = { "=a", "k=\"1\"", "k=\"2\"", "=c", "k=\"1\"" };
	const char *const none[] = { "# TYPE a counter" };

	(void)state;
	assert_int_equal(removed(base, 6, same, 5), 0);
	assert_int_equal(removed(base, 6, reordered, 5), 0);
	assert_int_equal(removed(base, 6, one_new, 5), 1); /* k="2" replaced */
	assert_int_equal(removed(base, 6, renamed, 5), 1); /* b gone */
	assert_int_equal(removed(base, 6, base, 3), 2);    /* fewer */
	assert_int_equal(removed(base, 6, none, 1), 3);    /* all gone */
	assert_int_equal(removed(NULL, 0, base, 6), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_round_trip),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_series_added),
		cmocka_unit_test(test_series_removed),
	};
	return cmocka_run_group_tests_name("scrape_blob", tests, NULL, NULL);
}
