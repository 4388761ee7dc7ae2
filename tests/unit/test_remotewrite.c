/* Remote write: the WriteRequest encoder checked against an independent
 * decoder (protoc --decode_raw, Debian protobuf-compiler), the snappy layer
 * by round trip, the exposition -> series labelling rules, the block file
 * check, and the queue's cap, order, restart and corruption handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "config/config.h"
#include "config/flags.h"
#include "dl/curl.h"
#include "dl/snappy.h"
#include "dl/zstd.h"
#include "remotewrite/dest.h"
#include "remotewrite/block.h"
#include "remotewrite/chunks.h"
#include "remotewrite/encode.h"
#include "remotewrite/pb.h"
#include "remotewrite/queue.h"
#include "remotewrite/rw.h"

/* protoc --decode_raw of p[0..n) into out (a missing protoc fails the test). */
static void decode_raw(const char *p, size_t n, struct buf *out)
{
	char in[] = "/tmp/k8smon-rw-pb.XXXXXX";
	char cmd[256], chunk[4096];
	int fd = mkstemp(in);
	FILE *f;
	size_t r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
	snprintf(cmd, sizeof(cmd), "protoc --decode_raw < %s", in);
	f = popen(cmd, "r");
	assert_non_null(f);
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(buf_add(out, chunk, r), 0);
	assert_int_equal(pclose(f), 0);
	unlink(in);
}

#define L(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }

static void test_pb_matches_protoc(void **state)
{
	struct rw_label a[] = { L("__name__", "up"), L("job", "node-exporter") };
	struct rw_label b[] = { L("__name__", "x"), L("le", "") };
	struct buf pb, txt;

	(void)state;
	buf_init(&pb, 1 << 20);
	buf_init(&txt, 1 << 20);
	assert_int_equal(rw_pb_series(&pb, a, 2, 1.5, 1700000000123LL), 0);
	/* a negative timestamp is a 10-byte varint; -1.0 a negative double */
	assert_int_equal(rw_pb_series(&pb, b, 2, -1.0, -5), 0);
	decode_raw(pb.data, pb.len, &txt);
	assert_string_equal(buf_cstr(&txt),
			    "1 {\n"
			    "  1 {\n    1: \"__name__\"\n    2: \"up\"\n  }\n"
			    "  1 {\n    1: \"job\"\n    2: \"node-exporter\"\n  }\n"
			    "  2 {\n    1: 0x3ff8000000000000\n    2: 1700000000123\n  }\n"
			    "}\n"
			    "1 {\n"
			    "  1 {\n    1: \"__name__\"\n    2: \"x\"\n  }\n"
			    "  1 {\n    1: \"le\"\n    2: \"\"\n  }\n"
			    "  2 {\n    1: 0xbff0000000000000\n    2: 18446744073709551611\n  }\n"
			    "}\n");
	buf_fini(&pb);
	buf_fini(&txt);
}

/* Pre-encoded labels (rw_pb_series_enc): side by side in memory they are
 * copied as one run, a label between them that the series does not have
 * is not; the bytes are always rw_pb_series' for the same labels. */
static void test_pb_enc_runs(void **state)
{
	const struct rw_label all[4] = { { "a", 1, "1", 1 }, { "b", 1, "2", 1 }, { "c", 1, "3", 1 },
					 { "d", 1, "4", 1 } };
	struct buf pre, got, want;
	size_t off[5];

	(void)state;
	buf_init(&pre, 1 << 20);
	buf_init(&got, 1 << 20);
	buf_init(&want, 1 << 20);
	for (size_t i = 0; i < 4; i++) {
		off[i] = pre.len;
		assert_int_equal(rw_pb_label(&pre, &all[i]), 0);
	}
	off[4] = pre.len;
	/* {a, c, d} with a, c, d pre-encoded: a and c are not side by side
	 * (b lies between), c and d are; then {a, b} with b written here */
	{
		const struct rw_label l[3] = { all[0], all[2], all[3] };
		const struct rw_label_enc e[3] = { { pre.data + off[0], off[1] - off[0] },
						   { pre.data + off[2], off[3] - off[2] },
						   { pre.data + off[3], off[4] - off[3] } };

		assert_int_equal(rw_pb_series_enc(&got, l, e, 3, 1.5, 1700000000000), 0);
		assert_int_equal(rw_pb_series(&want, l, 3, 1.5, 1700000000000), 0);
	}
	{
		const struct rw_label l[2] = { all[0], all[1] };
		const struct rw_label_enc e[2] = { { pre.data + off[0], off[1] - off[0] }, { NULL, 0 } };

		assert_int_equal(rw_pb_series_enc(&got, l, e, 2, 2.5, 1700000000001), 0);
		assert_int_equal(rw_pb_series(&want, l, 2, 2.5, 1700000000001), 0);
	}
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	buf_fini(&pre);
	buf_fini(&got);
	buf_fini(&want);
}

static void test_pb_long_strings_and_cap(void **state)
{
	char big[300];
	struct rw_label a[1];
	struct buf pb, txt;

	(void)state;
	memset(big, 'v', sizeof(big));
	/* 300 bytes: a two-byte length varint */
	a[0] = (struct rw_label){ "__name__", 8, big, sizeof(big) };
	buf_init(&pb, 1 << 20);
	buf_init(&txt, 1 << 20);
	assert_int_equal(rw_pb_series(&pb, a, 1, 0, 0), 0);
	decode_raw(pb.data, pb.len, &txt);
	assert_non_null(strstr(buf_cstr(&txt), "vvvvvvvvvv\"\n  }\n  2 {\n    1: 0x0000000000000000\n    2: 0\n  }\n}\n"));
	/* over the cap: error, buffer unchanged */
	pb.cap = pb.len + 10;
	{
		size_t before = pb.len;

		assert_int_equal(rw_pb_series(&pb, a, 1, 0, 0), KM_ETOOBIG);
		assert_int_equal(pb.len, before);
	}
	buf_fini(&pb);
	buf_fini(&txt);
}

static void test_snappy_round_trip(void **state)
{
	char err[256], in[20000], out[20000];
	size_t zn, un = sizeof(out);
	char *z;

	(void)state;
	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)("node_cpu_seconds_total"[i % 22] + (i / 1000));
	zn = dl_snappy.max_compressed_length(sizeof(in));
	z = malloc(zn);
	assert_non_null(z);
	assert_int_equal(dl_snappy.compress(in, sizeof(in), z, &zn), SNAPPY_OK);
	assert_true(zn < sizeof(in) / 4);
	assert_int_equal(dl_snappy.uncompress(z, zn, out, &un), SNAPPY_OK);
	assert_int_equal(un, sizeof(in));
	assert_memory_equal(in, out, sizeof(in));
	free(z);
}


/* Chunks concatenated behind one length preamble are one snappy block:
 * blocks packed from several scrapes' chunks decode to exactly the series
 * encoded, in order, and each block keeps to the series and byte limits. */
struct unpacked {
	struct buf pb;
	int blocks;
	size_t max_series, max_raw;
};

static int unpack(void *ctx, const char *z, size_t zlen, size_t series)
{
	struct unpacked *u = ctx;
	size_t n = 0, before = u->pb.len;
	size_t nseries = 0;

	assert_int_equal(dl_snappy.uncompressed_length(z, zlen, &n), SNAPPY_OK);
	assert_int_equal(buf_reserve(&u->pb, n), 0);
	assert_int_equal(dl_snappy.uncompress(z, zlen, u->pb.data + u->pb.len, &n), SNAPPY_OK);
	u->pb.len += n;
	assert_true(n <= u->max_raw);
	assert_true(series <= u->max_series);
	/* the block is a WriteRequest of exactly that many series */
	for (const unsigned char *p = (unsigned char *)u->pb.data + before; p < (unsigned char *)u->pb.data + u->pb.len;) {
		size_t len = 0;
		int sh = 0;

		assert_int_equal(*p++, 0x0a);
		while (*p & 0x80) {
			len |= (size_t)(*p++ & 0x7f) << sh;
			sh += 7;
		}
		len |= (size_t)*p++ << sh;
		p += len;
		nseries++;
	}
	assert_int_equal(nseries, series);
	u->blocks++;
	return 0;
}

