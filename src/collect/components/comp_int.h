/* Internals shared by the component files: the job table and the target
 * builder every component file uses. Not a public API. */
#ifndef K8SMON_COLLECT_COMPONENTS_COMP_INT_H
#define K8SMON_COLLECT_COMPONENTS_COMP_INT_H

#include <stdatomic.h>

#include "collect/components/components.h"
#include "scrape/rule.h"

/* The most endpoints (metrics paths) of one component (the kubelet's
 * /metrics, /metrics/cadvisor, /metrics/probes, /metrics/resource). */
#define COMP_PATHS_MAX 4

/* One component as kube-prometheus's ServiceMonitor or PodMonitor
 * describes it: the labels every target gets, and its metrics paths. */
struct comp_desc {
	const char *name;           /* flag / path name */
	const char *job;            /* job label (kube-prometheus's jobLabel result) */
	const char *namespace;      /* namespace label */
	const char *service;        /* service label, NULL = none (PodMonitor) */
	const char *endpoint;       /* endpoint label (port name), NULL = none */
	const char *paths[COMP_PATHS_MAX]; /* NULL-terminated */
};

extern const struct comp_desc comp_descs[COMP_COUNT];

/* A compiled job: one rule per metrics path. */
struct comp_job {
	struct scrape_rule *rule[COMP_PATHS_MAX]; /* NULL = path not scraped */
	char *address;              /* host to connect to; NULL = the node's InternalIP */
	bool explicit_address;      /* address given by an option (tests, unusual setups) */
	int port;
};

struct comp_jobs {
	_Atomic int refs;
	unsigned enabled;
	int64_t interval_ms;
	struct comp_job job[COMP_COUNT];
};

/* Targets being collected. */
struct comp_out {
	struct scrape_static *v;
	size_t n, cap;
};

/* Appends a target of component id, path index p, to out: URL
 * scheme://host:port<path>, the component's fixed labels (job,
 * namespace, service, endpoint) plus the extra NULL-terminated name/value
 * pairs (empty values left out). 0 or KM_ENOMEM. */
int comp_add(struct comp_out *out, const struct comp_jobs *j, enum comp_id id, size_t p, const char *scheme,
	     const char *host, int port, const char *const *extra);

/* "host:port", brackets around an IPv6 host. */
void comp_hostport(char *dst, size_t n, const char *host, int port);

/* Pods of env->pods (object or array) that are in namespace ns, carry the
 * label key=value, and run (phase Running); fn is called for each
 * (borrowed). Returns the first non-zero fn result, else 0. */
int comp_each_pod(const struct comp_env *env, const char *ns, const char *key, const char *value,
		  int (*fn)(const json_t *pod, void *arg), void *arg);
/* The name of the first such pod, or NULL (borrowed from env->pods). */
const char *comp_find_pod(const struct comp_env *env, const char *ns, const char *key, const char *value);

/* One file per component. */
int comp_kubelet_targets(const struct comp_jobs *j, const struct comp_env *env, struct comp_out *out);
int comp_apiserver_targets(const struct comp_jobs *j, const struct comp_env *env, struct comp_out *out);
int comp_control_plane_targets(const struct comp_jobs *j, enum comp_id id, const struct comp_env *env,
			       struct comp_out *out);
int comp_proxy_targets(const struct comp_jobs *j, const struct comp_env *env, struct comp_out *out);
int comp_coredns_targets(const struct comp_jobs *j, const struct comp_env *env, struct comp_out *out);

/* kube-prometheus's metricRelabelings for a component's path (JSON text,
 * static), or NULL. */
const char *comp_drop_list(enum comp_id id, const char *path);

#endif
