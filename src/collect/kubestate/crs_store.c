/* The store of rendered custom resources (crs.h). Objects are kept per
 * resource in a JSON object keyed "<namespace>/<name>" whose value is
 * [namespace, text of family 0, text of family 1, ...]: jansson's hash
 * gives O(1) replace/delete, and CR counts are small next to pods. */
#include "collect/kubestate/crs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/rx.h"
#include "collect/kubestate/kubestate.h"

/* One object's rendering is at most this big (a CR is at most ~1.5 MB). */
#define CRS_OBJECT_TEXT_MAX (16u << 20)
#define CRS_KEY_MAX 512

struct crs_store {
	pthread_rwlock_t lock;
	struct crs_config *cfg; /* reference; NULL = nothing configured */
	json_t *objs[CRS_RESOURCES_MAX];
	_Atomic uint64_t skipped;
};

struct crs_store *crs_store_new(void)
{
	struct crs_store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (pthread_rwlock_init(&s->lock, NULL)) {
		free(s);
		return NULL;
	}
	return s;
}

static void drop_all(struct crs_store *s)
{
	for (size_t i = 0; i < CRS_RESOURCES_MAX; i++) {
		json_decref(s->objs[i]);
		s->objs[i] = NULL;
	}
}

void crs_store_free(struct crs_store *s)
{
	if (!s)
		return;
	drop_all(s);
	crs_free(s->cfg);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

int crs_store_set_config(struct crs_store *s, struct crs_config *cfg)
{
	struct crs_config *old;

	pthread_rwlock_wrlock(&s->lock);
	drop_all(s);
	old = s->cfg;
	s->cfg = crs_ref(cfg);
	pthread_rwlock_unlock(&s->lock);
	crs_free(old);
	return 0;
}

static int make_key(char *key, const char *ns, const char *name)
{
	int n = snprintf(key, CRS_KEY_MAX, "%s/%s", ns ? ns : "", name);

	return n < 0 || n >= CRS_KEY_MAX ? KM_EINVAL : 0;
}

int crs_store_upsert(struct crs_store *s, size_t res, const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	char key[CRS_KEY_MAX];
	uint32_t off[CRS_METRICS_MAX + 1];
	struct crs_resource_info ri;
	uint64_t skipped = 0;
	struct buf text;
	json_t *entry = NULL;
	int rc;

	buf_init(&text, CRS_OBJECT_TEXT_MAX);
	/* Rendering happens outside the write lock: only this thread changes
	 * the configuration, so it cannot go away meanwhile. */
	if (!name || !s->cfg || res >= crs_nresources(s->cfg) || make_key(key, ns, name)) {
		rc = KM_EINVAL;
		goto out;
	}
	crs_resource(s->cfg, res, &ri);
	rc = crs_render(s->cfg, res, obj, &text, off, &skipped);
	if (rc)
		goto out;
	atomic_fetch_add(&s->skipped, skipped);
	entry = json_array();
	if (!entry || json_array_append_new(entry, json_string(ns ? ns : ""))) {
		rc = KM_ENOMEM;
		goto out;
	}
	for (size_t f = 0; f < ri.nfamilies; f++)
		if (json_array_append_new(entry, json_stringn(text.data ? text.data + off[f] : "", off[f + 1] - off[f]))) {
			rc = KM_ENOMEM;
			goto out;
		}
	pthread_rwlock_wrlock(&s->lock);
	if (!s->objs[res])
		s->objs[res] = json_object();
	rc = s->objs[res] && !json_object_set(s->objs[res], key, entry) ? 0 : KM_ENOMEM;
	pthread_rwlock_unlock(&s->lock);
out:
	json_decref(entry);
	buf_fini(&text);
	return rc;
}

int crs_store_delete(struct crs_store *s, size_t res, const char *ns, const char *name)
{
	char key[CRS_KEY_MAX];
	int rc;

	if (!name || res >= CRS_RESOURCES_MAX || make_key(key, ns, name))
		return KM_EINVAL;
	pthread_rwlock_wrlock(&s->lock);
	rc = s->objs[res] && json_object_del(s->objs[res], key) == 0 ? 0 : KM_ENOENT;
	pthread_rwlock_unlock(&s->lock);
	return rc;
}

void crs_store_clear(struct crs_store *s, size_t res)
{
	if (res >= CRS_RESOURCES_MAX)
		return;
	pthread_rwlock_wrlock(&s->lock);
	json_decref(s->objs[res]);
	s->objs[res] = NULL;
	pthread_rwlock_unlock(&s->lock);
}

uint64_t crs_store_skipped(struct crs_store *s)
{
	return s ? atomic_load(&s->skipped) : 0;
}

static bool in_list(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* A cluster-scoped CR (no namespace) is never filtered out. */
static bool visible(const struct ks_filter *f, const char *ns)
{
	if (!f || !*ns)
		return true;
	if (f->nnamespaces && !in_list(f->namespaces, f->nnamespaces, ns))
		return false;
	return !in_list(f->exclude_namespaces, f->nexclude_namespaces, ns);
}

static bool family_enabled(const struct ks_filter *f, const char *name)
{
	size_t n = strlen(name);

	if (!f)
		return true;
	if (f->metric_allow && !rx_match(f->metric_allow, name, n))
		return false;
	return !(f->metric_deny && rx_match(f->metric_deny, name, n));
}

int crs_store_write(struct crs_store *s, const struct ks_filter *f, struct buf *out)
{
	size_t start = out->len;
	int rc = 0;

	if (!s)
		return 0;
	pthread_rwlock_rdlock(&s->lock);
	for (size_t r = 0; !rc && s->cfg && r < crs_nresources(s->cfg); r++) {
		struct crs_resource_info ri;
		const char *k;
		json_t *e;
		bool any = false;

		crs_resource(s->cfg, r, &ri);
		json_object_foreach(s->objs[r], k, e)
			if (visible(f, json_string_value(json_array_get(e, 0)))) {
				any = true;
				break;
			}
		/* as for the built-in kinds: no objects, no headers */
		if (!any)
			continue;
		for (size_t fam = 0; !rc && fam < ri.nfamilies; fam++) {
			if (!family_enabled(f, crs_family_name(s->cfg, r, fam)))
				continue;
			rc = crs_write_header(s->cfg, r, fam, out);
			json_object_foreach(s->objs[r], k, e) {
				const json_t *seg = json_array_get(e, fam + 1);
				if (rc)
					break;
				if (visible(f, json_string_value(json_array_get(e, 0))))
					rc = buf_add(out, json_string_value(seg), json_string_length(seg));
			}
		}
	}
	pthread_rwlock_unlock(&s->lock);
	if (rc)
		buf_truncate(out, start);
	return rc;
}
