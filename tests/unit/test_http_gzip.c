/* Streamed gzip (http/gzip.h over http/deflate_line.h): every output is
 * decoded by zlib's inflate back to the input, whole or fed in pieces of
 * random sizes; its size stays near zlib level 1 on exposition text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "base/buf.h"
#include "base/err.h"
#include "http/crc32.h"
#include "http/gzip.h"

/* Deterministic generator: a failure replays. */
static uint64_t rnd_state;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rnd_state >> 33);
}

/* Streams in[0..n) through gzip_stream_write in pieces: piece 0 means one
 * call; otherwise random sizes 1..piece. */
static void gz_stream(const char *in, size_t n, size_t piece, struct buf *out)
{
	struct gzip_stream g;
	size_t p = 0;

	assert_int_equal(gzip_stream_init(&g), 0);
	do {
		size_t k = piece ? 1 + rnd() % piece : n;
		if (k > n - p)
			k = n - p;
		assert_int_equal(gzip_stream_write(&g, in + p, k, p + k == n, out), 0);
		p += k;
	} while (p < n);
	gzip_stream_fini(&g);
}

/* zlib's inflate (gzip wrapper) must give back exactly in[0..n) and end
 * the stream with a valid CRC and length. */
static void assert_inflates_to(const struct buf *z, const char *in, size_t n)
{
	z_stream zs;
	char *back = malloc(n + 64);
	int rc;

	assert_non_null(back);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 16 + 15), Z_OK);
	zs.next_in = (Bytef *)z->data;
	zs.avail_in = (uInt)z->len;
	zs.next_out = (Bytef *)back;
	zs.avail_out = (uInt)(n + 64);
	rc = inflate(&zs, Z_FINISH);
	assert_int_equal(rc, Z_STREAM_END);
	assert_int_equal(zs.avail_in, 0);
	assert_int_equal(zs.total_out, n);
	assert_memory_equal(back, in, n);
	inflateEnd(&zs);
	free(back);
}

static size_t zlib1_size(const char *in, size_t n)
{
	struct buf z;
	size_t len;

	buf_init(&z, 1u << 30);
	assert_int_equal(gzip_compress(in, n, &z), 0);
	len = z.len;
	buf_fini(&z);
	return len;
}

/* Whole, and in random pieces of up to 7, 300 and 70,000 bytes. Returns
 * the size of the whole one. */
static size_t round_trip(const char *in, size_t n)
{
	static const size_t pieces[] = { 0, 7, 300, 70000 };
	size_t whole = 0;

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct buf z;

		if (pieces[i] == 7 && n > (2u << 20))
			continue;
		buf_init(&z, 1u << 30);
		gz_stream(in, n, pieces[i], &z);
		assert_inflates_to(&z, in, n);
		if (!pieces[i])
			whole = z.len;
		buf_fini(&z);
	}
	return whole;
}

/* Exposition text as /metrics/apps serves it: per target, 10 families of
 * 100 series, the target labels spliced into every line. */
static char *apps_text(size_t targets, size_t *n)
{
	struct buf b;

	buf_init(&b, 1u << 30);
	for (size_t t = 0; t < targets; t++) {
		for (int f = 0; f < 10; f++) {
			assert_int_equal(buf_printf(&b, "# HELP app_family%d_total Requests of family %d.\n"
						   "# TYPE app_family%d_total counter\n", f, f, f), 0);
			for (int i = 0; i < 100; i++)
				assert_int_equal(buf_printf(&b, "app_family%d_total{method=\"GET\",path=\"/api/v1/item%d\","
							   "code=\"200\",instance=\"10.0.%zu.%zu:8080\",job=\"pods\","
							   "namespace=\"ns%zu\",node=\"node-a\",pod=\"app-%zu-7f9c\"} %u\n",
							   f, i, t / 250, t % 250, t % 7, t, rnd() % 100000), 0);
		}
		assert_int_equal(buf_printf(&b, "up{instance=\"10.0.%zu.%zu:8080\",job=\"pods\"} 1\n", t / 250, t % 250), 0);
	}
	*n = b.len;
	return buf_steal(&b);
}

static void test_edge_inputs(void **state)
{
	char one = 'x';
	struct buf z;

	(void)state;
	rnd_state = 1;
	/* Empty: a valid member with no data. */
	buf_init(&z, 1 << 20);
	gz_stream("", 0, 0, &z);
	assert_inflates_to(&z, "", 0);
	buf_fini(&z);
	round_trip(&one, 1);
	round_trip("\n", 1);
	round_trip("a\nb\n\n\nc", 7);
	round_trip("no newline at the end", 21);
}

