/* One scrape loop per target on the manager's scrape loop (scrape.h): a libcurl easy
 * handle (kept between scrapes so the connection is reused), a timer per
 * target, and the body parsed as it streams in, so a hostile target costs at
 * most body_max bytes of reading and nothing of buffering: the transfer is
 * aborted the moment the body cap, the sample limit, or the first malformed
 * line is hit. */
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/token.h"
#include "base/vec.h"
#include "expo/writer.h"
#include "kube/loop.h"
#include "scrape/blob.h"
#include "scrape/relabel.h"
#include "scrape/scrape_int.h"
#include "scrape/series.h"

/* Rendered output may exceed the body by the target labels on each line. */
#define OUT_FACTOR 4
/* s->out starts with room for the blob header, so that a good scrape's
 * rendering becomes its blob without a copy. */
#define BLOB_HDR offsetof(struct blob, data)
/* s->out of a push-only scrape holds one sample's pairs at a time. */
#define BLOB_PAIRS_HINT 4096

static const struct blob blob_hdr_zero;

static const char *const err_names[SERR__COUNT] = {
	[SERR_TIMEOUT] = "timeout",
	[SERR_CONNECT] = "connect",
	[SERR_HTTP_STATUS] = "http_status",
	[SERR_TLS] = "tls",
	[SERR_REDIRECTS] = "redirects",
	[SERR_BODY_TOO_LARGE] = "body_too_large",
	[SERR_SAMPLE_LIMIT] = "sample_limit",
	[SERR_LABEL_LIMIT] = "label_limit",
	[SERR_PARSE] = "parse",
	[SERR_OUTPUT_TOO_LARGE] = "output_too_large",
	[SERR_RELABEL_CPU] = "relabel_cpu_budget",
	[SERR_OTHER] = "other",
	[SERR_ADDRESS] = "address_refused",
	[SERR_MEMORY_BUDGET] = "memory_budget",
};

const char *scrape_err_name(enum scrape_err e)
{
	return e < SERR__COUNT ? err_names[e] : "other";
}

const char *scrape_health_name(enum scrape_health h)
{
	return h == HEALTH_UP ? "up" : h == HEALTH_DOWN ? "down" : "unknown";
}

