#include "config/ruleset.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/log.h"

/* Fingerprints are bounded like everything else: 10k rules fit. */
#define FINGERPRINT_MAX (4u << 20)

static const char *md_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

/* Keys in a stable order: jansson iterates in insertion order, which
 * differs between two snapshots of the same objects. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char **sorted_keys(const json_t *rules, size_t *n)
{
	const char **keys = calloc(json_object_size(rules) + 1, sizeof(*keys));
	const char *key;
	json_t *obj;

	*n = 0;
	if (!keys)
		return NULL;
	json_object_foreach((json_t *)rules, key, obj)
		keys[(*n)++] = key;
	qsort(keys, *n, sizeof(*keys), cmp_str);
	return keys;
}

/* A spec changed under the same generation (a server or a tool that does
 * not bump it) is a change too; a status write is not. */
uint64_t spec_hash(const json_t *obj)
{
	char *text = json_dumps(json_object_get(obj, "spec"), JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
	uint64_t h = text ? hash64_str(text) : 0;

	free(text);
	return h;
}

char *ruleset_fingerprint(const json_t *rules)
{
	struct buf b;
	size_t n;
	const char **keys = sorted_keys(rules, &n);
	int rc = keys ? 0 : -1;

	buf_init(&b, FINGERPRINT_MAX);
	for (size_t i = 0; !rc && i < n; i++) {
		const json_t *obj = json_object_get(rules, keys[i]);
		rc = buf_printf(&b, "%s@%s@%lld@%016llx;", keys[i], md_str(obj, "uid") ?: "",
				(long long)json_integer_value(json_object_get(json_object_get(obj, "metadata"),
									      "generation")),
				(unsigned long long)spec_hash(obj));
	}
	free(keys);
	if (!rc)
		rc = buf_addc(&b, '\0');
	if (rc) {
		buf_fini(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* One rule as /config shows it: the latest generation and the one in
 * effect side by side (as for K8sMonitors, config/cycle.c). */
static void view_add(json_t *list, const char *key, const json_t *obj, const struct scrape_rule *r,
		     const char *state, const char *err)
{
	json_t *e = json_pack("{s:s+, s:s, s:I, s:o, s:s}", "source", "ScrapeRule/", key, "state", state,
			      "latestGeneration",
			      json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation")),
			      "generationInEffect", r ? json_integer(r->generation) : json_null(),
			      "verdict", err ? "Rejected" : "Accepted");

	if (!e)
		return;
	if (r)
		json_object_set_new(e, "inEffect",
				    json_pack("{s:I, s:s, s:s}", "generation", (json_int_t)r->generation,
					      "role", scrape_role_name(r->role), "annotationPrefix", r->prefix[0]));
	if (err)
		json_object_set_new(e, "error", json_string(err));
	json_array_append_new(list, e);
}

/* The last accepted version of obj when it is the same object (uid). */
static const json_t *last_good(const struct ruleset *prev, const char *key, const json_t *obj)
{
	const json_t *g = prev ? json_object_get(prev->good, key) : NULL;

	if (!g || strcmp(md_str(g, "uid") ?: "", md_str(obj, "uid") ?: "") != 0)
		return NULL;
	return g;
}

struct ruleset *ruleset_build(const json_t *rules, const struct ruleset *prev)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));
	json_t *list = json_array();
	const char **keys = NULL;
	size_t nkeys = 0;

	if (rs)
		atomic_init(&rs->refs, 1);
	if (!rs || !list)
		goto fail;
	rs->good = json_object();
	rs->invalid = json_object();
	rs->fingerprint = ruleset_fingerprint(rules);
	keys = sorted_keys(rules, &nkeys);
	rs->v = calloc(nkeys + 1, sizeof(*rs->v));
	if (!rs->good || !rs->invalid || !rs->fingerprint || !keys || !rs->v)
		goto fail;
	for (size_t i = 0; i < nkeys; i++) {
		const json_t *obj = json_object_get(rules, keys[i]), *g;
		char err[512], gerr[512];
		struct scrape_rule *r = scrape_rule_compile(obj, err, sizeof(err));

		if (r) {
			rs->v[rs->n++] = r;
			json_object_set(rs->good, keys[i], (json_t *)obj);
			view_add(list, keys[i], obj, r, "accepted", NULL);
			continue;
		}
		g = last_good(prev, keys[i], obj);
		r = g ? scrape_rule_compile(g, gerr, sizeof(gerr)) : NULL;
		json_object_set_new(rs->invalid, keys[i],
				    json_pack("{s:s, s:b, s:I}", "error", err, "kept", r != NULL, "generation",
					      json_integer_value(json_object_get(json_object_get(obj, "metadata"),
										 "generation"))));
		if (r) {
			rs->v[rs->n++] = r;
			json_object_set(rs->good, keys[i], (json_t *)g);
			view_add(list, keys[i], obj, r, "invalid; the last accepted version stays in effect", err);
		} else {
			view_add(list, keys[i], obj, NULL, "invalid; ignored", err);
		}
	}
	rs->view = json_pack("{s:s, s:o}", "from",
			     rs->n ? "ScrapeRules" : "flags (built-in rule: pods annotated "
			     RULE_DEFAULT_PREFIX "/scrape or prometheus.io/scrape)", "scrapeRules", list);
	list = NULL;
	if (!rs->view)
		goto fail;
	free(keys);
	return rs;
fail:
	json_decref(list);
	free(keys);
	ruleset_unref(rs);
	return NULL;
}

struct ruleset *ruleset_ref(struct ruleset *rs)
{
	if (rs)
		atomic_fetch_add(&rs->refs, 1);
	return rs;
}

void ruleset_unref(struct ruleset *rs)
{
	if (!rs || atomic_fetch_sub(&rs->refs, 1) != 1)
		return;
	for (size_t i = 0; i < rs->n; i++)
		scrape_rule_unref(rs->v[i]);
	free(rs->v);
	json_decref(rs->good);
	json_decref(rs->invalid);
	json_decref(rs->view);
	free(rs->fingerprint);
	free(rs);
}