static void test_binary(void **state)
{
	size_t n = 3u << 20;
	char *in = malloc(n);

	(void)state;
	rnd_state = 2;
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = (char)rnd();
	round_trip(in, n);
	/* Bytes from a small alphabet with delimiters: many short matches. */
	for (size_t i = 0; i < n; i++)
		in[i] = "ab\"=,{} \n"[rnd() % 9];
	round_trip(in, n);
	free(in);
}

static void test_identical_and_unrelated_lines(void **state)
{
	struct buf b;
	size_t ident;

	(void)state;
	rnd_state = 3;
	buf_init(&b, 1u << 30);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(buf_adds(&b, "http_requests_total{code=\"200\",method=\"get\"} 1\n"), 0);
	ident = round_trip(b.data, b.len);
	/* 47-byte lines, each one match of the line before (length and
	 * distance codes with their extra bits: ~9 bits a line). */
	assert_true(ident < b.len / 25);
	buf_reset(&b);
	/* Lines sharing nothing: random letters, random lengths. */
	for (int i = 0; i < 20000; i++) {
		int len = (int)(rnd() % 120);
		for (int k = 0; k < len; k++)
			assert_int_equal(buf_addc(&b, (char)('a' + rnd() % 26)), 0);
		assert_int_equal(buf_addc(&b, '\n'), 0);
	}
	round_trip(b.data, b.len);
	buf_fini(&b);
}

/* Matches longer than 258 (split), lines over DFL_LINE_MAX (coded in
 * pieces) and over 32 KiB (beyond deflate's reach from the line before). */
static void test_long_lines(void **state)
{
	static const size_t lens[] = { 300, 259, 258, 261, 5000, DFL_LINE_MAX - 1, DFL_LINE_MAX,
				       DFL_LINE_MAX + 1, 20000, 32768, 40000, 200000 };
	struct buf b;

	(void)state;
	rnd_state = 4;
	buf_init(&b, 1u << 30);
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		size_t before = b.len;
		/* The same long line three times, then a variant of it. */
		for (int r = 0; r < 3; r++) {
			for (size_t k = 0; k < lens[l]; k++)
				assert_int_equal(buf_addc(&b, (char)('a' + k * 7 % 26)), 0);
			assert_int_equal(buf_addc(&b, '\n'), 0);
		}
		for (size_t k = 0; k < lens[l]; k++)
			assert_int_equal(buf_addc(&b, k % 1000 == 999 ? ',' : (char)('a' + k * 7 % 26)), 0);
		assert_int_equal(buf_addc(&b, '\n'), 0);
		round_trip(b.data + before, b.len - before);
	}
	round_trip(b.data, b.len);
	/* A line whose part in common with the line before starts 29,500
	 * bytes in: that match would be 33,502 bytes back, past deflate's
	 * reach, though the two lines together are under 40 KiB. */
	buf_reset(&b);
	assert_int_equal(buf_addc(&b, 'P'), 0);
	for (int r = 0; r < 2; r++) {
		assert_int_equal(buf_addc(&b, ','), 0);
		for (size_t k = 0; k < 4000; k++)
			assert_int_equal(buf_addc(&b, (char)('a' + k * 7 % 26)), 0);
		assert_int_equal(buf_addc(&b, '\n'), 0);
		for (size_t k = 0; r == 0 && k < 29500; k++)
			assert_int_equal(buf_addc(&b, 'Q'), 0);
	}
	round_trip(b.data, b.len);
	buf_fini(&b);
}

/* Symbol counts in Fibonacci proportions make the deepest Huffman trees:
 * 18 letters with counts 1, 2, 3, 5, ..., 4181 (10,944 bytes, one block)
 * and the end-of-block code (count 1) need codes 18 bits long, over
 * deflate's 15, so the code lengths must be limited. */
