/* Staleness markers when a series vanished (remotewrite/stale.h): thread
 * CPU of rw_stale_markers for one target of N series (six labels, ~110
 * bytes of label fields each) whose scrape lost one series: both scrapes'
 * chunks decoded, hashed, compared; the one marker encoded. The common
 * case (nothing vanished) does not call it. bench/stale_markers.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "dl/snappy.h"
#include "remotewrite/chunks.h"
#include "remotewrite/stale.h"

#define REPS 20

/* n series at ts 1000, all but the one numbered skip (-1: none). */
static struct rw_chunks *make(long n, long skip)
{
	struct rw_chunker c;
	struct rw_chunks *k = NULL;
	char name[32], v[32];
	int rc = 0;

	rw_chunker_init(&c);
	for (long i = 0; i < n && !rc; i++) {
		struct rw_label l[6] = {
			{ "__name__", 8, name, 0 }, { "container", 9, "main", 4 }, { "id", 2, v, 0 },
			{ "instance", 8, "10.0.0.1:8080", 13 }, { "job", 3, "demo/app", 8 },
			{ "pod", 3, "app-7d9f8c-xk2lp", 16 },
		};

		if (i == skip)
			continue;
		l[0].value_len = (size_t)snprintf(name, sizeof(name), "metric_%ld", i % 50);
		l[2].value_len = (size_t)snprintf(v, sizeof(v), "%ld", i);
		rc = rw_chunker_series(&c, l, 6, 1.0, 1000);
	}
	if (!rc)
		k = rw_chunker_take(&c, &rc);
	rw_chunker_fini(&c);
	return k;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	struct rw_chunks *prev, *cur;
	char err[256];
	int64_t t0, t1;
	int rc = 0;

	if (n < 8 || dl_snappy_load(err, sizeof(err)))
		return 1;
	prev = make(n, -1);
	cur = make(n, 7);
	if (!prev || !cur)
		return 1;
	t0 = clock_thread_cpu_ns();
	for (int r = 0; r < REPS && !rc; r++) {
		struct rw_chunks *mk = rw_stale_markers(prev, 1000, cur, 2000, &rc);

		if (!mk || mk->series != 1)
			rc = 1;
		rw_chunks_unref(mk);
	}
	t1 = clock_thread_cpu_ns();
	if (rc)
		return 1;
	printf("%ld series, one vanished: %.1f ms per target (%.0f ns per series), chunks %zu bytes\n", n,
	       (double)(t1 - t0) / REPS / 1e6, (double)(t1 - t0) / REPS / (double)n, prev->len);
	rw_chunks_unref(prev);
	rw_chunks_unref(cur);
	return 0;
}
