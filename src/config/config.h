/* The effective configuration: an immutable, reference-counted object built
 * whole from the flags (and, later, the K8sMonitor that selects this node and
 * the ScrapeRules), validated, then swapped in by the agent. Readers take a
 * reference and keep a consistent view for as long as they hold it; a failed
 * build leaves the running configuration untouched (the nginx model). */
#ifndef K8SMON_CONFIG_CONFIG_H
#define K8SMON_CONFIG_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/rx.h"
#include "config/flags.h"
#include "scrape/policy.h"

#define CONFIG_RX_MAX 32  /* regexes in one allow/deny list */

struct crs_config;

struct config {
	_Atomic int refs;
	unsigned collectors;          /* COLLECTOR_* bits */
	int64_t interval_ms;
	struct str_list namespaces;   /* owned; empty = all */
	struct str_list exclude_namespaces;
	char *source;                 /* owned; "flags" or "K8sMonitor/<name>" */
	uint64_t generation;          /* increments with every swap, for /config */
	int64_t monitor_generation;   /* metadata.generation of the K8sMonitor, 0 for flags */
	/* node collector filters (owned; NULL = node-exporter's default) */
	struct rx *mount_points_exclude;
	struct rx *fs_types_exclude;
	struct rx *netdev_exclude;
	struct rx *diskstats_exclude;
	/* From the flags only (no K8sMonitor field): */
	struct rx *netdev_include;
	struct rx *diskstats_include;
	uint64_t node_disabled;       /* node_opts.disabled */
	uint64_t node_enabled;        /* node_opts.enabled */
	struct rx *hwmon_chip_include;  /* owned; NULL = none */
	struct rx *hwmon_chip_exclude;
	struct rx *hwmon_sensor_include;
	struct rx *hwmon_sensor_exclude;
	struct rx *powersupply_ignored; /* owned; compiled even when "" (matches all, as Go) */
	struct rx *systemd_unit_include; /* owned; anchored */
	struct rx *systemd_unit_exclude;
	/* kube-state filters */
	struct str_list ks_resources;   /* empty = all */
	struct rx *ks_allow;            /* owned; the allowlist joined into one regex; NULL = all */
	struct rx *ks_deny;             /* owned; NULL = none */
	json_t *ks_labels_allowlist;    /* owned ref; {"pods": ["app", ...]} or NULL */
	json_t *ks_annotations_allowlist; /* owned ref; same shape, or NULL */
	/* kubeState.customResourceState (KSM's CustomResourceStateMetrics spec):
	 * compiled (owned, immutable; NULL = none) and as given (owned ref, for
	 * telling whether a new cycle changed it). */
	struct crs_config *ks_crs;
	json_t *ks_crs_spec;
	/* kubeState.podSharding, else -kubeState.podSharding: enum
	 * ks_pod_sharding (collect/kubestate/shard.h; 0 = leader). */
	int ks_pod_sharding;
	/* spec.scrape: what application scraping may reach, and its budgets
	 * (flags and scrape_policy_default() for what the monitor leaves out). */
	struct scrape_policy scrape;
	/* spec.components (docs/components.md), else the -components* flags:
	 * which component jobs run and the options a monitor may change. */
	unsigned components;            /* COMP_BIT()s of collect/components */
	bool comp_drop_lists;
	bool comp_kubelet_insecure;
	bool comp_kubelet_cadvisor;
	/* For /config: the node and kubeState options as given (owned, NULL =
	 * defaults), and where each part of the configuration came from:
	 * {"collectors": "flags" | "K8sMonitor/<name>", "interval": ..., ...}. */
	json_t *node_spec;
	json_t *ks_spec;
	json_t *from;
	/* spec.remoteWrite as given, checked by config_check_remote_write (owned
	 * ref); NULL: absent, the -remoteWrite.* flags apply. */
	json_t *remote_write;
};

/* Builds a configuration from the flags plus, when monitor is not NULL, the
 * spec of the K8sMonitor that selects this node (borrowed JSON object). Every
 * field is validated; on the first error returns NULL with a field-path
 * message in err, e.g. 'spec.interval: "15" is not a duration'. */
struct config *config_build(const struct flags *f, const json_t *monitor, char *err, size_t errlen);

/* Builds a configuration from the flags alone: config_build(f, NULL, ...). */
struct config *config_from_flags(const struct flags *f, char *err, size_t errlen);
/* Takes one more reference; returns c. */
struct config *config_ref(struct config *c);
/* Drops a reference; frees at zero. NULL is ok. */
void config_unref(struct config *c);
/* Names the settings that differ between a and b into out, comma
 * separated ("collectors,interval"; "" when none), for the log line of a
 * reconfiguration. Either may be NULL (everything differs). */
void config_diff(const struct config *a, const struct config *b, char *out, size_t outlen);
/* Whether a and b ask for the same component jobs (spec.components). */
bool config_components_equal(const struct config *a, const struct config *b);
/* Whether namespace ns passes the include/exclude filters. */
bool config_namespace_allowed(const struct config *c, const char *ns);
/* Parses a K8sMonitor spec.scrape object (borrowed) over p; a field-path
 * message in err on the first invalid field (KM_EINVAL). */
int config_parse_scrape(const json_t *v, struct scrape_policy *p, char *err, size_t errlen);
/* Checks a K8sMonitor spec.remoteWrite list (borrowed): every entry has an
 * http(s) url (no two alike), Secret references {name, key}, a known
 * protocol, headers that rw_headers_parse takes, no bearer token with basic
 * auth, a client certificate with its key. KM_EINVAL with a field path
 * ("spec.remoteWrite[1].headers: ...") in err. */
int config_check_remote_write(const json_t *v, char *err, size_t errlen);
/* The per-destination options of spec.remoteWrite entry e (borrowed):
 * maxDiskUsage, sendTimeout, externalLabels, checked (KM_EINVAL naming
 * path.field in err) and, when d is not NULL, set into it (d->labels a new
 * allocation owned by d; KM_ENOMEM). */
struct rw_dest;
int config_rw_dest_opts(const json_t *e, const char *path, struct rw_dest *d, char *err, size_t errlen);
/* The policy as /config shows it (new reference; NULL on ENOMEM). */
json_t *config_scrape_json(const struct scrape_policy *p);

/* Appends the configuration as JSON (for /config): the effective values,
 * which resource each part came from, and discovery (borrowed, may be NULL:
 * the ScrapeRules in effect, as the caller describes them). */
int config_write_json(const struct config *c, const struct flags *f, const json_t *discovery,
		      struct buf *out);

#endif
