/* Our snappy compressor (remotewrite/snappy.h) against libsnappy's decoder:
 * every output decodes to the input (edge sizes, seeded random inputs of
 * several kinds), stays within the bound, joins behind one preamble, and on
 * remote-write-like input is within a few percent of libsnappy's size. Also
 * prints the CPU of both on that input (not asserted: speed is measured in
 * BENCHMARKS.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "dl/snappy.h"
#include "remotewrite/snappy.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static int setup(void **state)
{
	char err[256];

	(void)state;
	if (dl_snappy_load(err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

/* Compresses with ours, decodes with libsnappy, compares; returns our size. */
static size_t round_trip(const char *in, size_t n)
{
	size_t max = rw_snappy_max(n), zn, un = 0;
	char *z = malloc(max + 1), *out = malloc(n + 1);

	assert_non_null(z);
	assert_non_null(out);
	z[max] = 0x5a;
	zn = rw_snappy_compress(in, n, z);
	assert_true(zn <= max);
	assert_int_equal((unsigned char)z[max], 0x5a);
	assert_int_equal(dl_snappy.uncompressed_length(z, zn, &un), SNAPPY_OK);
	assert_int_equal(un, n);
	un = n + 1;
	assert_int_equal(dl_snappy.uncompress(z, zn, out, &un), SNAPPY_OK);
	assert_int_equal(un, n);
	assert_memory_equal(out, in, n);
	free(z);
	free(out);
	return zn;
}

/* Remote-write-like bytes: protobuf series of repeated label names and
 * values, numbers varying. */
static size_t fill_series(char *p, size_t n, uint32_t variety)
{
	static const char *const names[] = { "__name__", "code", "instance", "job", "method", "namespace", "node", "path", "pod" };
	size_t o = 0;

	while (o < n) {
		char line[256];
		int len = snprintf(line, sizeof(line), "\x0a\x1b%s\x12\x0ehttp_requests_%u\x0a\x04%s\x12\x03%u\x0a\x08%s\x12\x0b" "10.0.%u.%u:80\x09%08x",
				   names[rnd() % 9], rnd() % variety, names[rnd() % 9], 200 + rnd() % 5,
				   names[2], rnd() % 4, rnd() % 250, rnd());

		if (len <= 0)
			break;
		if ((size_t)len > n - o)
			len = (int)(n - o);
		memcpy(p + o, line, (size_t)len);
		o += (size_t)len;
	}
	return o;
}

static void test_edges(void **state)
{
	static const size_t sizes[] = { 0, 1, 2, 4, 15, 16, 17, 60, 61, 255, 256, 257, 65535, 65536, 65537, 131072, 200003 };
	char *in = malloc(200003);

	(void)state;
	assert_non_null(in);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], zn;

		/* all the same byte: one literal, then copies of offset 1 */
		memset(in, 'a', n);
		zn = round_trip(in, n);
		if (n >= 65536)
			assert_true(zn < n / 20);
		/* incompressible: literals only, within the bound */
		for (size_t k = 0; k < n; k++)
			in[k] = (char)rnd();
		zn = round_trip(in, n);
		assert_true(zn <= n + n / 64 + 8);
		/* a short period: copies longer than 64 split in pieces */
		for (size_t k = 0; k < n; k++)
			in[k] = (char)("abcdefg"[k % 7]);
		round_trip(in, n);
	}
	/* one match of each length around the copy element's limit of 64
	 * (a copy of 65..67 is split 60 + the rest, 68 and more by 64s) */
	for (size_t len = 60; len <= 140; len++) {
		for (size_t k = 0; k < 256; k++)
			in[k] = (char)rnd();
		memcpy(in + 256, in, len);
		in[256 + len] = (char)(in[len] ^ 0x55);
		for (size_t k = 257 + len; k < 400; k++)
			in[k] = (char)rnd();
		round_trip(in, 400);
	}
	free(in);
}

static void test_random(void **state)
{
	char *in = malloc(300000);

	(void)state;
	assert_non_null(in);
	for (int r = 0; r < 300; r++) {
		size_t n = rnd() % (r < 200 ? 4096 : 300000);
		int kind = r % 4;

		for (size_t k = 0; k < n; k++) {
			switch (kind) {
			case 0: in[k] = (char)rnd(); break;
			case 1: in[k] = (char)('a' + rnd() % 3); break;
			case 2: in[k] = (char)(k > 100 && rnd() % 4 ? in[k - 1 - rnd() % 100] : (char)rnd()); break;
			default: in[k] = 0; break;
			}
		}
		if (kind == 3)
			n = fill_series(in, n, 1 + rnd() % 1000);
		round_trip(in, n);
	}
	free(in);
}

/* Two element streams behind one preamble of the summed length decode to
 * the joined inputs: what the chunk packer relies on. */
static void test_join(void **state)
{
	size_t na = 70000, nb = 5000, zn, un = na + nb;
	char *in = malloc(na + nb), *z = malloc(16 + rw_snappy_max(na) + rw_snappy_max(nb)), *out = malloc(na + nb);

	(void)state;
	assert_non_null(in);
	assert_non_null(z);
	assert_non_null(out);
	fill_series(in, na + nb, 50);
	zn = 0;
	for (size_t v = na + nb; ; v >>= 7) {
		z[zn++] = (char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		if (v < 0x80)
			break;
	}
	zn += rw_snappy_elements(in, na, z + zn);
	zn += rw_snappy_elements(in + na, nb, z + zn);
	assert_int_equal(dl_snappy.uncompress(z, zn, out, &un), SNAPPY_OK);
	assert_int_equal(un, na + nb);
	assert_memory_equal(out, in, na + nb);
	free(in);
	free(z);
	free(out);
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Size on chunks like the scraper's (64 KiB of series): within 5 % of
 * libsnappy's. */
static void test_ratio(void **state)
{
	enum { N = 65536, REPS = 200 };
	char *in = malloc(N), *z = malloc(rw_snappy_max(N));
	size_t ours = 0, theirs = 0, zn;
	double t0, t1, t2;

	(void)state;
	assert_non_null(in);
	assert_non_null(z);
	for (uint32_t variety = 1; variety <= 1000; variety *= 10) {
		size_t n = fill_series(in, N, variety);

		ours += round_trip(in, n);
		zn = dl_snappy.max_compressed_length(n);
		assert_int_equal(dl_snappy.compress(in, n, z, &zn), SNAPPY_OK);
		theirs += zn;
	}
	print_message("ours %zu bytes, libsnappy %zu bytes (%.3fx)\n", ours, theirs, (double)ours / (double)theirs);
	assert_true(ours * 100 <= theirs * 105);
	fill_series(in, N, 100);
	t0 = cpu_s();
	for (int i = 0; i < REPS; i++)
		rw_snappy_compress(in, N, z);
	t1 = cpu_s();
	for (int i = 0; i < REPS; i++) {
		zn = dl_snappy.max_compressed_length(N);
		dl_snappy.compress(in, N, z, &zn);
	}
	t2 = cpu_s();
	print_message("CPU per 64 KiB: ours %.1f us, libsnappy %.1f us\n", (t1 - t0) * 1e6 / REPS, (t2 - t1) * 1e6 / REPS);
	free(in);
	free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_ratio),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
