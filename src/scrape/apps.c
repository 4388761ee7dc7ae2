/* /metrics/apps and the scrape self-metrics. Samples are copied from
 * immutable blobs after the lock is released, so a large output never holds
 * up the I/O loop; a target removed from the set is gone from the next
 * response (its blob lives only as long as a reader still copies it). The
 * response is written block by block from a snapshot (scrape_apps_next),
 * so its size in memory is one block, not the whole exposition. */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "expo/writer.h"
#include "scrape/blob.h"
#include "scrape/scrape_int.h"

struct snap {
	struct blob *samples;       /* reference */
	char *labels;               /* owned copy (the target may go away) */
	double up, duration;
	uint64_t scraped, post, added;
	bool scraped_once;
};

/* A snapshot of every target's latest blob and scrape figures, written out
 * block by block: the response never exists whole in memory (1M series are
 * ~170 MB of text). Nothing in it points into the manager. */
struct scrape_apps_cursor {
	struct snap *v;             /* owned, n entries */
	size_t n;
	size_t i;                   /* target being written */
	size_t off;                 /* bytes of v[i].samples already written */
	size_t name, name_len;      /* offset and length in v[i].samples of the samples' name */
	struct buf pairs;           /* pairs of the last sample of v[i] written (blob.h front coding) */
	json_t *seen;               /* HELP/TYPE keys written (owned) */
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

/* One sample of a blob as a line (scrape/blob.h): name, pairs (pl
 * bytes), the target labels tl when the blob is spliced, value. */
static int write_sample(struct buf *out, const char *name, size_t nlen, const char *pairs, size_t pl,
			const struct blob_rec *r, bool splice, const char *tl, size_t tlen)
{
	int rc = buf_add(out, name, nlen);

	if (rc)
		return rc;
	if (splice) {
		if ((rc = buf_addc(out, '{')) || (rc = buf_add(out, pairs, pl)) ||
		    (pl && (rc = buf_addc(out, ','))) || (rc = buf_add(out, tl, tlen)) ||
		    (rc = buf_addc(out, '}')))
			return rc;
	} else if (pl) {
		if ((rc = buf_addc(out, '{')) || (rc = buf_add(out, pairs, pl)) || (rc = buf_addc(out, '}')))
			return rc;
	}
	return buf_add(out, r->v, r->vlen);
}

/* Writes the blob of one target from c->off on, whole lines, until the
 * blob ends or out reaches limit bytes; c->off and the name the samples
 * are under (c->name, c->name_len) are advanced. */
static int write_blob(struct buf *out, struct scrape_apps_cursor *c, const struct snap *s, size_t limit)
{
	const struct blob *b = s->samples;
	const char *p = b->data + c->off, *end = b->data + b->len;
	size_t tlen = strlen(s->labels);
	struct blob_rec r;
	int rc = 0;

	while (!rc && p < end && out->len < limit) {
		if (!blob_next(&p, end, &r))
			return KM_EINVAL; /* never: the scraper wrote it */
		if (r.kind == BLOB_REC_META) {
			rc = write_meta(out, r.a, r.alen, c->seen);
		} else if (r.kind == BLOB_REC_NAME) {
			c->name = (size_t)(r.a - b->data);
			c->name_len = r.alen;
		} else {
			if (!(rc = blob_pairs(&c->pairs, &r)))
				rc = write_sample(out, b->data + c->name, c->name_len, c->pairs.data, c->pairs.len, &r,
						  b->splice, s->labels, tlen);
		}
	}
	c->off = (size_t)(p - b->data);
	return rc;
}

/* The synthetic series Prometheus adds per scrape (untyped, no HELP, as
 * Prometheus stores them). */
static int write_synthetic(struct buf *out, const struct snap *s)
{
	int rc;

	if (!s->scraped_once)
		return 0;
	if ((rc = write_series(out, "up", s->labels, s->up)) ||
	    (rc = write_series(out, "scrape_duration_seconds", s->labels, s->duration)) ||
	    (rc = write_series(out, "scrape_samples_scraped", s->labels, (double)s->scraped)) ||
	    (rc = write_series(out, "scrape_samples_post_metric_relabeling", s->labels, (double)s->post)))
		return rc;
	return write_series(out, "scrape_series_added", s->labels, (double)s->added);
}

void scrape_apps_close(struct scrape_apps_cursor *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		blob_unref(c->v[i].samples);
		free(c->v[i].labels);
	}
	free(c->v);
	json_decref(c->seen);
	buf_fini(&c->pairs);
	free(c);
}

