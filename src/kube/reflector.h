/* Reflector: keeps a local store of one resource in sync with the API server
 * by paginated LIST, then WATCH from the list's resourceVersion (bookmarks on,
 * bounded timeoutSeconds), relisting on 410 / undecodable or oversized events
 * and retrying everything else with jittered exponential backoff. One
 * implementation for built-in and custom resources.
 *
 * Threads: the reflector lives on the client's I/O loop. new/start/stop/free
 * may be called from any thread (start/stop hop onto the loop). The
 * add/update/delete/synced callbacks run on the loop thread and must not
 * block (no network I/O, no waiting on other threads); objects passed to them
 * are borrowed (json_incref() to keep one) and immutable. Other threads read
 * through kube_reflector_store() (see store.h) and kube_reflector_synced().
 *
 * Failure policy: on any error the store keeps what it had (stale beats
 * empty), a rate-limited log line names the resource and the cause (wrong CA,
 * unreachable, 401, 403 RBAC, ...), k8smon_kube_errors_total counts it, and
 * the reflector keeps retrying with backoff 0.8 s -> 30 s (Retry-After of a
 * 429 honoured). */
#ifndef K8SMON_KUBE_REFLECTOR_H
#define K8SMON_KUBE_REFLECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/client.h"
#include "kube/resource.h"
#include "kube/store.h"

struct kube_reflector_cbs {
	/* Each may be NULL. old/new/obj are borrowed. */
	void (*on_add)(json_t *obj, void *arg);
	void (*on_update)(json_t *old_obj, json_t *new_obj, void *arg);
	void (*on_delete)(json_t *obj, void *arg);
	/* After every complete (re)list has been applied to the store. */
	void (*on_synced)(void *arg);
	void *arg;
};

struct kube_reflector_opts {
	struct kube_resource res;   /* strings copied */
	const char *namespace;      /* NULL or "": all namespaces */
	const char *label_selector; /* NULL: none; e.g. "app=x,tier!=db" */
	const char *field_selector; /* NULL: none; e.g. "spec.nodeName=node1" */
	unsigned page_size;         /* LIST limit; 0 = 500 */
	int watch_timeout_s;        /* timeoutSeconds; 0 = random in [300, 600) */
	/* A watch that delivers no byte (no event, no bookmark) for this long is
	 * considered dead and replaced. The API server sends bookmarks about
	 * every minute; 0 = 150 s. libcurl judges by its speed averaged over
	 * up to 5 s, so detection takes up to 5 s longer. */
	int idle_timeout_s;
	size_t max_event_bytes;     /* one watch line; 0 = 16 MiB */
	size_t max_page_bytes;      /* one LIST page; 0 = KUBE_BODY_MAX */
	/* Objects in the store past which a warning is logged once and
	 * k8smon_kube_store_objects_over_threshold is 1. The store is not
	 * truncated (a partial view would be wrong, not safer). 0 =
	 * KUBE_OBJECTS_WARN. */
	size_t warn_objects;
	int64_t backoff_min_ms;     /* 0 = 800 */
	int64_t backoff_max_ms;     /* 0 = 30000 */
	struct kube_reflector_cbs cbs;
	/* Optional memory saver for large resources. trim(obj) returns a new
	 * reference to the (smaller) object to keep in the store; it must keep
	 * metadata.name, .namespace and .resourceVersion. With trim, on_add and
	 * on_update fire as soon as a full object arrives (a list item or a
	 * watch event) — during a list, before its end is known — and are not
	 * repeated when the list completes; an item whose resourceVersion equals
	 * the stored one fires nothing. old_obj of on_update and the obj of an
	 * on_delete after a relist are the trimmed stored objects. Without trim,
	 * a LIST holds every full object until the list completes.
	 *
	 * Compact form: trim may instead return a JSON string holding only the
	 * object's resourceVersion (non-empty); the store then keeps the key
	 * and that string, ~210 bytes per object instead of ~1.3 KB for a
	 * {"metadata":{...}} tree (BENCHMARKS.md, kube-state at 100k pods).
	 * Readers of the store (snapshot, get, old_obj of on_update) see the
	 * string; an on_delete after a relist gets a new object
	 * {"metadata":{"namespace","name","resourceVersion"}} rebuilt from the
	 * key, so delete handlers can always read the identity. */
	json_t *(*trim)(const json_t *obj);
};

/* Kubernetes' tested scale limit for pods in a cluster: a store past it is
 * worth a warning. */
#define KUBE_OBJECTS_WARN 150000

struct kube_reflector;

/* Constructor; NULL on failure. The client is borrowed and must outlive it. */
struct kube_reflector *kube_reflector_new(struct kube_client *c, const struct kube_reflector_opts *o);
/* Starts listing (asynchronously, on the loop). */
int kube_reflector_start(struct kube_reflector *r);
/* Stops: cancels the in-flight request and timers; no callback runs after it
 * returns. Waits for the loop thread. Idempotent. */
void kube_reflector_stop(struct kube_reflector *r);
/* Stops if needed, then frees (store included). */
void kube_reflector_free(struct kube_reflector *r);

/* True once the initial list has been applied (stays true afterwards, even
 * while relisting: the store is still a valid, if older, view). Any thread. */
bool kube_reflector_synced(struct kube_reflector *r);
/* True while the resource is not served by the API server (the last LIST
 * answered 404: a CRD not installed, or removed). The reflector keeps
 * looking every few seconds. Any thread. */
bool kube_reflector_absent(struct kube_reflector *r);
/* True while the last LIST was refused with 403 (RBAC). Any thread. */
bool kube_reflector_forbidden(struct kube_reflector *r);
/* The store; borrowed, valid until kube_reflector_free(). */
struct kube_store *kube_reflector_store(struct kube_reflector *r);
/* Metric/log label: "pods", "k8smonitors.k8smon.io"; borrowed. */
const char *kube_reflector_name(struct kube_reflector *r);

/* {"metadata":{"namespace","name","resourceVersion"}} rebuilt from a store
 * key ("ns/name" or "name") and a compact stored object (see trim): what a
 * delete handler reads. New reference, NULL on allocation failure. */
json_t *kube_ident_from_key(const char *key, const json_t *compact);

/* Builds the collection path of res: /api/v1[/namespaces/ns]/pods or
 * /apis/g/v[/namespaces/ns]/plural. */
int kube_resource_path(struct buf *out, const struct kube_resource *res, const char *ns);

#endif
