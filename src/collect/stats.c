#include "collect/stats.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "expo/writer.h"

struct stat_entry {
	char name[STATS_NAME_MAX];
	double seconds;
	bool ok;
	uint64_t runs;
	uint64_t errors;
};

struct collect_stats {
	pthread_mutex_t lock;
	size_t n;
	size_t next; /* where the name after the last recorded one is likely */
	struct stat_entry e[STATS_MAX];
};

struct collect_stats *collect_stats_new(void)
{
	struct collect_stats *st = calloc(1, sizeof(*st));

	if (st)
		pthread_mutex_init(&st->lock, NULL);
	return st;
}

void collect_stats_free(struct collect_stats *st)
{
	if (!st)
		return;
	pthread_mutex_destroy(&st->lock);
	free(st);
}

int collect_stats_record(struct collect_stats *st, const char *name, double seconds, bool ok)
{
	struct stat_entry *e = NULL;
	int rc = 0;

	if (strlen(name) >= STATS_NAME_MAX)
		return KM_EINVAL;
	pthread_mutex_lock(&st->lock);
	/* A scrape records its collectors in the same order each time: look
	 * where the next one was first (a full search was ~460 strcmp a node
	 * scrape, 1.5 % of its user-space instructions). */
	if (st->next < st->n && strcmp(st->e[st->next].name, name) == 0)
		e = &st->e[st->next];
	for (size_t i = 0; !e && i < st->n; i++) {
		if (strcmp(st->e[i].name, name) == 0)
			e = &st->e[i];
	}
	if (!e) {
		if (st->n == STATS_MAX) {
			rc = KM_ETOOBIG;
			goto out;
		}
		e = &st->e[st->n++];
		strncpy(e->name, name, STATS_NAME_MAX - 1);
	}
	st->next = (size_t)(e - st->e) + 1;
	e->seconds = seconds;
	e->ok = ok;
	e->runs++;
	if (!ok)
		e->errors++;
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int collect_stats_write(struct collect_stats *st, struct buf *out)
{
	static const struct {
		const char *name, *help;
		enum expo_type type;
	} fams[] = {
		{ "k8smon_collector_duration_seconds", "Duration of the last run of a collector.", EXPO_GAUGE },
		{ "k8smon_collector_success", "Whether the last run of a collector succeeded.", EXPO_GAUGE },
		{ "k8smon_collector_runs_total", "Runs of a collector.", EXPO_COUNTER },
		{ "k8smon_collector_errors_total", "Failed runs of a collector (missing or unreadable sources, parse errors).", EXPO_COUNTER },
	};
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	for (size_t f = 0; !rc && f < sizeof(fams) / sizeof(fams[0]); f++) {
		if (st->n == 0)
			break;
		rc = expo_family(out, fams[f].name, fams[f].help, fams[f].type);
		for (size_t i = 0; !rc && i < st->n; i++) {
			struct label_pair l = { "collector", st->e[i].name };
			double v = f == 0 ? st->e[i].seconds : f == 1 ? (st->e[i].ok ? 1 : 0)
				 : f == 2 ? (double)st->e[i].runs : (double)st->e[i].errors;
			rc = expo_sample(out, fams[f].name, &l, 1, v);
		}
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}
