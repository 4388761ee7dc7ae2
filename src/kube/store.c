#include "kube/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "kube/event.h"

struct kube_store {
	pthread_mutex_t mu;
	json_t *map; /* key -> object; a jansson object is a hash table */
};

struct kube_store *kube_store_new(void)
{
	struct kube_store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->map = json_object();
	if (!s->map) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

void kube_store_free(struct kube_store *s)
{
	if (!s)
		return;
	json_decref(s->map);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int kube_store_key(const json_t *obj, struct buf *out)
{
	const char *ns = kube_obj_namespace(obj);
	const char *name = kube_obj_name(obj);

	if (!name || !*name)
		return KM_EINVAL;
	if (ns && *ns)
		return buf_printf(out, "%s/%s", ns, name);
	return buf_adds(out, name);
}

int kube_store_put(struct kube_store *s, const char *key, json_t *obj, json_t **old_out)
{
	json_t *old;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	old = json_incref(json_object_get(s->map, key));
	if (json_object_set(s->map, key, obj))
		rc = KM_ENOMEM;
	pthread_mutex_unlock(&s->mu);
	if (old_out && rc == 0)
		*old_out = old;
	else
		json_decref(old);
	return rc;
}

int kube_store_del(struct kube_store *s, const char *key, json_t **old_out)
{
	json_t *old;

	pthread_mutex_lock(&s->mu);
	old = json_incref(json_object_get(s->map, key));
	if (old)
		json_object_del(s->map, key);
	pthread_mutex_unlock(&s->mu);
	if (old_out)
		*old_out = old;
	else
		json_decref(old);
	return old ? 0 : KM_ENOENT;
}

static bool same_rv(const json_t *a, const json_t *b)
{
	const char *ra = kube_obj_rv(a), *rb = kube_obj_rv(b);

	/* Opaque strings: equality is the only meaningful comparison. Without
	 * RVs fall back to deep equality. */
	if (ra && rb)
		return strcmp(ra, rb) == 0;
	return json_equal(a, b);
}

int kube_store_replace(struct kube_store *s, json_t *items, kube_change_fn fn, void *arg)
{
	json_t *old_map, *new_map = json_object();
	const char *key;
	json_t *obj;

	if (!new_map || json_object_update(new_map, items)) {
		json_decref(new_map);
		return KM_ENOMEM;
	}
	pthread_mutex_lock(&s->mu);
	old_map = s->map;
	s->map = new_map;
	pthread_mutex_unlock(&s->mu);
	/* Swap first, then report: callbacks that read the store see the
	 * state the notifications describe. */
	if (fn) {
		json_object_foreach(items, key, obj) {
			json_t *old = json_object_get(old_map, key);

			if (!old)
				fn(KUBE_CHANGE_ADD, key, NULL, obj, arg);
			else if (!same_rv(old, obj))
				fn(KUBE_CHANGE_UPDATE, key, old, obj, arg);
		}
		json_object_foreach(old_map, key, obj) {
			if (!json_object_get(items, key))
				fn(KUBE_CHANGE_DELETE, key, obj, NULL, arg);
		}
	}
	json_decref(old_map);
	return 0;
}

json_t *kube_store_get(struct kube_store *s, const char *key)
{
	json_t *o;

	pthread_mutex_lock(&s->mu);
	o = json_incref(json_object_get(s->map, key));
	pthread_mutex_unlock(&s->mu);
	return o;
}

size_t kube_store_len(struct kube_store *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = json_object_size(s->map);
	pthread_mutex_unlock(&s->mu);
	return n;
}

int kube_store_foreach(struct kube_store *s,
		       int (*fn)(const char *key, json_t *obj, void *arg), void *arg)
{
	const char *key;
	json_t *obj;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	json_object_foreach(s->map, key, obj) {
		rc = fn(key, obj, arg);
		if (rc)
			break;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

json_t *kube_store_snapshot(struct kube_store *s)
{
	json_t *snap = json_object();

	if (!snap)
		return NULL;
	pthread_mutex_lock(&s->mu);
	if (json_object_update(snap, s->map)) {
		json_decref(snap);
		snap = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	return snap;
}
