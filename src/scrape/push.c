/* Remote write of the application samples, encoded at the scrape: each
 * sample the scraper renders for /metrics/apps is also encoded, with the
 * labels that text would get once /metrics/apps splices the target labels
 * in and the remote-write collector adds node and the external labels
 * (remotewrite/encode.h). The collector only concatenates the chunks
 * (remotewrite/chunks.h); it used to render /metrics/apps and parse it
 * back every interval (BENCHMARKS.md, issue 20 item 4). */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "scrape/scrape_int.h"

/* remotewrite/encode.c's limit: a series with more labels is not sent. */
#define PUSH_MAX_LABELS 128

static bool name_is(const struct rw_label *l, const char *name, size_t len)
{
	return l->name_len == len && memcmp(l->name, name, len) == 0;
}

static int name_cmp(const struct rw_label *a, const struct rw_label *b)
{
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c;

	/* Most label names differ in their first byte: no memcmp call (it
	 * was ~5 % of a push-only scrape's CPU, BENCHMARKS.md). */
	if (n && a->name[0] != b->name[0])
		return (unsigned char)a->name[0] < (unsigned char)b->name[0] ? -1 : 1;
	c = memcmp(a->name, b->name, n);

	if (c)
		return c;
	return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

/* The target-level labels after the series' own v[0, n): node unless
 * present, the external labels over everything, __name__; then sorted.
 * KM_ETOOBIG: too many labels (the series is not sent, as before). */
static int finish_labels(const struct scrape_push *p, struct rw_label *v, size_t *np, const char *name)
{
	size_t n = *np, nl = strlen(p->node);
	bool has_node = false;

	for (size_t i = 0; i < n && !has_node; i++)
		has_node = name_is(&v[i], "node", 4);
	if (!has_node && nl) {
		if (n == PUSH_MAX_LABELS)
			return KM_ETOOBIG;
		v[n++] = (struct rw_label){ "node", 4, p->node, nl };
	}
	for (size_t e = 0; e < p->next; e++) {
		size_t k = 0;

		while (k < n && !name_is(&v[k], p->ext[e].name, p->ext[e].name_len))
			k++;
		if (k == n && n == PUSH_MAX_LABELS)
			return KM_ETOOBIG;
		v[k] = p->ext[e];
		n += k == n;
	}
	if (n == PUSH_MAX_LABELS)
		return KM_ETOOBIG;
	v[n++] = (struct rw_label){ "__name__", 8, name, strlen(name) };
	/* insertion sort: a series has a handful of labels */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && name_cmp(&v[k - 1], &v[k]) > 0; k--) {
			struct rw_label t = v[k];

			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	*np = n;
	return 0;
}

/* A label every series of the scrape gets, unless a sample label of the
 * same name wins (kind decides): built once per scrape, sorted, so that a
 * series' labels are the sample's and these merged in one pass. */
enum over_kind { OVER_TARGET, OVER_NODE, OVER_EXT, OVER_NAME };
struct push_over {
	struct rw_label l;
	enum over_kind kind;
	struct rw_label_enc enc;    /* l as a protobuf field, encoded once (not __name__) */
};

static void over_free(struct tstate *s)
{
	free(s->over);
	s->over = NULL;
	s->nover = 0;
}

/* Each label of v (but __name__) encoded once for the scrape: the bytes go
 * after the array, in the same allocation (s->over takes v). */
static int over_encode(struct tstate *s, struct push_over *v, size_t n)
{
	struct push_over *w;
	size_t *off = calloc(n, sizeof(*off)), head = n * sizeof(*v);
	struct buf b;
	int rc = 0;

	buf_init(&b, 1u << 20);
	for (size_t i = 0; off && !rc && i < n; i++) {
		off[i] = b.len;
		if (v[i].kind != OVER_NAME)
			rc = rw_pb_label(&b, &v[i].l);
	}
	if (!off || rc || !(w = realloc(v, head + b.len + 1))) {
		/* not pre-encoded: every label written per series (same bytes) */
		free(off);
		buf_fini(&b);
		s->over = v;
		s->nover = n;
		return rc ? rc : KM_ENOMEM;
	}
	memcpy((char *)w + head, b.data ? b.data : "", b.len);
	for (size_t i = 0; i < n; i++) {
		if (w[i].kind != OVER_NAME)
			w[i].enc = (struct rw_label_enc){ (char *)w + head + off[i], (i + 1 < n ? off[i + 1] : b.len) - off[i] };
	}
	free(off);
	buf_fini(&b);
	s->over = w;
	s->nover = n;
	return 0;
}

/* The target labels a spliced or honorLabels series gets, node, the
 * external labels over them, __name__; sorted. */
static int over_build(struct tstate *s)
{
	const struct tlabels *tl = &s->t->d->labels;
	const struct scrape_push *p = s->push;
	size_t n = 0, cap = tl->n + p->next + 2;
	struct push_over *v = calloc(cap, sizeof(*v));
	bool has_node = false;

	if (!v)
		return KM_ENOMEM;
	for (size_t i = 0; i < tl->n; i++) {
		v[n] = (struct push_over){ { tl->v[i].name, strlen(tl->v[i].name), tl->v[i].value,
					     strlen(tl->v[i].value) }, OVER_TARGET, { NULL, 0 } };
		has_node |= name_is(&v[n].l, "node", 4);
		n++;
	}
	if (!has_node && p->node[0])
		v[n++] = (struct push_over){ { "node", 4, p->node, strlen(p->node) }, OVER_NODE, { NULL, 0 } };
	for (size_t e = 0; e < p->next; e++) {
		size_t k = 0;

		while (k < n && !name_is(&v[k].l, p->ext[e].name, p->ext[e].name_len))
			k++;
		v[k] = (struct push_over){ p->ext[e], OVER_EXT, { NULL, 0 } };
		n += k == n;
	}
	v[n++] = (struct push_over){ { "__name__", 8, "", 0 }, OVER_NAME, { NULL, 0 } };
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && name_cmp(&v[k - 1].l, &v[k].l) > 0; k--) {
			struct push_over t = v[k];

			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	return over_encode(s, v, n);
}

/* The usual case in one pass: the sample's sorted labels merged with the
 * scrape's. 1 when a sample label must be renamed exported_<name> (its
 * place in the order changes): the caller takes the general path. */
static int merge(const struct tstate *s, const char *name, const struct label_ref *lv, size_t ns,
		 struct rw_label *pairs, struct rw_label_enc *enc, size_t *np)
{
	size_t i = 0, j = 0, n = 0;
	struct label_ref r = { 0 };
	bool have = false;

	while (i < ns || j < s->nover) {
		const struct push_over *o = j < s->nover ? &s->over[j] : NULL;
		int c;

		if (i < ns && !have) {
			r = lv[i];
			have = true;
		}
		if (n == PUSH_MAX_LABELS)
			return KM_ETOOBIG;
		if (!o) {
			c = -1;
		} else if (i == ns) {
			c = 1;
		} else {
			struct rw_label sl = { r.name, r.name_len, NULL, 0 };

			c = name_cmp(&sl, &o->l);
		}
		enc[n] = (struct rw_label_enc){ NULL, 0 };
		if (c < 0) {
			pairs[n++] = (struct rw_label){ r.name, r.name_len, r.value, r.value_len };
			i++;
			have = false;
		} else if (c > 0) {
			pairs[n] = o->l;
			enc[n] = o->enc;
			if (o->kind == OVER_NAME) {
				pairs[n].value = name;
				pairs[n].value_len = strlen(name);
			}
			n++;
			j++;
		} else if (o->kind == OVER_EXT && (!tl_getn(&s->t->d->labels, r.name, r.name_len) ||
						   (s->honor && !(s->force_ns && r.name_len == 9 &&
								  memcmp(r.name, "namespace", 9) == 0)))) {
			/* An external label wins, unless the sample's clashes
			 * with a target label it replaced: that one is kept,
			 * renamed exported_ (the general path). */
			enc[n] = o->enc;
			pairs[n++] = o->l; /* external labels win */
			i++, j++;
			have = false;
		} else if (o->kind == OVER_NODE ||
			   (s->honor && !(s->force_ns && r.name_len == 9 && memcmp(r.name, "namespace", 9) == 0))) {
			/* the sample's wins: over node, and over a target label under honorLabels */
			pairs[n++] = (struct rw_label){ r.name, r.name_len, r.value, r.value_len };
			i++, j++;
			have = false;
		} else {
			return 1;
		}
	}
	*np = n;
	return 0;
}

bool push_keep_text(const struct tstate *s)
{
	int64_t read = atomic_load(&s->m->apps_read_ms), idle = SCRAPE_APPS_IDLE_MS;

	if (!atomic_load(&s->m->push) || s->m->policy.keep_apps_text || atomic_load(&s->m->text_wanted))
		return true;
	if (s->t->d->interval_ms > idle / 3)
		idle = 3 * s->t->d->interval_ms;
	return read && clock_mono_ms() - read <= idle;
}

void scrape_mgr_set_text_wanted(struct scrape_mgr *m, bool wanted)
{
	if (m)
		atomic_store(&m->text_wanted, wanted);
}

void push_begin(struct tstate *s)
{
	/* what an earlier scrape left (none when it ended) */
	rw_chunker_fini(&s->ck);
	buf_fini(&s->pxn);
	over_free(s);
	s->push = atomic_load(&s->m->push);
	if (!s->push)
		return;
	rw_chunker_init(&s->ck);
	if (s->m->nckpool)
		rw_chunker_adopt(&s->ck, &s->m->ckpool[--s->m->nckpool]);
	buf_init(&s->pxn, 1u << 20);
	s->scrape_ms = clock_wall_ms();
	/* Without it every series takes the general path (same bytes). */
	(void)over_build(s);
}

/* Labels as render() writes them: the sample's (a clash with a target label
 * renamed exported_<name> unless honorLabels keeps the sample's), then the
 * target labels (all when spliced; with honorLabels those the sample lacks,
 * namespace always when the rule owns it). */
bool refs_has(const struct label_ref *lv, size_t ln, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < ln; i++) {
		if (lv[i].name_len == len && memcmp(lv[i].name, name, len) == 0)
			return true;
	}
	return false;
}