static void test_chunks_pack(void **state)
{
	struct rw_chunker ck;
	struct rw_chunks *k[3];
	struct unpacked u = { .max_series = 2500, .max_raw = 300000 };
	struct rw_packer pk;
	struct buf want;
	char err[256], v[64];
	int rc;

	(void)state;
	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	buf_init(&want, 64 << 20);
	buf_init(&u.pb, 64 << 20);
	rw_chunker_init(&ck);
	/* three "scrapes": 2,500 series (several chunks by count and size),
	 * none, and 7 */
	for (int t = 0; t < 3; t++) {
		int n = t == 0 ? 2500 : t == 1 ? 0 : 7;

		for (int i = 0; i < n; i++) {
			struct rw_label l[3] = { { "__name__", 8, "m", 1 }, { "i", 1, v, 0 },
						 { "t", 1, t ? "b" : "a", 1 } };

			l[1].value_len = (size_t)snprintf(v, sizeof(v), "%d-%0*d", i, i % 10, 0);
			assert_int_equal(rw_chunker_series(&ck, l, 3, i * 0.5, 1700000000000 + i), 0);
			assert_int_equal(rw_pb_series(&want, l, 3, i * 0.5, 1700000000000 + i), 0);
		}
		k[t] = rw_chunker_take(&ck, &rc);
		assert_non_null(k[t]);
		assert_int_equal(k[t]->series, (uint64_t)n);
	}
	assert_true(k[0]->n >= 3);
	assert_int_equal(k[1]->n, 0);
	rw_packer_init(&pk, u.max_series, u.max_raw, unpack, &u);
	for (int t = 0; t < 3; t++) {
		struct rw_chunk_ref ch;
		size_t off = 0;

		while (rw_chunks_next(k[t], &off, &ch)) {
			assert_true(ch.series <= RW_CHUNK_SERIES);
			assert_int_equal(rw_packer_add(&pk, &ch), 0);
		}
		rw_chunks_unref(k[t]);
	}
	assert_int_equal(rw_packer_flush(&pk), 0);
	assert_int_equal(rw_packer_flush(&pk), 0); /* nothing pending: no block */
	assert_true(u.blocks >= 2);
	assert_int_equal(u.pb.len, want.len);
	assert_memory_equal(u.pb.data, want.data, want.len);
	rw_packer_fini(&pk);
	rw_chunker_fini(&ck);
	buf_fini(&want);
	buf_fini(&u.pb);
}

/* Scratch handed from one chunker to the next (the scrape manager's pool):
 * the next chunker's chunks hold only its own series, whatever the first
 * left pending, and the scratch handed on is empty. */
static void test_chunks_scratch_reuse(void **state)
{
	struct rw_chunker a, b;
	struct rw_scratch sc = { 0 };
	struct rw_chunks *k;
	struct unpacked u = { .max_series = 2500, .max_raw = 300000 };
	struct rw_packer pk;
	struct rw_chunk_ref ch;
	struct buf want;
	size_t off = 0;
	char err[256], v[64];
	int rc;

	(void)state;
	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	buf_init(&want, 64 << 20);
	buf_init(&u.pb, 64 << 20);
	rw_chunker_init(&a);
	for (int i = 0; i < 2003; i++) {
		struct rw_label l[2] = { { "__name__", 8, "m", 1 }, { "i", 1, v, 0 } };

		l[1].value_len = (size_t)snprintf(v, sizeof(v), "a%d", i);
		assert_int_equal(rw_chunker_series(&a, l, 2, 1.0, 1700000000000), 0);
		if (i == 1999) {
			k = rw_chunker_take(&a, &rc);
			assert_non_null(k);
			rw_chunks_unref(k);
		}
	}
	/* three series pending in a's scratch: dropped on release */
	assert_true(a.sc.pb.len > 0);
	rw_chunker_release(&a, &sc);
	assert_true(sc.pb.alloc > 0);
	assert_int_equal(sc.pb.len, 0);
	rw_chunker_fini(&a);
	rw_chunker_init(&b);
	rw_chunker_adopt(&b, &sc);
	assert_null(sc.pb.data);
	for (int i = 0; i < 7; i++) {
		struct rw_label l[2] = { { "__name__", 8, "m", 1 }, { "i", 1, v, 0 } };

		l[1].value_len = (size_t)snprintf(v, sizeof(v), "b%d", i);
		assert_int_equal(rw_chunker_series(&b, l, 2, 2.0, 1700000000001), 0);
		assert_int_equal(rw_pb_series(&want, l, 2, 2.0, 1700000000001), 0);
	}
	k = rw_chunker_take(&b, &rc);
	assert_non_null(k);
	assert_int_equal(k->series, 7);
	rw_packer_init(&pk, u.max_series, u.max_raw, unpack, &u);
	while (rw_chunks_next(k, &off, &ch))
		assert_int_equal(rw_packer_add(&pk, &ch), 0);
	assert_int_equal(rw_packer_flush(&pk), 0);
	assert_int_equal(u.pb.len, want.len);
	assert_memory_equal(u.pb.data, want.data, want.len);
	rw_chunks_unref(k);
	rw_packer_fini(&pk);
	rw_chunker_fini(&b);
	rw_scratch_fini(&sc);
	buf_fini(&want);
	buf_fini(&u.pb);
}

struct captured {
	struct buf pb;
	int calls;
	size_t series;
};

static int capture(void *ctx, const char *pb, size_t len, size_t series)
{
	struct captured *c = ctx;

	c->calls++;
	c->series += series;
	return buf_add(&c->pb, pb, len);
}