int scrape_apps_open(struct scrape_mgr *m, struct scrape_apps_cursor **cp)
{
	return scrape_apps_open_for(m, NULL, cp);
}

int scrape_apps_open_for(struct scrape_mgr *m, const char *prefix, struct scrape_apps_cursor **cp)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	struct scrape_apps_cursor *c;
	int rc = 0;

	*cp = NULL;
	if (!m || !atomic_load(&m->enabled))
		return 0;
	/* a reader: scrapes keep text for it (push_keep_text) */
	atomic_store(&m->apps_read_ms, clock_mono_ms());
	if (!(c = calloc(1, sizeof(*c))) || !(c->seen = json_object())) {
		free(c);
		return KM_ENOMEM;
	}
	buf_init(&c->pairs, BLOB_PAIRS_MAX);
	pthread_mutex_lock(&m->lock);
	if (m->set.n && !(c->v = calloc(m->set.n, sizeof(*c->v))))
		rc = KM_ENOMEM;
	for (size_t i = 0; !rc && i < m->set.n; i++) {
		struct tstate *s = m->set.v[i]->state;
		struct snap *v = &c->v[c->n];
		if (!s || (plen && strncmp(m->set.v[i]->rule->name, prefix, plen) != 0))
			continue;
		/* Labels text is immutable for the target's life; copied because
		 * the target may go away once the lock is released. */
		if (!(v->labels = strdup(s->tlabels_text))) {
			rc = KM_ENOMEM;
			break;
		}
		if (s->samples)
			atomic_fetch_add(&s->samples->refs, 1);
		v->samples = s->samples;
		v->up = s->health == HEALTH_UP;
		v->duration = s->last_duration;
		v->scraped = s->r_scraped;
		v->post = s->r_post;
		v->added = s->r_added;
		v->scraped_once = s->health != HEALTH_UNKNOWN;
		c->n++;
	}
	pthread_mutex_unlock(&m->lock);
	if (rc) {
		scrape_apps_close(c);
		return rc;
	}
	*cp = c;
	return 0;
}

int scrape_apps_next(struct scrape_apps_cursor *c, struct buf *out, size_t budget)
{
	size_t start = out->len, limit = start + (budget ? budget : 1);
	int rc = 0;

	while (c->i < c->n && out->len < limit) {
		struct snap *s = &c->v[c->i];

		if (s->samples && c->off < s->samples->len) {
			if ((rc = write_blob(out, c, s, limit)))
				break;
			if (c->off < s->samples->len)
				continue; /* out is full */
		}
		if ((rc = write_synthetic(out, s)))
			break;
		/* Done with this target: its blob can go before the response ends. */
		blob_unref(s->samples);
		s->samples = NULL;
		c->i++;
		c->off = 0;
		c->name = c->name_len = 0;
		buf_reset(&c->pairs);
	}
	if (rc) {
		buf_truncate(out, start);
		c->i = c->n; /* finished */
		return rc;
	}
	return c->i < c->n ? SCRAPE_APPS_MORE : SCRAPE_APPS_DONE;
}

int scrape_mgr_write_apps(struct scrape_mgr *m, struct buf *out)
{
	struct scrape_apps_cursor *c = NULL;
	int rc = scrape_apps_open(m, &c);

	/* SCRAPE_APPS_MORE is not a result: keep going until DONE (0) or an
	 * error. */
	while (!rc && c && (rc = scrape_apps_next(c, out, 1u << 20)) == SCRAPE_APPS_MORE)
		rc = 0;
	scrape_apps_close(c);
	return rc;
}

/* The self-metric family names of one manager: its prefix ("k8smon_scrape",
 * or the component jobs' "k8smon_components_scrape") and each suffix. */