void blob_unref(struct blob *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

static void set_fail(struct tstate *s, enum scrape_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_fail(struct tstate *s, enum scrape_err e, const char *fmt, ...)
{
	va_list ap;

	if (s->failed)
		return; /* the first cause is the one worth reporting */
	s->failed = true;
	s->fail = e;
	va_start(ap, fmt);
	vsnprintf(s->fail_msg, sizeof(s->fail_msg), fmt, ap);
	va_end(ap);
	/* Parts quoting the response (a line, a metric or label name) are for
	 * the operator's /targets only: the published prefix stops before. */
	{
		const char *cut = strstr(s->fail_msg, ": \"");
		const char *c2 = strstr(s->fail_msg, " (metric: ");
		if (!cut || (c2 && c2 < cut))
			cut = c2;
		s->fail_pub = cut ? (size_t)(cut - s->fail_msg) : strlen(s->fail_msg);
	}
}

void scrape_mgr_set_series_cache(struct scrape_mgr *m, bool on)
{
	if (m)
		atomic_store(&m->no_scache, !on);
}

/* ---- per-sample path --------------------------------------------------- */

/* One bit per label name from its length and end bytes: a sample label
 * whose bit is not in the scrape's tl_mask cannot be a target label, so
 * most sample labels skip the strcmp against every target label. */
static uint64_t name_bit(const char *name, size_t len)
{
	if (!len)
		return 1;
	return 1ull << ((len * 7 + (unsigned char)name[0] + (unsigned char)name[len - 1] * 3) & 63);
}

static uint64_t target_mask(const struct tlabels *tl)
{
	uint64_t m = 0;

	for (size_t i = 0; i < tl->n; i++)
		m |= name_bit(tl->v[i].name, strlen(tl->v[i].name));
	return m;
}

static const char *target_has(const struct tstate *s, const char *name, size_t len)
{
	if (!(s->tl_mask & name_bit(name, len)))
		return NULL;
	return tl_getn(&s->t->d->labels, name, len);
}

static bool want_honor(const struct scrape_mgr *m, const struct target *t);
static bool want_force_ns(const struct scrape_mgr *m, const struct target *t);

/* name{sample labels (clashes renamed exported_<name> unless honorLabels),
 * target labels} value [ts] */
static bool is_ns(const char *name, size_t len)
{
	return len == 9 && memcmp(name, "namespace", 9) == 0;
}

/* A BLOB_NAME record unless the samples before were of the same name
 * (s->name_off: where that name is in s->out). */
static int render_name(struct tstate *s, const char *name, size_t len)
{
	struct buf *b = &s->out;
	int rc;

	if (s->name_off && s->name_len == len && memcmp(b->data + s->name_off, name, len) == 0)
		return 0;
	if ((rc = blob_put_name(b, name, len)))
		return rc;
	s->name_off = b->len - len;
	s->name_len = len;
	return 0;
}

/* Push only, the series cache (scrape/scache.h): when the sample's series
 * text is the one at its position in the last good scrape, its id is that
 * scrape's and nothing is rendered (the cache is on only without
 * metricRelabelings: series is the text of name and lv). 1: not in the
 * cache, the caller renders the pairs; h is the hash to record. The cache
 * holds as many hashes as ids_last holds ids (keep_ids, drop_ids). */
static int cached_id(struct tstate *s, const char *series, size_t series_len, uint64_t *h)
{
	size_t k = s->ids.len / sizeof(uint64_t);
	int rc;

	if (!s->sc.on)
		return 1;
	*h = scache_hash(series, series_len);
	if (!scache_hit(&s->sc, *h)) /* at position s->sc.n == k */
		return 1;
	if ((rc = buf_add(&s->ids, &s->ids_last[k], sizeof(uint64_t))))
		return rc;
	scache_add(&s->sc, *h);
	s->n_hits++;
	return 0;
}

/* One sample as a record of the stored form (scrape/blob.h): the name once
 * per run, then the pairs (clashes with target labels renamed exported_
 * unless honorLabels; with honorLabels the target labels the sample does
 * not set are added) and the value. */
static int render(struct tstate *s, const char *name, const struct label_ref *lv, size_t ln, const char *pairs,
		  size_t pairs_len, const char *series, size_t series_len, double v, bool has_ts, int64_t ts)
{
	const struct tlabels *tl = &s->t->d->labels;
	struct buf *b = &s->out;
	size_t start = b->len, it = 0, mark;
	bool first = true;
	uint64_t h = 0;
	int rc;

	if (!s->text) {
		rc = cached_id(s, series, series_len, &h);
		if (rc == 0)
			return push_series(s, name, lv, ln, v, has_ts, ts);
		if (rc < 0)
			return rc;
	}
	if ((s->text && (rc = render_name(s, name, strlen(name)))) || (rc = blob_sample_open(b, &mark)))
		goto fail;
	/* The scraped text is already the rendering of ls (the parser says
	 * so): copied whole unless a label must be renamed exported_. */
	for (size_t i = 0; pairs && i < ln; i++) {
		if (target_has(s, lv[i].name, lv[i].name_len) &&
		    (!s->honor || (s->force_ns && is_ns(lv[i].name, lv[i].name_len))))
			pairs = NULL;
	}
	if (pairs) {
		if ((rc = buf_add(b, pairs, pairs_len)))
			goto fail;
		first = pairs_len == 0;
		it = ln; /* all of lv written */
	}
	for (; it < ln; it++) {
		const struct label_ref ref = lv[it];
		bool clash = target_has(s, ref.name, ref.name_len) != NULL;
		if (!first && (rc = buf_addc(b, ',')))
			goto fail;
		first = false;
		if (clash && (!s->honor || (s->force_ns && is_ns(ref.name, ref.name_len))) &&
		    (rc = buf_adds(b, "exported_")))
			goto fail;
		if ((rc = buf_add(b, ref.name, ref.name_len)) || (rc = buf_add(b, "=\"", 2)) ||
		    (rc = expo_escape_label(b, ref.value, ref.value_len)) || (rc = buf_addc(b, '"')))
			goto fail;
	}
	/* With splicing apps.c adds the target labels when it writes the
	 * blob, so they are stored once per target instead of once per
	 * series. */
	for (size_t i = 0; !s->splice && s->honor && i < tl->n; i++) {
		if (refs_has(lv, ln, tl->v[i].name) && !(s->force_ns && strcmp(tl->v[i].name, "namespace") == 0))
			continue; /* honorLabels: the scraped value wins */
		if ((!first && (rc = buf_addc(b, ','))) || (rc = buf_adds(b, tl->v[i].name)) ||
		    (rc = buf_add(b, "=\"", 2)) ||
		    (rc = expo_escape_label(b, tl->v[i].value, strlen(tl->v[i].value))) ||
		    (rc = buf_addc(b, '"')))
			goto fail;
		first = false;
	}
	/* Scraped timestamps are kept (honor_timestamps, Prometheus' default);
	 * samples without one get none, i.e. the time /metrics/apps is read. */
	if (!s->text) {
		/* Push only: the series' id instead of its text (scrape/series.h). */
		size_t plen;
		const char *pp = blob_sample_pairs(b, mark, &plen);
		uint64_t id = series_id(name, strlen(name), pp, plen);

		buf_truncate(b, start);
		if ((rc = buf_add(&s->ids, &id, sizeof(id))))
			goto fail;
		scache_add(&s->sc, h);
	} else if ((rc = blob_sample_pairs_end(b, mark, &s->prev_pairs)) || (rc = expo_value(b, v, has_ts ? ts : -1)) ||
		   (rc = blob_sample_close(b, mark))) {
		goto fail;
	}
	/* remote write: the same series, encoded once here (push.c) */
	if ((rc = push_series(s, name, lv, ln, v, has_ts, ts)))
		goto fail;
	return 0;
fail:
	buf_truncate(b, start);
	if (s->name_off >= start)
		s->name_off = 0; /* the name record went with the sample */
	return rc;
}

/* The 0.0.4 family and type a sample's metadata is declared under, or false
 * when there is none to carry: undeclared families without HELP, _created
 * samples, gaugehistograms (no 0.0.4 type). Counters are declared under the
 * sample's own name (foo_total), as 0.0.4 names them even when OpenMetrics
 * declared the family "foo"; info and stateset become gauges, as Prometheus
 * stores them. */
static bool meta_of(const struct expo_sample_ev *ev, const char **fam, enum expo_type *type)
{
	*fam = ev->family;
	switch (ev->type) {
	case EXPO_FT_UNTYPED:
		*type = EXPO_UNTYPED;
		return ev->help != NULL;
	case EXPO_FT_COUNTER:
		*fam = ev->name;
		*type = EXPO_COUNTER;
		break;
	case EXPO_FT_GAUGE:
	case EXPO_FT_STATESET:
		*type = EXPO_GAUGE;
		break;
	case EXPO_FT_INFO:
		*fam = ev->name;
		*type = EXPO_GAUGE;
		break;
	case EXPO_FT_HISTOGRAM:
		*type = EXPO_HISTOGRAM;
		break;
	case EXPO_FT_SUMMARY:
		*type = EXPO_SUMMARY;
		break;
	default:
		return false;
	}
	return !ev->is_created;
}

/* HELP/TYPE before the first sample of each family run of this scrape. */
static int render_meta(struct tstate *s, const struct expo_sample_ev *ev)
{
	enum expo_type type;
	const char *fam;
	uint64_t h;

	if (!meta_of(ev, &fam, &type))
		return 0;
	h = hash64(fam, strlen(fam));
	if (s->meta_set && h == s->meta_last)
		return 0;
	s->meta_set = true;
	s->meta_last = h;
	return expo_family(&s->out, fam, ev->help, type);
}

/* One label of a sample's final set against the rule's length limits;
 * false (with the scrape failed, in Prometheus' words) when over one. The
 * name is not NUL-terminated: shown, len is its length; counted, nlen its
 * length as stored (with exported_ when renamed). */
static bool label_ok(struct tstate *s, const char *metric, const char *name, size_t len, size_t nlen,
		     size_t vlen)
{
	const struct scrape_rule *r = s->rule;
	int shown = (int)(len < 50 ? len : 50);

	if (r->label_name_length_limit && nlen > r->label_name_length_limit) {
		set_fail(s, SERR_LABEL_LIMIT,
			 "label_name_length_limit exceeded (metric: %.50s, label name: %.*s, length: %zu, limit: %u)",
			 metric, shown, name, nlen, r->label_name_length_limit);
		return false;
	}
	if (r->label_value_length_limit && vlen > r->label_value_length_limit) {
		set_fail(s, SERR_LABEL_LIMIT,
			 "label_value_length_limit exceeded (metric: %.50s, label name: %.*s, length: %zu, limit: %u)",
			 metric, shown, name, vlen, r->label_value_length_limit);
		return false;
	}
	return true;
}

/* Prometheus' verifyLabelLimits on the set the sample is stored with:
 * __name__, the sample labels (renamed exported_* on a clash unless
 * honorLabels) and the target labels they do not override. */
static bool labels_within_limits(struct tstate *s, const char *name, const struct labels *ls)
{
	const struct scrape_rule *r = s->rule;
	const struct tlabels *tl = &s->t->d->labels;
	size_t n = 1 + labels_count(ls), it = 0;
	struct label_ref ref;

	for (size_t i = 0; i < tl->n; i++) {
		if (tl->v[i].value[0] && !(s->honor && labels_get(ls, tl->v[i].name)))
			n++;
	}
	if (r->label_limit && n > r->label_limit) {
		set_fail(s, SERR_LABEL_LIMIT, "label_limit exceeded (metric: %.50s, number of labels: %zu, limit: %u)",
			 name, n, r->label_limit);
		return false;
	}
	if (!r->label_name_length_limit && !r->label_value_length_limit)
		return true;
	if (!label_ok(s, name, "__name__", 8, 8, strlen(name)))
		return false;
	while (labels_next(ls, &it, &ref)) {
		size_t nlen = ref.name_len;
		if (!s->honor && target_has(s, ref.name, ref.name_len))
			nlen += strlen("exported_");
		if (!label_ok(s, name, ref.name, ref.name_len, nlen, ref.value_len))
			return false;
	}
	for (size_t i = 0; i < tl->n; i++) {
		const char *tn = tl->v[i].name, *tv = tl->v[i].value;
		if (tv[0] && !(s->honor && labels_get(ls, tn)) &&
		    !label_ok(s, name, tn, strlen(tn), strlen(tn), strlen(tv)))
			return false;
	}
	return true;
}

/* Checks the CPU budget of a scrape with metricRelabelings; false (the
 * scrape failed) past it. Samples are checked every CPU_CHECK_EVERY, as
 * reading the thread's CPU clock is a system call. */
#define CPU_CHECK_EVERY 16
static bool within_cpu_budget(struct tstate *s)
{
	if (s->cpu_ns + (clock_thread_cpu_ns() - s->cpu_t0) <= (int64_t)SCRAPE_RELABEL_CPU_MS * 1000000)
		return true;
	set_fail(s, SERR_RELABEL_CPU, "metric relabeling exceeded its CPU budget of %d ms",
		 SCRAPE_RELABEL_CPU_MS);
	return false;
}

/* Bytes this scrape holds so far, for the memory budget: its text, or
 * when push only its series ids and encoded chunks. */
static size_t held(const struct tstate *s)
{
	/* the cache's growth in this scrape; what it held before is kept_bytes' */
	size_t grown = scache_bytes(&s->sc) > s->sc_acct ? scache_bytes(&s->sc) - s->sc_acct : 0;

	if (s->text)
		return s->out.len;
	return s->ids.len + grown + s->ck.sc.out.len + s->ck.sc.pb.len;
}

static int on_sample(void *ctx, const struct expo_sample_ev *ev)
{
	struct tstate *s = ((struct pslot *)ctx)->s;
	const struct scrape_rule *r = s->rule;
	const struct labels *ls = ev->labels;
	const char *name = ev->name;
	/* the labels rendered and pushed: the parser's slices, or the label
	 * set's pairs when one is built (relabeling, label limits) */
	struct label_ref lvbuf[LABELS_MAX_DEFAULT + 1]; /* ml's cap, above the parser's */
	const struct label_ref *lv = ev->refs;
	size_t ln = ev->nrefs;
	struct labels ml;
	int rc;

	s->n_scraped++;
	/* No allocation: only metricRelabelings use the copy. */
	labels_init(&ml, LABELS_MAX_DEFAULT + 1);
	if (r->metric_relabel) {
		const char *nn;
		if ((rc = labels_copy(&ml, ls)) || (rc = labels_set(&ml, "__name__", name))) {
			/* Over the label caps: dropped, counted at the end of the
			 * scrape (k8smon_scrape_samples_dropped_total). */
			s->n_label_drops++;
			rc = 0;
			goto out;
		}
		if (++s->cpu_tick % CPU_CHECK_EVERY == 0 && !within_cpu_budget(s)) {
			rc = KM_ETOOBIG;
			goto out;
		}
		rc = relabel_apply((const struct relabel_set *)r->metric_relabel, &ml);
		nn = labels_get(&ml, "__name__");
		if (rc < 0)
			s->n_label_drops++; /* a rule took a label over the caps */
		if (rc != RELABEL_KEEP || !nn) {
			rc = 0;
			goto out;
		}
		if ((rc = buf_reserve(&s->scratch, strlen(nn) + 1)))
			goto out;
		buf_reset(&s->scratch);
		buf_adds(&s->scratch, nn);
		name = buf_cstr(&s->scratch);
		labels_del(&ml, "__name__");
		ls = &ml;
		/* A relabeled name is not checked by the parser: one with a
		 * newline or a brace would break the whole exposition. */
		if (!scrape_valid_metric_name(name, strlen(name))) {
			atomic_fetch_add(&s->m->name_drops, 1);
			goto out;
		}
		{
			struct label_ref ref;
			size_t it = 0;
			while (labels_next(&ml, &it, &ref)) {
				if (!scrape_valid_label_name(ref.name, ref.name_len)) {
					atomic_fetch_add(&s->m->lname_drops, 1);
					goto out;
				}
			}
		}
	}
	s->n_post++;
	if (s->sample_limit && s->n_post > s->sample_limit) {
		set_fail(s, SERR_SAMPLE_LIMIT, "sample limit exceeded (%llu)", (unsigned long long)s->sample_limit);
		rc = KM_ETOOBIG;
		goto out;
	}
	if ((r->label_limit || r->label_name_length_limit || r->label_value_length_limit) &&
	    !labels_within_limits(s, name, ls)) {
		rc = KM_ETOOBIG;
		goto out;
	}
	/* A family renamed by metricRelabelings keeps no metadata: the
	 * declared one belongs to the old name. */
	rc = s->text && strcmp(name, ev->name) == 0 ? render_meta(s, ev) : 0;
	if (ls) {
		ln = 0;
		while (ln < sizeof(lvbuf) / sizeof(lvbuf[0]) && ln < labels_count(ls)) {
			lvbuf[ln] = labels_at(ls, ln);
			ln++;
		}
		lv = lvbuf;
	}
	if (!rc)
		rc = render(s, name, lv, ln, ls == ev->labels ? ev->pairs : NULL, ev->pairs_len,
			    ls == ev->labels ? ev->series : NULL, ev->series_len, ev->value, ev->has_ts, ev->ts_ms);
	if (rc == KM_ETOOBIG)
		set_fail(s, SERR_OUTPUT_TOO_LARGE, "rendered samples exceed %zu bytes", s->out.cap);
	if (!rc && held(s) > s->acct) {
		struct scrape_mgr *m = s->m;
		uint64_t budget = m->policy.memory_budget, grown = held(s) - s->acct;
		uint64_t used = atomic_load(&m->kept_bytes) + atomic_load(&m->inflight_bytes) + grown;
		/* Checked before the line counts: the budget is never passed,
		 * the aborted scrape's last line is freed with it. */
		if (!budget || used <= budget) {
			atomic_fetch_add(&m->inflight_bytes, grown);
			s->acct = held(s);
		} else {
			set_fail(s, SERR_MEMORY_BUDGET,
				 "memory budget exceeded: %llu bytes of scraped samples kept or in flight on this agent, "
				 "budget %llu (K8sMonitor spec.scrape.memoryBudget)",
				 (unsigned long long)used, (unsigned long long)budget);
			rc = KM_ETOOBIG;
		}
	}
out:
	labels_fini(&ml);
	return rc;
}

static void on_parse_error(void *ctx, uint64_t line_no, enum expo_perr reason, const char *line, size_t len)
{
	struct tstate *s = ((struct pslot *)ctx)->s;
	char shown[64];
	size_t n = len < 40 ? len : 40;

	/* Show a printable prefix of the line: it may be binary garbage. */
	for (size_t i = 0; i < n; i++)
		shown[i] = (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] : '?';
	shown[n] = 0;
	set_fail(s, SERR_PARSE, "parse error at line %llu (%s): \"%s%s\"", (unsigned long long)line_no,
		 expo_perr_name(reason), shown, len > n ? "..." : "");
}

/* A parser for scrape s from the pool (reset) or new; NULL on ENOMEM. */
static struct pslot *pslot_get(struct scrape_mgr *m, struct tstate *s, bool om)
{
	struct pslot **pp = &m->pool, *ps;

	while (*pp && (*pp)->om != om)
		pp = &(*pp)->next;
	ps = *pp;
	if (ps) {
		*pp = ps->next;
		m->npool--;
		expo_parser_reset(ps->p);
	} else {
		struct expo_parser_opts po = { .format = om ? EXPO_FMT_OPENMETRICS : EXPO_FMT_TEXT };
		struct expo_parser_cb cb = { on_sample, on_parse_error, NULL };
		ps = calloc(1, sizeof(*ps));
		if (!ps)
			return NULL;
		cb.ctx = ps;
		ps->om = om;
		ps->p = expo_parser_new(&po, &cb);
		if (!ps->p) {
			free(ps);
			return NULL;
		}
	}
	ps->s = s;
	ps->next = NULL;
	return ps;
}

/* Returns s's parser to the pool (freed when the pool is full). */
static void pslot_put(struct scrape_mgr *m, struct tstate *s)
{
	struct pslot *ps = s->ps;

	s->ps = NULL;
	if (!ps)
		return;
	ps->s = NULL;
	if (m->npool >= PSLOT_POOL_MAX || m->stopping) {
		expo_parser_free(ps->p);
		free(ps);
		return;
	}
	ps->next = m->pool;
	m->pool = ps;
	m->npool++;
}

void pslot_pool_free(struct scrape_mgr *m)
{
	while (m->pool) {
		struct pslot *ps = m->pool;
		m->pool = ps->next;
		expo_parser_free(ps->p);
		free(ps);
	}
	m->npool = 0;
}

/* ---- time slices ------------------------------------------------------ */

/* Body callbacks of targets with metricRelabelings may run this long (CPU)
 * per turn of the scrape loop; then their transfers are paused until the
 * loop has run its timers and posts (discovery, new targets, rule changes),
 * so that expensive rules on many targets delay those by about a slice,
 * not by the sum of every target's CPU budget. */
#define SCRAPE_SLICE_NS (20 * 1000000LL)
/* Receive buffer of those targets (libcurl's minimum). */
#define SCRAPE_RELABEL_READ 1024
/* Receive buffer of the others: a ~70 kB response in 2 reads instead of
 * libcurl's 16 KiB x 5 (each with its readiness poll and write callback);
 * under Kubernetes mode's 64 KiB mmap threshold, so it is heap, not a
 * mapping (BENCHMARKS.md "Transfer and compression"). */
#define SCRAPE_READ (60 * 1024)

static void unlink_paused(struct scrape_mgr *m, struct tstate *s)
{
	for (struct tstate **pp = &m->paused; *pp; pp = &(*pp)->next_paused) {
		if (*pp == s) {
			*pp = s->next_paused;
			break;
		}
	}
	s->next_paused = NULL;
	s->paused = false;
}

/* Posted: a new slice; unpausing delivers the held chunk at once (from
 * inside curl_easy_pause), which may pause the transfer again. */
static void resume_paused(void *arg)
{
	struct scrape_mgr *m = arg;
	struct tstate *list = m->paused;

	m->resume_posted = false;
	m->paused = NULL;
	m->slice_ns = 0;
	while (list) {
		struct tstate *s = list;
		list = s->next_paused;
		s->next_paused = NULL;
		s->paused = false;
		if (s->busy && !m->stopping)
			curl_easy_pause(s->easy, CURLPAUSE_CONT);
	}
}

/* True when s must wait for the next slice (it is then queued). */
static bool slice_used_up(struct tstate *s)
{
	struct scrape_mgr *m = s->m;

	if (m->slice_ns < SCRAPE_SLICE_NS)
		return false;
	if (!m->resume_posted) {
		if (kube_loop_post(m->loop, resume_paused, m))
			return false; /* stopping: finish the chunk */
		m->resume_posted = true;
	}
	s->paused = true;
	s->next_paused = m->paused;
	m->paused = s;
	atomic_fetch_add(&m->slice_pauses, 1);
	return true;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct tstate *s = arg;
	size_t n = size * nmemb;
	bool timed = s->t->rule->metric_relabel != NULL;
	int fed;

	/* libcurl keeps the chunk and delivers it again after the unpause. */
	if (timed && slice_used_up(s))
		return CURL_WRITEFUNC_PAUSE;
	s->body_bytes += n;
	if (s->body_bytes > s->m->body_max) {
		set_fail(s, SERR_BODY_TOO_LARGE, "body size limit exceeded (%zu bytes)", s->m->body_max);
		return 0;
	}
	if (!s->ps) {
		const char *ct = NULL;
		long code = 0;
		/* Only a 200's body is parsed: a redirect's or an error page's
		 * would end up quoted in lastError. */
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code != 200) {
			set_fail(s, SERR_HTTP_STATUS, "server returned HTTP status %ld%s", code,
				 code >= 300 && code < 400 ? " (redirects are not followed)" : "");
			return 0;
		}
		curl_easy_getinfo(s->easy, CURLINFO_CONTENT_TYPE, &ct);
		s->ps = pslot_get(s->m, s, ct && strncmp(ct, "application/openmetrics-text", 28) == 0);
		if (!s->ps) {
			set_fail(s, SERR_OTHER, "out of memory");
			return 0;
		}
		/* A label set per sample only for what needs one: relabeling
		 * and the label limits; the rest reads the parser's slices. */
		expo_parser_label_set(s->ps->p, s->rule->metric_relabel || s->rule->label_limit ||
							s->rule->label_name_length_limit ||
							s->rule->label_value_length_limit);
	}
	/* Only the time inside this callback is the scrape's: between chunks
	 * the loop serves other targets. */
	if (timed)
		s->cpu_t0 = clock_thread_cpu_ns();
	fed = expo_parser_feed(s->ps->p, p, n);
	if (timed) {
		/* Also when the chunk failed (the budget ran out in it). */
		int64_t now = clock_thread_cpu_ns();
		s->m->slice_ns += now - s->cpu_t0;
		s->cpu_ns += now - s->cpu_t0;
		s->cpu_t0 = now;
	}
	if (fed || s->failed) {
		if (!s->failed)
			set_fail(s, SERR_OTHER, "out of memory");
		return 0;
	}
	if (timed && !within_cpu_budget(s))
		return 0;
	return n;
}

/* ---- scheduling ---------------------------------------------------------- */

static void on_timer(void *arg);

static void schedule(struct tstate *s)
{
	int64_t now = clock_mono_ms(), iv = s->t->d->interval_ms;

	if (s->next_ms <= now)
		s->next_ms += ((now - s->next_ms) / iv + 1) * iv;
	s->timer = kube_loop_timer(s->m->loop, s->next_ms - now, on_timer, s);
}

static void classify(struct tstate *s, CURLcode res)
{
	long code = 0;

	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		set_fail(s, SERR_TIMEOUT, "scrape timed out after %lldms (context deadline exceeded)",
			 (long long)s->timeout_ms);
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		set_fail(s, SERR_CONNECT, "%s", curl_easy_strerror(res));
		break;
	case CURLE_HTTP_RETURNED_ERROR:
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
		set_fail(s, SERR_HTTP_STATUS, "server returned HTTP status %ld", code);
		break;
	case CURLE_TOO_MANY_REDIRECTS:
		set_fail(s, SERR_REDIRECTS, "stopped after 10 redirects");
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		set_fail(s, SERR_TLS, "TLS: %s", curl_easy_strerror(res));
		break;
	case CURLE_BAD_CONTENT_ENCODING:
		set_fail(s, SERR_OTHER, "bad gzip body: %s", curl_easy_strerror(res));
		break;
	default:
		set_fail(s, SERR_OTHER, "%s", curl_easy_strerror(res));
		break;
	}
}

