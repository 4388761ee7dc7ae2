/* Staleness markers of the rendered sections (remotewrite/stale.h
 * rw_track): thread CPU of one remote-write cycle of a kube-state-like
 * section of N series (parse + label + encode, as rw.c does it) without
 * tracking, with tracking and the same series (the common case), and with
 * tracking and one series vanished; and the memory the tracker keeps
 * between cycles (the last cycle's chunks, the two hash arrays, the
 * chunker's scratch). bench/rendered_stale.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "dl/snappy.h"
#include "expo/writer.h"
#include "remotewrite/encode.h"
#include "remotewrite/stale.h"

#define REPS 10

static int drop(void *ctx, const char *pb, size_t len, size_t series)
{
	(void)ctx;
	(void)pb;
	(void)len;
	(void)series;
	return 0;
}

/* kube_pod_*-like rows: 7 labels, ~130 bytes a line; all but skip. */
static int text(struct buf *b, long n, long skip)
{
	int rc = 0;

	buf_reset(b);
	for (long i = 0; i < n && !rc; i++) {
		char line[400];
		int l;

		if (i == skip)
			continue;
		l = snprintf(line, sizeof(line),
			     "kube_pod_info{namespace=\"ns-%ld\",pod=\"app-%ld-7d9f8c-xk2lp\",uid=\"%08lx-1c2d-4e5f\","
			     "node=\"node-%ld\",host_ip=\"10.0.%ld.%ld\",created_by_kind=\"ReplicaSet\"} 1\n",
			     i / 100, i, i, i % 500, (i / 250) % 256, i % 250);
		rc = buf_add(b, line, (size_t)l);
	}
	return rc;
}

static const struct label_pair tl[] = { { "job", "kube-state-metrics" } };
static const struct rw_target tgt = { tl, 1, true };

/* thread CPU ns of one cycle of t (NULL: no tracking); *n markers */
static int64_t cycle(struct rw_encoder *e, struct rw_track *t, const struct buf *b, int64_t ts, uint64_t *n)
{
	int64_t t0 = clock_thread_cpu_ns();
	int rc = 0;

	*n = 0;
	rw_encoder_begin(e, &tgt, ts);
	if (t) {
		rw_track_begin(t);
		rw_encoder_track(e, t);
	}
	if (rw_encoder_feed(e, b->data, b->len) || rw_encoder_end(e) || rw_encoder_flush(e))
		exit(1);
	if (t) {
		struct rw_chunks *mk = rw_track_end(t, ts, n, &rc);

		if (rc)
			exit(1);
		rw_chunks_unref(mk);
	}
	return clock_thread_cpu_ns() - t0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	struct rw_encoder *e;
	struct rw_track t;
	struct buf all, less;
	char err[256];
	int64_t off = 0, on = 0, gone = 0;
	uint64_t nm, markers = 0;
	size_t kept;

	if (n < 8 || dl_snappy_load(err, sizeof(err)))
		return 1;
	buf_init(&all, 1u << 30);
	buf_init(&less, 1u << 30);
	e = rw_encoder_new(10000, NULL, 0, drop, NULL);
	if (!e || text(&all, n, -1) || text(&less, n, 7))
		return 1;
	rw_track_init(&t);
	cycle(e, NULL, &all, 1000, &nm);
	cycle(e, &t, &all, 1000, &nm);
	for (int r = 0; r < REPS; r++) {
		off += cycle(e, NULL, &all, 2000 + r, &nm);
		on += cycle(e, &t, &all, 2000 + r, &nm);
		markers += nm;
	}
	for (int r = 0; r < REPS; r++) {
		/* all -> less: one vanished; less -> all: none, reordered tail */
		gone += cycle(e, &t, &less, 3000 + 2 * r, &nm);
		markers += nm - 1;
		cycle(e, &t, &all, 3001 + 2 * r, &nm);
		markers += nm;
	}
	if (markers)
		return 1;
	kept = t.last->len + (t.capcur + t.capprev) * sizeof(uint64_t) + t.ck.sc.pb.alloc + t.ck.sc.z.alloc + t.ck.sc.out.alloc;
	printf("%ld series: cycle %.1f ms untracked, %.1f ms tracked (%.2fx), %.1f ms with one vanished; "
	       "kept %.1f MiB (%.1f bytes a series; chunks %.1f)\n",
	       n, (double)off / REPS / 1e6, (double)on / REPS / 1e6, (double)on / (double)off, (double)gone / REPS / 1e6,
	       (double)kept / 1048576.0, (double)kept / (double)n, (double)t.last->len / (double)n);
	rw_track_fini(&t);
	rw_encoder_free(e);
	buf_fini(&all);
	buf_fini(&less);
	return 0;
}
