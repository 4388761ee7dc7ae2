/* Store update latency under continuous scrapes (bench/store_rwlock.sh).
 *
 * R reader threads render the whole kube-state store back to back (what
 * scrapers of /metrics/kube-state do: each render holds the read lock for
 * its whole duration) while one writer applies pod upserts, 1 ms apart
 * (what the reflector does with watch events), for SECONDS, timing each
 * upsert from call to return, lock wait included. A writer still blocked
 * when the time is up is let in by stopping the readers: that upsert counts
 * with the time it waited.
 *
 * MODE "whole": each scrape is one ks_store_write (read lock held for the
 * whole render: the unit test test_store_concurrent). MODE "stream": each
 * scrape goes through a ks_cursor in 128 KiB blocks, as /metrics/kube-state
 * does (read lock held only while the snapshot is pinned).
 *
 * usage: store_rwlock PODS READERS SECONDS MODE
 * prints: updates p50_ms p99_ms max_ms scrapes_per_s */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "collect/kubestate/kubestate.h"

struct bench {
	struct ks_store *s;
	atomic_int stop;
	atomic_long scrapes;
	double end_ms;
	int stream;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static json_t *pod(int i, int gen)
{
	char name[32], uid[48], gens[16];

	snprintf(name, sizeof(name), "pod-%d", i);
	snprintf(uid, sizeof(uid), "00000000-0000-0000-0000-%012d", i);
	snprintf(gens, sizeof(gens), "%d", gen);
	return json_pack("{s:{s:s, s:s, s:s, s:{s:s, s:s}}, s:{s:s, s:[{s:s, s:s}]},"
			 " s:{s:s, s:s, s:[{s:s, s:s}]}}",
			 "metadata", "name", name, "namespace", "bench", "uid", uid,
			 "labels", "app", "bench", "gen", gens,
			 "spec", "nodeName", "n1", "containers", "name", "c", "image", "registry/x:1",
			 "status", "phase", "Running", "podIP", "10.0.0.1",
			 "conditions", "type", "Ready", "status", "True");
}

static void *reader(void *arg)
{
	struct bench *b = arg;
	struct buf out;

	buf_init(&out, 256u << 20);
	while (!atomic_load(&b->stop) && now_ms() < b->end_ms) {
		buf_reset(&out);
		if (b->stream) {
			struct ks_cursor c;
			int rc;

			ks_cursor_init(&c);
			while ((rc = ks_store_write_next(b->s, &c, NULL, &out, 128u << 10)) == KS_WRITE_MORE)
				buf_reset(&out);
			ks_cursor_fini(&c);
			if (rc == KS_WRITE_DONE)
				atomic_fetch_add(&b->scrapes, 1);
		} else if (ks_store_write(b->s, NULL, &out) == 0) {
			atomic_fetch_add(&b->scrapes, 1);
		}
	}
	buf_fini(&out);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int pods = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 3000;
	int readers = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 4;
	int seconds = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 10;
	/* At most one update per millisecond. */
	int cap = seconds * 1000, updates = 0;
	struct bench b = { .s = ks_store_new(), .stream = argc > 4 && strcmp(argv[4], "stream") == 0 };
	pthread_t th[64];
	double *lat = calloc((size_t)cap + 1, sizeof(double)), t0;

	if (!b.s || !lat || readers < 1 || readers > 64 || pods < 1 || seconds < 1)
		return 2;
	for (int i = 0; i < pods; i++) {
		json_t *p = pod(i, 0);
		if (!p || ks_store_upsert(b.s, KS_POD, p, NULL))
			return 2;
		json_decref(p);
	}
	/* Set before the readers start: they read it without a lock. */
	t0 = now_ms();
	b.end_ms = t0 + seconds * 1000.0;
	for (int i = 0; i < readers; i++)
		pthread_create(&th[i], NULL, reader, &b);
	for (int i = 0; i < cap && now_ms() < b.end_ms; i++) {
		json_t *p = pod(i % pods, i + 1);
		struct timespec gap = { 0, 1000000 };
		double s;

		if (!p)
			return 2;
		s = now_ms();
		if (ks_store_upsert(b.s, KS_POD, p, NULL))
			return 2;
		lat[i] = now_ms() - s;
		updates++;
		json_decref(p);
		nanosleep(&gap, NULL);
	}
	atomic_store(&b.stop, 1);
	for (int i = 0; i < readers; i++)
		pthread_join(th[i], NULL);
	qsort(lat, (size_t)updates, sizeof(double), cmp);
	if (updates == 0)
		return 2;
	printf("%d %.3f %.3f %.3f %.1f\n", updates, lat[updates / 2], lat[(int)(updates * 0.99)], lat[updates - 1],
	       (double)atomic_load(&b.scrapes) * 1000.0 / (now_ms() - t0));
	free(lat);
	ks_store_free(b.s);
	return 0;
}
