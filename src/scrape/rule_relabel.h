/* Adapter between ScrapeRule relabel lists (JSON) and the relabeling engine
 * (scrape/relabel.h): compiles a relabelings/metricRelabelings array once at
 * rule validation time, so invalid regexes are rejected with their field path
 * and never reach a scrape. */
#ifndef K8SMON_SCRAPE_RULE_RELABEL_H
#define K8SMON_SCRAPE_RULE_RELABEL_H

#include <jansson.h>
#include <stddef.h>

#include "scrape/tlabels.h"

struct relabel_cfg;

/* arr: borrowed JSON array or NULL (then *out = NULL, no steps). path is the
 * field for messages ("spec.relabelings"). On error *out is NULL and err
 * holds e.g. 'spec.relabelings[2].regex: missing )'. */
int rule_relabel_compile(const json_t *arr, const char *path, struct relabel_cfg **out,
			 char *err, size_t errlen);
void rule_relabel_free(struct relabel_cfg *c);
/* Applies the steps to l in place. Returns 1 when the set is kept, 0 when a
 * step dropped it, or a negative KM_* code. c NULL = keep unchanged. */
int rule_relabel_apply(const struct relabel_cfg *c, struct tlabels *l);

#endif
