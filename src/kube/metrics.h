/* Self-metrics of Kubernetes API access (k8smon_kube_*, k8smon_leader).
 *
 * One struct kube_metrics lives in each struct kube_client; the loop thread
 * updates it and any thread renders it (a mutex guards the series). */
#ifndef K8SMON_KUBE_METRICS_H
#define K8SMON_KUBE_METRICS_H

#include <pthread.h>
#include <stddef.h>

#include "base/buf.h"

enum kube_metric {
	KUBE_M_REQUESTS,       /* counter {verb, resource, code} */
	KUBE_M_WATCH_RESTARTS, /* counter {resource} */
	KUBE_M_RELISTS,        /* counter {resource} */
	KUBE_M_EVENTS,         /* counter {resource, type} */
	KUBE_M_OBJECTS,        /* gauge {resource} */
	KUBE_M_LAST_SYNC,      /* gauge {resource}: unix seconds */
	KUBE_M_SYNCED,         /* gauge {resource}: 0/1 */
	KUBE_M_OVERSIZED,      /* counter {resource}: events/pages over the cap */
	KUBE_M_DECODE_ERRORS,  /* counter {resource}: undecodable lines */
	KUBE_M_ERRORS,         /* counter {resource, cause}: tls, unreachable, unauthorized, forbidden, ... */
	KUBE_M_TOKEN_RELOADS,  /* counter {} */
	KUBE_M_LEADER,         /* gauge {lease}: k8smon_leader */
	KUBE_M_LEADER_TRANSITIONS, /* counter {lease} */
	KUBE_M_OBJECTS_OVER,   /* gauge {resource}: 1 while over the warning threshold */
	KUBE_M__COUNT
};

#define KUBE_METRIC_LABELS 3
#define KUBE_LATENCY_BUCKETS 13

struct kube_series {
	enum kube_metric m;
	char *lv[KUBE_METRIC_LABELS]; /* owned label values, NULL when unused */
	double v;
};

struct kube_latency {
	char *verb;   /* owned */
	unsigned long long bucket[KUBE_LATENCY_BUCKETS]; /* cumulative at render */
	unsigned long long count;
	double sum;
};

struct kube_metrics {
	pthread_mutex_t mu;
	struct kube_series *s;
	size_t n, alloc;
	struct kube_latency *lat;
	size_t nlat, lat_alloc;
};

void kube_metrics_init(struct kube_metrics *m);
void kube_metrics_fini(struct kube_metrics *m);
/* Adds delta to the series (created at 0 on first use). Label values are
 * copied; pass NULL for unused trailing labels. Allocation failures are
 * swallowed: losing a metric must not fail an API call. */
void kube_metrics_add(struct kube_metrics *m, enum kube_metric which, double delta,
		      const char *l0, const char *l1, const char *l2);
void kube_metrics_set(struct kube_metrics *m, enum kube_metric which, double v,
		      const char *l0, const char *l1, const char *l2);
/* Current value (0 if the series does not exist); for tests. */
double kube_metrics_get(struct kube_metrics *m, enum kube_metric which,
			const char *l0, const char *l1, const char *l2);
/* Records one request latency for the k8smon_kube_request_duration_seconds
 * histogram. */
void kube_metrics_observe(struct kube_metrics *m, const char *verb, double seconds);
/* Renders every family in Prometheus text format. */
int kube_metrics_render(struct kube_metrics *m, struct buf *out);

#endif
