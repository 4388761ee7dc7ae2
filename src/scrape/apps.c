/* /metrics/apps and the scrape self-metrics. Samples are copied from
 * immutable blobs after the lock is released, so a large output never holds
 * up the I/O loop; a target removed from the set is gone from the next
 * response (its blob lives only as long as a reader still copies it). */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "expo/writer.h"
#include "scrape/scrape_int.h"

struct snap {
	struct blob *samples;       /* reference */
	char *labels;               /* borrowed copy pointer; see below */
	double up, duration;
	uint64_t scraped, post, added;
	bool scraped_once;
};

static int write_series(struct buf *out, const char *name, const char *labels, double v)
{
	int rc = buf_adds(out, name);

	if (!rc && labels[0])
		rc = buf_printf(out, "{%s}", labels);
	if (!rc)
		rc = expo_value(out, v, -1);
	return rc;
}

/* A "# HELP name ..." or "# TYPE name ..." line, written only the first time
 * this response meets it: several targets (replicas of one app) expose the
 * same families, and 0.0.4 allows one HELP and one TYPE per family. The key
 * is the line up to the end of the name. */
static int write_meta(struct buf *out, const char *line, size_t len, json_t *seen)
{
	const char *sp = len > 7 ? memchr(line + 7, ' ', len - 7) : NULL;
	size_t klen = sp ? (size_t)(sp - line) : len - 1;

	if (json_object_getn(seen, line, klen))
		return 0;
	if (json_object_setn_new(seen, line, klen, json_true()))
		return KM_ENOMEM;
	return buf_add(out, line, len);
}

/* One sample line of a spliced blob: the target labels tl go before the
 * last '}' of the line, after a ',' unless the line has no sample labels.
 * Values and timestamps never contain a '}'. */
static int write_spliced(struct buf *out, const char *p, const char *next, const char *tl, size_t tlen)
{
	const char *q;
	int rc;

	for (q = next - 1; q > p && *q != '}'; q--)
		;
	if (q == p) /* not a rendered series line: never happens */
		return buf_add(out, p, (size_t)(next - p));
	rc = buf_add(out, p, (size_t)(q - p));
	if (!rc && q[-1] != '{')
		rc = buf_addc(out, ',');
	if (!rc)
		rc = buf_add(out, tl, tlen);
	if (!rc)
		rc = buf_add(out, q, (size_t)(next - q));
	return rc;
}

/* Writes one target's blob (see struct blob). */
static int write_blob(struct buf *out, const struct blob *b, const char *tl, json_t *seen)
{
	const char *p = b->data, *end = b->data + b->len;
	size_t tlen = strlen(tl);
	int rc = 0;

	while (!rc && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		if (*p == '#') {
			rc = write_meta(out, p, (size_t)(next - p), seen);
		} else if (b->splice) {
			rc = write_spliced(out, p, next, tl, tlen);
		} else {
			/* The whole run of sample lines up to the next metadata. */
			const char *m = memmem(p, (size_t)(end - p), "\n#", 2);
			next = m ? m + 1 : end;
			rc = buf_add(out, p, (size_t)(next - p));
		}
		p = next;
	}
	return rc;
}

