/* Custom resource state metrics: kube-state-metrics v2.20's
 * CustomResourceStateMetrics configuration (docs/metrics/extend/
 * customresourcestate-metrics.md, pkg/customresourcestate) applied to
 * objects of any kind, with KSM's names, labels, values and HELP/TYPE.
 *
 * Configuration: the object KSM reads from --custom-resource-state-config
 * under "spec" ({"resources": [...]}), as JSON. Supported per resource:
 * groupVersionKind {group, version, kind} (exact; KSM's "*" wildcards
 * resolved by discovery are not supported), resourcePlural, metricNamePrefix
 * (default "kube_customresource"; "" for none), commonLabels, labelsFromPath,
 * errorLogV (accepted, unused); per metric: name, help, commonLabels,
 * labelsFromPath, errorLogV, each.type Gauge | StateSet | Info
 * (case-insensitive) with each.gauge {path, valueFrom, labelsFromPath,
 * nilIsZero, labelFromKey}, each.stateSet {path, labelsFromPath, list,
 * labelName, valueFrom}, each.info {path, labelsFromPath, labelFromKey}.
 * Paths: map keys, list indexes (negative from the end), "[key=value]" list
 * lookups (string, number or boolean comparison as KSM) and "key=value"
 * filters; labelsFromPath names starting or ending with "*" copy a map.
 * Values convert as KSM's toFloat64: numbers, booleans, "true"/"yes"/"false"/
 * "no"/"unknown", RFC 3339 timestamps (unix seconds), quantities
 * (AsApproximateFloat64), "NN%" (NN/100) and Go ParseFloat syntax.
 * Unknown fields are ignored, as KSM's decoder ignores them.
 *
 * Series: name = prefix "_" metric name; labels sorted by name:
 * customresource_group/_version/_kind, commonLabels, labelsFromPath (values
 * printed as Go's %v prints them) and the per-type labels; HELP as
 * configured; TYPE gauge for all three types (what KSM prints in the text
 * format: info and stateset exist only in OpenMetrics). A value that cannot be converted leaves
 * that series out and is counted (KSM logs it at errorLogV).
 *
 * Ownership: every json_t passed in is borrowed for the call only; a
 * struct crs_config owns deep copies of what it keeps and is immutable once
 * compiled (shareable between threads). */
#ifndef K8SMON_COLLECT_KUBESTATE_CRS_H
#define K8SMON_COLLECT_KUBESTATE_CRS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"

/* Caps: resources and metrics per configuration (a K8sMonitor is at most
 * 1.5 MB, so these are generous), path elements. */
#define CRS_RESOURCES_MAX 64
#define CRS_METRICS_MAX 256
#define CRS_PATH_MAX 32

struct crs_config;

/* One configured resource, as the watcher needs it. Borrowed from cfg. */
struct crs_resource_info {
	const char *group, *version, *kind;
	const char *plural; /* resourcePlural, or lower(kind) + "s" as a guess: KSM
			     * asks discovery; the watcher may do the same */
	size_t nfamilies;
};

/* Compiles spec ({"resources": [...]}). NULL on error with a message naming
 * the field below path (e.g. "spec.kubeState.customResourceState") in err;
 * *rc (may be NULL) gets KM_EINVAL or KM_ENOMEM. */
struct crs_config *crs_compile(const json_t *spec, const char *path, char *err, size_t errlen, int *rc);
/* References: a compiled configuration is freed with its last reference
 * (crs_free drops one). NULL is fine for both. */
struct crs_config *crs_ref(struct crs_config *c);
void crs_free(struct crs_config *c);
size_t crs_nresources(const struct crs_config *c);
void crs_resource(const struct crs_config *c, size_t i, struct crs_resource_info *out);

/* Renders obj (an object of resource res) into out as one segment per
 * family: off[f] is where family f's lines start and off[nfamilies] the
 * end (off has nfamilies + 1 entries). Lines are complete sample lines
 * ('name{labels} value\n'). *skipped (may be NULL) is increased by the
 * values that could not be converted. Returns 0, KM_ENOMEM or KM_ETOOBIG
 * (out's cap; out is then rolled back). */
int crs_render(const struct crs_config *c, size_t res, const json_t *obj, struct buf *out,
	       uint32_t *off, uint64_t *skipped);

/* Name of family f of resource res (borrowed from c). */
const char *crs_family_name(const struct crs_config *c, size_t res, size_t f);
/* Appends family f of resource res's "# HELP" and "# TYPE" lines. */
int crs_write_header(const struct crs_config *c, size_t res, size_t f, struct buf *out);

/* --- the store of rendered custom resources (crs_store.c) ---
 *
 * Like struct ks_store: per configured resource, each object's rendered
 * segments under its namespace/name. Threads: upsert/delete/set_config
 * from one writer thread (the kube loop), write from any number of HTTP
 * threads; a rwlock protects everything. */
struct crs_store;
struct ks_filter;

struct crs_store *crs_store_new(void);
void crs_store_free(struct crs_store *s);
/* Drops every object and renders from now on with cfg (a reference is
 * taken; NULL = nothing configured). */
int crs_store_set_config(struct crs_store *s, struct crs_config *cfg);
/* Renders obj (borrowed) of resource res and stores it, replacing an older
 * rendering. 0, KM_EINVAL (no metadata.name, res out of range), KM_ENOMEM. */
int crs_store_upsert(struct crs_store *s, size_t res, const json_t *obj);
int crs_store_delete(struct crs_store *s, size_t res, const char *ns, const char *name);
/* Removes every object of res (a relist starts over). */
void crs_store_clear(struct crs_store *s, size_t res);
/* Values that could not be converted, over every rendering so far. */
uint64_t crs_store_skipped(struct crs_store *s);
/* Appends every family with at least one visible object: HELP, TYPE, the
 * objects' series. f (may be NULL) filters namespaces of namespaced
 * objects and family names (metric allow/deny), as for the built-in kinds.
 * On error out is rolled back. */
int crs_store_write(struct crs_store *s, const struct ks_filter *f, struct buf *out);

#endif
