/* Staleness markers when a series vanished (remotewrite/stale.h): thread
 * CPU of rw_stale_markers for one target of N series (six labels, ~110
 * bytes of label fields each) whose scrape lost one series: both scrapes'
 * chunks decoded, hashed, compared; the one marker encoded. The common
 * case (nothing vanished) does not call it. bench/stale_markers.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/clock.h"
#include "dl/snappy.h"
#include "remotewrite/chunks.h"
#include "remotewrite/stale.h"

static struct rw_chunks *make(int n, int skip)
{
	struct rw_chunker c;
	struct rw_chunks *k;
	char name[32], v[32];
	int rc;

	rw_chunker_init(&c);
	for (int i = 0; i < n; i++) {
		if (i == skip)
			continue;
		snprintf(name, sizeof(name), "metric_%d", i % 50);
		snprintf(v, sizeof(v), "%d", i);
		struct rw_label l[6] = { { "__name__", 8, name, strlen(name) }, { "container", 9, "main", 4 },
			{ "id", 2, v, strlen(v) }, { "instance", 8, "10.0.0.1:8080", 13 }, { "job", 3, "demo/app", 8 },
			{ "pod", 3, "app-7d9f8c-xk2lp", 16 } };
		rw_chunker_series(&c, l, 6, 1.0, 1000);
	}
	k = rw_chunker_take(&c, &rc);
	rw_chunker_fini(&c);
	return k;
}

int main(int argc, char **argv)
{
	char err[256];
	int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 100000, rc;
	if (dl_snappy_load(err, sizeof(err)))
		return 1;
	if (n < 8)
		n = 8;
	struct rw_chunks *prev = make(n, -1), *cur = make(n, 7);
	int64_t t0 = clock_thread_cpu_ns();
	int reps = 20;
	for (int r = 0; r < reps; r++) {
		struct rw_chunks *mk = rw_stale_markers(prev, 1000, cur, 2000, &rc);
		if (!mk || mk->series != 1) { printf("bad\n"); return 1; }
		rw_chunks_unref(mk);
	}
	int64_t t1 = clock_thread_cpu_ns();
	printf("%d series, one vanished: %.1f ms per target (%.0f ns per series), chunks %zu bytes\n", n,
	       (double)(t1 - t0) / reps / 1e6, (double)(t1 - t0) / reps / n, prev->len);
	return 0;
}
