/* What an administrator allows application scraping to do (K8sMonitor
 * spec.scrape, defaults from the flags): which addresses may be scraped,
 * what a namespace's ScrapeRules may reach, and the budgets that keep a
 * tenant's targets from exhausting the agent. docs/security.md is the
 * threat model, docs/limits.md the budgets.
 *
 * A plain value (no pointers): copied whole into the scrape manager, so the
 * configuration that carried it may go away. */
#ifndef K8SMON_SCRAPE_POLICY_H
#define K8SMON_SCRAPE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRAPE_POLICY_NS_MAX 64     /* namespaces in one allow list */
#define SCRAPE_POLICY_NS_LEN 64     /* a namespace name is at most 63 bytes */

/* Defaults (docs/limits.md explains why they keep the chart's 256Mi). */
#define SCRAPE_DEFAULT_SAMPLE_LIMIT 50000
#define SCRAPE_MAX_SAMPLE_LIMIT 200000
#define SCRAPE_MAX_TARGETS 1000
#define SCRAPE_MAX_TARGETS_PER_NAMESPACE 200
#define SCRAPE_MEMORY_BUDGET (64u << 20)

struct scrape_policy {
	bool allow_loopback;        /* 127.0.0.0/8, ::1, 0.0.0.0, :: */
	bool allow_link_local;      /* 169.254.0.0/16, fe80::/10 */
	bool allow_node_addresses;  /* the node's own interface addresses */
	bool allow_api_server;      /* the API server's address */
	bool builtin_rule;          /* the annotation rule runs next to ScrapeRules */
	uint64_t default_sample_limit; /* for rules without sampleLimit; 0 = none */
	uint64_t max_sample_limit;     /* a rule's sampleLimit is capped to it; 0 = none */
	uint32_t max_targets;          /* per agent; 0 = none */
	uint32_t max_targets_per_namespace; /* per agent and namespace; 0 = none */
	uint64_t memory_budget;        /* bytes of rendered samples kept + in flight; 0 = none */
	/* Keep every target's samples as text for /metrics/apps even while
	 * remote write is on and nobody reads it (scrape.h SCRAPE_APPS_IDLE_MS). */
	bool keep_apps_text;
	/* Namespaces whose ScrapeRules may select other namespaces (and role
	 * node, and keep discovered namespace labels), and whose rules may set
	 * honorLabels. "*" = every namespace. */
	size_t ncross, nhonor;
	char cross_ns[SCRAPE_POLICY_NS_MAX][SCRAPE_POLICY_NS_LEN];
	char honor_ns[SCRAPE_POLICY_NS_MAX][SCRAPE_POLICY_NS_LEN];
};

/* The defaults: nothing loosened, budgets as above. */
void scrape_policy_default(struct scrape_policy *p);
/* Whether rules of namespace ns may reach beyond it / set honorLabels. */
bool scrape_policy_cross_ns(const struct scrape_policy *p, const char *ns);
bool scrape_policy_honor(const struct scrape_policy *p, const char *ns);

/* Addresses the agent itself owns (its interfaces, the API server's). */
#define ADDR_SET_MAX 256
struct addr_set {
	size_t n;
	struct {
		int family;             /* AF_INET or AF_INET6 */
		unsigned char a[16];
	} v[ADDR_SET_MAX];
};

/* Fills s with the addresses of this host's interfaces (the node's: the
 * agent runs with hostNetwork). 0 or KM_EIO. */
int addr_set_local(struct addr_set *s);
/* Adds the addresses host names (an IP literal, or resolved: blocking,
 * call off the loop); 0 or KM_EINVAL when it cannot be resolved. */
int addr_set_add_host(struct addr_set *s, const char *host);

/* Whether an address (family AF_INET/AF_INET6, addr the in_addr/in6_addr)
 * may not be scraped under p; when refused, why gets
 * 'address 127.0.0.1 refused: loopback targets are not allowed (K8sMonitor
 * spec.scrape.allowLoopback)'. node and api may be NULL. */
bool scrape_addr_refused(const struct scrape_policy *p, const struct addr_set *node,
			 const struct addr_set *api, int family, const void *addr, char *why, size_t n);
/* The same for the host part of an __address__ ("1.2.3.4:80", "[::1]:80",
 * "name:80"): false for names (checked when connecting). */
bool scrape_hostport_refused(const struct scrape_policy *p, const struct addr_set *node,
			     const struct addr_set *api, const char *hostport, char *why, size_t n);

/* Prometheus metric and label name syntax. */
bool scrape_valid_metric_name(const char *s, size_t n);
bool scrape_valid_label_name(const char *s, size_t n);

#endif