/* The ids of the last push-only scrape, freed. */
static void drop_ids(struct tstate *s)
{
	atomic_fetch_sub(&s->m->kept_bytes, s->nids_last * sizeof(uint64_t) + s->sc_acct);
	s->sc_acct = 0;
	scache_forget(&s->sc); /* it stands beside the ids */
	free(s->ids_last);
	s->ids_last = NULL;
	s->nids_last = 0;
}

/* scrape_series_added of a text scrape (blob nb) after a push-only one. */
static uint64_t added_vs_ids(struct tstate *s, const struct blob *nb)
{
	size_t nc;
	uint64_t *cur = series_ids_of_blob(nb->data, nb->len, &nc), added, removed = 0;

	if (!cur)
		return nc; /* none, or out of memory: all new */
	added = series_ids_diff(s->ids_last, s->nids_last, cur, nc, &removed);
	free(cur);
	s->vanished = removed > 0;
	return added;
}

/* A push-only scrape ended well: its scrape_series_added against the last
 * good scrape (ids or blob), and its ids kept in place of both. */
static uint64_t keep_ids(struct tstate *s)
{
	size_t nc = s->ids.len / sizeof(uint64_t), np = s->nids_last;
	char *raw = buf_steal(&s->ids);
	/* shrunk to size: the buffer grew by doubling */
	uint64_t *cur = raw && nc ? realloc(raw, nc * sizeof(*cur)) : NULL, *prev = s->ids_last, added, removed = 1;
	bool from_blob = !prev && s->samples;

	if (!cur)
		free(raw);
	if (from_blob)
		prev = series_ids_of_blob(s->samples->data, s->samples->len, &np);
	if (!cur && nc)
		added = nc; /* out of memory: all new, none kept */
	else if (from_blob && !prev && np)
		added = nc;
	else
		added = series_ids_diff(prev, np, cur, nc, &removed);
	s->vanished = removed > 0;
	if (from_blob)
		free(prev);
	/* drop_ids without the cache, which becomes this scrape's */
	atomic_fetch_sub(&s->m->kept_bytes, s->nids_last * sizeof(uint64_t) + s->sc_acct);
	free(s->ids_last);
	s->ids_last = cur;
	s->nids_last = cur ? nc : 0;
	scache_commit(&s->sc, s->nids_last);
	s->sc_acct = scache_bytes(&s->sc);
	atomic_fetch_add(&s->m->kept_bytes, s->nids_last * sizeof(uint64_t) + s->sc_acct);
	return added;
}

