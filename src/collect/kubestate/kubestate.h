/* kube-state collector: Kubernetes objects -> kube_* series, as
 * kube-state-metrics v2.20 prints them (names, label order, HELP/TYPE,
 * values, and the rules for when a series exists: reference/ksm.md §2-§5).
 *
 * Memory model (DESIGN.md §5, ksm.md §9/§11): like KSM, the store keeps per
 * object only its rendered sample lines, split per family. Each object is one
 * allocation: a small header, an array of (nfamilies+1) uint32 offsets, the
 * key and the text. Unlike KSM, a line is stored without its "name{default
 * labels" prefix (the default labels are kept once per object and put back
 * by the writer): that prefix is ~70% of a pod's text (BENCHMARKS.md). A scrape writes, for each enabled kind in KSM's order
 * (alphabetical by resource plural) and each family of the kind in KSM's
 * generator order, HELP/TYPE once and then every object's segment for that
 * family. Headers of a kind are written whenever at least one visible object
 * of that kind exists, even for families that have no series (KSM does so);
 * nothing at all is written for a kind without objects.
 *
 * Threads: ks_store_upsert/delete/clear_kind may be called from one or more
 * writer threads (the reflector's I/O thread); ks_store_write from any number
 * of HTTP threads concurrently. A pthread rwlock protects the index; rendering
 * happens outside the lock, and a write holds the read lock for its whole
 * duration, so it always sees a consistent set of objects. A streamed write
 * (ks_store_write_next) holds it only to pin a snapshot of refcounted
 * objects; see there.
 *
 * JSON ownership: every json_t is borrowed for the duration of the call only;
 * nothing keeps a reference after ks_store_upsert returns. The JSON is the
 * object exactly as the API server returns it (camelCase field names).
 *
 * Fields read (all optional unless noted):
 *   all kinds: metadata.{name (required), namespace (required for namespaced
 *     kinds), uid, labels, annotations, ownerReferences, creationTimestamp,
 *     deletionTimestamp, generation}
 *   Pod: spec.{nodeName, containers[].{name,image,resources.{requests,limits}},
 *     initContainers[] (same), priorityClassName, hostNetwork, restartPolicy,
 *     serviceAccountName, schedulerName},
 *     status.{phase, reason, qosClass, hostIP, podIP, startTime, conditions[],
 *     containerStatuses[].{name,image,imageID,containerID,ready,restartCount,
 *     state,lastState}}
 *   Node: metadata.labels (node-role.kubernetes.io/ prefix), spec.{unschedulable,
 *     taints, providerID, podCIDR}, status.{nodeInfo, addresses, capacity,
 *     allocatable, conditions}
 *   Deployment/ReplicaSet/StatefulSet/DaemonSet/Job/CronJob/HPA/PDB/
 *   ResourceQuota/PV/PVC/Namespace: spec.* and status.* fields named after
 *     the series (see each src/collect/kubestate/<kind>.c head comment).
 */
#ifndef K8SMON_COLLECT_KUBESTATE_H
#define K8SMON_COLLECT_KUBESTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/rx.h"
#include "collect/kubestate/kinds.h"

/* A list of Kubernetes label/annotation keys, KSM --metric-labels-allowlist
 * semantics: exact keys; "*" as the first entry allows every key; an entry
 * with one "*" elsewhere is a glob (e.g. "app.kubernetes.io/" followed by a star). Borrowed. */
struct ks_allowlist {
	const char *const *keys;
	size_t n;
};

/* Caps on the allow-listed labels of kube_<kind>_labels/_annotations (a
 * Kubernetes label value has at most 63 bytes, but an annotation may hold
 * up to 256 KiB, e.g. last-applied-configuration under an allowlist "*").
 * A pair whose value is longer than KS_LABEL_VALUE_MAX is left out of the
 * series; past KS_LABELS_MAX pairs (in sorted key order) the rest are left
 * out. Both are counted (k8smon_kube_state_labels_dropped_total{reason})
 * and logged, rate-limited, by the caller. */
#define KS_LABEL_VALUE_MAX 4096
#define KS_LABELS_MAX 64

/* Label pairs left out by one rendering, or since the store was created. */
struct ks_label_drops {
	uint64_t value_length;  /* value over KS_LABEL_VALUE_MAX */
	uint64_t label_count;   /* pair past KS_LABELS_MAX */
	uint64_t bad_quantity;  /* a quantity that does not parse: its series left out */
};