int scrape_mgr_write_apps(struct scrape_mgr *m, struct buf *out)
{
	struct snap *v = NULL;
	json_t *seen = NULL;
	size_t n = 0;
	int rc = 0;

	if (!m || !atomic_load(&m->enabled))
		return 0;
	if (!(seen = json_object()))
		return KM_ENOMEM;
	pthread_mutex_lock(&m->lock);
	if (m->set.n && !(v = calloc(m->set.n, sizeof(*v))))
		rc = KM_ENOMEM;
	for (size_t i = 0; !rc && i < m->set.n; i++) {
		struct tstate *s = m->set.v[i]->state;
		if (!s)
			continue;
		/* Labels text is immutable for the target's life; copied because
		 * the target may go away once the lock is released. */
		v[n].labels = strdup(s->tlabels_text);
		if (!v[n].labels) {
			rc = KM_ENOMEM;
			break;
		}
		if (s->samples)
			atomic_fetch_add(&s->samples->refs, 1);
		v[n].samples = s->samples;
		v[n].up = s->health == HEALTH_UP;
		v[n].duration = s->last_duration;
		v[n].scraped = s->r_scraped;
		v[n].post = s->r_post;
		v[n].added = s->r_added;
		v[n].scraped_once = s->health != HEALTH_UNKNOWN;
		n++;
	}
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; !rc && i < n; i++) {
		if (v[i].samples)
			rc = write_blob(out, v[i].samples, v[i].labels, seen);
		if (rc || !v[i].scraped_once)
			continue;
		/* The synthetic series Prometheus adds per scrape (untyped, no
		 * HELP, as Prometheus stores them). */
		if ((rc = write_series(out, "up", v[i].labels, v[i].up)) ||
		    (rc = write_series(out, "scrape_duration_seconds", v[i].labels, v[i].duration)) ||
		    (rc = write_series(out, "scrape_samples_scraped", v[i].labels, (double)v[i].scraped)) ||
		    (rc = write_series(out, "scrape_samples_post_metric_relabeling", v[i].labels, (double)v[i].post)) ||
		    (rc = write_series(out, "scrape_series_added", v[i].labels, (double)v[i].added)))
			break;
	}
	for (size_t i = 0; i < n; i++) {
		blob_unref(v[i].samples);
		free(v[i].labels);
	}
	free(v);
	json_decref(seen);
	return rc;
}

int scrape_mgr_write_self(struct scrape_mgr *m, struct buf *out)
{
	uint64_t by_health[HEALTH__COUNT] = { 0 };
	struct expo_label l[1];
	int rc;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->set.n; i++) {
		struct tstate *s = m->set.v[i]->state;
		by_health[s ? s->health : HEALTH_UNKNOWN]++;
	}
	pthread_mutex_unlock(&m->lock);
	rc = expo_family(out, "k8smon_scrape_targets", "Application scrape targets of this agent by health of the last scrape.", EXPO_GAUGE);
	for (int h = 0; !rc && h < HEALTH__COUNT; h++) {
		l[0] = (struct expo_label){ "health", scrape_health_name((enum scrape_health)h) };
		rc = expo_sample(out, "k8smon_scrape_targets", l, 1, (double)by_health[h]);
	}
	if (!rc)
		rc = expo_family(out, "k8smon_scrape_errors_total", "Failed application scrapes by reason.", EXPO_COUNTER);
	for (int e = 0; !rc && e < SERR__COUNT; e++) {
		l[0] = (struct expo_label){ "reason", scrape_err_name((enum scrape_err)e) };
		rc = expo_sample(out, "k8smon_scrape_errors_total", l, 1, (double)atomic_load(&m->errors[e]));
	}
	if (!rc)
		rc = expo_family(out, "k8smon_scrapes_total", "Application scrapes finished (successful or not).", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_scrapes_total", NULL, 0, (double)atomic_load(&m->scrapes));
	if (!rc)
		rc = expo_family(out, "k8smon_scrape_samples_total", "Samples kept from successful application scrapes.", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_scrape_samples_total", NULL, 0, (double)atomic_load(&m->samples));
	if (!rc)
		rc = expo_family(out, "k8smon_scrape_samples_dropped_total",
				 "Scraped samples dropped, by reason: label_limit = over the label caps (count, name or value length) after metricRelabelings.",
				 EXPO_COUNTER);
	if (!rc) {
		l[0] = (struct expo_label){ "reason", "label_limit" };
		rc = expo_sample(out, "k8smon_scrape_samples_dropped_total", l, 1,
				 (double)atomic_load(&m->label_drops));
	}
	if (!rc)
		rc = expo_family(out, "k8smon_scrape_parse_errors_total", "Rejected exposition lines in failed scrapes.", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_scrape_parse_errors_total", NULL, 0, (double)atomic_load(&m->parse_errors));
	if (!rc)
		rc = expo_family(out, "k8smon_scrape_discovery_errors_total", "Objects skipped because of an invalid scrape annotation.", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_scrape_discovery_errors_total", NULL, 0, (double)atomic_load(&m->discovery_errors));
	return rc;
}
