/* Shared informers (client-go's SharedInformerFactory): one reflector per
 * (resource, namespace, label selector, field selector), any number of
 * subscribers. Every part of the agent that needs a kind subscribes here
 * instead of starting its own watch, so the API server sees exactly one
 * LIST+WATCH per key from this agent however many parts read it.
 *
 * Threads: kube_informers_new/free from any thread (free after the loop
 * stopped); everything else on the loop thread only, including from inside
 * reflector callbacks. Reflectors are started, replaced and freed by a
 * reconcile job that the registry posts to the loop and that references the
 * registry alone (which outlives the loop): subscribing and unsubscribing
 * are therefore idempotent and safe at any point, even while work for a
 * reflector is queued.
 *
 * Delivery to one subscriber, in order: on_add for every object already in
 * the store (the replay; objects as stored), on_synced if the store is
 * synced, then live events. A subscriber that joins an informer whose store
 * keeps trimmed objects it cannot use gets a fresh relist instead of the
 * replay (the other subscribers then see on_add again for objects they have
 * and on_delete for objects that vanished meanwhile: upserts). After
 * kube_sub_cancel returns, none of that subscriber's callbacks runs again.
 *
 * Fields: a subscriber passes the trim it can live with (NULL = it needs
 * whole objects: it reads the store or keeps objects). The informer keeps
 * the widest view its subscribers need: their common trim when they all
 * share one, else whole objects. The view widens (with a relist) when a
 * subscriber needs more; it never narrows while the informer lives.
 *
 * Ownership: the registry borrows the client; subscriptions are owned by
 * the registry (cancel them or free the registry). */
#ifndef K8SMON_KUBE_INFORMER_H
#define K8SMON_KUBE_INFORMER_H

#include <stdbool.h>

#include "base/buf.h"
#include "kube/reflector.h"

struct kube_informers;
struct kube_sub;

struct kube_informer_key {
	struct kube_resource res;
	const char *namespace;      /* NULL or "": all */
	const char *label_selector; /* NULL or "": none */
	const char *field_selector; /* NULL or "": none */
};

struct kube_informers *kube_informers_new(struct kube_client *c);
/* Frees every informer and subscription. The loop must be stopped (or
 * never started). NULL is ok. */
void kube_informers_free(struct kube_informers *reg);

/* Subscribes cbs to the informer of key (created on first use); trim as
 * above. Returns NULL on allocation failure. */
struct kube_sub *kube_informer_subscribe(struct kube_informers *reg, const struct kube_informer_key *key,
					 const struct kube_reflector_cbs *cbs,
					 json_t *(*trim)(const json_t *obj));
/* Ends a subscription: no callback of it runs afterwards. The informer
 * stops (its watch ends, its store is freed) when its last subscriber
 * leaves. NULL is ok. */
void kube_sub_cancel(struct kube_sub *s);
/* Asks for a fresh LIST (every object delivered again as on_add, vanished
 * ones as on_delete), e.g. when a subscriber must re-render what it kept. */
void kube_sub_relist(struct kube_sub *s);

/* The subscription's informer state: synced = the subscriber received the
 * whole initial state; absent = the resource is not served (404). The
 * store is the informer's (borrowed; valid while the subscription lives;
 * NULL before the reflector exists). Loop thread. */
bool kube_sub_synced(const struct kube_sub *s);
bool kube_sub_absent(const struct kube_sub *s);
/* The informer's last LIST was refused with 403 (RBAC). Loop thread. */
bool kube_sub_forbidden(const struct kube_sub *s);
struct kube_store *kube_sub_store(const struct kube_sub *s);

/* Counts for tests and self-metrics (loop thread): informers running for
 * the resource (plural), all selectors together; and in all. */
size_t kube_informers_count(struct kube_informers *reg, const char *resource);

/* k8smon_kube_informers{resource,selector} (1 per running informer) and
 * k8smon_kube_informer_subscribers{resource,selector}. Any thread (the
 * registry keeps a copy of the figures under a lock). */
int kube_informers_write_metrics(struct kube_informers *reg, struct buf *out);

#endif
