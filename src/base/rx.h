/* Regular expressions (PCRE2), always fully anchored as Prometheus anchors
 * relabel and filter regexes: "foo" matches "foo" only, not "xfoo".
 * A compiled struct rx is immutable and may be shared between threads
 * (each match uses its own match data). */
#ifndef K8SMON_BASE_RX_H
#define K8SMON_BASE_RX_H

#include <stdbool.h>
#include <stddef.h>

struct rx;

/* Compile pattern; returns NULL on error with a message in err (errlen bytes). */
struct rx *rx_new(const char *pattern, char *err, size_t errlen);
void rx_free(struct rx *r);
/* The pattern as given; borrowed. */
const char *rx_pattern(const struct rx *r);
/* Whole-string match of s[0..n). */
bool rx_match(const struct rx *r, const char *s, size_t n);

#endif