static void test_encoder_labels(void **state)
{
	struct label_pair ext[] = { { "cluster", "prod" } };
	struct label_pair tl[] = { { "job", "node-exporter" }, { "instance", "n1" } };
	struct rw_target plain = { tl, 2, false }, honor = { tl, 2, true };
	struct captured c = { .calls = 0 };
	struct rw_encoder *e;
	struct buf txt;
	const char *text = "# TYPE a gauge\na{job=\"mine\",cluster=\"dev\"} 1\nb 2 1234\nbad line\n";
	const char *t;

	(void)state;
	buf_init(&c.pb, 1 << 20);
	buf_init(&txt, 1 << 20);
	e = rw_encoder_new(100, ext, 1, capture, &c);
	assert_non_null(e);
	rw_encoder_begin(e, &plain, 5000);
	assert_int_equal(rw_encoder_feed(e, text, strlen(text)), 0);
	assert_int_equal(rw_encoder_end(e), 0);
	rw_encoder_begin(e, &honor, 6000);
	assert_int_equal(rw_encoder_feed(e, text, strlen(text)), 0);
	assert_int_equal(rw_encoder_end(e), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(rw_encoder_flush(e), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.series, 4);
	assert_int_equal(rw_encoder_samples(e), 4);
	assert_int_equal(rw_encoder_rejected(e), 2);
	decode_raw(c.pb.data, c.pb.len, &txt);
	t = buf_cstr(&txt);
	/* plain: the target's job wins, the sample's is exported_job; the
	 * external label wins over the sample's cluster; sorted, __name__ first */
	assert_non_null(strstr(t, "1 {\n  1 {\n    1: \"__name__\"\n    2: \"a\"\n  }\n"
				  "  1 {\n    1: \"cluster\"\n    2: \"prod\"\n  }\n"
				  "  1 {\n    1: \"exported_job\"\n    2: \"mine\"\n  }\n"
				  "  1 {\n    1: \"instance\"\n    2: \"n1\"\n  }\n"
				  "  1 {\n    1: \"job\"\n    2: \"node-exporter\"\n  }\n"
				  "  2 {\n    1: 0x3ff0000000000000\n    2: 5000\n  }\n}\n"));
	/* an explicit timestamp is kept */
	assert_non_null(strstr(t, "    2: \"b\"\n  }\n  1 {\n    1: \"cluster\"\n    2: \"prod\"\n  }\n"
				  "  1 {\n    1: \"instance\"\n    2: \"n1\"\n  }\n"
				  "  1 {\n    1: \"job\"\n    2: \"node-exporter\"\n  }\n"
				  "  2 {\n    1: 0x4000000000000000\n    2: 1234\n  }\n"));
	/* honor: the sample's job stays, no exported_ */
	assert_non_null(strstr(t, "  1 {\n    1: \"cluster\"\n    2: \"prod\"\n  }\n"
				  "  1 {\n    1: \"instance\"\n    2: \"n1\"\n  }\n"
				  "  1 {\n    1: \"job\"\n    2: \"mine\"\n  }\n"
				  "  2 {\n    1: 0x3ff0000000000000\n    2: 6000\n  }\n"));
	rw_encoder_free(e);
	buf_fini(&c.pb);
	buf_fini(&txt);
}

static void test_encoder_splits_blocks(void **state)
{
	struct label_pair tl[] = { { "job", "j" } };
	struct rw_target t = { tl, 1, false };
	struct captured c = { .calls = 0 };
	struct rw_encoder *e;
	struct buf text;

	(void)state;
	buf_init(&c.pb, 1 << 24);
	buf_init(&text, 1 << 20);
	for (int i = 0; i < 25; i++)
		assert_int_equal(buf_printf(&text, "m{i=\"%d\"} %d\n", i, i), 0);
	e = rw_encoder_new(10, NULL, 0, capture, &c);
	assert_non_null(e);
	rw_encoder_begin(e, &t, 1);
	assert_int_equal(rw_encoder_feed(e, text.data, text.len), 0);
	assert_int_equal(rw_encoder_end(e), 0);
	assert_int_equal(c.calls, 2);
	assert_int_equal(rw_encoder_flush(e), 0);
	assert_int_equal(c.calls, 3);
	assert_int_equal(c.series, 25);
	rw_encoder_free(e);
	buf_fini(&c.pb);
	buf_fini(&text);
}

static void test_block_verify(void **state)
{
	char img[RW_BLOCK_HDR + 5];
	size_t len;

	(void)state;
	memcpy(img + RW_BLOCK_HDR, "hello", 5);
	rw_block_header((unsigned char *)img, img + RW_BLOCK_HDR, 5);
	assert_int_equal(rw_block_check_header((unsigned char *)img, &len), 0);
	assert_int_equal(len, 5);
	assert_int_equal(rw_block_verify(img, sizeof(img)), 0);
	assert_int_equal(rw_block_verify(img, sizeof(img) - 1), KM_EPARSE);
	img[RW_BLOCK_HDR + 2] ^= 1;
	assert_int_equal(rw_block_verify(img, sizeof(img)), KM_EPARSE);
	img[RW_BLOCK_HDR + 2] ^= 1;
	img[0] = 'X';
	assert_int_equal(rw_block_verify(img, sizeof(img)), KM_EPARSE);
}

static char qdir[] = "/tmp/k8smon-rw-q.XXXXXX";

static void front_is(struct rw_queue *q, const char *want, uint64_t *seq)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(rw_queue_front(q, &b, seq), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_fini(&b);
}

static void corrupt_file(const char *dir, uint64_t seq, long off)
{
	char path[512];
	FILE *f;
	int ch;

	snprintf(path, sizeof(path), "%s/%016llx.blk", dir, (unsigned long long)seq);
	f = fopen(path, "r+");
	assert_non_null(f);
	fseek(f, off, SEEK_SET);
	ch = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(ch ^ 0x55, f);
	fclose(f);
}

static void test_queue_disk(void **state)
{
	char err[256], cmd[600];
	struct rw_queue_stats st;
	struct rw_queue *q;
	uint64_t seq;
	struct buf b;

	(void)state;
	assert_non_null(mkdtemp(qdir));
	q = rw_queue_open(qdir, 1 << 20, err, sizeof(err));
	assert_non_null(q);
	assert_int_equal(rw_queue_push(q, "one", 3), 0);
	assert_int_equal(rw_queue_push(q, "two", 3), 0);
	assert_int_equal(rw_queue_push(q, "three", 5), 0);
	assert_int_equal(rw_queue_push(q, "four", 4), 0);
	rw_queue_stats(q, &st);
	assert_int_equal(st.blocks, 4);
	assert_int_equal(st.bytes, 4 * RW_BLOCK_HDR + 15);
	front_is(q, "one", &seq);
	rw_queue_pop(q, seq);
	rw_queue_close(q);

	/* restart: the rest, in order; a damaged header (block 1) and payload
	 * (block 2) are skipped and counted, a .tmp leftover removed */
	corrupt_file(qdir, 1, 0);
	corrupt_file(qdir, 2, RW_BLOCK_HDR + 1);
	snprintf(cmd, sizeof(cmd), "touch %s/0000000000000009.tmp", qdir);
	assert_int_equal(system(cmd), 0);
	q = rw_queue_open(qdir, 1 << 20, err, sizeof(err));
	assert_non_null(q);
	rw_queue_stats(q, &st);
	assert_int_equal(st.dropped_corrupt, 1);
	assert_int_equal(st.blocks, 2);
	front_is(q, "four", &seq);
	assert_int_equal(seq, 3);
	rw_queue_stats(q, &st);
	assert_int_equal(st.dropped_corrupt, 2);
	assert_int_equal(st.blocks, 1);
	/* new blocks continue after the highest sequence */
	assert_int_equal(rw_queue_push(q, "five", 4), 0);
	rw_queue_pop(q, seq);
	front_is(q, "five", &seq);
	assert_int_equal(seq, 4);
	rw_queue_pop(q, seq);
	buf_init(&b, 64);
	assert_int_equal(rw_queue_front(q, &b, &seq), KM_ENOENT);
	buf_fini(&b);
	rw_queue_close(q);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls %s)\" && rm -r %s", qdir, qdir);
	assert_int_equal(system(cmd), 0);
}

