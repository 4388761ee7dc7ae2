#include "config/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "config/config.h"
#include "config/selector.h"

static const char *md_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

static int64_t md_generation(const json_t *obj)
{
	return json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation"));
}

int monitor_cmp(const json_t *a, const json_t *b)
{
	const char *ta = md_str(a, "creationTimestamp"), *tb = md_str(b, "creationTimestamp");
	int c = strcmp(ta ? ta : "", tb ? tb : "");

	if (c)
		return c;
	return strcmp(md_str(a, "name") ?: "", md_str(b, "name") ?: "");
}

static int cmp_eval(const void *a, const void *b)
{
	return monitor_cmp(((const struct monitor_eval *)a)->obj, ((const struct monitor_eval *)b)->obj);
}

/* The last accepted version of obj, when it is the same object (a
 * monitor deleted and created again under the same name starts afresh). */
static const json_t *last_good(const json_t *prev_good, const json_t *obj)
{
	const char *name = md_str(obj, "name"), *uid = md_str(obj, "uid");
	const json_t *g = name ? json_object_get(prev_good, name) : NULL;

	if (!g || strcmp(md_str(g, "uid") ?: "", uid ?: "") != 0)
		return NULL;
	return g;
}

/* Verdict of validity and the effective object of one monitor. */
static int judge(const struct flags *f, const json_t *prev_good, struct monitor_eval *e, json_t *good)
{
	char err[512] = "", gerr[512];
	struct config *c = config_build(f, e->obj, err, sizeof(err));
	const json_t *g;

	if (c) {
		e->effective = e->obj;
		e->effective_generation = e->generation;
		e->collectors = c->collectors;
		config_unref(c);
		return json_object_set(good, e->name, (json_t *)e->obj) ? KM_ENOMEM : 0;
	}
	e->verdict = MONITOR_INVALID;
	g = last_good(prev_good, e->obj);
	c = g ? config_build(f, g, gerr, sizeof(gerr)) : NULL;
	if (c) {
		e->effective = g;
		e->effective_generation = md_generation(g);
		e->collectors = c->collectors;
		config_unref(c);
		snprintf(e->message, sizeof(e->message),
			 "%s; the last accepted version (generation %lld) stays in effect", err,
			 (long long)e->effective_generation);
		return json_object_set(good, e->name, (json_t *)g) ? KM_ENOMEM : 0;
	}
	snprintf(e->message, sizeof(e->message), "%s", err);
	return 0;
}

int monitor_evaluate(const struct flags *f, const json_t *monitors, const json_t *prev_good,
		     const json_t *nodes, struct monitor_result *out)
{
	struct monitor_result r = { .nnodes = json_array_size(nodes) };
	struct selector **sel = NULL;
	const char *lost_node = NULL;
	const char *key;
	json_t *m;
	int rc = KM_ENOMEM;

	r.v = calloc(json_object_size(monitors) + 1, sizeof(*r.v));
	r.winner = calloc(r.nnodes + 1, sizeof(*r.winner));
	r.good = json_object();
	if (!r.v || !r.winner || !r.good)
		goto out;
	json_object_foreach((json_t *)monitors, key, m) {
		if (!md_str(m, "name"))
			continue;
		r.v[r.n++] = (struct monitor_eval){ .obj = m, .name = md_str(m, "name"),
						    .generation = md_generation(m) };
	}
	qsort(r.v, r.n, sizeof(*r.v), cmp_eval);
	sel = calloc(r.n + 1, sizeof(*sel));
	if (!sel)
		goto out;
	for (size_t i = 0; i < r.n; i++) {
		char serr[256];

		if (judge(f, prev_good, &r.v[i], r.good))
			goto out;
		/* Valid (it compiled in config_build): NULL only on OOM. */
		if (r.v[i].effective) {
			sel[i] = selector_compile(json_object_get(json_object_get(r.v[i].effective, "spec"),
								  "nodeSelector"), "spec.nodeSelector", serr, sizeof(serr));
			if (!sel[i])
				goto out;
		}
	}
	/* Per node: the oldest in-effect monitor that selects it. */
	for (size_t n = 0; n < r.nnodes; n++) {
		const json_t *node = json_array_get(nodes, n);
		const json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels");

		r.winner[n] = -1;
		for (size_t i = 0; i < r.n; i++) {
			if (!sel[i] || !selector_matches(sel[i], labels))
				continue;
			if (r.winner[n] < 0) {
				r.winner[n] = (long)i;
				r.v[i].nodes++;
			} else if (r.v[i].verdict == MONITOR_ACCEPTED) {
				struct monitor_eval *w = &r.v[r.winner[n]];

				r.v[i].verdict = MONITOR_CONFLICT;
				lost_node = md_str(node, "name");
				snprintf(r.v[i].message, sizeof(r.v[i].message),
					 "node %s is also selected by the older K8sMonitor %s, which wins",
					 lost_node ? lost_node : "?", w->name);
			}
		}
	}
	for (size_t i = 0; i < r.n; i++) {
		struct monitor_eval *e = &r.v[i];
		size_t len;

		if (e->verdict == MONITOR_ACCEPTED) {
			snprintf(e->message, sizeof(e->message), "applied on %zu node(s)", e->nodes);
		} else if (e->verdict == MONITOR_CONFLICT && e->nodes) {
			len = strlen(e->message);
			snprintf(e->message + len, sizeof(e->message) - len, "; applied on %zu other node(s)",
				 e->nodes);
		}
	}
	rc = 0;
out:
	if (sel)
		for (size_t i = 0; i < r.n; i++)
			selector_free(sel[i]);
	free(sel);
	if (!rc) {
		*out = r;
		return 0;
	}
	monitor_result_fini(&r);
	return rc;
}

void monitor_result_fini(struct monitor_result *r)
{
	free(r->v);
	free(r->winner);
	json_decref(r->good);
	memset(r, 0, sizeof(*r));
}
