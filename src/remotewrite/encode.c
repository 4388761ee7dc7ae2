#include "remotewrite/encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "expo/parser.h"
#include "remotewrite/pb.h"
#include "remotewrite/stale.h"
#include "scrape/labels.h"

/* One uncompressed WriteRequest at most (a block of max_series series is
 * far below it; this is the backstop for huge label values). */
#define RW_PB_CAP (256u << 20)
#define RW_MAX_LABELS 128

struct rw_encoder {
	struct expo_parser *parser;
	struct labels ls;                /* scratch: the series being encoded */
	struct rw_label pairs[RW_MAX_LABELS];
	struct buf pb;
	size_t series;                   /* in pb */
	size_t max_series;
	const struct label_pair *ext;
	size_t next;
	const struct rw_target *t;
	int64_t ts_ms;
	rw_flush_fn flush;
	void *ctx;
	struct rw_track *track;          /* borrowed for one endpoint; NULL: none */
	uint64_t samples, rejected;
	char exported[LABELS_NAME_MAX + 16];
	/* The labels given to every sample of the section (target labels, then
	 * external ones over them, and "__name__" whose value is set per
	 * sample), sorted by name: merged with the sample's own sorted labels
	 * in one pass. */
	struct rw_over {
		const char *name, *value;
		size_t value_len;
		bool ext;
	} over[RW_MAX_LABELS];
	size_t nover, name_at;
};

static int put_series(struct rw_encoder *e, size_t n, const struct expo_sample_ev *s);
static int on_sample_slow(struct rw_encoder *e, const struct expo_sample_ev *s);

/* The common case without copying: the sample's labels and the section's
 * merged by name. 1 when a target label collides with a sample label under
 * honor = false (the sample's moves to exported_<name>: slow path). */
static int merge(struct rw_encoder *e, const struct expo_sample_ev *s, size_t *np)
{
	size_t i = 0, j = 0, n = 0, ne = labels_count(s->labels);

	e->over[e->name_at].value = s->name;
	e->over[e->name_at].value_len = s->name_len;
	while (i < ne || j < e->nover) {
		struct label_ref r = { 0 };
		int c;

		if (i < ne)
			r = labels_at(s->labels, i);
		c = i == ne ? 1 : j == e->nover ? -1 : strcmp(r.name, e->over[j].name);
		if (c == 0 && !e->over[j].ext && !e->t->honor)
			return 1;
		if (n == RW_MAX_LABELS)
			return KM_ETOOBIG;
		if (c < 0 || (c == 0 && !e->over[j].ext)) {
			/* the sample's own (honored on a tie with a target label) */
			e->pairs[n++] = (struct rw_label){ r.name, r.name_len, r.value, r.value_len };
			i++;
			j += c == 0;
		} else {
			e->pairs[n++] = (struct rw_label){ e->over[j].name, strlen(e->over[j].name),
							    e->over[j].value, e->over[j].value_len };
			j++;
			i += c == 0;
		}
	}
	*np = n;
	return 0;
}

static int on_sample(void *ctx, const struct expo_sample_ev *s)
{
	struct rw_encoder *e = ctx;
	size_t nfast;
	int m = merge(e, s, &nfast);

	if (m == KM_ETOOBIG) {
		e->rejected++;
		return 0;
	}
	if (m == 0)
		return put_series(e, nfast, s);
	return on_sample_slow(e, s);
}

/* Target labels replacing the sample's own: through a label set. */
static int on_sample_slow(struct rw_encoder *e, const struct expo_sample_ev *s)
{
	const struct rw_target *t = e->t;
	size_t n, it = 0;
	struct label_ref r;
	int rc;

	rc = labels_copy(&e->ls, s->labels);
	for (size_t i = 0; !rc && i < t->n; i++) {
		const char *old = labels_get(&e->ls, t->labels[i].name);

		if (old && t->honor)
			continue;
		if (old) {
			snprintf(e->exported, sizeof(e->exported), "exported_%s", t->labels[i].name);
			rc = labels_set(&e->ls, e->exported, old);
			if (rc)
				break;
		}
		rc = labels_set(&e->ls, t->labels[i].name, t->labels[i].value);
	}
	for (size_t i = 0; !rc && i < e->next; i++)
		rc = labels_set(&e->ls, e->ext[i].name, e->ext[i].value);
	if (!rc)
		rc = labels_setn(&e->ls, "__name__", 8, s->name, s->name_len);
	if (rc == KM_ETOOBIG) {
		e->rejected++;  /* too many or too long labels: this series only */
		return 0;
	}
	if (rc)
		return rc;
	n = 0;
	while (labels_next(&e->ls, &it, &r) && n < RW_MAX_LABELS)
		e->pairs[n++] = (struct rw_label){ r.name, r.name_len, r.value, r.value_len };
	return put_series(e, n, s);
}

/* Hands the label fields of the series just written at pb[at..] to the
 * tracker: they are read back from our own bytes (rw_pb_series: key,
 * length, the label fields, then the sample), not encoded twice. */
