/* The configuration cycle (nginx's model, for everything this agent is
 * told): one immutable, reference-counted object holding the effective
 * K8sMonitor settings, the ScrapeRules in effect (with each rule's last
 * good version), the leadership it was built for, and the last good
 * version of every monitor. It is built on the loop thread by a pure
 * function of (previous cycle, current inputs) and swapped once; the parts
 * that depend on it receive (old, new) and act on what changed.
 *
 * Identity: a monitor or a rule counts by uid, metadata.generation and a
 * hash of its spec, so the status writes of the leader (which change only
 * resourceVersion and status) never rebuild anything.
 *
 * Ownership: a cycle owns references to its config and ruleset; inputs
 * are borrowed. */
#ifndef K8SMON_CONFIG_CYCLE_H
#define K8SMON_CONFIG_CYCLE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "config/flags.h"
#include "config/ruleset.h"

/* What differs between two cycles (bits of cycle_changes). */
enum {
	CYCLE_CONFIG = 1 << 0,  /* the K8sMonitor settings (struct config) */
	CYCLE_RULES = 1 << 1,   /* the ScrapeRules in effect */
	CYCLE_LEADER = 1 << 2,  /* leadership */
};

#define CYCLE_ID_MAX 320

struct cycle {
	_Atomic int refs;
	uint64_t number;             /* 1 for the first cycle, +1 per build */
	struct config *cfg;          /* effective settings (reference) */
	struct ruleset *rules;       /* ScrapeRules in effect (reference) */
	bool leader;
	/* "K8sMonitor/<name>@<uid>@<generation>@<spec hash>" of the object
	 * whose spec applies, "" for the flags. */
	char monitor_id[CYCLE_ID_MAX];
	/* Every K8sMonitor whose latest generation is invalid: name ->
	 * {"generation", "message", "kept": the last accepted version stays
	 * in effect}. For the log (new entries) and /config. */
	json_t *rejected;
	json_t *monitor_good;        /* name -> last accepted monitor object */
	/* /config: every K8sMonitor, oldest first: {"source", "latestGeneration",
	 * "generationInEffect" (null: none), "verdict" (Accepted, Rejected,
	 * Conflict), "appliesHere", "message"}. */
	json_t *monitors_view;
};

struct cycle_inputs {
	const struct flags *flags;
	const json_t *monitors;      /* key -> K8sMonitor; NULL = none known */
	const json_t *node;          /* this node's object; NULL = not known yet */
	const json_t *rules;         /* key -> ScrapeRule; NULL = none known */
	bool leader;
};

/* Builds the next cycle. prev may be NULL (the first cycle: then the
 * config is from the flags when no monitor applies). Unchanged parts are
 * shared with prev. Returns 0 with *out set, or a negative KM_* code with
 * one line in err (prev stays in effect). */
int cycle_build(const struct cycle *prev, const struct cycle_inputs *in, struct cycle **out,
		char *err, size_t errlen);
/* CYCLE_* bits that differ (old may be NULL: everything). */
unsigned cycle_changes(const struct cycle *old, const struct cycle *new_cycle);
struct cycle *cycle_ref(struct cycle *c);
void cycle_unref(struct cycle *c);

#endif