struct self_names {
	char builtin_skipped_targets[96];
	char discovery_errors_total[96];
	char errors_total[96];
	char memory_budget_bytes[96];
	char memory_bytes[96];
	char parse_errors_total[96];
	char rules_restricted[96];
	char samples_dropped_total[96];
	char samples_total[96];
	char targets[96];
	char targets_refused[96];
	char scrapes_total[96];
	char slice_pauses_total[96];
	char stale_markers_total[96];
};

static void self_names_init(struct self_names *nm, const char *prefix)
{
	snprintf(nm->builtin_skipped_targets, sizeof(nm->builtin_skipped_targets), "%s_builtin_skipped_targets", prefix);
	snprintf(nm->discovery_errors_total, sizeof(nm->discovery_errors_total), "%s_discovery_errors_total", prefix);
	snprintf(nm->errors_total, sizeof(nm->errors_total), "%s_errors_total", prefix);
	snprintf(nm->memory_budget_bytes, sizeof(nm->memory_budget_bytes), "%s_memory_budget_bytes", prefix);
	snprintf(nm->memory_bytes, sizeof(nm->memory_bytes), "%s_memory_bytes", prefix);
	snprintf(nm->parse_errors_total, sizeof(nm->parse_errors_total), "%s_parse_errors_total", prefix);
	snprintf(nm->rules_restricted, sizeof(nm->rules_restricted), "%s_rules_restricted", prefix);
	snprintf(nm->samples_dropped_total, sizeof(nm->samples_dropped_total), "%s_samples_dropped_total", prefix);
	snprintf(nm->samples_total, sizeof(nm->samples_total), "%s_samples_total", prefix);
	snprintf(nm->targets, sizeof(nm->targets), "%s_targets", prefix);
	snprintf(nm->targets_refused, sizeof(nm->targets_refused), "%s_targets_refused", prefix);
	snprintf(nm->scrapes_total, sizeof(nm->scrapes_total), "%ss_total", prefix);
	snprintf(nm->slice_pauses_total, sizeof(nm->slice_pauses_total), "%s_slice_pauses_total", prefix);
	snprintf(nm->stale_markers_total, sizeof(nm->stale_markers_total), "%s_stale_markers_total", prefix);
}

