#include "collect/kubestate/shard.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "config/selector.h"

/* A label selector string is at most this long (the flag's cap). */
#define SHARD_SEL_MAX 1024

int ks_shard_parse_mode(const char *s, enum ks_pod_sharding *out)
{
	if (s && strcmp(s, "leader") == 0)
		*out = KS_SHARD_LEADER;
	else if (s && strcmp(s, "node") == 0)
		*out = KS_SHARD_NODE;
	else
		return KM_EINVAL;
	return 0;
}

const char *ks_shard_mode_name(enum ks_pod_sharding m)
{
	return m == KS_SHARD_NODE ? "node" : "leader";
}

/* A label key or value as the API accepts them, loosely: what the agent
 * must match locally has no spaces, commas or operators. */
static bool label_token_ok(const char *p, size_t n, bool key)
{
	if (!n)
		return !key;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '-' || c == '_' || c == '.' || (key && c == '/');
		if (!ok)
			return false;
	}
	return true;
}

int ks_shard_selector_parse(const char *s, json_t **out, char *err, size_t errlen)
{
	json_t *m = json_object();
	const char *p = s ? s : "";

	*out = NULL;
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return KM_ENOMEM;
	}
	if (strlen(p) > SHARD_SEL_MAX) {
		snprintf(err, errlen, "longer than %d bytes", SHARD_SEL_MAX);
		goto bad;
	}
	while (*p) {
		size_t n = strcspn(p, ","), k = strcspn(p, "=!");
		char key[SHARD_SEL_MAX + 1], val[SHARD_SEL_MAX + 1];
		const char *v;
		size_t vn;

		if (k >= n || p[k] != '=') {
			snprintf(err, errlen, "term \"%.*s\" is not key=value (only equality terms are supported)",
				 (int)(n > 64 ? 64 : n), p);
			goto bad;
		}
		v = p + k + 1;
		if (*v == '=')
			v++;
		vn = (size_t)(p + n - v);
		if (!label_token_ok(p, k, true) || !label_token_ok(v, vn, false)) {
			snprintf(err, errlen, "term \"%.*s\": not a label key=value", (int)(n > 64 ? 64 : n), p);
			goto bad;
		}
		memcpy(key, p, k);
		key[k] = '\0';
		memcpy(val, v, vn);
		val[vn] = '\0';
		if (json_object_set_new(m, key, json_string(val))) {
			snprintf(err, errlen, "out of memory");
			json_decref(m);
			return KM_ENOMEM;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	*out = m;
	return 0;
bad:
	json_decref(m);
	return KM_EINVAL;
}

static const char *str_at(const json_t *o, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(o, a), b));
}

static bool pod_ready(const json_t *pod)
{
	const json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
	size_t i;
	json_t *c;

	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *st = json_string_value(json_object_get(c, "status"));

		if (t && strcmp(t, "Ready") == 0)
			return st && strcmp(st, "True") == 0;
	}
	return false;
}

bool ks_shard_pod_covers(const json_t *pod, const char *ns, const struct selector *match)
{
	const char *pns = str_at(pod, "metadata", "namespace");
	const char *node = str_at(pod, "spec", "nodeName");
	const json_t *md = json_object_get(pod, "metadata");

	if (!pns || !ns || strcmp(pns, ns) != 0 || !node || !node[0] || !str_at(pod, "metadata", "name"))
		return false;
	/* A terminating agent hands its node over at once. */
	if (json_object_get(md, "deletionTimestamp") && !json_is_null(json_object_get(md, "deletionTimestamp")))
		return false;
	if (match && !selector_matches(match, json_object_get(md, "labels")))
		return false;
	return pod_ready(pod);
}

/* Inserts name into the sorted array arr. */
static int sorted_insert(json_t *arr, const char *name)
{
	size_t i, n = json_array_size(arr);

	for (i = 0; i < n; i++)
		if (strcmp(json_string_value(json_array_get(arr, i)), name) > 0)
			break;
	return json_array_insert_new(arr, i, json_string(name));
}

json_t *ks_shard_coverage(const json_t *pods, const char *ns, const struct selector *match, json_t **dups)
{
	json_t *cov = json_object(), *all = json_object(), *pod;
	const char *key;

	if (dups)
		*dups = NULL;
	if (!cov || !all)
		goto fail;
	json_object_foreach((json_t *)pods, key, pod) {
		const char *node, *name;
		json_t *names;

		if (!ks_shard_pod_covers(pod, ns, match))
			continue;
		node = str_at(pod, "spec", "nodeName");
		name = str_at(pod, "metadata", "name");
		names = json_object_get(all, node);
		if (!names) {
			names = json_array();
			if (!names || json_object_set_new(all, node, names))
				goto fail;
		}
		if (sorted_insert(names, name))
			goto fail;
	}
	json_object_foreach(all, key, pod) {
		if (json_object_set(cov, key, json_array_get(pod, 0)))
			goto fail;
	}
	if (dups) {
		json_t *d = json_object();
		json_t *names;

		if (!d)
			goto fail;
		json_object_foreach(all, key, names) {
			if (json_array_size(names) > 1 && json_object_set(d, key, names)) {
				json_decref(d);
				goto fail;
			}
		}
		*dups = d;
	}
	json_decref(all);
	return cov;
fail:
	json_decref(cov);
	json_decref(all);
	return NULL;
}

enum ks_shard_self ks_shard_self_state(const char *emitter, const char *pod_name)
{
	if (!pod_name || !pod_name[0])
		return KS_SELF_NO_POD;
	if (!emitter)
		return KS_SELF_NONE;
	return strcmp(emitter, pod_name) == 0 ? KS_SELF_EMITTER : KS_SELF_OTHER;
}

struct ks_emit ks_shard_emit(enum ks_pod_sharding mode, bool leader, enum ks_shard_self self)
{
	struct ks_emit e = { .others = leader, .leader_pods = leader, .own_pods = false };

	if (mode == KS_SHARD_NODE)
		/* Only an agent that finds its own pod Ready as the node's emitter:
		 * without a pod name (outside a cluster, a hand-made DaemonSet) the
		 * leader counts the node as uncovered and emits its pods. */
		e.own_pods = self == KS_SELF_EMITTER;
	return e;
}