static void on_done(CURL *easy, CURLcode res, void *arg)
{
	struct tstate *s = arg;
	struct scrape_mgr *m = s->m;
	struct blob *nb = NULL, *old;
	uint64_t added = 0, removed = 0;
	long code = 0;
	double duration;

	(void)easy;
	s->busy = false;
	if (s->paused) /* timed out while waiting for a slice */
		unlink_paused(m, s);
	atomic_fetch_sub(&m->inflight_bytes, s->acct);
	s->acct = 0;
	if (res == CURLE_ABORTED_BY_CALLBACK && m->stopping)
		return;
	if (res == CURLE_OK && !s->failed) {
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code != 200)
			set_fail(s, SERR_HTTP_STATUS, "server returned HTTP status %ld%s", code,
				 code >= 300 && code < 400 ? " (redirects are not followed)" : "");
		else if (s->ps) {
			/* An unterminated last line is parsed here: the CPU
			 * budget counts from now, not from the last chunk. */
			s->cpu_t0 = clock_thread_cpu_ns();
			if (expo_parser_finish(s->ps->p) && !s->failed)
				set_fail(s, SERR_OTHER, "out of memory");
		}
	} else if (!s->failed) {
		classify(s, res);
	}
	atomic_fetch_add(&m->scrapes, 1);
	s->vanished = false;
	atomic_fetch_add(&m->scache_hits, s->n_hits);
	if (!s->failed && !s->text) {
		added = keep_ids(s);
		atomic_fetch_add(&m->samples, s->n_post);
	} else if (!s->failed) {
		/* The rendering becomes the blob: shrunk to size, not copied. */
		size_t len = s->out.len - BLOB_HDR;
		char *raw = buf_steal(&s->out);
		nb = raw ? realloc(raw, BLOB_HDR + len) : NULL;
		if (!nb) {
			free(raw);
			set_fail(s, SERR_OTHER, "out of memory");
		} else {
			atomic_store(&nb->refs, 1);
			nb->len = len;
			atomic_fetch_add(&m->kept_bytes, len);
			nb->splice = s->splice;
			s->out_hint = len;
			/* Against the last good scrape's blob: none after a
			 * failure, whose series went stale. */
			added = s->ids_last ? added_vs_ids(s, nb) :
				blob_series_diff(s->samples ? s->samples->data : NULL,
						 s->samples ? s->samples->len : 0, nb->data, len, &removed);
			s->vanished |= removed > 0;
			atomic_fetch_add(&m->samples, s->n_post);
		}
	}
	if (s->n_label_drops) {
		atomic_fetch_add(&m->label_drops, s->n_label_drops);
		log_limited(&m->drop_log, 10000, LOG_WARN, "scrape",
			    "%s: %llu samples dropped: over the label caps after metricRelabelings "
			    "(%d labels, names %d bytes, values %d bytes)",
			    s->t->d->url, (unsigned long long)s->n_label_drops, LABELS_MAX_DEFAULT,
			    LABELS_NAME_MAX, LABELS_VALUE_MAX);
	}
	if (s->failed) {
		atomic_fetch_add(&m->errors[s->fail], 1);
		if (s->fail == SERR_PARSE && s->ps)
			atomic_fetch_add(&m->parse_errors, expo_parser_stats(s->ps->p)->errors);
		log_limited(&m->scrape_log, 10000, LOG_WARN, "scrape", "%s: %s", s->t->d->url, s->fail_msg);
	}
	duration = (double)(clock_mono_ns() - s->start_ns) / 1e9;
	push_end(s, !s->failed, duration, s->failed ? 0 : s->n_scraped, s->failed ? 0 : s->n_post, added);
	if (s->failed || s->text)
		drop_ids(s); /* gone stale, or the blob stands for them now */
	pthread_mutex_lock(&m->lock);
	old = s->samples;
	s->samples = nb;
	s->health = s->failed ? HEALTH_DOWN : HEALTH_UP;
	snprintf(s->last_error, sizeof(s->last_error), "%s", s->failed ? s->fail_msg : "");
	s->last_error_pub = s->failed ? s->fail_pub : 0;
	s->last_duration = duration;
	s->r_scraped = s->failed ? 0 : s->n_scraped;
	s->r_post = s->failed ? 0 : s->n_post;
	s->r_added = added;
	pthread_mutex_unlock(&m->lock);
	if (old)
		atomic_fetch_sub(&m->kept_bytes, old->len);
	blob_unref(old);
	pslot_put(m, s);
	/* Between scrapes a target holds its blob or ids only (a failed
	 * scrape's partial rendering is freed). */
	buf_fini(&s->out);
	buf_fini(&s->ids);
	buf_fini(&s->prev_pairs); /* and the next blob's first sample shares nothing */
	if (s->sc.on) { /* neither kept nor dropped with the ids: half this scrape's */
		atomic_fetch_sub(&m->kept_bytes, s->sc_acct);
		s->sc_acct = 0;
		scache_end(&s->sc);
	}
	scrape_rule_unref(s->rule);
	s->rule = NULL;
	schedule(s);
}

