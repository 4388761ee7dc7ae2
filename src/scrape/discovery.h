/* Discovery: one Kubernetes object + one rule -> zero or more scrape targets,
 * for the roles pod, service, endpoints, endpointslice, node and ingress.
 * docs/discovery.md is the user-facing description of every rule below.
 *
 * A target is emitted when
 *   - the object is annotated <prefix>/scrape: "true" (any of the rule's
 *     prefixes; with requireAnnotation false: unless it is "false"), for the
 *     endpoints/endpointslice roles the annotations and labels are the
 *     backing Service's;
 *   - the rule's selector matches the object's labels (the Service's for
 *     endpoints/endpointslice) and its namespace passes namespaceSelector;
 *   - it belongs to this agent (sharding): pods and endpoint addresses whose
 *     node is ctx->node_name, the node named ctx->node_name, and objects
 *     without a node (services, ingresses, addresses without nodeName) only
 *     when ctx->leader;
 *   - pods: phase Running with a podIP; only ready endpoint addresses.
 *
 * Each target carries its discovered labels (Prometheus kubernetes_sd
 * __meta_kubernetes_* names plus __address__, __scheme__, __metrics_path__,
 * __scrape_interval__, __scrape_timeout__, job) and its final labels: the
 * standard ones (namespace, pod, container, service, node, job, instance
 * where they apply), then the rule's relabelings, then every "__" label
 * dropped.
 *
 * Objects and lookups are borrowed; nothing here keeps a reference. */
#ifndef K8SMON_SCRAPE_DISCOVERY_H
#define K8SMON_SCRAPE_DISCOVERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "scrape/policy.h"
#include "scrape/rule.h"
#include "scrape/tlabels.h"

struct disc_ctx {
	const char *node_name;      /* this agent's node; "" = no sharding (tests) */
	bool leader;                /* owns targets without a node */
	int64_t interval_ms;        /* default interval (flags / K8sMonitor) */
	/* Optional lookups (NULL or returning NULL = unknown); borrowed results
	 * valid for the discover() call. get_pod serves the endpoints roles'
	 * backing pod labels, get_service their annotations, get_namespace the
	 * namespaceSelector. */
	const json_t *(*get_pod)(void *arg, const char *ns, const char *name);
	const json_t *(*get_service)(void *arg, const char *ns, const char *name);
	const json_t *(*get_namespace)(void *arg, const char *name);
	void *arg;
	/* What tenants may reach (borrowed). NULL = no restriction (unit
	 * tests of discovery alone); the manager always sets it. With it:
	 * a ScrapeRule outside policy->cross_ns matches only its own
	 * namespace (namespaceSelector) and no node, and its targets' namespace
	 * label is forced to the rule's namespace; IP-literal addresses the
	 * policy refuses give targets with refused set. */
	const struct scrape_policy *policy;
	const struct addr_set *node_addrs, *api_addrs;
};

struct disc_target {
	struct tlabels discovered;  /* before relabeling, sorted */
	struct tlabels labels;      /* final target labels, sorted */
	char *url;                  /* scheme://address/path?params */
	int64_t interval_ms;
	int64_t timeout_ms;
	char *refused;              /* owned; why the address may not be scraped, or NULL */
};

/* Called once per target; the callee takes ownership of *t on success
 * (return 0); on error the caller frees it. */
typedef int (*disc_emit_fn)(struct disc_target *t, void *arg);

/* Emits the targets of obj under rule r. Returns 0 (also when the object
 * yields nothing), KM_ENOMEM, or the emit callback's error. Bad annotations
 * (an unparsable interval, an unknown scheme) make the object yield nothing
 * and return KM_EINVAL after a debug line, so one object cannot invent a
 * target the user did not ask for. */
int discover(const struct scrape_rule *r, enum scrape_role role, const json_t *obj,
	     const struct disc_ctx *ctx, disc_emit_fn emit, void *arg);

void disc_target_free(struct disc_target *t);

#endif
