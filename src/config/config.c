#include "config/config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static int list_copy(struct str_list *dst, const struct str_list *src)
{
	dst->n = 0;
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i] = strdup(src->v[i]);
		if (!dst->v[i])
			return KM_ENOMEM;
		dst->n++;
	}
	return 0;
}

static void list_free(struct str_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

struct config *config_from_flags(const struct flags *f, char *err, size_t errlen)
{
	struct config *c = calloc(1, sizeof(*c));

	if (!c)
		goto nomem;
	atomic_init(&c->refs, 1);
	c->collectors = f->collectors;
	c->interval_ms = f->interval_ms;
	c->source = strdup("flags");
	if (!c->source || list_copy(&c->namespaces, &f->namespaces) ||
	    list_copy(&c->exclude_namespaces, &f->exclude_namespaces))
		goto nomem;
	/* Host mode has no API server: collectors that need one are off. */
	if (!f->kubernetes)
		c->collectors &= COLLECTOR_NODE | COLLECTOR_CONTAINER;
	return c;
nomem:
	snprintf(err, errlen, "out of memory");
	config_unref(c);
	return NULL;
}

struct config *config_ref(struct config *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

void config_unref(struct config *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	list_free(&c->namespaces);
	list_free(&c->exclude_namespaces);
	free(c->source);
	free(c);
}

static bool list_has(const struct str_list *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

bool config_namespace_allowed(const struct config *c, const char *ns)
{
	if (c->namespaces.n && !list_has(&c->namespaces, ns))
		return false;
	return !list_has(&c->exclude_namespaces, ns);
}

static json_t *list_json(const struct str_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}

int config_write_json(const struct config *c, const struct flags *f, struct buf *out)
{
	char coll[128];
	json_t *root = NULL;
	char *text = NULL;
	int rc = KM_ENOMEM;

	flags_format_collectors(c->collectors, coll, sizeof(coll));
	root = json_pack("{s:s, s:I, s:{s:s, s:s, s:I, s:o, s:o}, s:{s:b, s:s, s:s, s:s, s:s, s:s, s:b}}",
			 "source", c->source, "generation", (json_int_t)c->generation,
			 "effective",
			 "collectors", coll, "collectorsFrom", c->source,
			 "intervalMs", (json_int_t)c->interval_ms,
			 "namespaces", list_json(&c->namespaces),
			 "excludeNamespaces", list_json(&c->exclude_namespaces),
			 "flags", "kubernetes", f->kubernetes, "nodeName", f->node_name,
			 "httpListenAddr", f->listen_addr, "procfs", f->procfs, "sysfs", f->sysfs,
			 "rootfs", f->rootfs, "leaderElection", f->leader_election);
	if (!root)
		goto out;
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		goto out;
	rc = buf_adds(out, text);
	if (!rc)
		rc = buf_addc(out, '\n');
out:
	free(text);
	json_decref(root);
	return rc;
}
