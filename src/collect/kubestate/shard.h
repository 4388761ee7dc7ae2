/* Per-node pod state (kubeState.podSharding, docs/kube-state-sharding.md):
 * the rules alone, as pure functions over JSON the caller owns, so every
 * agent and the leader decide alike and the unit tests drive them
 * directly. The watches that feed them live in watch.c and agent/kube.c.
 *
 * JSON arguments are borrowed for the call; results the caller owns are
 * said so. */
#ifndef K8SMON_COLLECT_KUBESTATE_SHARD_H
#define K8SMON_COLLECT_KUBESTATE_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The mode: who emits the pod families. */
enum ks_pod_sharding {
	KS_SHARD_LEADER = 0, /* the Lease holder emits every pod (default) */
	KS_SHARD_NODE = 1,   /* each node's agent its node's pods; the leader the rest */
};

/* "node" or "leader" into *out; KM_EINVAL otherwise. */
int ks_shard_parse_mode(const char *s, enum ks_pod_sharding *out);
const char *ks_shard_mode_name(enum ks_pod_sharding m);

/* An equality label selector as the API takes it ("a=b,c==d"; empty: every
 * pod) into a new {"a": "b", "c": "d"} map (*out, caller owns) for
 * selector_compile. KM_EINVAL with the reason in err for any other form
 * (set-based and != terms are refused: the agent matches them locally). */
int ks_shard_selector_parse(const char *s, json_t **out, char *err, size_t errlen);

/* What this agent knows about the agents of its own node. */
enum ks_shard_self {
	KS_SELF_EMITTER,   /* its pod is the node's emitter */
	KS_SELF_OTHER,     /* another Ready agent pod is (smaller name) */
	KS_SELF_NONE,      /* no agent pod of the node is Ready (its own neither) */
	KS_SELF_NO_POD,    /* no pod name (outside a cluster): emits none; the leader covers the node */
};

/* Whether pod is an agent pod that covers its node: in namespace ns, its
 * labels matched by match (a compiled selector, see config/selector.h; NULL:
 * every pod), Ready=True, no deletionTimestamp, a spec.nodeName. */
struct selector;
bool ks_shard_pod_covers(const json_t *pod, const char *ns, const struct selector *match);

/* Coverage from a set of pods (a store snapshot: key -> pod): a new object
 * node name -> name of its emitter (smallest metadata.name among the pods
 * that cover it), or NULL on allocation failure. dups (may be NULL)
 * receives node -> [every covering pod name, sorted] for the nodes with
 * more than one (new reference in *dups, caller owns). */
json_t *ks_shard_coverage(const json_t *pods, const char *ns, const struct selector *match, json_t **dups);

/* This agent's state from the coverage of its node (node's entry of
 * ks_shard_coverage; NULL: none) and its pod name (NULL or "": none). */
enum ks_shard_self ks_shard_self_state(const char *emitter, const char *pod_name);

/* The emitter decision table: what an agent writes on /metrics/kube-state. */
struct ks_emit {
	bool others;       /* every kind but pods (and the leader's self series) */
	bool leader_pods;  /* the pods of the leader's watches (all of them in leader mode) */
	bool own_pods;     /* the pods of this agent's node watch */
};

struct ks_emit ks_shard_emit(enum ks_pod_sharding mode, bool leader, enum ks_shard_self self);

#endif
