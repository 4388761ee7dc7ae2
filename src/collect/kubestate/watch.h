/* The kube-state watches: subscriptions to the shared informers of every
 * kube-state kind, kept only while they are needed (this agent leads and
 * the kube-state collector is on), feeding the kube-state store with the
 * label allowlists of the configuration cycle in effect.
 *
 * Threads: everything on the kube loop thread, except the readiness and
 * list-count getters (atomics, any thread). HTTP threads never see a
 * subscription: they may be cancelled by any cycle.
 *
 * Ownership: the registry, the store and the loop are borrowed and must
 * outlive the watcher; free it after the loop stopped. */
#ifndef K8SMON_COLLECT_KUBESTATE_WATCH_H
#define K8SMON_COLLECT_KUBESTATE_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "collect/kubestate/kubestate.h"
#include "config/cycle.h"
#include "kube/informer.h"
#include "kube/loop.h"

struct ks_watcher;

/* on_change(kind, arg) runs after an object of a kind was added or
 * deleted (the status writer recounts nodes and pods); may be NULL. */
struct ks_watcher *ks_watcher_new(struct kube_informers *reg, struct kube_loop *loop, struct ks_store *ks,
				  void (*on_change)(enum ks_kind kind, void *arg), void *arg);
void ks_watcher_free(struct ks_watcher *w);

/* Applies the cycle c (borrowed): subscribes to the kinds c selects
 * (kubeState.resources) when c leads with the kube-state collector on,
 * cancels the others, and relists the kinds kept when
 * the label allowlist changed (the store keeps rendered lines only, so new
 * labels need the objects again). Idempotent. Loop thread. */
void ks_watcher_apply(struct ks_watcher *w, const struct cycle *c);

/* ready = some kind subscribed and every subscribed kind's initial state
 * applied; settled = nothing subscribed, or ready. Any thread. */
bool ks_watcher_ready(struct ks_watcher *w);
bool ks_watcher_settled(struct ks_watcher *w);
/* While not ready: the kinds whose series are complete all the same, those
 * of the last ready set still subscribed (kubeState.resources widened: the
 * kinds served before stay served while the new ones list; nothing after
 * a new term or a restart). Any thread. */
ks_kind_set ks_watcher_served(struct ks_watcher *w);
/* Initial lists applied per kind (kube_state_metrics_list_total). */
uint64_t ks_watcher_list_ok(struct ks_watcher *w, enum ks_kind kind);
/* The informer store of a kind while subscribed and synced, else NULL
 * (loop thread; borrowed until the next apply). */
struct kube_store *ks_watcher_store(struct ks_watcher *w, enum ks_kind kind);

/* Per-node pod state (kubeState.podSharding, docs/kube-state-sharding.md).
 *
 * Identity: node_pods is agent/kube.c's subscription to this node's pods
 * (whole objects), node/pod/ns this agent's node, Pod name ("" none) and
 * namespace, selector the -kubeState.agentSelector string (checked by
 * flags_parse); all borrowed, they must outlive the watcher. Call once,
 * before the first apply. KM_EINVAL / KM_ENOMEM: the selector. */
#define KS_SHARD_NODE_WATCH_MAX 64
int ks_watcher_set_identity(struct ks_watcher *w, struct kube_sub *node_pods, const char *node,
			    const char *pod, const char *ns, const char *selector);
/* This node's pod watch delivered obj (deleted: a delete) or synced
 * (obj NULL): keeps the NODE-tagged pods and re-evaluates which agent
 * emits this node's pods. Loop thread. */
void ks_watcher_node_pod(struct ks_watcher *w, json_t *obj, bool deleted);
/* enum ks_shard_self of this agent (any thread). */
int ks_watcher_self_state(struct ks_watcher *w);
/* This node's pods are all in the store (node mode, node watch synced). */
bool ks_watcher_node_ready(struct ks_watcher *w);
/* Leader, node mode: uncovered nodes whose pods it emits / left out
 * (always 0 since the cluster-wide fallback; kept for the metric). */
void ks_watcher_uncovered(struct ks_watcher *w, size_t *watched, size_t *unwatched);
/* Leader, node mode: at most cap (1..KS_SHARD_NODE_WATCH_MAX, default the
 * maximum) per-node watches of uncovered nodes; past it one cluster-wide
 * pod watch filtered to those nodes, back to per-node watches at cap/2
 * (-kubeState.uncoveredNodeWatches). Call before the first apply. */
void ks_watcher_set_uncovered_cap(struct ks_watcher *w, size_t cap);
/* How the leader's node-mode watches subscribe (NULL: kube_informer_subscribe):
 * unit tests pass one that fails, to check that a failed watch is retried
 * every 1 s. Loop thread, or before the loop runs. */
typedef struct kube_sub *(*ks_subscribe_fn)(struct kube_informers *reg, const struct kube_informer_key *key,
					    const struct kube_reflector_cbs *cbs, json_t *(*trim)(const json_t *obj));
void ks_watcher_set_subscribe(struct ks_watcher *w, ks_subscribe_fn fn);

/* The store of custom resources (kubeState.customResourceState), owned by
 * the watcher: written by the loop thread, read by any (crs_store_write). */
struct crs_store *ks_watcher_crs(struct ks_watcher *w);

/* trim.c: what the kube-state informers keep of a node (identity and
 * labels), a pod (identity, plus what discovery reads for pods annotated
 * <prefix>/scrape) and any other object (its resourceVersion: the compact
 * form). New reference, NULL on allocation failure. A subscriber that
 * shares a kube-state informer passes the same trim to share its view
 * (the status writer reads nodes through ks_trim_node). */
json_t *ks_trim_node(const json_t *obj);
json_t *ks_trim_pod(const json_t *obj);
json_t *ks_trim_other(const json_t *obj);

#endif
