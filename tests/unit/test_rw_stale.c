/* Staleness markers from encoded chunks (remotewrite/stale.h): which
 * series of the last scrape get one, with which labels, value and time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "dl/snappy.h"
#include "expo/writer.h"
#include "remotewrite/chunks.h"
#include "remotewrite/encode.h"
#include "remotewrite/pb.h"
#include "remotewrite/stale.h"

/* Chunks of series named names[i] (labels job="j", x=<i>), at ts[i]. */
static struct rw_chunks *chunks(const char *const *names, const int64_t *ts, size_t n)
{
	struct rw_chunker c;
	struct rw_chunks *k;
	int rc;

	rw_chunker_init(&c);
	for (size_t i = 0; i < n; i++) {
		struct rw_label l[3] = {
			{ "__name__", 8, names[i], strlen(names[i]) },
			{ "job", 3, "j", 1 },
			{ "x", 1, names[i], strlen(names[i]) },
		};

		assert_int_equal(rw_chunker_series(&c, l, 3, 1.5, ts[i]), 0);
	}
	k = rw_chunker_take(&c, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(k);
	rw_chunker_fini(&c);
	return k;
}

/* The WriteRequest of k, decoded back to bytes. */
static void decode(const struct rw_chunks *k, struct buf *pb)
{
	struct rw_chunk_ref ch;
	size_t off = 0;

	buf_reset(pb);
	while (rw_chunks_next(k, &off, &ch)) {
		char in[1 << 16];
		size_t n = 0, v = ch.raw, out = ch.raw;

		do {
			in[n++] = (char)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
			v >>= 7;
		} while (v);
		assert_true(n + ch.zlen <= sizeof(in));
		memcpy(in + n, ch.z, ch.zlen);
		assert_int_equal(buf_reserve(pb, ch.raw), 0);
		assert_int_equal(dl_snappy.uncompress(in, n + ch.zlen, pb->data + pb->len, &out), SNAPPY_OK);
		pb->len += out;
	}
}

/* The bytes rw_pb_series writes for series name with value v at ts. */
static void expect(struct buf *b, const char *name, double v, int64_t ts)
{
	struct rw_label l[3] = {
		{ "__name__", 8, name, strlen(name) },
		{ "job", 3, "j", 1 },
		{ "x", 1, name, strlen(name) },
	};

	assert_int_equal(rw_pb_series(b, l, 3, v, ts), 0);
}

static double stale_nan(void)
{
	uint64_t bits = RW_STALE_NAN_BITS;
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

static int setup(void **state)
{
	char err[256];

	(void)state;
	return dl_snappy_load(err, sizeof(err));
}

/* b vanished: exactly one marker, b's labels, StaleNaN, at the new time;
 * d (own timestamp) gets none; a and c are still there. */
static void test_vanished(void **state)
{
	const char *const prev_n[] = { "a", "b", "c", "d" };
	const int64_t prev_ts[] = { 1000, 1000, 1000, 500 };
	const char *const cur_n[] = { "c", "a" };
	const int64_t cur_ts[] = { 2000, 2000 };
	struct rw_chunks *prev = chunks(prev_n, prev_ts, 4), *cur = chunks(cur_n, cur_ts, 2), *mk;
	struct buf got, want;
	int rc = 1;

	(void)state;
	buf_init(&got, 1 << 20);
	buf_init(&want, 1 << 20);
	mk = rw_stale_markers(prev, 1000, cur, 2000, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(mk);
	assert_int_equal(mk->series, 1);
	decode(mk, &got);
	expect(&want, "b", stale_nan(), 2000);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	assert_true(rw_is_stale_nan(stale_nan()));
	assert_false(rw_is_stale_nan(__builtin_nan("")));
	rw_chunks_unref(mk);
	rw_chunks_unref(prev);
	rw_chunks_unref(cur);
	buf_fini(&got);
	buf_fini(&want);
}

/* Nothing vanished (same series, other order): no chunks, no error. */
static void test_nothing_vanished(void **state)
{
	const char *const prev_n[] = { "a", "b" };
	const char *const cur_n[] = { "b", "a", "new" };
	const int64_t ts[] = { 1000, 1000, 1000 };
	struct rw_chunks *prev = chunks(prev_n, ts, 2), *cur = chunks(cur_n, ts, 3);
	int rc = 1;

	(void)state;
	assert_null(rw_stale_markers(prev, 1000, cur, 2000, &rc));
	assert_int_equal(rc, 0);
	rw_chunks_unref(prev);
	rw_chunks_unref(cur);
}

/* No current scrape (target removed): every series at the scrape's time,
 * in order, across chunk boundaries (RW_CHUNK_SERIES). */
static void test_all_gone(void **state)
{
	enum { N = 2 * RW_CHUNK_SERIES + 7 };
	const char **names = calloc(N, sizeof(*names));
	int64_t *ts = calloc(N, sizeof(*ts));
	char (*mem)[16] = calloc(N, sizeof(*mem));
	struct rw_chunks *prev, *mk;
	struct buf got, want;
	int rc = 1;

	(void)state;
	assert_non_null(names);
	assert_non_null(ts);
	assert_non_null(mem);
	buf_init(&got, 64 << 20);
	buf_init(&want, 64 << 20);
	for (int i = 0; i < N; i++) {
		snprintf(mem[i], sizeof(mem[i]), "s%d", i);
		names[i] = mem[i];
		ts[i] = 1000;
	}
	prev = chunks(names, ts, N);
	assert_true(prev->n > 2);
	mk = rw_stale_markers(prev, 1000, NULL, 1001, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(mk);
	assert_int_equal(mk->series, N);
	decode(mk, &got);
	for (int i = 0; i < N; i++)
		expect(&want, names[i], stale_nan(), 1001);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	rw_chunks_unref(mk);
	rw_chunks_unref(prev);
	buf_fini(&got);
	buf_fini(&want);
	free(names);
	free(ts);
	free(mem);
}

/* rw_chunks_cat: a's chunks then b's, decoding to both WriteRequests. */
static void test_cat(void **state)
{
	const char *const an[] = { "a" }, *const bn[] = { "b", "c" };
	const int64_t ts[] = { 7, 7 };
	struct rw_chunks *a = chunks(an, ts, 1), *b = chunks(bn, ts, 2), *c;
	struct buf got, want;
	int rc = 1;

	(void)state;
	buf_init(&got, 1 << 20);
	buf_init(&want, 1 << 20);
	c = rw_chunks_cat(a, b, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(c->series, 3);
	assert_int_equal(c->n, 2);
	decode(c, &got);
	expect(&want, "a", 1.5, 7);
	expect(&want, "b", 1.5, 7);
	expect(&want, "c", 1.5, 7);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	rw_chunks_unref(c);
	c = rw_chunks_cat(NULL, b, &rc);
	assert_int_equal(c->series, 2);
	rw_chunks_unref(c);
	rw_chunks_unref(a);
	rw_chunks_unref(b);
	buf_fini(&got);
	buf_fini(&want);
}

/* The rendered sections (rw_track through the encoder, as rw.c drives
 * it): a cadvisor section whose text loses a container row between
 * cycles. */
static const struct label_pair cad_labels[] = {
	{ "job", "kubelet" }, { "metrics_path", "/metrics/cadvisor" }, { "instance", "n1" }, { "node", "n1" },
};
static const struct rw_target cad = { cad_labels, 4, true };
static const struct label_pair ext_labels[] = { { "cluster", "c1" } };

static int drop_block(void *ctx, const char *pb, size_t len, size_t series)
{
	(void)ctx;
	(void)pb;
	(void)len;
	(void)series;
	return 0;
}

/* One cycle of the section: text encoded at ts; the markers (NULL: none)
 * and their count. */
static struct rw_chunks *cycle(struct rw_encoder *e, struct rw_track *t, const char *text, int64_t ts, uint64_t *n)
{
	struct rw_chunks *mk;
	int rc = 1;

	rw_encoder_begin(e, &cad, ts);
	rw_track_begin(t);
	rw_encoder_track(e, t);
	assert_int_equal(rw_encoder_feed(e, text, strlen(text)), 0);
	assert_int_equal(rw_encoder_end(e), 0);
	mk = rw_track_end(t, ts, n, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(mk ? mk->series : 0, *n);
	return mk;
}

/* The bytes of container_cpu_usage_seconds_total{container=c,pod=p} as the
 * cadvisor section pushes it (target and external labels, sorted). */
static void expect_cad(struct buf *b, const char *c, const char *p, double v, int64_t ts)
{
	struct rw_label l[8] = {
		{ "__name__", 8, "container_cpu_usage_seconds_total", 33 },
		{ "cluster", 7, "c1", 2 },
		{ "container", 9, c, strlen(c) },
		{ "instance", 8, "n1", 2 },
		{ "job", 3, "kubelet", 7 },
		{ "metrics_path", 12, "/metrics/cadvisor", 17 },
		{ "node", 4, "n1", 2 },
		{ "pod", 3, p, strlen(p) },
	};

	assert_int_equal(rw_pb_series(b, l, 8, v, ts), 0);
}

#define ROW_A "container_cpu_usage_seconds_total{container=\"a\",pod=\"p1\"} 3\n"
#define ROW_B "container_cpu_usage_seconds_total{container=\"b\",pod=\"p2\"} 4\n"
/* a sample with a timestamp of its own: never tracked */
#define ROW_TS "container_cpu_usage_seconds_total{container=\"t\",pod=\"p3\"} 5 1234\n"
#define HEAD "# TYPE container_cpu_usage_seconds_total counter\n"

/* The tracking tests' encoder, tracker and decode buffers. */
struct tfix {
	struct rw_encoder *e;
	struct rw_track t;
	struct buf got, want;
	uint64_t n;
};

static int tfix_setup(void **state)
{
	struct tfix *f = calloc(1, sizeof(*f));

	if (!f || !(f->e = rw_encoder_new(100, ext_labels, 1, drop_block, NULL))) {
		free(f);
		return -1;
	}
	rw_track_init(&f->t);
	buf_init(&f->got, 1 << 20);
	buf_init(&f->want, 1 << 20);
	*state = f;
	return 0;
}

static int tfix_teardown(void **state)
{
	struct tfix *f = *state;

	buf_fini(&f->got);
	buf_fini(&f->want);
	rw_track_fini(&f->t);
	rw_encoder_free(f->e);
	free(f);
	return 0;
}

static struct rw_chunks *tcycle(struct tfix *f, const char *text, int64_t ts)
{
	return cycle(f->e, &f->t, text, ts, &f->n);
}

/* mk holds exactly the markers f->want was filled with; mk is released. */
static void assert_markers(struct tfix *f, struct rw_chunks *mk)
{
	assert_non_null(mk);
	buf_reset(&f->got);
	decode(mk, &f->got);
	assert_int_equal(f->got.len, f->want.len);
	assert_memory_equal(f->got.data, f->want.data, f->want.len);
	rw_chunks_unref(mk);
	buf_reset(&f->want);
}

/* A container row vanishing: exactly one marker, with the labels it was
 * pushed with, StaleNaN, at the new cycle's time; the row with its own
 * timestamp vanishing gets none. The same series (also reordered): none. */
static void test_track_vanished(void **state)
{
	struct tfix *f = *state;
	struct rw_chunks *mk;

	f->n = 9;
	assert_null(tcycle(f, HEAD ROW_A ROW_B ROW_TS, 1000));
	assert_int_equal(f->n, 0);
	/* the row with its own timestamp is not kept */
	assert_int_equal(f->t.nprev, 2);
	assert_int_equal(f->t.last->series, 2);
	assert_null(tcycle(f, HEAD ROW_A ROW_B ROW_TS, 2000));
	assert_null(tcycle(f, HEAD ROW_B ROW_A, 3000));
	mk = tcycle(f, HEAD ROW_A, 4000);
	assert_int_equal(f->n, 1);
	expect_cad(&f->want, "b", "p2", stale_nan(), 4000);
	assert_markers(f, mk);
	assert_null(tcycle(f, HEAD ROW_A, 5000));
	assert_int_equal(f->n, 0);
}

/* A row whose own timestamp falls on the cycle's millisecond (a cAdvisor
 * row collected in the cycle's first millisecond) is not tracked either:
 * the next cycle, at another millisecond, makes no marker for it (which
 * would be older than its own next sample). */
#define ROW_TS2000 "container_cpu_usage_seconds_total{container=\"t\",pod=\"p3\"} 5 2000\n"
#define ROW_TS3001 "container_cpu_usage_seconds_total{container=\"t\",pod=\"p3\"} 6 3001\n"
static void test_track_own_ts_on_cycle(void **state)
{
	struct tfix *f = *state;

	f->n = 9;
	assert_null(tcycle(f, HEAD ROW_A ROW_TS2000, 2000));
	assert_int_equal(f->t.nprev, 1);
	assert_null(tcycle(f, HEAD ROW_A ROW_TS3001, 3000));
	assert_int_equal(f->n, 0);
}

/* A section turned off or failing before it pushed anything (empty text):
 * markers for all its series, once; back on, none. */
static void test_track_section_off(void **state)
{
	struct tfix *f = *state;
	struct rw_chunks *mk;

	assert_null(tcycle(f, HEAD ROW_A ROW_B, 1000));
	mk = tcycle(f, "", 2000);
	assert_int_equal(f->n, 2);
	expect_cad(&f->want, "a", "p1", stale_nan(), 2000);
	expect_cad(&f->want, "b", "p2", stale_nan(), 2000);
	assert_markers(f, mk);
	assert_null(tcycle(f, "", 3000));
	assert_null(tcycle(f, HEAD ROW_A ROW_B, 4000));
	/* forgotten (markers turned off, destinations' labels changed): none */
	rw_track_reset(&f->t);
	assert_null(tcycle(f, "", 5000));
	assert_int_equal(f->n, 0);
}

/* The same series in order keep the last chunks; a cycle losing its tail
 * copies the head from them: the marker of a series kept that way across
 * cycles still has its exact labels. */
static void test_track_prefix(void **state)
{
	struct tfix *f = *state;
	struct rw_chunks *mk, *kept;

	assert_null(tcycle(f, HEAD ROW_A ROW_B, 1000));
	kept = f->t.last;
	assert_null(tcycle(f, HEAD ROW_A ROW_B, 2000));
	assert_ptr_equal(f->t.last, kept); /* nothing chunked again */
	mk = tcycle(f, HEAD ROW_A, 3000);
	assert_int_equal(f->n, 1);
	expect_cad(&f->want, "b", "p2", stale_nan(), 3000);
	assert_markers(f, mk);
	assert_null(tcycle(f, HEAD ROW_A, 4000));
	mk = tcycle(f, "", 5000);
	assert_int_equal(f->n, 1);
	expect_cad(&f->want, "a", "p1", stale_nan(), 5000);
	assert_markers(f, mk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vanished),
		cmocka_unit_test(test_nothing_vanished),
		cmocka_unit_test(test_all_gone),
		cmocka_unit_test(test_cat),
		cmocka_unit_test_setup_teardown(test_track_vanished, tfix_setup, tfix_teardown),
		cmocka_unit_test_setup_teardown(test_track_own_ts_on_cycle, tfix_setup, tfix_teardown),
		cmocka_unit_test_setup_teardown(test_track_section_off, tfix_setup, tfix_teardown),
		cmocka_unit_test_setup_teardown(test_track_prefix, tfix_setup, tfix_teardown),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