static void test_deep_huffman_tree(void **state)
{
	uint32_t fib[18] = { 1, 2 };
	size_t n = 0, k = 0;
	char *in;

	(void)state;
	rnd_state = 5;
	for (int i = 2; i < 18; i++)
		fib[i] = fib[i - 1] + fib[i - 2];
	for (int i = 0; i < 18; i++)
		n += fib[i];
	assert_true(n < DFL_BLOCK_SYMS);
	in = malloc(n);
	assert_non_null(in);
	/* Letters only: no delimiter, no newline, so literals throughout. */
	for (int i = 0; i < 18; i++)
		for (uint32_t c = 0; c < fib[i]; c++)
			in[k++] = (char)('A' + i);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		char t = in[i];
		in[i] = in[j];
		in[j] = t;
	}
	round_trip(in, n);
	free(in);
}

/* A /metrics/apps-like response: decodes exactly, and is no bigger than
 * zlib level 1 by more than 15 % (the previous-line matches and the token
 * table do the work of zlib's search). */
static void test_apps_text(void **state)
{
	size_t n, ours, zl;
	char *in;

	(void)state;
	rnd_state = 6;
	in = apps_text(300, &n);
	ours = round_trip(in, n);
	zl = zlib1_size(in, n);
	print_message("apps text %zu bytes: ours %zu, zlib level 1 %zu\n", n, ours, zl);
	assert_true(ours * 100 <= zl * 115);
	free(in);
}

/* Real exposition from components (recorded fixtures): decodes exactly,
 * within 1.6x zlib level 1. */
static void test_component_fixtures(void **state)
{
	static const char *files[] = {
		"tests/fakecomp/fixtures/kube-apiserver/metrics.prom",
		"tests/fakecomp/fixtures/kubelet/metrics_cadvisor.prom",
		"tests/fakecomp/fixtures/kubelet/metrics.prom",
		"tests/fakecomp/fixtures/etcd/metrics.prom",
		"tests/fixtures/kubestate/multi_object_full.prom",
	};

	(void)state;
	rnd_state = 7;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f = fopen(files[i], "rb");
		size_t n, ours, zl;
		char *in;

		assert_non_null(f);
		assert_int_equal(fseek(f, 0, SEEK_END), 0);
		n = (size_t)ftell(f);
		rewind(f);
		in = malloc(n);
		assert_non_null(in);
		assert_int_equal(fread(in, 1, n, f), n);
		fclose(f);
		ours = round_trip(in, n);
		zl = zlib1_size(in, n);
		print_message("%s: %zu bytes, ours %zu, zlib level 1 %zu\n", files[i], n, ours, zl);
		assert_true(ours * 10 <= zl * 16);
		free(in);
	}
}

/* The folded CRC-32 equals zlib's for every length (the fold needs 256
 * bytes, pieces of 16, a tail), every alignment, chained. */
static void test_crc32(void **state)
{
	size_t n = 5000;
	uint8_t *b = malloc(n + 16);

	(void)state;
	rnd_state = 9;
	assert_non_null(b);
	for (size_t i = 0; i < n + 16; i++)
		b[i] = (uint8_t)rnd();
	for (size_t off = 0; off < 16; off++)
		for (size_t len = 0; len <= n; len += off + 1) {
			uint32_t seed = rnd();
			assert_int_equal(crc32_gzip(seed, b + off, len), (uint32_t)crc32_z(seed, b + off, len));
		}
	assert_int_equal(crc32_gzip(crc32_gzip(0, b, 1000), b + 1000, n - 1000), (uint32_t)crc32_z(0, b, n));
	free(b);
}

/* Errors: a write after the end, and an output cap, each reported. */
static void test_errors(void **state)
{
	struct gzip_stream g;
	struct buf z;
	size_t n;
	char *in;

	(void)state;
	rnd_state = 8;
	buf_init(&z, 1 << 20);
	assert_int_equal(gzip_stream_init(&g), 0);
	assert_int_equal(gzip_stream_write(&g, "a\n", 2, true, &z), 0);
	assert_int_equal(gzip_stream_write(&g, "b\n", 2, true, &z), KM_EINVAL);
	gzip_stream_fini(&g);
	assert_inflates_to(&z, "a\n", 2);
	buf_fini(&z);

	in = apps_text(20, &n);
	buf_init(&z, 4096);
	assert_int_equal(gzip_stream_init(&g), 0);
	assert_int_equal(gzip_stream_write(&g, in, n, true, &z), KM_ETOOBIG);
	gzip_stream_fini(&g);
	buf_fini(&z);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_inputs),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_identical_and_unrelated_lines),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_deep_huffman_tree),
		cmocka_unit_test(test_apps_text),
		cmocka_unit_test(test_component_fixtures),
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
