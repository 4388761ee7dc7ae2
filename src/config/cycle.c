#include "config/cycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "config/monitor.h"

static const char *md_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

/* This node as monitor_evaluate reads it: the node object, or (before it
 * is known) a node with this name and no labels. New reference. */
static json_t *self_nodes(const struct cycle_inputs *in)
{
	if (in->node)
		return json_pack("[O]", in->node);
	return json_pack("[{s:{s:s}}]", "metadata", "name", in->flags->node_name);
}

/* What /config shows of each monitor: the latest generation and the one
 * in effect side by side, so a rejected edit is visible at a glance. New
 * reference; NULL when out of memory. */
static json_t *monitors_view(const struct monitor_result *r)
{
	static const char *const verdicts[] = { "Accepted", "Rejected", "Conflict" };
	json_t *list = json_array();

	for (size_t i = 0; list && i < r->n; i++) {
		const struct monitor_eval *e = &r->v[i];
		bool here = r->nnodes && r->winner[0] == (long)i;
		json_t *m = json_pack("{s:s+, s:I, s:o, s:s, s:b, s:s}", "source", "K8sMonitor/", e->name,
				      "latestGeneration", (json_int_t)e->generation, "generationInEffect",
				      e->effective ? json_integer(e->effective_generation) : json_null(),
				      "verdict", verdicts[e->verdict], "appliesHere", here, "message", e->message);

		if (json_array_append_new(list, m)) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* Chooses the monitor for this node and builds the config when its
 * identity changed; otherwise shares prev's. */
static int build_config(const struct cycle *prev, const struct cycle_inputs *in, struct cycle *c,
			char *err, size_t errlen)
{
	struct monitor_result r;
	json_t *nodes = self_nodes(in);
	const json_t *eff = NULL;
	int rc;

	if (!nodes)
		return KM_ENOMEM;
	rc = monitor_evaluate(in->flags, in->monitors, prev ? prev->monitor_good : NULL, nodes, &r);
	json_decref(nodes);
	if (rc) {
		snprintf(err, errlen, "out of memory choosing the K8sMonitor");
		return rc;
	}
	if (r.nnodes && r.winner[0] >= 0) {
		const struct monitor_eval *w = &r.v[r.winner[0]];

		eff = w->effective;
		snprintf(c->monitor_id, sizeof(c->monitor_id), "K8sMonitor/%s@%s@%lld@%016llx", w->name,
			 md_str(eff, "uid") ?: "", (long long)w->effective_generation,
			 (unsigned long long)spec_hash(eff));
	}
	c->rejected = json_object();
	c->monitors_view = monitors_view(&r);
	if (!c->monitors_view) {
		monitor_result_fini(&r);
		snprintf(err, errlen, "out of memory choosing the K8sMonitor");
		return KM_ENOMEM;
	}
	for (size_t i = 0; i < r.n; i++) {
		const struct monitor_eval *e = &r.v[i];

		if (e->verdict != MONITOR_INVALID)
			continue;
		/* set_new fails on a NULL object (c->rejected or the pack). */
		if (!c->rejected ||
		    json_object_set_new(c->rejected, e->name,
					json_pack("{s:I, s:s, s:b}", "generation", (json_int_t)e->generation,
						  "message", e->message, "kept", e->effective != NULL))) {
			monitor_result_fini(&r);
			snprintf(err, errlen, "out of memory choosing the K8sMonitor");
			return KM_ENOMEM;
		}
	}
	c->monitor_good = r.good;
	r.good = NULL;
	monitor_result_fini(&r);
	if (prev && prev->cfg && strcmp(prev->monitor_id, c->monitor_id) == 0) {
		c->cfg = config_ref(prev->cfg);
		return 0;
	}
	c->cfg = config_build(in->flags, eff, err, errlen);
	if (!c->cfg)
		return KM_EINVAL; /* only OOM: eff was validated by the evaluation */
	c->cfg->generation = prev && prev->cfg ? prev->cfg->generation + 1 : 1;
	return 0;
}

static int build_rules(const struct cycle *prev, const struct cycle_inputs *in, struct cycle *c)
{
	char *fp = ruleset_fingerprint(in->rules);
	bool same;

	if (!fp)
		return KM_ENOMEM;
	same = prev && prev->rules && strcmp(prev->rules->fingerprint, fp) == 0;
	free(fp);
	c->rules = same ? ruleset_ref(prev->rules) : ruleset_build(in->rules, prev ? prev->rules : NULL);
	return c->rules ? 0 : KM_ENOMEM;
}

int cycle_build(const struct cycle *prev, const struct cycle_inputs *in, struct cycle **out,
		char *err, size_t errlen)
{
	struct cycle *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return KM_ENOMEM;
	}
	atomic_init(&c->refs, 1);
	c->number = prev ? prev->number + 1 : 1;
	c->leader = in->leader;
	rc = build_config(prev, in, c, err, errlen);
	if (!rc) {
		rc = build_rules(prev, in, c);
		if (rc)
			snprintf(err, errlen, "out of memory compiling ScrapeRules");
	}
	if (rc) {
		cycle_unref(c);
		return rc;
	}
	*out = c;
	return 0;
}

unsigned cycle_changes(const struct cycle *old, const struct cycle *new_cycle)
{
	unsigned ch = 0;

	if (!old)
		return CYCLE_CONFIG | CYCLE_RULES | CYCLE_LEADER;
	if (old->cfg != new_cycle->cfg)
		ch |= CYCLE_CONFIG;
	if (old->rules != new_cycle->rules)
		ch |= CYCLE_RULES;
	if (old->leader != new_cycle->leader)
		ch |= CYCLE_LEADER;
	return ch;
}

struct cycle *cycle_ref(struct cycle *c)
{
	if (c)
		atomic_fetch_add(&c->refs, 1);
	return c;
}

void cycle_unref(struct cycle *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	config_unref(c->cfg);
	ruleset_unref(c->rules);
	json_decref(c->monitor_good);
	json_decref(c->rejected);
	json_decref(c->monitors_view);
	free(c);
}
