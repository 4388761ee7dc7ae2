/* The agent's Kubernetes side: API connection, the shared informers, the
 * configuration cycle built from the K8sMonitors, ScrapeRules, this node
 * and leadership, and the parts it feeds. Everything runs on the kube I/O
 * loop thread except the write functions, which HTTP threads call, and
 * application scraping, which the scrape manager runs on a loop thread of
 * its own (src/scrape/scrape.h).
 *
 * Watched (one informer per key, shared by every part that reads it):
 *   k8smonitors (cluster)         the cycle
 *   scraperules (cluster)         the cycle
 *   nodes, metadata.name=<node>   the cycle (spec.nodeSelector); scrape role node
 *   pods, spec.nodeName=<node>    container pod mapping, pod discovery
 *   nodes (cluster)               leader: monitor status; kube-state
 *   kube-state kinds (cluster)    only while this instance is the leader
 *                                 and the collector is enabled
 *   services, endpoints, ...      as the ScrapeRules in effect need them
 */
#ifndef K8SMON_AGENT_KUBE_H
#define K8SMON_AGENT_KUBE_H

#include <jansson.h>
#include <stdbool.h>

#include "base/buf.h"
#include "config/config.h"
#include "config/flags.h"

struct agent_kube;

/* Called on the loop thread when a new configuration cycle changed the
 * effective settings: c is borrowed (config_ref() to keep it). */
typedef void (*agent_config_swap_fn)(struct config *c, void *arg);
/* Returns a reference to the current configuration (any thread). */
typedef struct config *(*agent_config_fn)(void *arg);

struct agent_kube_hooks {
	agent_config_swap_fn on_config;
	agent_config_fn get_config;
	void *arg;
};

/* Connects (kubeconfig or in-cluster) and starts the loop and reflectors.
 * flags and hooks are borrowed and must outlive the result. NULL with one
 * line in err when the connection settings cannot be loaded. */
struct agent_kube *agent_kube_start(const struct flags *f, const struct agent_kube_hooks *hooks,
				    char *err, size_t errlen);
void agent_kube_stop(struct agent_kube *k);
/* Initial lists applied for every reflector this instance needs. */
bool agent_kube_ready(struct agent_kube *k);
/* The pod map of this node's pods for the container collector; borrowed. */
struct podmap *agent_kube_podmap(struct agent_kube *k);
/* The API client (borrowed; valid until agent_kube_stop), e.g. for the
 * HTTP authenticator's TokenReviews. */
struct kube_client *agent_kube_client(struct agent_kube *k);
/* kube_* for /metrics/kube-state: empty unless leader and synced. */
int agent_kube_write_kube_state(struct agent_kube *k, const struct config *c, struct buf *out);
/* The same, streamed (large clusters): _open returns 0 with *st NULL when
 * there is nothing to write (not leader, not synced, collector off), else a
 * stream; _next appends about budget bytes to out and returns
 * KS_WRITE_MORE, KS_WRITE_DONE (last bytes) or a negative KM_* code. The
 * store is pinned at the first _next (ks_store_write_next). c is borrowed
 * and must stay referenced until _close; the stream must be closed before
 * agent_kube_stop. */
struct agent_ks_stream;
int agent_kube_kube_state_open(struct agent_kube *k, const struct config *c,
			       struct agent_ks_stream **st);
int agent_kube_kube_state_next(struct agent_ks_stream *st, struct buf *out, size_t budget);
void agent_kube_kube_state_close(struct agent_ks_stream *st);
/* scrape: a cursor over the samples of this agent's application targets
 * (/metrics/apps; see scrape_apps_open: *c NULL when the collector is off),
 * Prometheus-style /api/v1/targets JSON, and the manager (borrowed; NULL
 * when not connected) for ScrapeRule status counts. */
struct scrape_apps_cursor;
int agent_kube_apps_open(struct agent_kube *k, struct scrape_apps_cursor **c);
int agent_kube_write_targets(struct agent_kube *k, struct buf *out);
/* A cursor over the built-in component jobs' samples with up and
 * scrape_* (docs/components.md): every component, or those whose rule
 * name starts with prefix (comp_rule_prefix()). *c NULL when none is
 * enabled. */
int agent_kube_components_open(struct agent_kube *k, const char *prefix, struct scrape_apps_cursor **c);
/* For /config: {"from": ..., "scrapeRules": [{"source": "ScrapeRule/ns/name",
 * "state", "inEffect": {...}, "error"}]}; new reference, NULL before the
 * ScrapeRules were first listed (or without k). Any thread. */
json_t *agent_kube_discovery_json(struct agent_kube *k);
struct scrape_mgr *agent_kube_scrape(struct agent_kube *k);
/* k8smon_kube_* and k8smon_leader self-metrics. */
int agent_kube_write_self(struct agent_kube *k, struct buf *out);

#endif
