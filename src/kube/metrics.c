#include "kube/metrics.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/vec.h"
#include "expo/writer.h"

struct family {
	const char *name;
	const char *help;
	enum expo_type type;
	const char *labels[KUBE_METRIC_LABELS];
};

static const struct family families[KUBE_M__COUNT] = {
	[KUBE_M_REQUESTS] = { "k8smon_kube_requests_total",
		"Kubernetes API requests by verb, resource and HTTP status code (0 = no response).",
		EXPO_COUNTER, { "verb", "resource", "code" } },
	[KUBE_M_WATCH_RESTARTS] = { "k8smon_kube_watch_restarts_total",
		"Watch streams re-established, by resource.", EXPO_COUNTER, { "resource" } },
	[KUBE_M_RELISTS] = { "k8smon_kube_relists_total",
		"Full LISTs after the initial one (410 Expired, errors, oversized events), by resource.",
		EXPO_COUNTER, { "resource" } },
	[KUBE_M_EVENTS] = { "k8smon_kube_watch_events_total",
		"Watch events received, by resource and type.", EXPO_COUNTER, { "resource", "type" } },
	[KUBE_M_OBJECTS] = { "k8smon_kube_store_objects",
		"Objects held in the local store, by resource.", EXPO_GAUGE, { "resource" } },
	[KUBE_M_LAST_SYNC] = { "k8smon_kube_last_sync_timestamp_seconds",
		"Unix time of the last successful list or watch event, by resource.",
		EXPO_GAUGE, { "resource" } },
	[KUBE_M_SYNCED] = { "k8smon_kube_synced",
		"1 once the initial list of the resource has been applied.", EXPO_GAUGE, { "resource" } },
	[KUBE_M_OVERSIZED] = { "k8smon_kube_oversized_total",
		"Watch events or list responses over the size cap (each causes a relist), by resource.",
		EXPO_COUNTER, { "resource" } },
	[KUBE_M_DECODE_ERRORS] = { "k8smon_kube_decode_errors_total",
		"Watch lines or list bodies that could not be decoded, by resource.",
		EXPO_COUNTER, { "resource" } },
	[KUBE_M_ERRORS] = { "k8smon_kube_errors_total",
		"Failed API calls by resource and cause (tls, unreachable, unauthorized, forbidden, throttled, server, other).",
		EXPO_COUNTER, { "resource", "cause" } },
	[KUBE_M_TOKEN_RELOADS] = { "k8smon_kube_token_reloads_total",
		"Bearer token file re-reads.", EXPO_COUNTER, { NULL } },
	[KUBE_M_LEADER] = { "k8smon_leader",
		"1 when this instance holds the Lease (or leader election is off).", EXPO_GAUGE, { "lease" } },
	[KUBE_M_LEADER_TRANSITIONS] = { "k8smon_kube_leader_transitions_total",
		"Times this instance became or stopped being the leader.", EXPO_COUNTER, { "lease" } },
	[KUBE_M_OBJECTS_OVER] = { "k8smon_kube_store_objects_over_threshold",
		"1 while the local store of a resource holds more objects than its warning threshold.",
		EXPO_GAUGE, { "resource" } },
};

static const double lat_bounds[KUBE_LATENCY_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};

void kube_metrics_init(struct kube_metrics *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
}

void kube_metrics_fini(struct kube_metrics *m)
{
	for (size_t i = 0; i < m->n; i++)
		for (int j = 0; j < KUBE_METRIC_LABELS; j++)
			free(m->s[i].lv[j]);
	for (size_t i = 0; i < m->nlat; i++)
		free(m->lat[i].verb);
	free(m->s);
	free(m->lat);
	pthread_mutex_destroy(&m->mu);
}

static bool lv_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Finds or creates; caller holds the lock. NULL on allocation failure. */
static struct kube_series *series(struct kube_metrics *m, enum kube_metric which,
				  const char *lv[KUBE_METRIC_LABELS])
{
	struct kube_series *s;

	for (size_t i = 0; i < m->n; i++) {
		s = &m->s[i];
		if (s->m == which && lv_eq(s->lv[0], lv[0]) && lv_eq(s->lv[1], lv[1]) &&
		    lv_eq(s->lv[2], lv[2]))
			return s;
	}
	/* Bounded by the label values callers pass: verbs, codes, resources. */
	if (VEC_RESERVE(m->s, m->alloc, m->n + 1, 32, VEC_UNBOUNDED))
		return NULL;
	s = &m->s[m->n];
	memset(s, 0, sizeof(*s));
	s->m = which;
	for (int j = 0; j < KUBE_METRIC_LABELS; j++) {
		if (!lv[j] || !families[which].labels[j])
			continue;
		s->lv[j] = strdup(lv[j]);
		if (!s->lv[j]) {
			for (int k = 0; k < j; k++)
				free(s->lv[k]);
			return NULL;
		}
	}
	m->n++;
	return s;
}