static void test_queue_cap_drops_oldest(void **state)
{
	char err[256], blk[1000];
	struct rw_queue_stats st;
	struct rw_queue *q;
	uint64_t seq;

	(void)state;
	memset(blk, 'a', sizeof(blk));
	/* memory queue, room for 5 blocks of 1000 bytes */
	q = rw_queue_open(NULL, 5000, err, sizeof(err));
	assert_non_null(q);
	for (int i = 0; i < 8; i++) {
		blk[0] = (char)('0' + i);
		assert_int_equal(rw_queue_push(q, blk, sizeof(blk)), 0);
	}
	rw_queue_stats(q, &st);
	assert_int_equal(st.blocks, 5);
	assert_int_equal(st.dropped_overflow, 3);
	{
		struct buf b;

		buf_init(&b, 1 << 20);
		assert_int_equal(rw_queue_front(q, &b, &seq), 0);
		assert_int_equal(b.data[0], '3');
		buf_fini(&b);
	}
	/* a block larger than the cap alone: refused, counted */
	{
		char *huge = calloc(1, 6000);

		assert_non_null(huge);
		assert_int_equal(rw_queue_push(q, huge, 6000), KM_ETOOBIG);
		free(huge);
	}
	rw_queue_stats(q, &st);
	assert_int_equal(st.dropped_overflow, 4);
	assert_int_equal(st.blocks, 5);
	/* The block being sent ('3', picked above) dropped for the cap: not a
	 * loss when its send then succeeds (its pop)... */
	blk[0] = '8';
	assert_int_equal(rw_queue_push(q, blk, sizeof(blk)), 0);
	rw_queue_stats(q, &st);
	assert_int_equal(st.dropped_overflow, 4);
	rw_queue_pop(q, seq);
	rw_queue_stats(q, &st);
	assert_int_equal(st.dropped_overflow, 4);
	/* ... a loss, counted, when it is abandoned (the next pick without a pop) */
	{
		struct buf b;
		uint64_t first;

		buf_init(&b, 1 << 20);
		assert_int_equal(rw_queue_front(q, &b, &first), 0);
		assert_int_equal(b.data[0], '4');
		blk[0] = '9';
		assert_int_equal(rw_queue_push(q, blk, sizeof(blk)), 0);
		rw_queue_stats(q, &st);
		assert_int_equal(st.dropped_overflow, 4);
		assert_int_equal(rw_queue_front(q, &b, &seq), 0);
		assert_int_equal(b.data[0], '5');
		rw_queue_stats(q, &st);
		assert_int_equal(st.dropped_overflow, 5);
		/* the abandoned one's late pop changes nothing */
		rw_queue_pop(q, first);
		rw_queue_stats(q, &st);
		assert_int_equal(st.dropped_overflow, 5);
		assert_int_equal(st.blocks, 5);
		buf_fini(&b);
	}
	rw_queue_close(q);
}

static void test_flags_helpers(void **state)
{
	char err[200], url[200];
	int64_t v;

	(void)state;
	assert_int_equal(flags_parse_size("1GiB", &v), 0);
	assert_int_equal(v, 1LL << 30);
	assert_int_equal(flags_parse_size("500MB", &v), 0);
	assert_int_equal(v, 500000000);
	assert_int_equal(flags_parse_size("2097152", &v), 0);
	assert_int_equal(v, 2097152);
	assert_int_equal(flags_parse_size("64KiB", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(flags_parse_size("65535", &v), KM_EINVAL);   /* under 64KiB */
	assert_int_equal(flags_parse_size("12XB", &v), KM_EINVAL);
	assert_int_equal(flags_parse_size("-5MB", &v), KM_EINVAL);
	assert_int_equal(rw_label_check("cluster=prod", err, sizeof(err)), 0);
	assert_int_equal(rw_label_check("cluster", err, sizeof(err)), KM_EINVAL);
	assert_int_equal(rw_label_check("1x=a", err, sizeof(err)), KM_EINVAL);
	assert_int_equal(rw_label_check("__name__=a", err, sizeof(err)), KM_EINVAL);
	assert_int_equal(rw_label_check("a=", err, sizeof(err)), KM_EINVAL);
	rw_url_redact("https://user:secret@vm:8428/api/v1/write?token=x", url, sizeof(url));
	assert_string_equal(url, "https://vm:8428/api/v1/write");
	rw_url_redact("http://vm/write", url, sizeof(url));
	assert_string_equal(url, "http://vm/write");
}

static void test_flags_remote_write(void **state)
{
	char err[300];
	struct flags f;
	char *ok[] = { "k8smon", "-remoteWrite.url=http://a/w", "--remoteWrite.url", "https://b/w",
		       "-remoteWrite.label=cluster=x", "-remoteWrite.label=env=y", "-remoteWrite.maxDiskUsagePerURL=2MiB" };
	char *bad_url[] = { "k8smon", "-remoteWrite.url=ftp://a" };
	char *bad_label[] = { "k8smon", "-remoteWrite.label=9=x" };
	FILE *devnull = fopen("/dev/null", "w");

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 7, ok, devnull, err, sizeof(err)), FLAGS_RUN);
	assert_int_equal(f.rw_urls.n, 2);
	assert_string_equal(f.rw_urls.v[1], "https://b/w");
	assert_int_equal(f.rw_labels.n, 2);
	assert_string_equal(f.rw_labels.v[1], "env=y");
	assert_int_equal(f.rw_max_disk_per_url, 2 << 20);
	assert_int_equal(f.rw_send_timeout_ms, 60000);
	flags_fini(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 2, bad_url, devnull, err, sizeof(err)), FLAGS_EXIT_USAGE);
	assert_non_null(strstr(err, "-remoteWrite.url"));
	flags_fini(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 2, bad_label, devnull, err, sizeof(err)), FLAGS_EXIT_USAGE);
	assert_non_null(strstr(err, "-remoteWrite.label"));
	flags_fini(&f);
	fclose(devnull);
}

