/* Object reads and writes: GET, and merge-patch (application/merge-patch+json)
 * of an object or its /status subresource, optionally guarded by
 * resourceVersion with bounded re-GET + retry on 409 Conflict.
 *
 * Threads: every function may be called from any thread; the work runs on the
 * client's loop and `done` is called there, exactly once when the call
 * returned 0 (never when it returned an error). */
#ifndef K8SMON_KUBE_WRITE_H
#define K8SMON_KUBE_WRITE_H

#include <jansson.h>

#include "kube/client.h"
#include "kube/reflector.h"

/* rc: 0, KM_ENOENT (404), KM_ECONFLICT (409 after all retries), KM_EACCES
 * (401/403), KM_EHTTP (other status), KM_EIO (transport), KM_EPARSE.
 * obj: the object returned by the server (borrowed; NULL on error). */
typedef void (*kube_write_fn)(int rc, long status, json_t *obj, void *arg);

/* Computes the merge patch to apply to cur (borrowed, read-only): return a
 * new JSON object, or NULL for "nothing to change" (done then gets rc 0 and
 * the current object). Runs on the loop thread; may run several times when
 * conflicts force a retry. */
typedef json_t *(*kube_mutate_fn)(json_t *cur, void *arg);

/* Max GET+PATCH rounds for kube_update() before KM_ECONFLICT. */
#define KUBE_UPDATE_MAX_TRIES 5

/* GET res/ns/name[/sub]. ns ignored for cluster-scoped resources. */
int kube_get(struct kube_client *c, const struct kube_resource *res, const char *ns,
	     const char *name, const char *sub, kube_write_fn done, void *arg);

/* Unconditional merge patch (last writer wins). patch is borrowed (copied
 * as text before returning). sub: NULL or "status". */
int kube_patch(struct kube_client *c, const struct kube_resource *res, const char *ns,
	       const char *name, const char *sub, json_t *patch, kube_write_fn done, void *arg);

/* Optimistic-concurrency update: GET, mutate(cur) -> patch, PATCH with
 * metadata.resourceVersion = cur's RV; on 409 re-GET and retry up to
 * KUBE_UPDATE_MAX_TRIES times. mutate_arg must stay valid until done. */
int kube_update(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const char *name, const char *sub, kube_mutate_fn mutate, void *mutate_arg,
		kube_write_fn done, void *arg);

#endif
