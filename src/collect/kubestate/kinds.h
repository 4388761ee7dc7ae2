/* The kube-state kinds: one table (kinds.c) of every name K8sMonitor
 * spec.kubeState.resources accepts (the enum in crds/k8smonitors.k8smon.io.yaml;
 * tests/unit/test_kubestate_kinds.c keeps the two equal), with where the API
 * serves it, KSM's names for it, and whether k8smon renders families for it.
 * Everything here is static, immutable data; every string is static. */
#ifndef K8SMON_COLLECT_KUBESTATE_KINDS_H
#define K8SMON_COLLECT_KUBESTATE_KINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/resource.h"

/* Kinds with families, in KSM's scrape order (alphabetical by resource
 * plural name); bit i of a kind mask is kind i. */
enum ks_kind {
	KS_CSR,
	KS_CONFIGMAP,
	KS_CRONJOB,
	KS_DAEMONSET,
	KS_DEPLOYMENT,
	KS_ENDPOINT,
	KS_ENDPOINTSLICE,
	KS_HPA,
	KS_INGRESS,
	KS_JOB,
	KS_LEASE,
	KS_LIMITRANGE,
	KS_MUTATINGADMISSIONPOLICY,
	KS_MUTATINGADMISSIONPOLICYBINDING,
	KS_MUTATINGWEBHOOKCONFIGURATION,
	KS_NAMESPACE,
	KS_NETWORKPOLICY,
	KS_NODE,
	KS_PVC,
	KS_PV,
	KS_PDB,
	KS_POD,
	KS_REPLICASET,
	KS_REPLICATIONCONTROLLER,
	KS_RESOURCEQUOTA,
	KS_SECRET,
	KS_SERVICE,
	KS_STATEFULSET,
	KS_STORAGECLASS,
	KS_VALIDATINGADMISSIONPOLICY,
	KS_VALIDATINGADMISSIONPOLICYBINDING,
	KS_VALIDATINGWEBHOOKCONFIGURATION,
	KS_VOLUMEATTACHMENT,
	KS_KIND_COUNT
};

/* A set of kinds: bit i is kind i. 64 bits: there are more than 32 kinds. */
typedef uint64_t ks_kind_set;
#define KS_KIND_BIT(k) ((ks_kind_set)1 << (k))
#define KS_KINDS_ALL (KS_KIND_BIT(KS_KIND_COUNT) - 1)
_Static_assert(KS_KIND_COUNT < 64, "ks_kind_set holds every kind");

struct ks_kind_info {
	const char *name;         /* in spec.kubeState.resources (KSM --resources): "pods" */
	const char *kind;         /* Kubernetes kind: "Pod" */
	const char *go_type;      /* KSM's self-metrics resource label: "*v1.Pod" */
	struct kube_resource api; /* where it is listed and watched */
	bool families;            /* false: accepted (KSM names it), renders nothing yet */
};

/* Entries [0, KS_KIND_COUNT) are the kinds in enum order; after them would
 * come names accepted without families (none today: every resource of KSM's
 * default list has its families). */
#define KS_KIND_NAMES KS_KIND_COUNT
extern const struct ks_kind_info ks_kind_table[KS_KIND_NAMES];

/* The entry named name (exact spec.kubeState.resources spelling), or NULL. */
const struct ks_kind_info *ks_kind_by_name(const char *name);
/* Where kind is served; NULL when kind is out of range. */
const struct kube_resource *ks_kind_api(enum ks_kind kind);

/* KSM resource name ("pods", "horizontalpodautoscalers", ...); static. */
const char *ks_kind_resource(enum ks_kind kind);
/* Kubernetes kind ("Pod", "HorizontalPodAutoscaler", ...); static. */
const char *ks_kind_name(enum ks_kind kind);
/* The Go type KSM's self-metrics use as resource label ("*v1.Pod"); static. */
const char *ks_kind_go_type(enum ks_kind kind);
/* Looks up a kind with families by resource plural ("pods"), singular
 * ("pod") or Kind ("Pod"); returns 0 or KM_ENOENT (also for a name without
 * families). */
int ks_kind_parse(const char *s, enum ks_kind *out);
bool ks_kind_namespaced(enum ks_kind kind);
/* The kinds a spec.kubeState.resources list selects, as KS_KIND_BIT(kind)
 * bits: every kind for an empty list; names without families add nothing. */
ks_kind_set ks_kind_mask(char *const *names, size_t n);

#endif
