/* Regular expressions (PCRE2). rx_new() anchors fully, as Prometheus anchors
 * relabel regexes: "foo" matches "foo" only, not "xfoo"; rx_new_search()
 * keeps Go's unanchored search, for filters that node-exporter defines.
 * A compiled struct rx is immutable and may be shared between threads
 * (each match uses its own match data). */
#ifndef K8SMON_BASE_RX_H
#define K8SMON_BASE_RX_H

#include <stdbool.h>
#include <stddef.h>

struct rx;

/* Compile pattern, fully anchored (Prometheus relabel semantics); returns
 * NULL on error with a message in err (errlen bytes). */
struct rx *rx_new(const char *pattern, char *err, size_t errlen);
/* Compile pattern with search semantics: matches if it matches anywhere, as
 * Go's regexp.MatchString does (node-exporter's include/exclude filters). */
struct rx *rx_new_search(const char *pattern, char *err, size_t errlen);
void rx_free(struct rx *r);
/* The pattern as given; borrowed. */
const char *rx_pattern(const struct rx *r);
/* Whole-string match of s[0..n). */
bool rx_match(const struct rx *r, const char *s, size_t n);

/* Capture groups in the pattern (group 0, the whole match, not counted). */
unsigned rx_groups(const struct rx *r);
/* Number of the group named name[0..n), or -1 when there is none. */
int rx_group_number(const struct rx *r, const char *name, size_t n);
/* Whole-string match of s[0..n) that also reports where groups matched:
 * ovec[2*i] and ovec[2*i+1] are the start and end of group i for i < nov/2
 * (both -1 when the group did not take part). Returns true on a match. */
bool rx_match_groups(const struct rx *r, const char *s, size_t n, long *ovec, size_t nov);

#endif
