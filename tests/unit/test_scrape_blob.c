/* The stored form of scraped samples (scrape/blob.h): records read back as
 * written, pairs front-coded against the previous sample's, length caps,
 * and scrape_series_added between two blobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "scrape/blob.h"

/* Appends one sample record: pairs and value text as given; prev is the
 * blob's last pairs. */
static void put_sample(struct buf *b, struct buf *prev, const char *pairs, const char *value)
{
	size_t mark;

	assert_int_equal(blob_sample_open(b, &mark), 0);
	assert_int_equal(buf_adds(b, pairs), 0);
	assert_int_equal(blob_sample_pairs_end(b, mark, prev), 0);
	assert_int_equal(buf_adds(b, value), 0);
	assert_int_equal(blob_sample_close(b, mark), 0);
}

/* A blob from a compact description: "#..." a metadata line, "=name" a
 * name record, anything else the pairs of a sample with value " 1\n". */
static void build(struct buf *b, const char *const *spec, size_t n)
{
	struct buf prev;

	buf_init(b, 1 << 20);
	buf_init(&prev, BLOB_PAIRS_MAX);
	for (size_t i = 0; i < n; i++) {
		if (spec[i][0] == '#') {
			assert_int_equal(buf_adds(b, spec[i]), 0);
			assert_int_equal(buf_addc(b, '\n'), 0);
		} else if (spec[i][0] == '=') {
			assert_int_equal(blob_put_name(b, spec[i] + 1, strlen(spec[i] + 1)), 0);
		} else {
			put_sample(b, &prev, spec[i], " 1\n");
		}
	}
	buf_fini(&prev);
}

static void test_records_round_trip(void **state)
{
	struct buf b, prev, pairs;
	struct blob_rec r;
	const char *p, *end;

	(void)state;
	buf_init(&b, 1 << 16);
	buf_init(&prev, BLOB_PAIRS_MAX);
	buf_init(&pairs, BLOB_PAIRS_MAX);
	assert_int_equal(buf_adds(&b, "# TYPE a_total counter\n"), 0);
	assert_int_equal(blob_put_name(&b, "a_total", 7), 0);
	put_sample(&b, &prev, "x=\"1\",y=\"2\"", " 5 1700000000000\n");
	put_sample(&b, &prev, "", " 6\n");
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
	assert_int_equal(r.shared, 0);
	assert_int_equal(r.alen, strlen("x=\"1\",y=\"2\""));
	assert_memory_equal(r.a, "x=\"1\",y=\"2\"", r.alen);
	assert_int_equal(blob_pairs(&pairs, &r), 0);
	assert_string_equal(buf_cstr(&pairs), "x=\"1\",y=\"2\"");
	assert_int_equal(r.vlen, strlen(" 5 1700000000000\n"));
	assert_memory_equal(r.v, " 5 1700000000000\n", r.vlen);
	assert_true(blob_next(&p, end, &r));
	assert_int_equal(r.kind, BLOB_REC_SAMPLE);
	assert_int_equal(r.alen, 0);
	assert_int_equal(blob_pairs(&pairs, &r), 0);
	assert_int_equal(pairs.len, 0);
	assert_memory_equal(r.v, " 6\n", 3);
	assert_ptr_equal(p, end);
	/* A cut record is not read past the end. */
	for (size_t cut = 1; cut < b.len; cut++) {
		const char *q = b.data;
		while (q < b.data + cut && blob_next(&q, b.data + cut, &r))
			assert_true(q <= b.data + cut);
	}
	buf_fini(&b);
	buf_fini(&prev);
	buf_fini(&pairs);
}

/* The pairs of every sample read back from a blob of the given samples,
 * each checked; the stored bytes returned. */
static size_t round_trip(const char *const *spec, size_t n)
{
	struct buf b, prev, pairs;
	struct blob_rec r;
	const char *p, *end;
	size_t k = 0, len;

	build(&b, spec, n);
	buf_init(&pairs, BLOB_PAIRS_MAX);
	buf_init(&prev, BLOB_PAIRS_MAX);
	p = b.data;
	end = b.data + b.len;
	while (p < end) {
		assert_true(blob_next(&p, end, &r));
		if (r.kind != BLOB_REC_SAMPLE)
			continue;
		while (spec[k][0] == '=' || spec[k][0] == '#')
			k++;
		assert_int_equal(blob_pairs(&pairs, &r), 0);
		assert_string_equal(buf_cstr(&pairs), spec[k]);
		assert_int_equal(r.vlen, 3);
		assert_memory_equal(r.v, " 1\n", 3);
		k++;
	}
	assert_int_equal(k, n);
	/* A record sharing more than its reader holds is refused. */
	p = b.data;
	while (p < end && blob_next(&p, end, &r)) {
		buf_reset(&prev);
		if (r.kind == BLOB_REC_SAMPLE && r.shared)
			assert_int_equal(blob_pairs(&prev, &r), KM_EINVAL);
	}
	len = b.len;
	buf_fini(&b);
	buf_fini(&pairs);
	buf_fini(&prev);
	return len;
}

