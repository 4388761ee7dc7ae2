/* Series identities for scrape_series_added when a scrape keeps no text
 * (push only, scrape.h SCRAPE_APPS_IDLE_MS): a 64-bit id per sample, of
 * the same bytes the stored form keeps for it (scrape/blob.h: the metric
 * name and the label pairs as /metrics/apps writes them), so that a scrape
 * kept as ids and one kept as a blob compare exactly when a target switches
 * between the two. 8 bytes a sample instead of the ~70 of its text. Pure
 * functions over borrowed bytes. */
#ifndef K8SMON_SCRAPE_SERIES_H
#define K8SMON_SCRAPE_SERIES_H

#include <stddef.h>
#include <stdint.h>

/* The id of one series: its name and its pairs text. */
uint64_t series_id(const char *name, size_t nlen, const char *pairs, size_t plen);

/* The ids of a blob's samples (its data, len bytes) in their order, in a
 * new array (the caller frees) of *n; NULL with *n 0 when it has none,
 * NULL with *n the sample count on allocation failure. */
uint64_t *series_ids_of_blob(const char *data, size_t len, size_t *n);

/* Sorts v (n ids) ascending, in place; no allocation. */
void series_sort_ids(uint64_t *v, size_t n);

/* Distinct ids of cur (sorted, n) not in prev (sorted, np; may be NULL
 * when np is 0): one merge pass. */
uint64_t series_count_new(const uint64_t *cur, size_t n, const uint64_t *prev, size_t np);

/* Distinct ids of cur (nc) not in prev (np; prev may be NULL). The same ids
 * in the same order (the usual case) is one memcmp; otherwise both are
 * sorted in temporary copies (on allocation failure every one of cur
 * counts as new). */
uint64_t series_ids_added(const uint64_t *prev, size_t np, const uint64_t *cur, size_t nc);
/* The same, with *removed set to the distinct ids of prev not in cur (for
 * staleness markers): 0 in the usual case, at no cost; 1 when it cannot
 * be known (allocation failure), so that the caller looks closer. */
uint64_t series_ids_diff(const uint64_t *prev, size_t np, const uint64_t *cur, size_t nc, uint64_t *removed);

#endif
