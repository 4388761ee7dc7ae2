/* Node collector: node-exporter compatible node_* families read from
 * -path.procfs, -path.sysfs and -path.rootfs.
 *
 * A struct node_collector owns the state that must survive between scrapes
 * (per-CPU counter cache, reusable read buffers) and serialises scrapes with a
 * mutex, so it may be called from any HTTP thread. Options are passed per call
 * so a new configuration applies on the next scrape without rebuilding the
 * collector. */
#ifndef K8SMON_COLLECT_NODE_H
#define K8SMON_COLLECT_NODE_H

#include "base/buf.h"
#include "base/rx.h"
#include "collect/stats.h"

struct node_opts {
	const char *procfs;  /* borrowed; "/proc" by default */
	const char *sysfs;   /* borrowed; "/sys" */
	const char *rootfs;  /* borrowed; "/" */
	/* Borrowed filters; NULL selects node-exporter's upstream default. */
	const struct rx *mount_points_exclude;
	const struct rx *fs_types_exclude;
	const struct rx *netdev_exclude;      /* default: none (lo is exported) */
	const struct rx *diskstats_exclude;
};

struct node_collector;

/* Returns a new collector or NULL on allocation failure. */
struct node_collector *node_collector_new(void);
void node_collector_free(struct node_collector *nc);

/* Appends every node_* family to out, plus node_scrape_collector_{duration_seconds,success}.
 * A sub-collector whose files are missing or malformed is skipped (its partial
 * output rolled back), reported with success 0 and recorded in stats (may be NULL).
 * Returns 0, or KM_ETOOBIG/KM_ENOMEM when out cannot hold the result. */
int node_collect(struct node_collector *nc, const struct node_opts *opts, struct buf *out,
		 struct collect_stats *stats);

#endif
