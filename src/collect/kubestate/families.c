/* The render table: default labels and family tables per kind (names and
 * API locations: kinds.c). */
#include "collect/kubestate/ks_internal.h"

#define KIND(e, lbl, u, tab) \
	[e] = { lbl, KS_NS_AUTO, u, NULL, NULL, ks_##tab##_families, &ks_##tab##_nfamilies }
#define KIND2(e, lbl, xl, xp, tab) \
	[e] = { lbl, KS_NS_AUTO, false, xl, xp, ks_##tab##_families, &ks_##tab##_nfamilies }
#define KIND_NS(e, lbl, ns, tab) \
	[e] = { lbl, ns, false, NULL, NULL, ks_##tab##_families, &ks_##tab##_nfamilies }

const struct ks_kind_def ks_kinds[KS_KIND_COUNT] = {
	KIND2(KS_CSR, "certificatesigningrequest", "signer_name", "spec.signerName", csr),
	KIND(KS_CONFIGMAP, "configmap", false, configmap),
	KIND(KS_CRONJOB, "cronjob", false, cronjob),
	KIND(KS_DAEMONSET, "daemonset", false, daemonset),
	KIND(KS_DEPLOYMENT, "deployment", false, deployment),
	KIND(KS_ENDPOINT, "endpoint", false, endpoint),
	KIND_NS(KS_ENDPOINTSLICE, "endpointslice", KS_NS_AFTER, endpointslice),
	KIND(KS_HPA, "horizontalpodautoscaler", false, hpa),
	KIND(KS_INGRESS, "ingress", false, ingress),
	KIND(KS_JOB, "job_name", false, job),
	KIND_NS(KS_LEASE, "lease", KS_NS_NONE, lease),
	KIND(KS_LIMITRANGE, "limitrange", false, limitrange),
	KIND_NS(KS_MUTATINGADMISSIONPOLICY, "mutatingadmissionpolicy", KS_NS_FIRST,
		mutatingadmissionpolicy),
	KIND_NS(KS_MUTATINGADMISSIONPOLICYBINDING, "mutatingadmissionpolicybinding", KS_NS_FIRST,
		mutatingadmissionpolicybinding),
	KIND_NS(KS_MUTATINGWEBHOOKCONFIGURATION, "mutatingwebhookconfiguration", KS_NS_FIRST,
		mutatingwebhookconfiguration),
	KIND(KS_NAMESPACE, "namespace", false, namespace),
	KIND(KS_NETWORKPOLICY, "networkpolicy", false, networkpolicy),
	KIND(KS_NODE, "node", false, node),
	KIND(KS_PVC, "persistentvolumeclaim", false, pvc),
	KIND(KS_PV, "persistentvolume", false, pv),
	KIND(KS_PDB, "poddisruptionbudget", false, pdb),
	KIND(KS_POD, "pod", true, pod),
	KIND(KS_REPLICASET, "replicaset", false, replicaset),
	KIND(KS_REPLICATIONCONTROLLER, "replicationcontroller", false, replicationcontroller),
	KIND(KS_RESOURCEQUOTA, "resourcequota", false, resourcequota),
	KIND(KS_SECRET, "secret", false, secret),
	KIND(KS_SERVICE, "service", true, service),
	KIND(KS_STATEFULSET, "statefulset", false, statefulset),
	KIND(KS_STORAGECLASS, "storageclass", false, storageclass),
	KIND_NS(KS_VALIDATINGADMISSIONPOLICY, "validatingadmissionpolicy", KS_NS_FIRST,
		validatingadmissionpolicy),
	KIND_NS(KS_VALIDATINGADMISSIONPOLICYBINDING, "validatingadmissionpolicybinding",
		KS_NS_FIRST, validatingadmissionpolicybinding),
	KIND_NS(KS_VALIDATINGWEBHOOKCONFIGURATION, "validatingwebhookconfiguration", KS_NS_FIRST,
		validatingwebhookconfiguration),
	KIND_NS(KS_VOLUMEATTACHMENT, "volumeattachment", KS_NS_AUTO, volumeattachment),
};
