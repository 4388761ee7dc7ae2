/* Internals of the kube-state collector shared by its files (and the unit
 * tests). Not for use outside src/collect/kubestate/. */
#ifndef K8SMON_COLLECT_KUBESTATE_INTERNAL_H
#define K8SMON_COLLECT_KUBESTATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "collect/kubestate/kubestate.h"
#include "expo/writer.h"

/* Rendering state for one object. Errors are sticky: the first failing
 * append sets err and later emits do nothing, so family renderers stay
 * straight-line code; ks_render_object() checks err once at the end. */
struct ks_render {
	struct buf *out;                  /* borrowed: the object's text */
	const char *fam;                  /* current family name (diagnostics) */
	const struct ks_allowlist *labels_allow;      /* borrowed, never NULL */
	const struct ks_allowlist *annotations_allow; /* borrowed, never NULL */
	struct ks_label_drops *drops;     /* borrowed, never NULL: counted here */
	int err;
};

typedef void (*ks_family_fn)(struct ks_render *r, const json_t *obj);

struct ks_family {
	const char *name;
	const char *help; /* exact HELP text, with "[STABLE] " where KSM has it */
	enum expo_type type;
	ks_family_fn fn;
};

/* Where KSM puts the namespace among a kind's default labels. */
enum ks_ns_label {
	KS_NS_AUTO,  /* namespace="..." first for namespaced kinds, none otherwise */
	KS_NS_FIRST, /* namespace first even for cluster-scoped kinds (then ""):
		      * webhook configurations, admission policies */
	KS_NS_AFTER, /* after the name label (endpointslice="a",namespace="b") */
	KS_NS_NONE,  /* none: the families place it themselves (lease) */
};

/* How a kind renders; its names and API location are in kinds.c. */
struct ks_kind_def {
	const char *label;     /* default label carrying metadata.name */
	enum ks_ns_label ns;   /* where namespace="..." goes */
	bool uid;              /* default labels end with uid (pods) */
	const char *extra_label; /* a further default label after the name, or NULL */
	const char *extra_path;  /* ... and the field it carries (CSR: spec.signerName) */
	const struct ks_family *families;
	const size_t *nfamilies; /* a pointer: extern consts are not constant expressions */
};

extern const struct ks_kind_def ks_kinds[KS_KIND_COUNT];

/* Per-kind family tables, in KSM generator order. */
#define KS_DECLARE_KIND(k) \
	extern const struct ks_family ks_##k##_families[]; \
	extern const size_t ks_##k##_nfamilies
KS_DECLARE_KIND(csr);
KS_DECLARE_KIND(configmap);
KS_DECLARE_KIND(limitrange);
KS_DECLARE_KIND(replicationcontroller);
KS_DECLARE_KIND(storageclass);
KS_DECLARE_KIND(cronjob);
KS_DECLARE_KIND(daemonset);
KS_DECLARE_KIND(deployment);
KS_DECLARE_KIND(endpoint);
KS_DECLARE_KIND(hpa);
KS_DECLARE_KIND(ingress);
KS_DECLARE_KIND(job);
KS_DECLARE_KIND(namespace);
KS_DECLARE_KIND(networkpolicy);
KS_DECLARE_KIND(node);
KS_DECLARE_KIND(pvc);
KS_DECLARE_KIND(pv);
KS_DECLARE_KIND(pdb);
KS_DECLARE_KIND(pod);
KS_DECLARE_KIND(replicaset);
KS_DECLARE_KIND(resourcequota);
KS_DECLARE_KIND(secret);
KS_DECLARE_KIND(service);
KS_DECLARE_KIND(statefulset);
KS_DECLARE_KIND(endpointslice);
KS_DECLARE_KIND(lease);
KS_DECLARE_KIND(mutatingadmissionpolicy);
KS_DECLARE_KIND(mutatingadmissionpolicybinding);
KS_DECLARE_KIND(mutatingwebhookconfiguration);
KS_DECLARE_KIND(validatingadmissionpolicy);
KS_DECLARE_KIND(validatingadmissionpolicybinding);
KS_DECLARE_KIND(validatingwebhookconfiguration);
KS_DECLARE_KIND(volumeattachment);

#define KS_HELP_LABELS "[STABLE] Kubernetes labels converted to Prometheus labels."
#define KS_HELP_LABELS_ALPHA "Kubernetes labels converted to Prometheus labels."
#define KS_HELP_ANNOTATIONS "Kubernetes annotations converted to Prometheus labels."
#define KS_HELP_CREATED "[STABLE] Unix creation timestamp"
#define KS_HELP_CREATED_ALPHA "Unix creation timestamp"
#define KS_HELP_DELETION "Unix deletion timestamp"

/* Go's time.Time{}.Unix(): what KSM prints for an unset time it reads
 * unconditionally. */
#define KS_GO_ZERO_TIME (-62135596800.0)

/* Renders obj into out as its escaped default labels (e.g.
 * namespace="a",pod="b",uid="c") followed by one segment per family of
 * kind; off[i] is where family i's segment starts (off[0] = length of the
 * default labels) and off[nfamilies] the end. A segment's lines hold only
 * what follows the default labels: ',k="v",...} value\n' -- the writer
 * prints "name{" + default labels in front of each (so an object stores
 * them once, not once per line). Returns 0, KM_EINVAL (no metadata.name)
 * or KM_ENOMEM/KM_ETOOBIG. */
/* drops (may be NULL) gets the label pairs left out (KS_LABEL_VALUE_MAX,
 * KS_LABELS_MAX) added to it. */
