/* /targets (operator) and /api/v1/targets (redacted) in the shape of Prometheus' API (activeTargets with
 * discoveredLabels, labels, scrapePool, scrapeUrl, globalUrl, lastError,
 * lastScrape, lastScrapeDuration, health, scrapeInterval, scrapeTimeout). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "scrape/scrape_int.h"

static json_t *labels_json(const struct tlabels *l)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < l->n; i++)
		json_object_set_new(o, l->v[i].name, json_string(l->v[i].value));
	return o;
}

static void rfc3339(char *dst, size_t n, double t)
{
	time_t s = (time_t)t;
	struct tm tm;
	char base[32];

	if (t <= 0) {
		snprintf(dst, n, "0001-01-01T00:00:00Z");
		return;
	}
	gmtime_r(&s, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(dst, n, "%s.%09ldZ", base, (long)((t - (double)s) * 1e9));
}

static void dur(char *dst, size_t n, int64_t ms)
{
	if (ms % 1000 == 0)
		snprintf(dst, n, "%llds", (long long)(ms / 1000));
	else
		snprintf(dst, n, "%lldms", (long long)ms);
}

int scrape_mgr_write_targets(struct scrape_mgr *m, struct buf *out)
{
	return scrape_mgr_write_targets_view(m, false, out);
}

int scrape_mgr_write_targets_view(struct scrape_mgr *m, bool full, struct buf *out)
{
	json_t *root = json_pack("{s:s, s:{s:[], s:[]}}", "status", "success", "data", "activeTargets",
				 "droppedTargets");
	json_t *active = json_object_get(json_object_get(root, "data"), "activeTargets");
	char *text = NULL;
	int rc = 0;

	if (!root)
		return KM_ENOMEM;
	if (m) {
		pthread_mutex_lock(&m->lock);
		for (size_t i = 0; i < m->set.n && !rc; i++) {
			const struct target *t = m->set.v[i];
			const struct tstate *s = t->state;
			char ts[64], iv[32], to[32], pool[600];
			json_t *o;
			char err[256];

			rfc3339(ts, sizeof(ts), s ? s->last_scrape : 0);
			dur(iv, sizeof(iv), t->d->interval_ms);
			dur(to, sizeof(to), t->d->timeout_ms);
			snprintf(pool, sizeof(pool), "%s", t->rule->job);
			/* Redacted: discovered labels carry every annotation of the
			 * object, errors may quote the response (docs/security.md). */
			snprintf(err, sizeof(err), "%.*s", s ? (int)(full ? sizeof(err) : s->last_error_pub) : 0,
				 s ? s->last_error : "");
			o = json_pack("{s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:s, s:s}",
				      "discoveredLabels", full ? labels_json(&t->d->discovered) : json_object(),
				      "labels", labels_json(&t->d->labels),
				      "scrapePool", pool,
				      "scrapeUrl", t->d->url,
				      "globalUrl", t->d->url,
				      "lastError", err,
				      "lastScrape", ts,
				      "lastScrapeDuration", s ? s->last_duration : 0.0,
				      "health", scrape_health_name(s ? s->health : HEALTH_UNKNOWN),
				      "scrapeInterval", iv,
				      "scrapeTimeout", to);
			if (!o || json_array_append_new(active, o))
				rc = KM_ENOMEM;
		}
		pthread_mutex_unlock(&m->lock);
	}
	if (!rc) {
		text = json_dumps(root, JSON_COMPACT);
		rc = text ? buf_adds(out, text) : KM_ENOMEM;
	}
	free(text);
	json_decref(root);
	return rc;
}
