/* Built-in component jobs: the kubelet, API server, scheduler,
 * controller-manager, kube-proxy, CoreDNS and etcd scraped with the
 * labels kube-prometheus's ServiceMonitors/PodMonitors give them, so that
 * the kube-prometheus rules and kubernetes-mixin dashboards select them
 * unchanged. docs/components.md is the user-facing description (jobs,
 * labels, defaults and why).
 *
 * This module only decides WHAT is scraped (a table of jobs, one file per
 * component for its targets); the scraping itself, with its limits,
 * timeouts and protections, is the application scraper's (src/scrape/):
 * the agent hands the result to a scrape manager as static targets.
 *
 * Two steps, so that the costly part (compiling the kube-prometheus drop
 * lists) happens only when the options change (nginx style: a new set is
 * built whole, then swapped):
 *   comp_jobs_new(options)          -> the jobs (rules with auth, relabelings)
 *   comp_jobs_targets(jobs, env)    -> the targets of this node right now
 *
 * Ownership: comp_jobs is immutable once built and reference counted; the
 * targets returned hold references to its rules. Inputs are borrowed. */
#ifndef K8SMON_COLLECT_COMPONENTS_COMPONENTS_H
#define K8SMON_COLLECT_COMPONENTS_COMPONENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scrape/scrape.h"

enum comp_id {
	COMP_KUBELET = 0,
	COMP_APISERVER,
	COMP_SCHEDULER,
	COMP_CONTROLLER_MANAGER,
	COMP_PROXY,
	COMP_COREDNS,
	COMP_ETCD,
	COMP_COUNT
};

#define COMP_BIT(id) (1u << (id))
#define COMP_ALL ((1u << COMP_COUNT) - 1)

/* Options (flags -components*, K8sMonitor spec.components). Strings are
 * borrowed by comp_jobs_new and copied; NULL or "" = the default. */
struct comp_opts {
	unsigned enabled;               /* COMP_BIT set */
	const char *token_file;         /* service-account token; default the in-cluster path */
	const char *ca_file;            /* cluster CA; default the in-cluster path */
	bool drop_lists;                /* apply kube-prometheus's metricRelabelings drop lists */
	const char *kubelet_address;    /* "" = this node's InternalIP */
	int kubelet_port;               /* 0 = 10250 */
	bool kubelet_insecure;          /* kubelets with self-signed serving certificates */
	bool kubelet_cadvisor;          /* also kubelet's /metrics/cadvisor */
	const char *control_plane_address; /* where scheduler, cm and etcd listen; "" = 127.0.0.1 */
	int scheduler_port;             /* 0 = 10259 */
	bool scheduler_insecure;
	int controller_manager_port;    /* 0 = 10257 */
	bool controller_manager_insecure;
	const char *proxy_address;      /* "" = 127.0.0.1 (kube-proxy's default metrics bind address) */
	int proxy_port;                 /* 0 = 10249 */
	int coredns_port;               /* 0 = 9153 */
	int etcd_port;                  /* 0 = 2379 */
	const char *etcd_cert_file, *etcd_key_file, *etcd_ca_file;
	int64_t interval_ms;            /* <= 0 = 15 s */
};

/* This node as the agent sees it now (borrowed). */
struct comp_env {
	const char *node_name;
	const char *node_ip;            /* InternalIP; NULL or "" = unknown */
	bool control_plane;             /* node-role.kubernetes.io/control-plane or master label */
	bool leader;                    /* the kube-state leader scrapes the API server */
	const json_t *pods;             /* this node's pods (object or array); NULL = none */
	const char *const *apiservers;  /* "ip:port" of default/kubernetes' endpoints */
	size_t napiservers;
};

struct comp_jobs;

/* Compiles the jobs of o. NULL with a message in err (a bad option, or
 * out of memory). */
struct comp_jobs *comp_jobs_new(const struct comp_opts *o, char *err, size_t errlen);
struct comp_jobs *comp_jobs_ref(struct comp_jobs *j);
void comp_jobs_unref(struct comp_jobs *j);
unsigned comp_jobs_enabled(const struct comp_jobs *j);

/* The targets of env under j, for scrape_mgr_set_static(): *out is a
 * new array of *n entries (NULL when 0). 0 or KM_ENOMEM. */
int comp_jobs_targets(const struct comp_jobs *j, const struct comp_env *env, struct scrape_static **out,
		      size_t *n);

/* "kubelet", "apiserver", "kube-scheduler", ... (also the flag and
 * /metrics/<name> path names) and back. */
const char *comp_name(enum comp_id id);
int comp_parse(const char *name, size_t len, enum comp_id *out);
/* "kubelet,apiserver,..." into COMP_BITs; KM_EINVAL naming the bad one in err. */
int comp_parse_list(const char *s, unsigned *out, char *err, size_t errlen);
/* The rule name prefix of a component's targets, for scrape_apps_open_for. */
const char *comp_rule_prefix(enum comp_id id);

/* This node's InternalIP and whether it is a control-plane node, from its
 * Node object (borrowed). ip gets "" when the node has no InternalIP. */
void comp_node_facts(const json_t *node, char *ip, size_t iplen, bool *control_plane);

#endif
