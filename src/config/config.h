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

#include "base/buf.h"
#include "config/flags.h"

struct config {
	_Atomic int refs;
	unsigned collectors;          /* COLLECTOR_* bits */
	int64_t interval_ms;
	struct str_list namespaces;   /* owned; empty = all */
	struct str_list exclude_namespaces;
	char *source;                 /* owned; "flags" or "K8sMonitor/<name>" */
	uint64_t generation;          /* increments with every swap, for /config */
};

/* Builds a configuration from the flags alone. Returns NULL with err on failure. */
struct config *config_from_flags(const struct flags *f, char *err, size_t errlen);
/* Takes one more reference; returns c. */
struct config *config_ref(struct config *c);
/* Drops a reference; frees at zero. NULL is ok. */
void config_unref(struct config *c);
/* Whether namespace ns passes the include/exclude filters. */
bool config_namespace_allowed(const struct config *c, const char *ns);
/* Appends the configuration as JSON (for /config). */
int config_write_json(const struct config *c, const struct flags *f, struct buf *out);

#endif