static void test_headers_parse(void **state)
{
	char out[RW_HEADERS_MAX], err[200];
	size_t n;

	(void)state;
	assert_int_equal(rw_headers_parse("X-Scope-OrgID: team-a^^ Foo :bar baz ", out, sizeof(out), &n, err, sizeof(err)), 0);
	assert_int_equal(n, sizeof("X-Scope-OrgID: team-a") + sizeof("Foo: bar baz"));
	assert_string_equal(out, "X-Scope-OrgID: team-a");
	assert_string_equal(out + sizeof("X-Scope-OrgID: team-a"), "Foo: bar baz");
	/* A value may hold ':' and '^' alone. */
	assert_int_equal(rw_headers_parse("A:http://x^y", out, sizeof(out), &n, err, sizeof(err)), 0);
	assert_string_equal(out, "A: http://x^y");
	assert_int_equal(rw_headers_parse("", out, sizeof(out), &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(rw_headers_parse("novalue", out, sizeof(out), &n, err, sizeof(err)), KM_EINVAL);
	assert_non_null(strstr(err, "Name:value"));
	assert_int_equal(rw_headers_parse("A:1^^:2", out, sizeof(out), &n, err, sizeof(err)), KM_EINVAL);
	assert_int_equal(n, 0);
	assert_int_equal(rw_headers_parse("Bad Name:1", out, sizeof(out), &n, err, sizeof(err)), KM_EINVAL);
	assert_int_equal(rw_headers_parse("A:1\r\nEvil: x", out, sizeof(out), &n, err, sizeof(err)), KM_EINVAL);
	assert_non_null(strstr(err, "line break"));
	assert_int_equal(rw_headers_parse("content-encoding:gzip", out, sizeof(out), &n, err, sizeof(err)), KM_EINVAL);
	assert_non_null(strstr(err, "Content-Encoding"));
	assert_int_equal(rw_headers_parse("A:12345678", out, 10, &n, err, sizeof(err)), KM_EINVAL);
}

static void test_dest_check_copy_equal(void **state)
{
	struct rw_dest a = { .url = "https://vm/w", .basic_user = "u", .basic_password = "p", .headers = "A: 1",
			     .headers_len = 5, .proto = RW_PROTO_VM }, b, c;
	char err[200];
	enum rw_proto p;

	(void)state;
	assert_int_equal(rw_dest_check(&a, err, sizeof(err)), 0);
	assert_int_equal(rw_dest_copy(&b, &a), 0);
	assert_true(rw_dest_equal(&a, &b));
	assert_ptr_not_equal(b.headers, a.headers);
	assert_int_equal(rw_dest_copy(&c, &b), 0);
	c.headers[3] = '2';
	assert_false(rw_dest_equal(&b, &c));
	rw_dest_fini(&c);
	assert_int_equal(rw_dest_copy(&c, &b), 0);
	c.insecure_skip_verify = true;
	assert_false(rw_dest_equal(&b, &c));
	rw_dest_fini(&c);
	rw_dest_fini(&b);
	assert_null(b.url);

	a.bearer_token = "t";
	assert_int_equal(rw_dest_check(&a, err, sizeof(err)), KM_EINVAL);
	assert_non_null(strstr(err, "choose one"));
	a.bearer_token = NULL;
	a.basic_user = NULL;
	assert_int_equal(rw_dest_check(&a, err, sizeof(err)), KM_EINVAL);
	assert_non_null(strstr(err, "without a username"));
	a.basic_password = NULL;
	a.cert_file = "c.pem";
	assert_int_equal(rw_dest_check(&a, err, sizeof(err)), KM_EINVAL);
	a.key_file = "k.pem";
	assert_int_equal(rw_dest_check(&a, err, sizeof(err)), 0);
	a.url = "ftp://x";
	assert_int_equal(rw_dest_check(&a, err, sizeof(err)), KM_EINVAL);
	assert_int_equal(rw_proto_parse("victoriametrics", &p), 0);
	assert_int_equal(p, RW_PROTO_VM);
	assert_int_equal(rw_proto_parse("", &p), 0);
	assert_int_equal(p, RW_PROTO_AUTO);
	assert_int_equal(rw_proto_parse("vm", &p), KM_EINVAL);
}

static void test_flags_per_url(void **state)
{
	char err[300], hdr[RW_HEADERS_MAX], lbl[RW_DEST_LABELS_MAX];
	struct flags f;
	struct rw_dest d;
	char *ok[] = { "k8smon", "-remoteWrite.url=http://a/w", "-remoteWrite.url=https://b/w",
		       "-remoteWrite.basicAuth.username=alice", "-remoteWrite.basicAuth.username=",
		       "-remoteWrite.tlsCAFile=/ca.pem",
		       "-remoteWrite.headers=X-A:1^^X-B:2", "-remoteWrite.headers=",
		       "-remoteWrite.forcePromProto=", "-remoteWrite.forcePromProto=true",
		       "-remoteWrite.tlsServerName=b.example",
		       "-remoteWrite.maxDiskUsagePerURL=2MiB", "-remoteWrite.maxDiskUsagePerURL=",
		       "-remoteWrite.sendTimeout=", "-remoteWrite.sendTimeout=7s",
		       "-remoteWrite.urlLabels=dc=eu,team=a,dc=us", "-remoteWrite.urlLabels=" };
	char *bad_lbl[] = { "k8smon", "-remoteWrite.url=http://a/w", "-remoteWrite.urlLabels=9x=1" };
	char *bad_size[] = { "k8smon", "-remoteWrite.url=http://a/w", "-remoteWrite.maxDiskUsagePerURL=1KiB" };
	char *bad_count[] = { "k8smon", "-remoteWrite.url=http://a/w", "-remoteWrite.url=http://b/w",
			      "-remoteWrite.url=http://c/w", "-remoteWrite.tlsCAFile=a", "-remoteWrite.tlsCAFile=b" };
	char *bad_hdr[] = { "k8smon", "-remoteWrite.url=http://a/w", "-remoteWrite.headers=Host:x" };
	char *bad_both[] = { "k8smon", "-remoteWrite.url=http://a/w", "-remoteWrite.bearerTokenFile=/t",
			     "-remoteWrite.basicAuth.username=u" };
	char *bad_proto[] = { "k8smon", "-remoteWrite.url=http://a/w", "-remoteWrite.forceVMProto=true",
			      "-remoteWrite.forcePromProto=true" };
	FILE *devnull = fopen("/dev/null", "w");

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 17, ok, devnull, err, sizeof(err)), FLAGS_RUN);
	/* given per URL: no value for all, so K8sMonitor destinations get the defaults */
	assert_int_equal(f.rw_max_disk_per_url, 1 << 30);
	assert_int_equal(f.rw_send_timeout_ms, 60000);
	assert_int_equal(flags_rw_dest(&f, 0, &d, hdr, sizeof(hdr), lbl, sizeof(lbl), err, sizeof(err)), 0);
	assert_int_equal(d.max_disk, 2 << 20);
	assert_int_equal(d.send_timeout_ms, 0);               /* empty: the default */
	/* a later label of the same name replaces the earlier */
	assert_int_equal(d.labels_len, sizeof("team=a") + sizeof("dc=us"));
	assert_memory_equal(d.labels, "team=a\0dc=us", d.labels_len);
	assert_string_equal(d.basic_user, "alice");
	assert_string_equal(d.ca_file, "/ca.pem");            /* one value: every URL */
	assert_string_equal(d.server_name, "b.example");
	assert_int_equal(d.headers_len, sizeof("X-A: 1") + sizeof("X-B: 2"));
	assert_int_equal(d.proto, RW_PROTO_AUTO);
	assert_int_equal(flags_rw_dest(&f, 1, &d, hdr, sizeof(hdr), lbl, sizeof(lbl), err, sizeof(err)), 0);
	assert_string_equal(d.basic_user, "");                /* an empty value keeps its place */
	assert_string_equal(d.ca_file, "/ca.pem");
	assert_int_equal(d.headers_len, 0);
	assert_int_equal(d.proto, RW_PROTO_PROMETHEUS);
	assert_int_equal(d.max_disk, 0);
	assert_int_equal(d.send_timeout_ms, 7000);
	assert_int_equal(d.labels_len, 0);
	flags_fini(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 3, bad_lbl, devnull, err, sizeof(err)), FLAGS_EXIT_USAGE);
	assert_non_null(strstr(err, "-remoteWrite.urlLabels"));
	flags_fini(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 3, bad_size, devnull, err, sizeof(err)), FLAGS_EXIT_USAGE);
	assert_non_null(strstr(err, "-remoteWrite.maxDiskUsagePerURL"));
	flags_fini(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 6, bad_count, devnull, err, sizeof(err)), FLAGS_EXIT_USAGE);
	assert_non_null(strstr(err, "-remoteWrite.tlsCAFile given 2 times for 3"));
	flags_fini(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 3, bad_hdr, devnull, err, sizeof(err)), FLAGS_EXIT_USAGE);
	assert_non_null(strstr(err, "-remoteWrite.headers"));
	flags_fini(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 4, bad_both, devnull, err, sizeof(err)), FLAGS_EXIT_USAGE);
	assert_non_null(strstr(err, "choose one"));
	flags_fini(&f);
	memset(&f, 0, sizeof(f));
	assert_int_equal(flags_parse(&f, 4, bad_proto, devnull, err, sizeof(err)), FLAGS_EXIT_USAGE);
	assert_non_null(strstr(err, "forcePromProto both"));
	flags_fini(&f);
	fclose(devnull);
}

static void test_zstd_round_trip(void **state)
{
	char err[200], z[256], back[64];
	const char msg[] = "a WriteRequest-sized message, a WriteRequest-sized message";
	size_t n;

	(void)state;
	assert_int_equal(dl_zstd_load(err, sizeof(err)), 0);
	n = dl_zstd.compress(z, sizeof(z), msg, sizeof(msg), 1);
	assert_false(dl_zstd.is_error(n));
	assert_int_equal(dl_zstd.frame_content_size(z, n), sizeof(msg));
	assert_int_equal(dl_zstd.decompress(back, sizeof(back), z, n), sizeof(msg));
	assert_memory_equal(back, msg, sizeof(msg));
}