/* The TLS settings and bearer token of this scrape's rule (component
 * jobs). The token file is read at every scrape: a projected
 * service-account token rotates, and a token read once would expire. An
 * unreadable token is logged (rate-limited) and the request goes without
 * one, so the component's 401 marks the target down with its reason. */
static int apply_auth(struct tstate *s)
{
	const struct scrape_auth *a = &s->rule->auth;
	char token[TOKEN_MAX], line[TOKEN_MAX + 32];
	struct curl_slist *h = NULL, *n;
	CURL *e = s->easy;
	int rc = 0;

	curl_slist_free_all(s->hdrs);
	s->hdrs = NULL;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->m->headers);
	if (!a->bearer_token_file && !a->ca_file && !a->cert_file && !a->insecure_skip_verify)
		return 0;
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, a->insecure_skip_verify ? 0L : 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, a->insecure_skip_verify ? 0L : 2L);
	if (a->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, a->ca_file);
	if (a->cert_file && a->key_file) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, a->cert_file);
		curl_easy_setopt(e, CURLOPT_SSLKEY, a->key_file);
	}
	if (!a->bearer_token_file)
		return 0;
	if (token_read(a->bearer_token_file, token, sizeof(token))) {
		log_limited(&s->m->scrape_log, 60000, LOG_WARN, "scrape",
			    "cannot read the bearer token file %s (empty, unreadable or not one line): "
			    "scraping %s without a token", a->bearer_token_file, s->t->d->url);
		return 0;
	}
	snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
	for (const struct curl_slist *i = s->m->headers; !rc && i; i = i->next) {
		n = curl_slist_append(h, i->data);
		rc = n ? 0 : KM_ENOMEM;
		h = n ? n : h;
	}
	n = rc ? NULL : curl_slist_append(h, line);
	memset(token, 0, sizeof(token));
	memset(line, 0, sizeof(line));
	if (!n) {
		curl_slist_free_all(h);
		return KM_ENOMEM;
	}
	s->hdrs = n;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->hdrs);
	return 0;
}