static void update(struct kube_metrics *m, enum kube_metric which, double v, bool add,
		   const char *l0, const char *l1, const char *l2)
{
	const char *lv[KUBE_METRIC_LABELS] = { l0, l1, l2 };
	struct kube_series *s;

	pthread_mutex_lock(&m->mu);
	s = series(m, which, lv);
	if (s)
		s->v = add ? s->v + v : v;
	pthread_mutex_unlock(&m->mu);
}

void kube_metrics_add(struct kube_metrics *m, enum kube_metric which, double delta,
		      const char *l0, const char *l1, const char *l2)
{
	update(m, which, delta, true, l0, l1, l2);
}

void kube_metrics_set(struct kube_metrics *m, enum kube_metric which, double v,
		      const char *l0, const char *l1, const char *l2)
{
	update(m, which, v, false, l0, l1, l2);
}

double kube_metrics_get(struct kube_metrics *m, enum kube_metric which,
			const char *l0, const char *l1, const char *l2)
{
	const char *lv[KUBE_METRIC_LABELS] = { l0, l1, l2 };
	double v = 0;

	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++) {
		struct kube_series *s = &m->s[i];

		if (s->m == which && lv_eq(s->lv[0], lv[0]) && lv_eq(s->lv[1], lv[1]) &&
		    lv_eq(s->lv[2], lv[2])) {
			v = s->v;
			break;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return v;
}

void kube_metrics_observe(struct kube_metrics *m, const char *verb, double seconds)
{
	struct kube_latency *l = NULL;

	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->nlat; i++)
		if (strcmp(m->lat[i].verb, verb) == 0)
			l = &m->lat[i];
	if (!l) {
		/* Bounded by the verbs the client uses. */
		if (VEC_RESERVE(m->lat, m->lat_alloc, m->nlat + 1, 8, VEC_UNBOUNDED))
			goto out;
		l = &m->lat[m->nlat];
		memset(l, 0, sizeof(*l));
		l->verb = strdup(verb);
		if (!l->verb)
			goto out;
		m->nlat++;
	}
	for (int b = 0; b < KUBE_LATENCY_BUCKETS; b++)
		if (seconds <= lat_bounds[b])
			l->bucket[b]++;
	l->count++;
	l->sum += seconds;
out:
	pthread_mutex_unlock(&m->mu);
}

static int render_latency(struct kube_metrics *m, struct buf *out)
{
	const char *name = "k8smon_kube_request_duration_seconds";
	int rc;

	if (m->nlat == 0)
		return 0;
	rc = expo_family(out, name, "Latency of Kubernetes API requests other than watches, by verb.",
			 EXPO_HISTOGRAM);
	for (size_t i = 0; rc == 0 && i < m->nlat; i++) {
		struct kube_latency *l = &m->lat[i];

		for (int b = 0; rc == 0 && b <= KUBE_LATENCY_BUCKETS; b++) {
			char le[EXPO_DOUBLE_MAX];
			struct label_pair lb[2] = { { "verb", l->verb }, { "le", le } };

			if (b < KUBE_LATENCY_BUCKETS)
				expo_fmt_double(le, lat_bounds[b]);
			else
				memcpy(le, "+Inf", 5);
			rc = expo_sample(out, "k8smon_kube_request_duration_seconds_bucket", lb, 2,
					 (double)(b < KUBE_LATENCY_BUCKETS ? l->bucket[b] : l->count));
		}
		if (rc == 0)
			rc = expo_sample(out, "k8smon_kube_request_duration_seconds_sum",
					 &(struct label_pair){ "verb", l->verb }, 1, l->sum);
		if (rc == 0)
			rc = expo_sample(out, "k8smon_kube_request_duration_seconds_count",
					 &(struct label_pair){ "verb", l->verb }, 1, (double)l->count);
	}
	return rc;
}

int kube_metrics_render(struct kube_metrics *m, struct buf *out)
{
	int rc = 0;

	pthread_mutex_lock(&m->mu);
	for (int f = 0; rc == 0 && f < KUBE_M__COUNT; f++) {
		bool any = false;

		for (size_t i = 0; rc == 0 && i < m->n; i++) {
			struct kube_series *s = &m->s[i];
			struct label_pair lb[KUBE_METRIC_LABELS];
			size_t nl = 0;

			if ((int)s->m != f)
				continue;
			if (!any) {
				rc = expo_family(out, families[f].name, families[f].help, families[f].type);
				any = true;
				if (rc)
					break;
			}
			for (int j = 0; j < KUBE_METRIC_LABELS; j++) {
				if (!families[f].labels[j] || !s->lv[j])
					continue;
				lb[nl].name = families[f].labels[j];
				lb[nl].value = s->lv[j];
				nl++;
			}
			rc = expo_sample(out, families[f].name, lb, nl, s->v);
		}
		if (rc == 0 && f == KUBE_M_REQUESTS)
			rc = render_latency(m, out);
	}
	pthread_mutex_unlock(&m->mu);
	return rc;
}
