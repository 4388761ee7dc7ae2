/* The objects of one watched resource, keyed by "namespace/name" (or "name"
 * for cluster-scoped objects), as jansson json_t values.
 *
 * Threads: only the owner (the reflector, on the I/O loop thread) mutates the
 * store; any thread may read it through kube_store_get(), kube_store_foreach()
 * and kube_store_len(). A mutex guards the map. Stored objects are immutable
 * once inserted: nobody may modify a json_t obtained from the store (jansson
 * 2.14 refcounts are atomic, so holding a reference across threads is safe;
 * modifying is not). */
#ifndef K8SMON_KUBE_STORE_H
#define K8SMON_KUBE_STORE_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"

struct kube_store;

enum kube_change { KUBE_CHANGE_ADD, KUBE_CHANGE_UPDATE, KUBE_CHANGE_DELETE };

/* Called for each difference kube_store_replace() applies. old is NULL for
 * ADD, new is NULL for DELETE; both borrowed for the call. The store lock is
 * NOT held, so the callback may read the store (it sees the new state). */
typedef void (*kube_change_fn)(enum kube_change ch, const char *key, json_t *old_obj,
			       json_t *new_obj, void *arg);

struct kube_store *kube_store_new(void);
void kube_store_free(struct kube_store *s);

/* Appends the key of obj ("ns/name" or "name") to out. KM_EINVAL if obj has
 * no metadata.name. */
int kube_store_key(const json_t *obj, struct buf *out);

/* Insert or replace: the store takes a new reference to obj (the caller keeps
 * its own). *old_out (if non-NULL) receives the previous object with its
 * reference transferred to the caller, or NULL. */
int kube_store_put(struct kube_store *s, const char *key, json_t *obj, json_t **old_out);
/* Remove; *old_out gets the removed object (reference transferred) or NULL.
 * KM_ENOENT if absent. */
int kube_store_del(struct kube_store *s, const char *key, json_t **old_out);

/* Replace the whole content by items (a JSON object key -> object, borrowed;
 * the store takes references) and call fn for each difference: ADD for new
 * keys, UPDATE when metadata.resourceVersion differs, DELETE for keys that
 * vanished. Unchanged objects produce no call. Used after a (re)list. */
int kube_store_replace(struct kube_store *s, json_t *items, kube_change_fn fn, void *arg);

/* A new reference to the object under key (caller json_decref()s), or NULL. */
json_t *kube_store_get(struct kube_store *s, const char *key);
size_t kube_store_len(struct kube_store *s);
/* Calls fn for every object with the lock held: fn must be quick and must not
 * call into this store. Objects are borrowed (json_incref() to keep one).
 * fn returns 0 to continue or a negative code to stop (returned). */
int kube_store_foreach(struct kube_store *s,
		       int (*fn)(const char *key, json_t *obj, void *arg), void *arg);
/* A new JSON object key -> object holding references to every object: a
 * consistent snapshot that can be walked without the lock. */
json_t *kube_store_snapshot(struct kube_store *s);

#endif