int push_series(struct tstate *s, const char *name, const struct label_ref *lv, size_t ln, double v, bool has_ts,
		int64_t ts)
{
	const struct tlabels *tl = &s->t->d->labels;
	struct rw_label pairs[PUSH_MAX_LABELS + 1];
	struct rw_label_enc enc[PUSH_MAX_LABELS + 1];
	size_t n = 0, room = 0;
	int rc;

	if (!s->push)
		return 0;
	if (s->over) {
		rc = merge(s, name, lv, ln, pairs, enc, &n);
		if (rc == 0)
			return rw_chunker_series_enc(&s->ck, pairs, enc, n, v, has_ts ? ts : s->scrape_ms);
		if (rc < 0)
			return 0; /* too many labels: not sent, as before */
		n = 0;
	}
	/* exported_ names are built in pxn: room for all first, so the
	 * pointers taken into it stay valid */
	for (size_t i = 0; i < ln; i++)
		room += tl_getn(tl, lv[i].name, lv[i].name_len) ? 9 + lv[i].name_len + 1 : 0;
	if (room && (rc = buf_reserve(&s->pxn, room)))
		return rc;
	for (size_t i = 0; i < ln; i++) {
		const struct label_ref ref = lv[i];
		bool clash = tl_getn(tl, ref.name, ref.name_len) != NULL;
		bool ns = ref.name_len == 9 && memcmp(ref.name, "namespace", 9) == 0;

		if (n == PUSH_MAX_LABELS)
			goto skip;
		if (clash && (!s->honor || (s->force_ns && ns))) {
			const char *at = s->pxn.data + s->pxn.len;

			buf_add(&s->pxn, "exported_", 9);
			buf_add(&s->pxn, ref.name, ref.name_len);
			pairs[n++] = (struct rw_label){ at, 9 + ref.name_len, ref.value, ref.value_len };
		} else {
			pairs[n++] = (struct rw_label){ ref.name, ref.name_len, ref.value, ref.value_len };
		}
	}
	for (size_t i = 0; i < tl->n; i++) {
		if (!s->splice && !s->honor)
			break;
		if (s->honor && refs_has(lv, ln, tl->v[i].name) &&
		    !(s->force_ns && strcmp(tl->v[i].name, "namespace") == 0))
			continue;
		if (n == PUSH_MAX_LABELS)
			goto skip;
		pairs[n++] = (struct rw_label){ tl->v[i].name, strlen(tl->v[i].name), tl->v[i].value,
						 strlen(tl->v[i].value) };
	}
	if (finish_labels(s->push, pairs, &n, name))
		goto skip;
	rc = rw_chunker_series(&s->ck, pairs, n, v, has_ts ? ts : s->scrape_ms);
	buf_reset(&s->pxn);
	return rc;
skip:
	buf_reset(&s->pxn);
	return 0;
}

