/* The status of each K8sMonitor and ScrapeRule, which the leader writes:
 * the verdicts of config/monitor.c and config/ruleset.c — the very
 * functions the configuration cycle applies — turned into status objects
 * (kube/status.h). Pure: the caller passes the objects, the nodes and a
 * target counter, and receives one status per object through put.
 *
 * Ownership: put gets a new status reference (it takes it); everything
 * else is borrowed. */
#ifndef K8SMON_CONFIG_CRSTATUS_H
#define K8SMON_CONFIG_CRSTATUS_H

#include <jansson.h>
#include <stdint.h>

#include "config/flags.h"
#include "config/ruleset.h"

/* key: the object's store key; ns NULL for cluster-scoped objects. */
typedef void (*crstatus_put_fn)(const char *key, const char *ns, const char *name, const json_t *obj,
				json_t *status, void *arg);

/* monitors: key -> K8sMonitor; good: the cycle's last good monitors;
 * nodes: array of the nodes known. 0 or KM_ENOMEM. */
int crstatus_monitors(const struct flags *f, const json_t *monitors, const json_t *good, const json_t *nodes,
		      const char *now, crstatus_put_fn put, void *arg);
/* rules: key -> ScrapeRule; prev: the ruleset in effect (last good
 * versions); count(rule, arg) the targets a valid rule selects. */
int crstatus_rules(const json_t *rules, const struct ruleset *prev,
		   int64_t (*count)(const struct scrape_rule *r, void *arg), const char *now,
		   crstatus_put_fn put, void *arg);

#endif
