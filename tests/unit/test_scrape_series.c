/* Series ids of push-only scrapes (scrape/series.h): an id is a function
 * of the name and the pairs (boundaries included), a blob's ids are those
 * of its samples in order under their names, and scrape_series_added from
 * ids matches the set semantics of blob_series_added: same order, other
 * order, new, gone, duplicates, no previous scrape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "scrape/blob.h"
#include "scrape/scache.h"
#include "scrape/series.h"

static uint64_t id(const char *name, const char *pairs)
{
	return series_id(name, strlen(name), pairs, strlen(pairs));
}

static void test_id(void **state)
{
	(void)state;
	assert_true(id("m", "a=\"1\"") == id("m", "a=\"1\""));
	/* the boundary between name and pairs counts */
	assert_true(id("ab", "c") != id("a", "bc"));
	assert_true(id("m", "") != id("m_", ""));
	assert_true(id("m", "a=\"1\"") != id("m", "a=\"2\""));
	/* every byte of a long label text counts, the tail too */
	assert_true(id("m", "abcdefgh12345678x") != id("m", "abcdefgh12345678y"));
	assert_true(id("m", "abcdefgx12345678x") != id("m", "abcdefgh12345678x"));
}

/* One sample record; prev: the blob's last pairs (blob.h front coding). */
static void put(struct buf *b, struct buf *prev, const char *pairs)
{
	size_t mark;

	assert_int_equal(blob_sample_open(b, &mark), 0);
	assert_int_equal(buf_adds(b, pairs), 0);
	assert_int_equal(blob_sample_pairs_end(b, mark, prev), 0);
	assert_int_equal(buf_adds(b, " 1\n"), 0);
	assert_int_equal(blob_sample_close(b, mark), 0);
}

static void test_ids_of_blob(void **state)
{
	struct buf b, prev;
	uint64_t *v;
	size_t n;

	(void)state;
	buf_init(&b, 1 << 20);
	buf_init(&prev, BLOB_PAIRS_MAX);
	assert_null(series_ids_of_blob(b.data, 0, &n));
	assert_int_equal(n, 0);
	assert_int_equal(buf_adds(&b, "# TYPE m counter\n"), 0);
	assert_int_equal(blob_put_name(&b, "m", 1), 0);
	put(&b, &prev, "a=\"1\"");
	put(&b, &prev, "a=\"2\""); /* stored as 2" after 3 bytes of a="1" */
	assert_int_equal(blob_put_name(&b, "g", 1), 0);
	put(&b, &prev, "");
	v = series_ids_of_blob(b.data, b.len, &n);
	assert_non_null(v);
	assert_int_equal(n, 3);
	assert_true(v[0] == id("m", "a=\"1\""));
	assert_true(v[1] == id("m", "a=\"2\""));
	assert_true(v[2] == id("g", ""));
	free(v);
	buf_fini(&b);
	buf_fini(&prev);
}

static void test_added(void **state)
{
	const uint64_t p[] = { 5, 3, 9 };
	const uint64_t same[] = { 5, 3, 9 };
	const uint64_t moved[] = { 9, 5, 3 };
	const uint64_t one_new[] = { 3, 7, 9, 5 };
	const uint64_t dup_new[] = { 8, 8, 3 };
	const uint64_t fewer[] = { 9 };

	(void)state;
	assert_int_equal(series_ids_added(p, 3, same, 3), 0);
	assert_int_equal(series_ids_added(p, 3, moved, 3), 0);
	assert_int_equal(series_ids_added(p, 3, one_new, 4), 1);
	assert_int_equal(series_ids_added(p, 3, dup_new, 3), 1);
	assert_int_equal(series_ids_added(p, 3, fewer, 1), 0);
	assert_int_equal(series_ids_added(NULL, 0, p, 3), 3);
	assert_int_equal(series_ids_added(NULL, 0, dup_new, 3), 2);
	assert_int_equal(series_ids_added(p, 3, NULL, 0), 0);
	/* the caller's arrays are left as they were */
	assert_true(p[0] == 5 && moved[0] == 9);
}

/* The removed count staleness markers start from: none while the same
 * series come back in any order, each vanished distinct one once. */