static void track_series(struct rw_encoder *e, size_t at, int64_t ts)
{
	const unsigned char *p = (const unsigned char *)e->pb.data + at;
	const unsigned char *end = (const unsigned char *)e->pb.data + e->pb.len, *lab;

	p++;
	while (*p++ & 0x80)
		;
	lab = p;
	while (p < end && *p == 0x0a) {
		uint64_t len = 0;
		int sh = 0;

		p++;
		do {
			len |= (uint64_t)(*p & 0x7f) << sh;
			sh += 7;
		} while (*p++ & 0x80);
		p += len;
	}
	rw_track_add(e->track, (const char *)lab, (size_t)(p - lab), ts, e->ts_ms);
}

static int put_series(struct rw_encoder *e, size_t n, const struct expo_sample_ev *s)
{
	size_t at = e->pb.len;
	int64_t ts = s->has_ts ? s->ts_ms : e->ts_ms;
	int rc = rw_pb_series(&e->pb, e->pairs, n, s->value, ts);

	if (rc)
		return rc;
	/* A sample with a timestamp of its own is never tracked, also when
	 * that timestamp happens to be the cycle's millisecond (cAdvisor rows
	 * carry their collection time): tracked in one cycle and not the next,
	 * it would get a marker older than its next sample. */
	if (e->track && !s->has_ts)
		track_series(e, at, ts);
	e->samples++;
	if (++e->series >= e->max_series || e->pb.len >= RW_BLOCK_BYTES)
		return rw_encoder_flush(e);
	return 0;
}

static void on_error(void *ctx, uint64_t line_no, enum expo_perr reason, const char *line, size_t len)
{
	struct rw_encoder *e = ctx;

	(void)line_no;
	(void)reason;
	(void)line;
	(void)len;
	e->rejected++;
}

struct rw_encoder *rw_encoder_new(size_t max_series, const struct label_pair *ext, size_t next,
				  rw_flush_fn flush, void *ctx)
{
	struct rw_encoder *e = calloc(1, sizeof(*e));
	struct expo_parser_cb cb;

	if (!e)
		return NULL;
	cb = (struct expo_parser_cb){ on_sample, on_error, e };
	e->parser = expo_parser_new(NULL, &cb);
	if (!e->parser) {
		free(e);
		return NULL;
	}
	labels_init(&e->ls, RW_MAX_LABELS);
	buf_init(&e->pb, RW_PB_CAP);
	e->max_series = max_series ? max_series : 1;
	e->ext = ext;
	e->next = next;
	e->flush = flush;
	e->ctx = ctx;
	return e;
}

void rw_encoder_free(struct rw_encoder *e)
{
	if (!e)
		return;
	expo_parser_free(e->parser);
	labels_fini(&e->ls);
	buf_fini(&e->pb);
	free(e);
}

void rw_encoder_begin(struct rw_encoder *e, const struct rw_target *t, int64_t ts_ms)
{
	size_t n = 0;

	expo_parser_reset(e->parser);
	e->t = t;
	e->ts_ms = ts_ms;
	for (size_t i = 0; i < t->n && n < RW_MAX_LABELS; i++)
		e->over[n++] = (struct rw_over){ t->labels[i].name, t->labels[i].value, strlen(t->labels[i].value), false };
	for (size_t i = 0; i < e->next; i++) {
		size_t k = 0;

		while (k < n && strcmp(e->over[k].name, e->ext[i].name) != 0)
			k++;
		if (k == n && n == RW_MAX_LABELS)
			break;
		if (k == n)
			n++;
		e->over[k] = (struct rw_over){ e->ext[i].name, e->ext[i].value, strlen(e->ext[i].value), true };
	}
	if (n < RW_MAX_LABELS)
		e->over[n++] = (struct rw_over){ "__name__", "", 0, true };
	/* insertion sort: a handful of entries */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && strcmp(e->over[k - 1].name, e->over[k].name) > 0; k--) {
			struct rw_over tmp = e->over[k];

			e->over[k] = e->over[k - 1];
			e->over[k - 1] = tmp;
		}
	for (size_t i = 0; i < n; i++)
		if (strcmp(e->over[i].name, "__name__") == 0)
			e->name_at = i;
	e->nover = n;
}

void rw_encoder_track(struct rw_encoder *e, struct rw_track *t)
{
	e->track = t;
}

int rw_encoder_feed(struct rw_encoder *e, const char *text, size_t n)
{
	return expo_parser_feed(e->parser, text, n);
}

int rw_encoder_end(struct rw_encoder *e)
{
	int rc = expo_parser_finish(e->parser);

	e->t = NULL;
	e->track = NULL;
	return rc;
}

int rw_encoder_flush(struct rw_encoder *e)
{
	int rc;

	if (!e->series)
		return 0;
	rc = e->flush(e->ctx, e->pb.data, e->pb.len, e->series);
	buf_reset(&e->pb);
	e->series = 0;
	return rc;
}

uint64_t rw_encoder_samples(const struct rw_encoder *e)
{
	return e->samples;
}

uint64_t rw_encoder_rejected(const struct rw_encoder *e)
{
	return e->rejected;
}