static void on_timer(void *arg)
{
	struct tstate *s = arg;
	int rc;

	s->timer = 0;
	if (s->busy || !atomic_load(&s->m->enabled)) {
		schedule(s);
		return;
	}
	s->failed = false;
	s->fail_msg[0] = 0;
	s->body_bytes = 0;
	{
		/* The rule's sampleLimit within the administrator's maximum;
		 * the default where the rule sets none (the built-in rule,
		 * driven by pod annotations, always gets the default). */
		const struct scrape_policy *p = &s->m->policy;
		uint64_t lim = s->t->rule->builtin ? 0 : s->t->rule->sample_limit;
		if (!lim)
			lim = p->default_sample_limit;
		if (p->max_sample_limit && (!lim || lim > p->max_sample_limit))
			lim = p->max_sample_limit;
		s->sample_limit = lim;
	}
	s->n_scraped = s->n_post = s->n_label_drops = s->n_hits = 0;
	s->cpu_ns = 0;
	s->cpu_tick = 0;
	s->meta_set = false;
	s->name_off = 0;
	/* Sized from the last scrape: one allocation, no regrowth copies. The
	 * parser comes from the pool at the first body bytes (on_write), once
	 * the Content-Type is known. */
	buf_fini(&s->out);
	buf_fini(&s->ids);
	s->text = push_keep_text(s);
	if (!s->text && s->nids_last)
		(void)buf_reserve(&s->ids, (s->nids_last + s->nids_last / 8 + 1) * sizeof(uint64_t));
	if (buf_reserve(&s->out, BLOB_HDR + (s->text ? s->out_hint + s->out_hint / 8 : BLOB_PAIRS_HINT)) ||
	    buf_add(&s->out, &blob_hdr_zero, BLOB_HDR)) {
		schedule(s);
		return;
	}
	/* The scrape runs to its end under the rule, timeout and splicing it
	 * starts with: the target may be retuned (tstate_retune) while the
	 * body streams in, and a blob must be rendered one way throughout. */
	s->rule = scrape_rule_ref(s->t->rule);
	s->timeout_ms = s->t->d->timeout_ms;
	s->honor = want_honor(s->m, s->t);
	s->force_ns = want_force_ns(s->m, s->t);
	s->splice = !s->honor && s->tlabels_text[0];
	s->tl_mask = target_mask(&s->t->d->labels);
	if (apply_auth(s)) {
		scrape_rule_unref(s->rule);
		s->rule = NULL;
		schedule(s);
		return;
	}
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
	s->start_ns = clock_mono_ns();
	pthread_mutex_lock(&s->m->lock);
	s->last_scrape = clock_wall();
	pthread_mutex_unlock(&s->m->lock);
	rc = kube_loop_add_easy(s->m->loop, s->easy, on_done, s);
	if (rc) {
		scrape_rule_unref(s->rule);
		s->rule = NULL;
		schedule(s);
		return;
	}
	s->busy = true;
	push_begin(s);
	{
		/* The series cache stands for the rendered pairs only where
		 * nothing but the series text and the context decides them:
		 * not after metricRelabelings. */
		bool on = !s->text && !s->rule->metric_relabel && !atomic_load(&s->m->no_scache);

		scache_begin(&s->sc, on, scache_ctx(&s->t->d->labels, s->honor, s->force_ns, s->splice));
	}
}