/* Render options. Borrowed by ks_store_upsert for the call only. An empty
 * allowlist for a kind (the default) means kube_<kind>_labels/_annotations
 * print HELP/TYPE but no series, as KSM v2.10+ does. */
struct ks_opts {
	struct ks_allowlist labels[KS_KIND_COUNT];
	struct ks_allowlist annotations[KS_KIND_COUNT];
};

/* Scrape-time filters. All members borrowed; NULL filter = everything.
 * namespaces: include list (empty = all); exclude_namespaces: deny list.
 * Both apply to namespaced kinds only (KSM lists cluster-scoped kinds
 * unfiltered). kinds: bitmask of KS_KIND_BIT(enum ks_kind); 0 means all.
 * metric_allow/metric_deny: regexes that match anywhere in the family name,
 * as KSM's --metric-allowlist/--metric-denylist do (unanchored: ^...$ for
 * one family); a denied family prints nothing,
 * not even HELP/TYPE. */
struct ks_filter {
	const char *const *namespaces;
	size_t nnamespaces;
	const char *const *exclude_namespaces;
	size_t nexclude_namespaces;
	ks_kind_set kinds;
	/* KS_SRC_* bits: only objects some of these watches hold (0: any);
	 * per-node pod state (docs/kube-state-sharding.md). */
	unsigned srcs;
	const struct rx *metric_allow;
	const struct rx *metric_deny;
};

struct ks_store;

/* Returns a new empty store or NULL (out of memory). */
struct ks_store *ks_store_new(void);
/* Frees the store and every rendered object. NULL is fine. The caller must
 * ensure no other thread still uses the store. */
void ks_store_free(struct ks_store *s);

/* Renders obj (borrowed; not referenced after return) and stores the result
 * under kind + metadata.namespace/metadata.name, replacing an older
 * rendering. opts may be NULL (no allowlists). Returns 0, KM_EINVAL (not an
 * object, no metadata.name, or no namespace for a namespaced kind) or
 * KM_ENOMEM; on error the previous rendering (if any) is kept. */
int ks_store_upsert(struct ks_store *s, enum ks_kind kind, const json_t *obj,
		    const struct ks_opts *opts);
/* Removes the object; ns is ignored (may be NULL) for cluster-scoped kinds.
 * Returns 0 or KM_ENOENT when it was not stored. */
int ks_store_delete(struct ks_store *s, enum ks_kind kind, const char *ns, const char *name);

/* Sources: which watch delivered an object (docs/kube-state-sharding.md).
 * The leader's kind watches are KS_SRC_LEADER (ks_store_upsert's), this
 * node's pod watch KS_SRC_NODE, the leader's watches of uncovered nodes
 * KS_SRC_UNCOVERED and of pods with no node KS_SRC_UNSCHED; past the cap of
 * node watches its one cluster-wide pod watch, filtered to the uncovered
 * nodes' pods, is KS_SRC_WIDE. An object remembers every source that
 * upserted it; ks_store_delete_src drops one source and removes the
 * object when none is left, so two independent watches (a pod being
 * scheduled leaves the leader's unscheduled watch and enters a node's)
 * cannot delete what the other still holds. */
#define KS_SRC_LEADER 1u
#define KS_SRC_NODE 2u
#define KS_SRC_UNCOVERED 4u
#define KS_SRC_UNSCHED 8u
#define KS_SRC_WIDE 16u
#define KS_SRC_ALL 0xffu
int ks_store_upsert_src(struct ks_store *s, enum ks_kind kind, const json_t *obj,
			const struct ks_opts *opts, unsigned src);
int ks_store_delete_src(struct ks_store *s, enum ks_kind kind, const char *ns, const char *name,
			unsigned src);
/* Drops src from every object of kind, removing those left with none. */
int ks_store_clear_src(struct ks_store *s, enum ks_kind kind, unsigned src);
/* Objects of kind that one of the srcs bits holds. */
size_t ks_store_count_src(struct ks_store *s, enum ks_kind kind, unsigned srcs);
/* Removes every object of kind (a relist starts over); returns 0. */
int ks_store_clear_kind(struct ks_store *s, enum ks_kind kind);
/* Number of objects of kind currently stored. */
size_t ks_store_count(struct ks_store *s, enum ks_kind kind);
/* Bytes held by the rendered objects of all kinds (object allocations as
 * requested from malloc, index excluded); for benchmarks. */