static void synthetic(struct rw_chunker *ck, const struct tlabels *tl, const struct scrape_push *p,
		      const char *name, double v, int64_t ts, int *rc)
{
	struct rw_label pairs[PUSH_MAX_LABELS + 1];
	size_t n = 0;

	if (*rc)
		return;
	for (size_t i = 0; i < tl->n && n < PUSH_MAX_LABELS; i++)
		pairs[n++] = (struct rw_label){ tl->v[i].name, strlen(tl->v[i].name), tl->v[i].value,
						 strlen(tl->v[i].value) };
	if (finish_labels(p, pairs, &n, name))
		return;
	*rc = rw_chunker_series(ck, pairs, n, v, ts);
}

/* The five series /metrics/apps writes after a target's samples. */
static int synthetic_all(struct rw_chunker *ck, const struct tlabels *tl, const struct scrape_push *p, int64_t ts,
			 bool up, double duration, uint64_t scraped, uint64_t post, uint64_t added)
{
	int rc = 0;

	synthetic(ck, tl, p, "up", up ? 1 : 0, ts, &rc);
	synthetic(ck, tl, p, "scrape_duration_seconds", duration, ts, &rc);
	synthetic(ck, tl, p, "scrape_samples_scraped", (double)scraped, ts, &rc);
	synthetic(ck, tl, p, "scrape_samples_post_metric_relabeling", (double)post, ts, &rc);
	synthetic(ck, tl, p, "scrape_series_added", (double)added, ts, &rc);
	return rc;
}

