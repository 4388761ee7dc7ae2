/* Which K8sMonitor applies to which node, and the verdict each monitor
 * gets: ONE pure function, used both by an agent choosing its own
 * configuration (nodes = its own node) and by the leader writing every
 * monitor's status (nodes = every node it knows), so the two cannot
 * disagree about a node.
 *
 * Rules (docs/crds.md "Which K8sMonitor applies"):
 *  - a monitor is in effect when its spec is valid, or when it is invalid
 *    but this process accepted an earlier generation of the same object
 *    (same uid): that last good version stays (the nginx model);
 *  - per node, the oldest in-effect monitor (creationTimestamp, then name)
 *    whose nodeSelector matches the node wins; the decision for a node
 *    depends on that node's labels alone (an agent needs no other node);
 *  - a monitor that loses some node to an older one is in conflict (it
 *    still applies on the nodes where it is the oldest);
 *  - an invalid monitor that was never accepted is ignored by selection.
 *
 * Ownership: everything in the result is borrowed from the inputs, except
 * the good map (new reference) and the arrays (owned by the result). */
#ifndef K8SMON_CONFIG_MONITOR_H
#define K8SMON_CONFIG_MONITOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/flags.h"

enum monitor_verdict { MONITOR_ACCEPTED, MONITOR_INVALID, MONITOR_CONFLICT };

#define MONITOR_MSG_MAX 600

struct monitor_eval {
	const json_t *obj;          /* the monitor as stored */
	const char *name;
	int64_t generation;         /* metadata.generation of obj */
	enum monitor_verdict verdict;
	/* The object whose spec applies where this monitor wins: obj, its
	 * last good version, or NULL (not in effect). */
	const json_t *effective;
	int64_t effective_generation;
	unsigned collectors;        /* COLLECTOR_* of the effective spec */
	size_t nodes;               /* nodes where it applies */
	char message[MONITOR_MSG_MAX];
};

struct monitor_result {
	struct monitor_eval *v;     /* oldest first */
	size_t n;
	/* name -> last accepted object (for the next evaluation). */
	json_t *good;
	/* Per input node (same order as the nodes array): index into v of the
	 * winner, or -1 (no monitor: the flags apply). */
	long *winner;
	size_t nnodes;
};

/* monitors: store snapshot (key -> object, borrowed); prev_good: the good
 * map of the previous evaluation (borrowed, may be NULL); nodes: array of
 * node objects (borrowed; their metadata.name and .labels are read).
 * Returns 0 or KM_ENOMEM (out untouched then). */
int monitor_evaluate(const struct flags *f, const json_t *monitors, const json_t *prev_good,
		     const json_t *nodes, struct monitor_result *out);
void monitor_result_fini(struct monitor_result *r);

/* Older first: creationTimestamp (RFC 3339 UTC sorts as text), then name. */
int monitor_cmp(const json_t *a, const json_t *b);

#endif