/* Front coding: each sample stores what follows the longest prefix it
 * shares with the previous one, across names too; lengths of 128 and more
 * take a second varint byte. */
static void test_front_coding(void **state)
{
	static char l1[400], l2[400], l3[400];
	const char *const run[] = { "m=\"GET\",path=\"/item122\",code=\"200\"",
				    "m=\"GET\",path=\"/item123\",code=\"200\"",
				    "m=\"GET\",path=\"/item124\",code=\"200\"" };
	const char *const other[] = { "m=\"GET\",path=\"/item122\",code=\"200\"", "z=\"1\"",
				      "m=\"GET\",path=\"/item124\",code=\"200\"" };
	const char *const spec[] = { "=a", "k=\"12\"", "k=\"13\"", "=b", "k=\"13\"", "", "k=\"1\"", "k=\"1\"" };
	const char *const longs[] = { l1, l2, l3, "" };
	size_t whole = 1 + 1 + 1 + strlen(run[0]) + 1 + 3; /* tag, 2 varints, pairs, value */
	size_t suffix = strlen("4\",code=\"200\"");

	(void)state;
	/* The second and third store 3",code="200" and 4",code="200" (13 bytes). */
	assert_int_equal(round_trip(run, 3), whole + 2 * (whole - strlen(run[0]) + suffix));
	/* Shared with the one just before, not with the run's first. */
	assert_int_equal(round_trip(other, 3), 2 * whole + (whole - strlen(run[0]) + strlen(other[1])));
	round_trip(spec, 8);
	memset(l1, 'a', 300);
	memcpy(l2, l1, 300);
	memset(l2 + 300, 'b', 30);
	memset(l3, 'a', 200);
	/* Lengths of 128 and more (300, 300 shared, 200 shared) take two varint
	 * bytes. */
	assert_int_equal(round_trip(longs, 4), (1 + 1 + 2 + 300 + 4) + (1 + 2 + 1 + 30 + 4) + (1 + 2 + 1 + 0 + 4) +
						       (1 + 1 + 1 + 4));
}

static void test_caps(void **state)
{
	static char big[BLOB_NAME_MAX + 2];
	struct buf b, prev;
	size_t mark;

	(void)state;
	buf_init(&b, 1 << 20);
	buf_init(&prev, BLOB_PAIRS_MAX);
	memset(big, 'a', sizeof(big) - 1);
	assert_int_equal(blob_put_name(&b, big, BLOB_NAME_MAX + 1), KM_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_int_equal(blob_put_name(&b, big, BLOB_NAME_MAX), 0);
	buf_reset(&b);
	assert_int_equal(blob_sample_open(&b, &mark), 0);
	assert_int_equal(blob_sample_pairs_end(&b, mark, &prev), 0);
	assert_int_equal(buf_add(&b, big, BLOB_VALUE_MAX + 1), 0);
	assert_int_equal(blob_sample_close(&b, mark), KM_ETOOBIG);
	buf_truncate(&b, b.len - 1);
	assert_int_equal(blob_sample_close(&b, mark), 0);
	buf_fini(&b);
	buf_fini(&prev);
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
	{
		/* k="ac" and k="c" are stored alike (c" after 4 and 3 bytes
		 * of k="ab"): the shared length tells them apart. */
		const char *const ac[] = { "=a", "k=\"ab\"", "k=\"ac\"" };
		const char *const c[] = { "=a", "k=\"ab\"", "k=\"c\"" };
		assert_int_equal(added(ac, 3, c, 3), 1);
		assert_int_equal(added(ac, 3, ac, 3), 0);
	}
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
		cmocka_unit_test(test_front_coding),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_series_added),
		cmocka_unit_test(test_series_removed),
	};
	return cmocka_run_group_tests_name("scrape_blob", tests, NULL, NULL);
}