int scrape_mgr_write_self(struct scrape_mgr *m, struct buf *out)
{
	struct self_names nm;
	uint64_t by_health[HEALTH__COUNT] = { 0 }, refused[3] = { 0 };
	struct label_pair l[1];
	int rc;

	if (!m)
		return 0;
	self_names_init(&nm, m->self_prefix);
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->set.n; i++) {
		struct tstate *s = m->set.v[i]->state;
		by_health[s ? s->health : HEALTH_UNKNOWN]++;
		if (s)
			refused[s->refuse]++;
	}
	pthread_mutex_unlock(&m->lock);
	rc = expo_family(out, nm.targets, "Application scrape targets of this agent by health of the last scrape.", EXPO_GAUGE);
	for (int h = 0; !rc && h < HEALTH__COUNT; h++) {
		l[0] = (struct label_pair){ "health", scrape_health_name((enum scrape_health)h) };
		rc = expo_sample(out, nm.targets, l, 1, (double)by_health[h]);
	}
	if (!rc)
		rc = expo_family(out, nm.errors_total, "Failed application scrapes by reason.", EXPO_COUNTER);
	for (int e = 0; !rc && e < SERR__COUNT; e++) {
		l[0] = (struct label_pair){ "reason", scrape_err_name((enum scrape_err)e) };
		rc = expo_sample(out, nm.errors_total, l, 1, (double)atomic_load(&m->errors[e]));
	}
	if (!rc)
		rc = expo_family(out, nm.scrapes_total, "Application scrapes finished (successful or not).", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, nm.scrapes_total, NULL, 0, (double)atomic_load(&m->scrapes));
	if (!rc)
		rc = expo_family(out, nm.samples_total, "Samples kept from successful application scrapes.", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, nm.samples_total, NULL, 0, (double)atomic_load(&m->samples));
	if (!rc)
		rc = expo_family(out, nm.samples_dropped_total,
				 "Scraped samples dropped, by reason: label_limit = over the label caps (count, name or value length) after metricRelabelings.",
				 EXPO_COUNTER);
	if (!rc) {
		l[0] = (struct label_pair){ "reason", "label_limit" };
		rc = expo_sample(out, nm.samples_dropped_total, l, 1,
				 (double)atomic_load(&m->label_drops));
	}
	if (!rc) {
		l[0] = (struct label_pair){ "reason", "invalid_metric_name" };
		rc = expo_sample(out, nm.samples_dropped_total, l, 1, (double)atomic_load(&m->name_drops));
	}
	if (!rc) {
		l[0] = (struct label_pair){ "reason", "invalid_label_name" };
		rc = expo_sample(out, nm.samples_dropped_total, l, 1, (double)atomic_load(&m->lname_drops));
	}
	if (!rc)
		rc = expo_family(out, nm.slice_pauses_total,
				 "Transfers of targets with metricRelabelings paused because the scrape loop's time slice "
				 "was used up (discovery and other targets ran first).", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, nm.slice_pauses_total, NULL, 0, (double)atomic_load(&m->slice_pauses));
	if (!rc)
		rc = expo_family(out, nm.stale_markers_total,
				 "Staleness markers made for remote write: series gone from a target's scrape, every "
				 "series of a failed scrape, every series of a removed target.", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, nm.stale_markers_total, NULL, 0, (double)atomic_load(&m->stale_markers));
	if (!rc)
		rc = expo_family(out, nm.targets_refused,
				 "Targets not scraped by policy: reason address (loopback, link-local, node or API server "
				 "address) or target_limit (spec.scrape.maxTargets / maxTargetsPerNamespace).", EXPO_GAUGE);
	for (int k = 1; !rc && k <= 2; k++) {
		l[0] = (struct label_pair){ "reason", k == 1 ? "address" : "target_limit" };
		rc = expo_sample(out, nm.targets_refused, l, 1, (double)refused[k]);
	}
	if (!rc)
		rc = expo_family(out, nm.memory_bytes,
				 "Bytes of rendered application samples kept (last good scrape per target) or being scraped.",
				 EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, nm.memory_bytes, NULL, 0,
				 (double)(atomic_load(&m->kept_bytes) + atomic_load(&m->inflight_bytes)));
	if (!rc)
		rc = expo_family(out, nm.memory_budget_bytes,
				 "K8sMonitor spec.scrape.memoryBudget (0 = none); a scrape that would pass it fails (memory_budget).",
				 EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, nm.memory_budget_bytes, NULL, 0, (double)atomic_load(&m->memory_budget));
	if (!rc)
		rc = expo_family(out, nm.rules_restricted,
				 "ScrapeRules held to their own namespace by policy: reason namespace (namespaceSelector or "
				 "role node without spec.scrape.crossNamespaceRules), honor_labels (honorLabels without "
				 "spec.scrape.honorLabelsNamespaces).", EXPO_GAUGE);
	if (!rc) {
		l[0] = (struct label_pair){ "reason", "namespace" };
		rc = expo_sample(out, nm.rules_restricted, l, 1, (double)atomic_load(&m->rules_confined));
	}
	if (!rc) {
		l[0] = (struct label_pair){ "reason", "honor_labels" };
		rc = expo_sample(out, nm.rules_restricted, l, 1, (double)atomic_load(&m->honor_denied));
	}
	if (!rc)
		rc = expo_family(out, nm.builtin_skipped_targets,
				 "Targets of the built-in annotation rule not scraped because a ScrapeRule scrapes the same pod.",
				 EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, nm.builtin_skipped_targets, NULL, 0,
				 (double)atomic_load(&m->builtin_skipped));
	if (!rc)
		rc = expo_family(out, nm.parse_errors_total, "Rejected exposition lines in failed scrapes.", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, nm.parse_errors_total, NULL, 0, (double)atomic_load(&m->parse_errors));
	if (!rc)
		rc = expo_family(out, nm.discovery_errors_total, "Objects skipped because of an invalid scrape annotation.", EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, nm.discovery_errors_total, NULL, 0, (double)atomic_load(&m->discovery_errors));
	return rc;
}
