/* Regular expressions with RE2's syntax (what the CRDs document, and Go's
 * regexp that Prometheus and node-exporter use), matched by PCRE2 with JIT
 * and bounded work. rx_new() anchors fully, as Prometheus anchors relabel
 * regexes: "foo" matches "foo" only, not "xfoo"; rx_new_search() keeps Go's
 * unanchored search, for filters that node-exporter defines.
 *
 * Bounds (docs/security.md "Regular expressions"): PCRE2 backtracks, so a
 * pattern like (a+)+ costs exponential time on a non-matching subject. We
 *  - reject at compile time every construct RE2 lacks (backreferences,
 *    lookaround, atomic groups, possessive quantifiers, recursion,
 *    conditionals, \C, callouts, verbs, comments, other PCRE-only escapes and
 *    flags), with a message naming the construct;
 *  - JIT-compile (interpreter when the JIT is unavailable): rx_new()
 *    patterns (relabelings, which ScrapeRule authors write) at compile
 *    time; rx_new_filter() and rx_new_search() filters once they have been
 *    matched RX_JIT_AFTER times, interpreted before that: the node collector's
 *    filters answer from a decision cache and match each name once, and
 *    compiling them mapped PCRE2's JIT compiler (~0.2 MiB of RSS) for no
 *    gain;
 *  - cap every match at RX_MATCH_LIMIT backtracking steps (and, for the
 *    interpreter, RX_DEPTH_LIMIT nested backtracking frames). A match that
 *    hits a cap is a non-match, counted in rx_limit_hits()
 *    (k8smon_regex_limit_hits_total) and logged at most every
 *    RX_LIMIT_LOG_MS.
 *
 * A compiled struct rx may be shared between threads (each match uses its
 * own match data); its only mutable state is the warm-up count and the
 * JIT-compiled copy, both atomic. */
#ifndef K8SMON_BASE_RX_H
#define K8SMON_BASE_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Backtracking steps per match (pcre2_set_match_limit; applies to JIT and
 * interpreter). A match that hits it costs ~0.15-0.25 ms with the JIT
 * (BENCHMARKS.md "Regular expressions"; PCRE2's default of 10M cost
 * ~130 ms); ordinary relabel patterns need a few hundred steps at most. */
#define RX_MATCH_LIMIT 100000u
/* Matches of an rx_new_search() pattern after which it is JIT-compiled.
 * Above the number of distinct names a node filter sees in its first
 * scrape (vmstat ~180, netstat ~300 fields). */
#define RX_JIT_AFTER 1024u
/* Nested backtracking frames per match (interpreter only). */
#define RX_DEPTH_LIMIT 10000u
/* At most one log line per this interval about limit hits (process-wide). */
#define RX_LIMIT_LOG_MS 10000

struct rx;

/* Compile pattern, fully anchored (Prometheus relabel semantics); returns
 * NULL on error with a message in err (errlen bytes). */
struct rx *rx_new(const char *pattern, char *err, size_t errlen);
/* Compile pattern fully anchored as rx_new() does, JIT-compiled only after
 * RX_JIT_AFTER matches as rx_new_search() is: for node_exporter's anchored
 * filters (systemd's ^(?:%s)$ unit filters), which host mode compiles at
 * every start from their defaults whether the collector runs or not; an
 * rx_new() there maps PCRE2's JIT compiler (~0.2 MiB of RSS). */
struct rx *rx_new_filter(const char *pattern, char *err, size_t errlen);
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

/* Matches of every struct rx in the process that hit a limit (any thread). */
uint64_t rx_limit_hits(void);
/* True once r has been JIT-compiled (rx_new() at once, rx_new_filter() and
 * rx_new_search() after RX_JIT_AFTER matches, where the JIT is available);
 * for tests and the log. */
bool rx_jit_used(const struct rx *r);

#endif