void push_end(struct tstate *s, bool up, double duration, uint64_t scraped, uint64_t post, uint64_t added)
{
	struct rw_chunks *k, *old, *mk;
	int rc;

	if (!s->push)
		return;
	if (!up)
		rw_chunker_reset(&s->ck); /* a failed scrape's samples are not sent */
	rc = synthetic_all(&s->ck, &s->t->d->labels, s->push, s->scrape_ms, up, duration, scraped, post, added);
	k = rc ? NULL : rw_chunker_take(&s->ck, &rc);
	if (k && s->m->nckpool < PUSH_SCRATCH_POOL_MAX)
		rw_chunker_release(&s->ck, &s->m->ckpool[s->m->nckpool++]);
	rw_chunker_fini(&s->ck);
	buf_fini(&s->pxn);
	over_free(s);
	s->push = NULL;
	if (!k) {
		stale_fini(s); /* out of memory: this scrape is not pushed, nor compared */
		return;
	}
	/* before the lock: decoding the last scrape, when needed, takes time */
	mk = stale_after_scrape(s, k, up);
	pthread_mutex_lock(&s->m->lock);
	old = s->pushed;
	s->pushed = k;
	stale_pend(s, mk);
	/* Push only: the chunks are what the scrape keeps until collected,
	 * so they count in k8smon_scrape_memory_bytes and the budget (once:
	 * in stale_acct when kept for staleness markers). */
	atomic_fetch_sub(&s->m->kept_bytes, s->pushed_acct);
	s->pushed_acct = s->text || s->stale_prev == k ? 0 : k->len;
	atomic_fetch_add(&s->m->kept_bytes, s->pushed_acct);
	pthread_mutex_unlock(&s->m->lock);
	rw_chunks_unref(old);
}

void push_fini(struct tstate *s)
{
	rw_chunker_fini(&s->ck);
	buf_fini(&s->pxn);
	over_free(s);
	atomic_fetch_sub(&s->m->kept_bytes, s->pushed_acct);
	s->pushed_acct = 0;
	rw_chunks_unref(s->pushed);
	s->pushed = NULL;
	stale_fini(s);
}