int ks_render_object(enum ks_kind kind, const json_t *obj, const struct ks_opts *opts,
		     struct buf *out, uint32_t *off, struct ks_label_drops *drops);

/* --- series emitters (render.c) --- */

/* Emits one series: stored as ',k1="v1",...} value\n' (see above). Variadic (const char *key,
 * const char *value) pairs end with a NULL key; a NULL value prints "". */
void ks_emit(struct ks_render *r, double v, ...);
/* Same with arrays of n extra labels. */
void ks_emitv(struct ks_render *r, double v, const char *const *keys,
	      const char *const *vals, size_t n);
/* Condition triple: 3 series key="true"/"false"/"unknown" after the extra
 * labels (k1,v1 may be NULL), value 1 on the one matching status. */
void ks_emit_condition(struct ks_render *r, const char *status, const char *k1,
		       const char *v1, const char *k2, const char *v2, const char *key);
/* One series per ownerReference (or one with "" values when none), labels
 * owner_kind, owner_name and (with_controller) owner_is_controller. */
void ks_emit_owners(struct ks_render *r, const json_t *obj, bool with_controller);
/* kube_<kind>_labels / _annotations per the allowlist (labels.c). */
void ks_emit_labels(struct ks_render *r, const json_t *obj);
void ks_emit_annotations(struct ks_render *r, const json_t *obj);
/* One series with every key of the string map at path as <prefix>_<key>
 * (KSM kubeMapToPrometheusLabels: no allowlist), also when the map is
 * absent (then no extra labels). */
void ks_emit_map_all(struct ks_render *r, const json_t *obj, const char *path,
		     const char *prefix);
/* Timestamp series: metadata.<field> as unix seconds, when set and non-zero. */
void ks_emit_created(struct ks_render *r, const json_t *obj);
void ks_emit_deletion(struct ks_render *r, const json_t *obj);
/* metadata.resourceVersion when it parses as a number (KSM
 * resourceVersionMetric: strconv.ParseFloat), else nothing. */
void ks_emit_resource_version(struct ks_render *r, const json_t *obj);
/* Emits the integer at path (dotted, e.g. "status.replicas") if present;
 * with def_if_absent, emits def when absent. */
void ks_emit_int_at(struct ks_render *r, const json_t *obj, const char *path);
void ks_emit_int_or(struct ks_render *r, const json_t *obj, const char *path, double def);

/* Go strconv.FormatFloat(v, 'g', -1, 64) into dst (EXPO_DOUBLE_MAX bytes). */
size_t ks_fmt_value(char *dst, double v);

/* --- JSON helpers (render.c) --- */

/* Follows a dotted path of object keys; NULL if any step is missing. */
const json_t *ks_json_path(const json_t *obj, const char *path);
/* String at path, or "" (never NULL). */
const char *ks_str(const json_t *obj, const char *path);
/* Integer (or integral real) at path into *out; false if absent. */
bool ks_int(const json_t *obj, const char *path, double *out);
bool ks_bool(const json_t *obj, const char *path);
/* RFC 3339 timestamp -> unix seconds; false on parse error. */
bool ks_parse_time(const char *s, double *out);
/* Lower-cased condition status ("True" -> "true"). */
const char *ks_cond_status(const char *s);

/* --- quantities (quantity.c) --- */

/* A parsed Kubernetes resource.Quantity. */
struct ks_quantity {
	bool neg;
	__int128 mant;  /* digits without the decimal point */
	int exp10;      /* decimal exponent applied to mant */
	int exp2;       /* binary exponent (Ki=10 ... Ei=60) */
};

/* Parses apimachinery's quantity syntax: sign, digits with one optional
 * '.', then a binary (Ki..Ei), decimal SI (n u m k M G T P E) or exponent
 * (e3, E-2) suffix. Returns 0 or KM_EPARSE. */
int ks_quantity_parse(const char *s, struct ks_quantity *q);
/* Quantity.ScaledValue(scale): value / 10^scale rounded up (away from
 * zero), saturating at INT64 limits. Value() is scale 0, MilliValue() -3. */
int64_t ks_quantity_scaled(const struct ks_quantity *q, int scale);
/* Convenience on a JSON value (string, or number as some fixtures carry):
 * Value() / MilliValue()/1000 as double (the latter Value() when the milli
 * form overflows, as KSM's convertValueToFloat64); false if unparsable. */
bool ks_quantity_value(const json_t *v, double *out);
bool ks_quantity_milli(const json_t *v, double *out);
/* Quantity.AsApproximateFloat64(): the nearest double, no rounding up. */
bool ks_quantity_approx(const json_t *v, double *out);
/* The same for a family renderer: a value that is present but does not
 * parse is counted in r->drops->bad_quantity (the API server never serves
 * one; KSM could not decode the object at all), so the caller leaves its
 * series out and the rest of the object is rendered. */
bool ks_render_milli(struct ks_render *r, const json_t *v, double *out);
bool ks_render_value(struct ks_render *r, const json_t *v, double *out);
bool ks_render_approx(struct ks_render *r, const json_t *v, double *out);

/* --- label names (labels.c) --- */

/* KSM SanitizeLabelName: every rune outside [a-zA-Z0-9_] becomes "_". */
int ks_sanitize(struct buf *b, const char *s);
/* KSM label-name: prefix "_" snake_case(sanitize(key)). */
int ks_label_name(struct buf *b, const char *prefix, const char *key);
/* Resource name classes used by the requests/limits/capacity families. */
bool ks_res_is_extended(const char *name);

#endif
