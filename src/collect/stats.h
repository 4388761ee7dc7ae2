/* Per-collector scrape statistics shared by every collector and exported on
 * /metrics/self: last duration, last success, error and scrape counts.
 * Thread-safe (HTTP threads record, the self endpoint reads). Collector names
 * are copied on first use; the table has a hard cap of STATS_MAX entries. */
#ifndef K8SMON_COLLECT_STATS_H
#define K8SMON_COLLECT_STATS_H

#include <stdbool.h>

#include "base/buf.h"

#define STATS_MAX 128
#define STATS_NAME_MAX 48

struct collect_stats;

struct collect_stats *collect_stats_new(void);
void collect_stats_free(struct collect_stats *st);
/* Record one run of collector name ("node.cpu", "container", ...). A failed
 * run also bumps its error counter. KM_ETOOBIG when the table is full. */
int collect_stats_record(struct collect_stats *st, const char *name, double seconds, bool ok);
/* Writes the k8smon_collector_* families. */
int collect_stats_write(struct collect_stats *st, struct buf *out);

#endif
