#include "config/crstatus.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "config/monitor.h"
#include "kube/status.h"

int crstatus_monitors(const struct flags *f, const json_t *monitors, const json_t *good, const json_t *nodes,
		      const char *now, crstatus_put_fn put, void *arg)
{
	struct monitor_result r;

	if (monitor_evaluate(f, monitors, good, nodes, &r))
		return KM_ENOMEM;
	for (size_t i = 0; i < r.n; i++) {
		const struct monitor_eval *e = &r.v[i];
		struct status_input in = { .generation = e->generation, .message = e->message };

		switch (e->verdict) {
		case MONITOR_ACCEPTED:
			in.verdict = STATUS_ACCEPTED;
			in.count_field = "collectors";
			in.count = __builtin_popcount(e->collectors);
			in.extra_field = "nodes";
			in.extra = (int64_t)e->nodes;
			break;
		case MONITOR_CONFLICT:
			in.verdict = STATUS_CONFLICT;
			break;
		default:
			in.verdict = STATUS_INVALID;
			break;
		}
		/* Cluster-scoped: the store key is the name. */
		put(e->name, NULL, e->name, e->obj, status_build(json_object_get(e->obj, "status"), &in, now), arg);
	}
	monitor_result_fini(&r);
	return 0;
}

static const struct scrape_rule *rule_find(const struct ruleset *rs, const char *ns, const char *name)
{
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->v[i]->namespace, ns) == 0 && strcmp(rs->v[i]->name, name) == 0)
			return rs->v[i];
	return NULL;
}

int crstatus_rules(const json_t *rules, const struct ruleset *prev,
		   int64_t (*count)(const struct scrape_rule *r, void *arg), const char *now,
		   crstatus_put_fn put, void *arg)
{
	/* The verdicts of these very objects, judged as the cycle judges them. */
	struct ruleset *rs = ruleset_build(rules, prev);
	const char *key;
	json_t *obj;

	if (!rs)
		return KM_ENOMEM;
	json_object_foreach((json_t *)rules, key, obj) {
		const json_t *md = json_object_get(obj, "metadata");
		const char *name = json_string_value(json_object_get(md, "name"));
		const char *ns = json_string_value(json_object_get(md, "namespace"));
		const json_t *bad = json_object_get(rs->invalid, key);
		const struct scrape_rule *r;
		char msg[640];
		struct status_input in = {
			.generation = json_integer_value(json_object_get(md, "generation")),
			.message = msg,
		};

		if (!name || !ns)
			continue;
		r = rule_find(rs, ns, name);
		if (bad) {
			in.verdict = STATUS_INVALID;
			snprintf(msg, sizeof(msg), "%s%s", json_string_value(json_object_get(bad, "error")) ?: "",
				 json_is_true(json_object_get(bad, "kept")) ? "; the last accepted version stays in effect" : "");
		} else if (r) {
			in.count_field = "targets";
			in.count = count(r, arg);
			in.verdict = in.count ? STATUS_ACCEPTED : STATUS_NO_TARGETS;
			if (in.count)
				snprintf(msg, sizeof(msg), "%lld target(s) selected", (long long)in.count);
			else
				snprintf(msg, sizeof(msg), "no %s annotated %s/scrape matches the selectors",
					 scrape_role_name(r->role), r->prefix[0]);
		} else {
			continue;
		}
		put(key, ns, name, obj, status_build(json_object_get(obj, "status"), &in, now), arg);
	}
	ruleset_unref(rs);
	return 0;
}