size_t ks_store_bytes(struct ks_store *s);
/* Label pairs left out by every ks_store_upsert so far (see
 * KS_LABEL_VALUE_MAX), and renderings that failed (the previous one kept). */
void ks_store_label_drops(struct ks_store *s, struct ks_label_drops *out);
uint64_t ks_store_render_errors(struct ks_store *s);

/* Appends the exposition (text format 0.0.4) to out. f may be NULL. On
 * KM_ETOOBIG / KM_ENOMEM out is rolled back to its length on entry. */
int ks_store_write(struct ks_store *s, const struct ks_filter *f, struct buf *out);

/* Streaming: the same exposition as ks_store_write, in blocks.
 *
 *   struct ks_cursor c;
 *   ks_cursor_init(&c);
 *   while ((rc = ks_store_write_next(s, &c, f, &block, 128 << 10)) == KS_WRITE_MORE)
 *           send block, buf_reset(&block);
 *   send block (rc == KS_WRITE_DONE) or fail (rc < 0); ks_cursor_fini(&c);
 *
 * Each call appends about budget bytes to out (it stops before the next
 * object's segment or family header once out grew by >= budget since the
 * call began; one segment may overshoot it) and returns KS_WRITE_MORE, or
 * KS_WRITE_DONE with the last bytes (possibly none), or a negative KM_*
 * code (out rolled back to its length on entry of that call; the cursor is
 * finished). The concatenation of all blocks is byte-identical to one
 * ks_store_write() at the moment of the first call.
 *
 * Consistency: the first call pins a snapshot. It takes the store's read
 * lock once, just long enough to collect a pointer to every visible object
 * of the selected kinds and take a reference on each (a few ms at 135k
 * objects); no lock is held while blocks are written, so writers are not
 * blocked by a slow client. Replacing or deleting an object while a cursor
 * holds it only drops the store's reference: the old rendering stays
 * allocated until the cursor is finished (at most one extra copy of the
 * objects changed during a scrape). Every block sees the snapshot, so the
 * whole kube-state exposition is consistent as of the first call, as a
 * ks_store_write under one read lock is.
 *
 * f (may be NULL) is borrowed per call and must be the same for every call
 * of one cursor (namespace and kind filters are applied at the snapshot,
 * family filters per block). A cursor does not reference the store after
 * the snapshot: it may outlive ks_store_free(). */
#define KS_WRITE_DONE 0
#define KS_WRITE_MORE 1

struct ks_snap;
struct ks_cursor {
	/* private */
	struct ks_snap *snap; /* NULL before the first call and when finished */
	unsigned kind;        /* position: kind, family of it, object in it */
	size_t family;
	size_t index;
	bool header;          /* HELP/TYPE of the current family written */
	bool done;
};

void ks_cursor_init(struct ks_cursor *c);
/* Releases the snapshot (if any); safe to call at any point, and twice. */
void ks_cursor_fini(struct ks_cursor *c);
int ks_store_write_next(struct ks_store *s, struct ks_cursor *c, const struct ks_filter *f,
			struct buf *out, size_t budget);

/* Self-metrics with KSM's names (the KubeStateMetrics* alerts read them).
 * Counters are owned and counted by the reflector owner; this only prints.
 * resource is the label value, normally ks_kind_go_type(kind). Both the
 * success and error series are always printed (KSM prints only those that
 * were incremented; a 0 series is harmless and makes rate() well defined). */
struct ks_self_counts {
	const char *resource;
	uint64_t list_success, list_error;
	uint64_t watch_success, watch_error;
};

/* Writes kube_state_metrics_list_total, _watch_total (labels resource,result
 * in client_golang's sorted order), _shard_ordinal{shard_ordinal} and
 * _total_shards. counts is borrowed. */
int ks_write_self(struct buf *out, const struct ks_self_counts *counts, size_t n,
		  unsigned shard_ordinal, unsigned total_shards);

/* Writes k8smon_kube_state_store_bytes (ks_store_bytes) and
 * k8smon_kube_state_store_objects{resource} (ks_store_count per kind). s is
 * borrowed; NULL writes nothing. Returns 0 or KM_ETOOBIG/KM_ENOMEM (out
 * rolled back). */
int ks_write_store_metrics(struct buf *out, struct ks_store *s);

#endif