static int fixed_render(void *ctx, enum rw_source src, rw_sink_fn sink, void *sink_ctx)
{
	static const char text[] = "# TYPE up gauge\nup 1\n";

	(void)ctx;
	return src == RW_SRC_SELF ? sink(sink_ctx, text, sizeof(text) - 1) : 0;
}

/* The value of one sample line of rw_write_metrics' output; -1 when absent. */
static double metric(struct rw *rw, const char *line_start)
{
	struct buf out;
	const char *p;
	double v = -1;

	buf_init(&out, 1 << 20);
	assert_int_equal(rw_write_metrics(rw, &out), 0);
	p = strstr(buf_cstr(&out), line_start);
	if (p)
		v = strtod(p + strlen(line_start), NULL);
	buf_fini(&out);
	return v;
}

static void wait_blocks(struct rw *rw, const char *url_line, double at_least)
{
	for (int i = 0; i < 500 && metric(rw, url_line) < at_least; i++)
		usleep(20000);
	assert_true(metric(rw, url_line) >= at_least);
}

/* The first queued block of url under dir, uncompressed, into out. */
static size_t first_block(const char *dir, const char *url, char *out, size_t cap)
{
	uint64_t h = 1469598103934665603ull;
	char qpath[300], err[200];
	struct rw_queue *q;
	struct buf z;
	uint64_t seq;
	size_t n = cap;

	for (const char *p = url; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	snprintf(qpath, sizeof(qpath), "%s/%016llx", dir, (unsigned long long)h);
	q = rw_queue_open(qpath, 1 << 20, err, sizeof(err));
	assert_non_null(q);
	buf_init(&z, 1 << 20);
	assert_int_equal(rw_queue_front(q, &z, &seq), 0);
	assert_int_equal(dl_snappy.uncompress(z.data, z.len, out, &n), SNAPPY_OK);
	buf_fini(&z);
	rw_queue_close(q);
	return n;
}

static bool has(const char *p, size_t n, const char *s)
{
	return memmem(p, n, s, strlen(s)) != NULL;
}

/* Per-destination options: each URL's own labels reach only its blocks
 * (one encoding per label set; the global label everywhere, overridden by
 * the destination's), and its own queue cap, lowered live, drops that
 * queue's oldest blocks at once, counted, leaving the other queue alone. */
static void test_dest_labels_and_cap(void **state)
{
	char err[300], dir[] = "/tmp/k8smon-rw-dest.XXXXXX", pb[4096];
	char *ext[] = { "cluster=c1", "dc=global" };
	struct rw_dest d[2] = { { .url = "http://127.0.0.1:1/a", .labels = "dc=eu\0team=t1", .labels_len = 14 },
				{ .url = "http://127.0.0.1:1/b" } };
	struct rw *rw;
	size_t n;

	(void)state;
	assert_int_equal(dl_curl_load(err, sizeof(err)), 0);
	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	assert_non_null(mkdtemp(dir));
	rw = rw_start(&(struct rw_opts){ .dests = d, .ndests = 2, .labels = ext, .nlabels = 2, .tmp_data_path = dir,
				       .max_disk_per_url = 1 << 20, .interval_ms = 30, .send_timeout_ms = 1000,
				       .retry_min_ms = 60000, .node_name = "n", .render = fixed_render }, err, sizeof(err));
	assert_non_null(rw);
	wait_blocks(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/a\"} ", 6);
	wait_blocks(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/b\"} ", 6);
	/* Lower a's cap live (its labels stay): its oldest go, counted; b keeps all. */
	d[0].max_disk = 200;
	assert_int_equal(rw_set_dests(rw, d, 2, err, sizeof(err)), 0);
	assert_true(metric(rw, "k8smon_remotewrite_queue_bytes{url=\"http://127.0.0.1:1/a\"} ") <= 200);
	assert_true(metric(rw, "k8smon_remotewrite_blocks_dropped_total{reason=\"overflow\",url=\"http://127.0.0.1:1/a\"} ") >= 3);
	assert_true(metric(rw, "k8smon_remotewrite_blocks_dropped_total{reason=\"overflow\",url=\"http://127.0.0.1:1/b\"} ") == 0);
	assert_true(metric(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/b\"} ") >= 6);
	rw_stop(rw);
	n = first_block(dir, "http://127.0.0.1:1/a", pb, sizeof(pb));
	assert_true(has(pb, n, "team") && has(pb, n, "t1") && has(pb, n, "eu") && has(pb, n, "c1"));
	assert_false(has(pb, n, "global"));     /* the destination's dc wins */
	n = first_block(dir, "http://127.0.0.1:1/b", pb, sizeof(pb));
	assert_true(has(pb, n, "global") && has(pb, n, "c1"));
	assert_false(has(pb, n, "team") || has(pb, n, "eu"));
	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* Application samples encoded at the scrape (opts.collect): the chunks carry
 * the global labels only, so they go to the destinations without labels of
 * their own; a destination with its own labels gets the application section
 * rendered and encoded with them ("from_text"), never the chunks. */
struct fake_scrapes {
	struct rw_chunker ck;
	int collects;
};

static int apps_render(void *ctx, enum rw_source src, rw_sink_fn sink, void *sink_ctx)
{
	static const char text[] = "from_text 1\n";

	(void)ctx;
	return src == RW_SRC_APPS ? sink(sink_ctx, text, sizeof(text) - 1) : 0;
}

static int apps_collect(void *ctx, const struct label_pair *ext, size_t next, const char *node,
			rw_chunks_fn fn, void *fn_ctx)
{
	struct fake_scrapes *f = ctx;
	struct rw_label l[2] = { { "__name__", 8, "from_chunks", 11 }, { "cluster", 7, "c1", 2 } };
	struct rw_chunks *k;
	int rc;

	(void)ext;
	(void)next;
	(void)node;
	if (!fn)
		return 0; /* rw_start: encoding switched on */
	f->collects++;
	if ((rc = rw_chunker_series(&f->ck, l, 2, 1.0, 1700000000000)))
		return rc;
	k = rw_chunker_take(&f->ck, &rc);
	return k ? fn(fn_ctx, k) : rc;
}

static void test_dest_labels_with_collect(void **state)
{
	char err[300], dir[] = "/tmp/k8smon-rw-coll.XXXXXX", pb[4096];
	char *ext[] = { "cluster=c1" };
	struct rw_dest d[2] = { { .url = "http://127.0.0.1:1/a", .labels = "team=t1", .labels_len = 8 },
				{ .url = "http://127.0.0.1:1/b" } };
	struct fake_scrapes f = { .collects = 0 };
	struct rw *rw;
	size_t n;

	(void)state;
	assert_int_equal(dl_curl_load(err, sizeof(err)), 0);
	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	assert_non_null(mkdtemp(dir));
	rw_chunker_init(&f.ck);
	rw = rw_start(&(struct rw_opts){ .dests = d, .ndests = 2, .labels = ext, .nlabels = 1, .tmp_data_path = dir,
				       .max_disk_per_url = 1 << 20, .interval_ms = 30, .send_timeout_ms = 1000,
				       .retry_min_ms = 60000, .node_name = "n", .render = apps_render,
				       .render_ctx = &f, .collect = apps_collect }, err, sizeof(err));
	assert_non_null(rw);
	wait_blocks(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/a\"} ", 3);
	wait_blocks(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/b\"} ", 3);
	rw_stop(rw);
	assert_true(f.collects >= 3);
	n = first_block(dir, "http://127.0.0.1:1/a", pb, sizeof(pb));
	assert_true(has(pb, n, "from_text") && has(pb, n, "team") && has(pb, n, "c1"));
	assert_false(has(pb, n, "from_chunks"));
	n = first_block(dir, "http://127.0.0.1:1/b", pb, sizeof(pb));
	assert_true(has(pb, n, "from_chunks") && has(pb, n, "c1"));
	assert_false(has(pb, n, "from_text") || has(pb, n, "team"));
	rw_chunker_fini(&f.ck);
	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* Staleness markers of a rendered section through the whole cycle: a
 * cadvisor row rendered only at the first cycle gets exactly one marker
 * (counted once, whatever the label groups), queued for both destinations
 * (the one with labels of its own gets its own marker, with its label);
 * with no_stale_markers none is made. */
static int vanish_render(void *ctx, enum rw_source src, rw_sink_fn sink, void *sink_ctx)
{
	static const char a[] = "container_cpu_usage_seconds_total{container=\"a\"} 1\n";
	static const char b[] = "container_cpu_usage_seconds_total{container=\"gone\"} 1\n";
	int *calls = ctx;
	int rc;

	if (src != RW_SRC_CADVISOR)
		return 0;
	rc = sink(sink_ctx, a, sizeof(a) - 1);
	if (!rc && (*calls)++ == 0)
		rc = sink(sink_ctx, b, sizeof(b) - 1);
	return rc;
}

/* Blocks of url under dir holding a StaleNaN sample value (and, if
 * label set, that string). */
static int stale_blocks(const char *dir, const char *url, const char *label)
{
	static const char nan[] = { 0x09, 0x02, 0, 0, 0, 0, 0, (char)0xf0, 0x7f };
	uint64_t h = 1469598103934665603ull, seq;
	char qpath[300], err[200];
	struct rw_queue *q;
	struct buf z;
	int found = 0;

	for (const char *p = url; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	snprintf(qpath, sizeof(qpath), "%s/%016llx", dir, (unsigned long long)h);
	q = rw_queue_open(qpath, 1 << 20, err, sizeof(err));
	assert_non_null(q);
	buf_init(&z, 1 << 20);
	while (rw_queue_front(q, &z, &seq) == 0 && z.len) {
		char pb[8192];
		size_t n = sizeof(pb);

		assert_int_equal(dl_snappy.uncompress(z.data, z.len, pb, &n), SNAPPY_OK);
		if (memmem(pb, n, nan, sizeof(nan))) {
			found++;
			assert_true(has(pb, n, "gone") && has(pb, n, "kubelet") && has(pb, n, "c1"));
			assert_false(has(pb, n, "container_cpu_usage_seconds_total{"));
			if (label)
				assert_true(has(pb, n, label));
		}
		rw_queue_pop(q, seq);
		buf_reset(&z);
	}
	buf_fini(&z);
	rw_queue_close(q);
	return found;
}

static void run_vanish(bool no_stale, double want)
{
	char err[300], dir[] = "/tmp/k8smon-rw-stale.XXXXXX", cmd[200];
	char *ext[] = { "cluster=c1" };
	struct rw_dest d[2] = { { .url = "http://127.0.0.1:1/a", .labels = "team=t1", .labels_len = 8 },
				{ .url = "http://127.0.0.1:1/b" } };
	struct rw *rw;
	int calls = 0;

	assert_int_equal(dl_curl_load(err, sizeof(err)), 0);
	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	assert_non_null(mkdtemp(dir));
	rw = rw_start(&(struct rw_opts){ .dests = d, .ndests = 2, .labels = ext, .nlabels = 1, .tmp_data_path = dir,
				       .max_disk_per_url = 1 << 20, .interval_ms = 30, .send_timeout_ms = 1000,
				       .retry_min_ms = 60000, .node_name = "n", .render = vanish_render,
				       .render_ctx = &calls, .no_stale_markers = no_stale }, err, sizeof(err));
	assert_non_null(rw);
	for (int i = 0; i < 500 && metric(rw, "\nk8smon_remotewrite_cycles_total ") < 4; i++)
		usleep(20000);
	assert_true(metric(rw, "\nk8smon_remotewrite_cycles_total ") >= 4);
	/* after the second cycle nothing changes: the count is final */
	assert_true(metric(rw, "k8smon_remotewrite_stale_markers_total{source=\"cadvisor\"} ") == want);
	assert_true(metric(rw, "k8smon_remotewrite_stale_markers_total{source=\"node\"} ") == 0);
	assert_true(metric(rw, "k8smon_remotewrite_stale_markers_total{source=\"apps\"} ") == 0);
	rw_stop(rw);
	assert_int_equal(stale_blocks(dir, "http://127.0.0.1:1/a", "t1"), (int)want);
	assert_int_equal(stale_blocks(dir, "http://127.0.0.1:1/b", NULL), (int)want);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_rendered_stale(void **state)
{
	(void)state;
	run_vanish(false, 1);
	run_vanish(true, 0);
}

/* Live reconfiguration (rw_set_dests): a URL that stays keeps its queue when
 * its settings change, a removed one disappears, one added back finds its
 * queue on disk. The receivers are a closed port: nothing is ever sent. */
static void test_set_dests_keeps_queues(void **state)
{
	char err[300], dir[] = "/tmp/k8smon-rw-live.XXXXXX";
	struct rw_dest a = { .url = "http://127.0.0.1:1/a" }, b = { .url = "http://127.0.0.1:1/b" };
	struct rw_dest two[2];
	struct rw *rw;
	double qa;

	(void)state;
	assert_int_equal(dl_curl_load(err, sizeof(err)), 0);
	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	assert_non_null(mkdtemp(dir));
	rw = rw_start(&(struct rw_opts){ .dests = &a, .ndests = 1, .tmp_data_path = dir, .max_disk_per_url = 1 << 20,
				       .interval_ms = 50, .send_timeout_ms = 1000, .retry_min_ms = 60000,
				       .node_name = "n", .render = fixed_render }, err, sizeof(err));
	assert_non_null(rw);
	wait_blocks(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/a\"} ", 3);
	/* Same URL, new settings: a new sender, the same queue. */
	a.headers = "X-A: 1";
	a.headers_len = sizeof("X-A: 1");
	two[0] = a;
	two[1] = b;
	qa = metric(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/a\"} ");
	assert_int_equal(rw_set_dests(rw, two, 2, err, sizeof(err)), 0);
	assert_true(metric(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/a\"} ") >= qa);
	wait_blocks(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/b\"} ", 2);
	/* a removed: gone from the metrics; b keeps going. */
	assert_int_equal(rw_set_dests(rw, &b, 1, err, sizeof(err)), 0);
	assert_true(metric(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/a\"} ") < 0);
	qa = metric(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/b\"} ");
	wait_blocks(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/b\"} ", qa + 1);
	/* a back: its blocks on disk are queued again. */
	two[0] = b;
	two[1] = a;
	assert_int_equal(rw_set_dests(rw, two, 2, err, sizeof(err)), 0);
	assert_true(metric(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/a\"} ") >= 3);
	/* A destination whose queue cannot be opened (a file where its
	 * directory goes, <path>/<FNV-1a of the URL>) is left out with the
	 * reason; the others stay. */
	{
		struct rw_dest c = { .url = "http://127.0.0.1:1/c" };
		uint64_t h = 1469598103934665603ull;
		char qpath[300];
		FILE *f;

		for (const char *p = c.url; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
		snprintf(qpath, sizeof(qpath), "%s/%016llx", dir, (unsigned long long)h);
		f = fopen(qpath, "w");
		assert_non_null(f);
		fclose(f);
		two[1] = c;
		assert_int_equal(rw_set_dests(rw, two, 2, err, sizeof(err)), KM_EIO);
		assert_non_null(strstr(err, "http://127.0.0.1:1/c"));
		assert_true(metric(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/b\"} ") >= 0);
		assert_true(metric(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/c\"} ") < 0);
		/* a, not listed this time, is gone again. */
		assert_true(metric(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/a\"} ") < 0);
	}
	assert_int_equal(rw_set_dests(rw, NULL, 0, err, sizeof(err)), 0);
	assert_true(metric(rw, "k8smon_remotewrite_queue_blocks{") < 0);
	rw_stop(rw);
	/* In memory (no tmpDataPath) the queue is the same object, not files
	 * read again: a changed destination must keep it. */
	a.headers = NULL;
	a.headers_len = 0;
	rw = rw_start(&(struct rw_opts){ .dests = &a, .ndests = 1, .tmp_data_path = "", .max_disk_per_url = 1 << 20,
				       .interval_ms = 50, .send_timeout_ms = 1000, .retry_min_ms = 60000,
				       .node_name = "n", .render = fixed_render }, err, sizeof(err));
	assert_non_null(rw);
	wait_blocks(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/a\"} ", 3);
	qa = metric(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/a\"} ");
	a.proto = RW_PROTO_PROMETHEUS;
	assert_int_equal(rw_set_dests(rw, &a, 1, err, sizeof(err)), 0);
	assert_true(metric(rw, "k8smon_remotewrite_queue_blocks{url=\"http://127.0.0.1:1/a\"} ") >= qa);
	rw_stop(rw);
	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* K8sMonitor spec.remoteWrite: each bad entry is refused with its field path. */
static void test_monitor_remote_write_check(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "[{\"url\":\"https://a/w\",\"basicAuth\":{\"username\":{\"name\":\"s\",\"key\":\"u\"},"
		  "\"password\":{\"name\":\"s\",\"key\":\"p\"}},\"tlsConfig\":{\"ca\":{\"name\":\"t\",\"key\":\"ca\"}},"
		  "\"headers\":{\"X-A\":\"1\"},\"protocol\":\"victoriametrics\"},{\"url\":\"http://b/w\"}]", NULL },
		{ "[{\"url\":\"ftp://a\"}]", "spec.remoteWrite[0].url" },
		{ "[{\"url\":\"http://a\"},{\"url\":\"http://a\"}]", "spec.remoteWrite[1].url: also in spec.remoteWrite[0]" },
		{ "[{\"url\":\"http://a\",\"protocol\":\"influx\"}]", "spec.remoteWrite[0].protocol" },
		{ "[{\"url\":\"http://a\",\"bearerTokenSecret\":{\"name\":\"s\"}}]", "spec.remoteWrite[0].bearerTokenSecret" },
		{ "[{\"url\":\"http://a\",\"bearerTokenSecret\":{\"name\":\"s\",\"key\":\"t\"},\"basicAuth\":{\"username\":"
		  "{\"name\":\"s\",\"key\":\"u\"},\"password\":{\"name\":\"s\",\"key\":\"p\"}}}]", "exclusive" },
		{ "[{\"url\":\"http://a\",\"basicAuth\":{\"username\":{\"name\":\"s\",\"key\":\"u\"}}}]", "spec.remoteWrite[0].basicAuth" },
		{ "[{\"url\":\"https://a\",\"tlsConfig\":{\"cert\":{\"name\":\"c\",\"key\":\"k\"}}}]", "spec.remoteWrite[0].tlsConfig: cert and keySecret" },
		{ "[{\"url\":\"http://a\",\"headers\":{\"Host\":\"x\"}}]", "spec.remoteWrite[0].headers: header Host" },
		{ "[{\"url\":\"http://a\",\"headers\":{\"X-A\":\"1^^X-B:2\"}}]", "spec.remoteWrite[0].headers.X-A" },
		{ "[{\"url\":\"http://a\",\"headers\":{\"X-A\":\"1\\r\\nEvil: 1\"}}]", "line break" },
		{ "{\"url\":\"http://a\"}", "spec.remoteWrite: want a list" },
		{ "[{\"url\":\"http://a\",\"maxDiskUsage\":\"2GiB\",\"sendTimeout\":\"30s\","
		  "\"externalLabels\":{\"tenant\":\"a\"}}]", NULL },
		{ "[{\"url\":\"http://a\",\"maxDiskUsage\":\"1KiB\"}]", "spec.remoteWrite[0].maxDiskUsage" },
		{ "[{\"url\":\"http://a\",\"maxDiskUsage\":1000000}]", "spec.remoteWrite[0].maxDiskUsage" },
		{ "[{\"url\":\"http://a\",\"sendTimeout\":\"soon\"}]", "spec.remoteWrite[0].sendTimeout" },
		{ "[{\"url\":\"http://a\",\"externalLabels\":{\"9x\":\"a\"}}]", "spec.remoteWrite[0].externalLabels.9x" },
		{ "[{\"url\":\"http://a\",\"externalLabels\":{\"x\":\"\"}}]", "spec.remoteWrite[0].externalLabels.x" },
		{ "[{\"url\":\"http://a\",\"externalLabels\":{\"x\":1}}]", "want a string" },
	};
	char err[300];
	struct rw_dest d = { 0 };
	json_t *e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].json, 0, NULL);

		assert_non_null(v);
		err[0] = '\0';
		if (!cases[i].want) {
			assert_int_equal(config_check_remote_write(v, err, sizeof(err)), 0);
		} else {
			assert_int_equal(config_check_remote_write(v, err, sizeof(err)), KM_EINVAL);
			if (!strstr(err, cases[i].want))
				fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
		}
		json_decref(v);
	}
	/* What the agent applies from an entry (agent/rwconf.c). */
	e = json_loads("{\"url\":\"http://a\",\"maxDiskUsage\":\"2MiB\",\"sendTimeout\":\"1m30s\","
		       "\"externalLabels\":{\"tenant\":\"a\",\"dc\":\"eu\"}}", 0, NULL);
	assert_non_null(e);
	assert_int_equal(config_rw_dest_opts(e, "x", &d, err, sizeof(err)), 0);
	assert_int_equal(d.max_disk, 2 << 20);
	assert_int_equal(d.send_timeout_ms, 90000);
	assert_int_equal(d.labels_len, sizeof("tenant=a") + sizeof("dc=eu"));
	assert_memory_equal(d.labels, "tenant=a\0dc=eu", d.labels_len);
	rw_dest_fini(&d);
	json_decref(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pb_matches_protoc),
		cmocka_unit_test(test_pb_long_strings_and_cap),
		cmocka_unit_test(test_pb_enc_runs),
		cmocka_unit_test(test_snappy_round_trip),
		cmocka_unit_test(test_chunks_pack),
		cmocka_unit_test(test_chunks_scratch_reuse),
		cmocka_unit_test(test_encoder_labels),
		cmocka_unit_test(test_encoder_splits_blocks),
		cmocka_unit_test(test_block_verify),
		cmocka_unit_test(test_queue_disk),
		cmocka_unit_test(test_queue_cap_drops_oldest),
		cmocka_unit_test(test_flags_helpers),
		cmocka_unit_test(test_flags_remote_write),
		cmocka_unit_test(test_headers_parse),
		cmocka_unit_test(test_dest_check_copy_equal),
		cmocka_unit_test(test_flags_per_url),
		cmocka_unit_test(test_zstd_round_trip),
		cmocka_unit_test(test_set_dests_keeps_queues),
		cmocka_unit_test(test_dest_labels_and_cap),
		cmocka_unit_test(test_dest_labels_with_collect),
		cmocka_unit_test(test_rendered_stale),
		cmocka_unit_test(test_monitor_remote_write_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