/* ---- lifecycle ------------------------------------------------------------- */

static char *render_target_labels(const struct tlabels *tl)
{
	struct buf b;
	int rc = 0;

	buf_init(&b, 1 << 20);
	for (size_t i = 0; !rc && i < tl->n; i++) {
		if (!tl->v[i].value[0])
			continue; /* an empty label does not exist */
		rc = buf_printf(&b, "%s%s=\"", b.len ? "," : "", tl->v[i].name);
		if (!rc)
			rc = expo_escape_label(&b, tl->v[i].value, strlen(tl->v[i].value));
		if (!rc)
			rc = buf_addc(&b, '"');
	}
	if (rc || !b.len) {
		buf_fini(&b);
		return rc ? NULL : strdup("");
	}
	return buf_steal(&b);
}

/* Every connection a scrape opens goes through here: the address actually
 * connected to (a name may resolve to anything) is checked against the
 * policy, not only the one discovery saw. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct tstate *s = arg;
	const struct sockaddr *sa = &a->addr;
	const void *ip = NULL;
	char why[256];

	(void)purpose;
	if (sa->sa_family == AF_INET)
		ip = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		ip = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (!ip || scrape_addr_refused(&s->m->policy, &s->m->node_addrs, &s->m->api_addrs, sa->sa_family, ip,
				       why, sizeof(why))) {
		if (!ip)
			snprintf(why, sizeof(why), "address family %d refused", sa->sa_family);
		set_fail(s, SERR_ADDRESS, "%s", why);
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static bool want_honor(const struct scrape_mgr *m, const struct target *t)
{
	return t->rule->honor_labels && !t->rule->builtin && scrape_policy_honor(&m->policy, t->rule->namespace);
}

static bool want_force_ns(const struct scrape_mgr *m, const struct target *t)
{
	return !t->rule->builtin && !scrape_policy_cross_ns(&m->policy, t->rule->namespace);
}

bool tstate_stale(const struct scrape_mgr *m, const struct target *t, const char *limit_msg)
{
	const struct tstate *s = t->state;

	if (!s || t->d->refused)
		return false; /* address refusals are part of the identity */
	if ((s->refuse == REFUSE_TARGET_LIMIT) != (limit_msg != NULL))
		return true;
	if (limit_msg && strcmp(limit_msg, s->refused) != 0)
		return true;
	return s->honor != want_honor(m, t) || s->force_ns != want_force_ns(m, t);
}

/* A connection cache for a target being started (scrape_int.h
 * SCRAPE_CONN_CACHES): the one fewest targets use, so that the caches stay
 * even as targets come and go, and each cache holds at most the per-cache
 * limit size_conn_cache sets when the target set fits the overall one.
 * Its index, or -1 when a new cache cannot be made. The cache is m's. */
static int conn_cache_take(struct scrape_mgr *m)
{
	int best = 0;

	for (int i = 1; i < SCRAPE_CONN_CACHES; i++)
		if (m->conn_users[i] < m->conn_users[best])
			best = i;
	if (!m->conn_caches[best]) {
		CURLSH *sh = curl_share_init();

		if (!sh)
			return -1;
		/* No lock functions: every user is on the scrape loop thread. */
		if (curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) {
			curl_share_cleanup(sh);
			return -1;
		}
		m->conn_caches[best] = sh;
	}
	m->conn_users[best]++;
	return best;
}