static void test_removed(void **state)
{
	const uint64_t p[] = { 5, 3, 9, 3 };
	const uint64_t moved[] = { 9, 5, 3 };
	const uint64_t one_gone[] = { 9, 3, 7 };
	const uint64_t two_gone[] = { 3 };
	uint64_t removed = 42;

	(void)state;
	assert_int_equal(series_ids_diff(p, 4, p, 4, &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(series_ids_diff(p, 4, moved, 3, &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(series_ids_diff(p, 4, one_gone, 3, &removed), 1);
	assert_int_equal(removed, 1);
	assert_int_equal(series_ids_diff(p, 4, two_gone, 1, &removed), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(series_ids_diff(NULL, 0, p, 4, &removed), 3);
	assert_int_equal(removed, 0);
	assert_int_equal(series_ids_diff(p, 4, NULL, 0, &removed), 0);
	assert_true(removed > 0);
}

/* The series cache (scrape/scache.h): a scrape's hashes are looked up
 * position by position once committed, only under the context they were
 * built in; a scrape that did not record every sample, one that ended
 * without a commit (aborted) or went past the cap keeps nothing; the
 * context tells target labels, honorLabels, the forced namespace and
 * splicing apart. */
static void sc_scrape(struct scache *c, uint64_t ctx, const char *const *text, size_t n, bool *hit)
{
	scache_begin(c, true, ctx);
	for (size_t k = 0; k < n; k++) {
		uint64_t h = scache_hash(text[k], strlen(text[k]));

		hit[k] = scache_hit(c, h);
		scache_add(c, h);
	}
}

static void test_scache(void **state)
{
	static const char *const a[] = { "m{a=\"1\"}", "m{a=\"2\"}", "n" };
	static const char *const b[] = { "m{a=\"1\"}", "m{a=\"3\"}", "n", "o" };
	struct scache c = { 0 };
	struct tlabels tl, tl2;
	bool hit[4];
	uint64_t ctx;

	(void)state;
	tl_init(&tl);
	tl_init(&tl2);
	assert_int_equal(tl_set(&tl, "job", "j"), 0);
	assert_int_equal(tl_set(&tl2, "job", "k"), 0);
	ctx = scache_ctx(&tl, false, false, true);
	assert_true(ctx == scache_ctx(&tl, false, false, true));
	assert_true(ctx != scache_ctx(&tl2, false, false, true));
	assert_true(ctx != scache_ctx(&tl, true, false, true));
	assert_true(ctx != scache_ctx(&tl, false, true, true));
	assert_true(ctx != scache_ctx(&tl, false, false, false));
	/* nothing kept yet */
	sc_scrape(&c, ctx, a, 3, hit);
	assert_false(hit[0] || hit[1] || hit[2]);
	scache_commit(&c, 3);
	assert_int_equal(c.nlast, 3);
	assert_true(scache_bytes(&c) >= 3 * sizeof(uint64_t));
	/* same position, same text: hit; a byte changed, or a position past
	 * the last scrape's: miss */
	sc_scrape(&c, ctx, b, 4, hit);
	assert_true(hit[0] && !hit[1] && hit[2] && !hit[3]);
	scache_commit(&c, 4);
	assert_int_equal(c.nlast, 4);
	sc_scrape(&c, ctx, b, 4, hit);
	assert_true(hit[0] && hit[1] && hit[2] && hit[3]);
	scache_commit(&c, 4);
	/* another context: no hit, even for the same texts */
	sc_scrape(&c, scache_ctx(&tl2, false, false, true), b, 4, hit);
	assert_false(hit[0] || hit[1] || hit[2] || hit[3]);
	/* a scrape that kept a sample it did not record: nothing kept */
	scache_commit(&c, 5);
	assert_int_equal(c.nlast, 0);
	assert_int_equal(scache_bytes(&c), 0);
	sc_scrape(&c, ctx, a, 3, hit);
	assert_false(hit[0]);
	scache_commit(&c, 3);
	/* an aborted scrape (ended, not committed) overwrote some entries:
	 * nothing kept */
	sc_scrape(&c, ctx, b, 2, hit);
	assert_true(hit[0] && !hit[1]);
	scache_end(&c);
	assert_int_equal(c.nlast, 0);
	sc_scrape(&c, ctx, a, 3, hit);
	assert_false(hit[0] || hit[1] || hit[2]);
	scache_commit(&c, 3);
	/* off: no lookup, nothing recorded; what was kept stays */
	scache_begin(&c, false, ctx);
	assert_false(scache_hit(&c, scache_hash(a[0], strlen(a[0]))));
	scache_add(&c, 1);
	assert_int_equal(c.n, 0);
	scache_end(&c);
	assert_int_equal(c.nlast, 3);
	/* a target that shrank gives the memory back */
	{
		static const char *t[4096];
		static bool hits[4096];

		for (size_t k = 0; k < 4096; k++)
			t[k] = "x";
		sc_scrape(&c, ctx, t, 4096, hits);
		scache_commit(&c, 4096);
		assert_true(scache_bytes(&c) >= 4096 * sizeof(uint64_t));
		sc_scrape(&c, ctx, a, 3, hit);
		scache_commit(&c, 3);
		assert_true(scache_bytes(&c) < 4096 * sizeof(uint64_t));
	}
	/* forget */
	scache_forget(&c);
	assert_int_equal(c.nlast, 0);
	/* the cap: one past it and the scrape stops recording */
	scache_begin(&c, true, ctx);
	for (size_t k = 0; k <= SCACHE_MAX_SERIES; k++)
		scache_add(&c, k);
	assert_false(c.on);
	scache_commit(&c, SCACHE_MAX_SERIES + 1);
	assert_int_equal(c.nlast, 0);
	scache_fini(&c);
	tl_fini(&tl);
	tl_fini(&tl2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_ids_of_blob),
		cmocka_unit_test(test_added),
		cmocka_unit_test(test_removed),
		cmocka_unit_test(test_scache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