void push_pool_free(struct scrape_mgr *m)
{
	while (m->nckpool)
		rw_scratch_fini(&m->ckpool[--m->nckpool]);
}

static void push_free(struct scrape_push *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->next; i++)
		free(p->mem[i]);
	free(p->node);
	free(p);
}

int scrape_mgr_set_push(struct scrape_mgr *m, const struct label_pair *ext, size_t next, const char *node)
{
	struct scrape_push *p, *none = NULL;

	if (!m || atomic_load(&m->push))
		return 0;
	if (next > sizeof(p->ext) / sizeof(p->ext[0]))
		return KM_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->node = strdup(node ? node : "")))
		goto oom;
	for (size_t i = 0; i < next; i++) {
		size_t nl = strlen(ext[i].name), vl = strlen(ext[i].value);

		if (!(p->mem[i] = malloc(nl + vl + 2)))
			goto oom;
		memcpy(p->mem[i], ext[i].name, nl + 1);
		memcpy(p->mem[i] + nl + 1, ext[i].value, vl + 1);
		p->ext[i] = (struct rw_label){ p->mem[i], nl, p->mem[i] + nl + 1, vl };
		p->next++;
	}
	if (!atomic_compare_exchange_strong(&m->push, &none, p))
		push_free(p); /* another thread set it first: the same flags */
	return 0;
oom:
	push_free(p);
	return KM_ENOMEM;
}

void scrape_push_free(struct scrape_mgr *m)
{
	/* markers of removed targets no cycle took */
	rw_chunks_unref(m->stale_gone);
	m->stale_gone = NULL;
	push_free(atomic_load(&m->push));
	atomic_store(&m->push, NULL);
}

int scrape_mgr_push_collect(struct scrape_mgr *m, scrape_push_fn fn, void *ctx)
{
	const struct scrape_push *p = m ? atomic_load(&m->push) : NULL;
	int64_t now = clock_wall_ms();
	struct rw_chunks **v = NULL;
	struct rw_chunker ck;
	size_t n = 0;
	int rc = 0;

	if (!p)
		return 0;
	pthread_mutex_lock(&m->lock);
	/* room for a target's chunks and its markers apart (if joining them
	 * fails), and the removed targets' markers */
	if (!(v = calloc(2 * m->set.n + 1, sizeof(*v))))
		rc = KM_ENOMEM;
	if (!rc && m->stale_gone) {
		v[n++] = m->stale_gone;
		m->stale_gone = NULL;
	}
	rw_chunker_init(&ck);
	for (size_t i = 0; !rc && i < m->set.n; i++) {
		struct tstate *s = m->set.v[i]->state;

		if (s && (s->pushed || s->stale_pending)) {
			/* The markers first: they are as old as the scrape or
			 * older (a series marked by a scrape the cycle missed may
			 * be back in this one), and a receiver such as Prometheus
			 * drops a sample older than one already appended. */
			struct rw_chunks *both = s->pushed && s->stale_pending ?
				rw_chunks_cat(s->stale_pending, s->pushed, &rc) : NULL;

			rc = 0;
			/* the references move: each scrape and marker is sent once */
			if (both) {
				rw_chunks_unref(s->pushed);
				rw_chunks_unref(s->stale_pending);
				v[n++] = both;
			} else {
				if (s->stale_pending)
					v[n++] = s->stale_pending;
				if (s->pushed)
					v[n++] = s->pushed;
			}
			s->pushed = NULL;
			s->stale_pending = NULL;
			atomic_fetch_sub(&m->kept_bytes, s->pushed_acct);
			s->pushed_acct = 0;
		} else if (s && s->refuse != REFUSE_NONE) {
			/* Never scraped (policy, target limit): down at every
			 * collection, as /metrics/apps shows it. */
			rc = synthetic_all(&ck, &m->set.v[i]->d->labels, p, now, false, s->last_duration, 0, 0, 0);
			if (!rc && !(v[n] = rw_chunker_take(&ck, &rc)))
				break;
			n += !rc;
		}
	}
	pthread_mutex_unlock(&m->lock);
	rw_chunker_fini(&ck);
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = fn(ctx, v[i]);
		else
			rw_chunks_unref(v[i]);
	}
	free(v);
	return rc;
}