int tstate_start(struct scrape_mgr *m, struct target *t, const char *limit_msg)
{
	struct tstate *s = calloc(1, sizeof(*s));
	int64_t iv = t->d->interval_ms;
	CURL *e = NULL;

	if (!s)
		return KM_ENOMEM;
	s->m = m;
	s->t = t;
	buf_init(&s->out, m->body_max * OUT_FACTOR);
	/* 8 bytes a sample, a sample at least 2 bytes of body */
	buf_init(&s->ids, m->body_max * OUT_FACTOR);
	buf_init(&s->scratch, LABELS_NAME_MAX + 1);
	buf_init(&s->prev_pairs, BLOB_PAIRS_MAX);
	s->tlabels_text = render_target_labels(&t->d->labels);
	s->honor = want_honor(m, t);
	s->force_ns = want_force_ns(m, t);
	s->splice = !s->honor && s->tlabels_text && s->tlabels_text[0];
	if (t->d->refused || limit_msg) {
		/* Never fetched: down at once, with the reason, and no handle
		 * or buffer held. */
		s->refuse = t->d->refused ? REFUSE_ADDRESS : REFUSE_TARGET_LIMIT;
		snprintf(s->refused, sizeof(s->refused), "%s", t->d->refused ? t->d->refused : limit_msg);
		if (!s->tlabels_text) {
			free(s);
			return KM_ENOMEM;
		}
		s->health = HEALTH_DOWN;
		snprintf(s->last_error, sizeof(s->last_error), "%s", s->refused);
		s->last_error_pub = strlen(s->last_error);
		t->state = s;
		return 0;
	}
	s->easy = e = curl_easy_init();
	s->conn_cache = e ? conn_cache_take(m) : -1;
	if (!s->tlabels_text || !e || s->conn_cache < 0) {
		if (s->conn_cache >= 0)
			m->conn_users[s->conn_cache]--;
		buf_fini(&s->out);
		free(s->tlabels_text);
		if (e)
			curl_easy_cleanup(e);
		free(s);
		return KM_ENOMEM;
	}
	curl_easy_setopt(e, CURLOPT_SHARE, m->conn_caches[s->conn_cache]);
	curl_easy_setopt(e, CURLOPT_URL, t->d->url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, m->headers);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
	/* Redirects are not followed (docs/security.md): a target's answer
	 * must not choose another host for the agent to fetch. */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, s);
	curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* No DNS cache: libcurl prunes its whole cache after every transfer,
	 * i.e. O(targets) per scrape with one entry per host:port. A reused
	 * connection needs no lookup; pod addresses are IP literals anyway. */
	curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "k8smon/" K8SMON_VERSION);
	/* HTTP/1.1 also over TLS, as Prometheus and vmagent scrape: libcurl
	 * would negotiate HTTP/2 with servers that offer it (the API server,
	 * the kubelet), and a paused HTTP/2 stream (time slices, below) was
	 * seen to stall until the scrape timed out. */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* metricRelabelings may cost milliseconds per sample: small reads keep
	 * a chunk's work (parsed between two slice checks) to a few dozen
	 * samples. Gzip'd bodies still arrive in 16 KiB decoded pieces. */
	if (t->rule->metric_relabel)
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)SCRAPE_RELABEL_READ);
	else
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)SCRAPE_READ);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
	t->state = s;
	/* Spread targets over the interval by a stable offset from their
	 * identity (as Prometheus does), so restarts and peers do not align. */
	s->next_ms = clock_mono_ms() + (int64_t)(t->id % (uint64_t)(iv > 0 ? iv : 1));
	schedule(s);
	return 0;
}

void tstate_stop(struct target *t, void *arg)
{
	struct tstate *s = t->state;

	(void)arg;
	if (!s)
		return;
	if (s->timer)
		kube_loop_timer_cancel(s->m->loop, s->timer);
	if (s->busy)
		kube_loop_remove_easy(s->m->loop, s->easy);
	if (s->paused)
		unlink_paused(s->m, s);
	if (s->easy) {
		curl_easy_cleanup(s->easy);
		/* The cache stays (made again it would cost as much): its
		 * idle connection of this target goes at its next sweep. */
		s->m->conn_users[s->conn_cache]--;
	}
	curl_slist_free_all(s->hdrs);
	scrape_rule_unref(s->rule);
	atomic_fetch_sub(&s->m->inflight_bytes, s->acct);
	if (s->samples)
		atomic_fetch_sub(&s->m->kept_bytes, s->samples->len);
	pslot_put(s->m, s);
	stale_gone(s);
	push_fini(s);
	drop_ids(s);
	scache_fini(&s->sc);
	buf_fini(&s->ids);
	buf_fini(&s->out);
	buf_fini(&s->scratch);
	buf_fini(&s->prev_pairs);
	free(s->tlabels_text);
	/* The view for readers is rebuilt under the lock by the caller, so no
	 * reader can still see s once the set is updated. */
	blob_unref(s->samples);
	free(s);
	t->state = NULL;
}

void tstate_retune(struct target *t, const struct disc_target *prev, void *arg)
{
	struct tstate *s = t->state;
	int64_t iv = t->d->interval_ms, now, due;

	(void)arg;
	/* A new timeout or rule needs nothing here: each scrape reads them
	 * when it starts (on_timer). */
	if (!s || iv <= 0 || iv == prev->interval_ms)
		return;
	/* The next scrape is at min(the one already due, this target's slot
	 * within one new interval from now): a shorter interval takes effect
	 * within one new interval instead of waiting out the old one, and a
	 * longer one still refreshes the samples when they were due, so no
	 * series ages past max(old, new) interval. The slot is the same
	 * stable offset from the identity as at start, so that a thousand
	 * targets retuned by one K8sMonitor change stay spread over the
	 * interval instead of scraping in one burst. */
	now = clock_mono_ms();
	due = now + (int64_t)(t->id % (uint64_t)iv);
	if (s->next_ms < due)
		due = s->next_ms;
	s->next_ms = due;
	/* A scrape in flight reschedules from next_ms when it completes. */
	if (s->busy)
		return;
	if (s->timer)
		kube_loop_timer_cancel(s->m->loop, s->timer);
	s->timer = 0;
	schedule(s);
}
