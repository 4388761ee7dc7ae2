/* The ScrapeRules in effect, compiled from the ScrapeRule objects: every
 * valid rule applies; an invalid edit of a rule accepted before keeps its
 * last accepted version (same uid) running; a rule never valid does
 * nothing. Pure and immutable once built; reference-counted so a
 * configuration cycle that did not change its rules shares them.
 *
 * Ownership: the set owns its compiled rules (references), its good map
 * and its view. */
#ifndef K8SMON_CONFIG_RULESET_H
#define K8SMON_CONFIG_RULESET_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "scrape/rule.h"

struct ruleset {
	_Atomic int refs;
	struct scrape_rule **v;  /* rules in effect, by key */
	size_t n;
	json_t *good;            /* "ns/name" -> last accepted object */
	/* "ns/name" -> {"error": "...", "kept": true|false, "generation": N}
	 * for invalid rules */
	json_t *invalid;
	/* /config's discovery object: {"from", "scrapeRules": [...]} */
	json_t *view;
	/* Identity of the inputs: "ns/name@uid@generation@spec hash;" of
	 * every rule (status writes do not change it: no rebuild). */
	char *fingerprint;
};

/* Builds from a store snapshot (key -> object; NULL = not listed yet,
 * which means no rule) and the previous set (its good map; may be NULL).
 * NULL on allocation failure. */
struct ruleset *ruleset_build(const json_t *rules, const struct ruleset *prev);
/* The fingerprint ruleset_build would give rules; caller frees. */
char *ruleset_fingerprint(const json_t *rules);
struct ruleset *ruleset_ref(struct ruleset *rs);
/* Hash of obj's spec (canonical JSON): the identity part that a spec
 * change under an unchanged generation still moves. */
uint64_t spec_hash(const json_t *obj);
void ruleset_unref(struct ruleset *rs);

#endif
