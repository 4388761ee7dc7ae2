/* The kind table: one row per name spec.kubeState.resources accepts (the
 * CRD enum is tested against it: test_kubestate_kinds, crdcheck.py; the
 * RBAC check reads the API columns: rbaccheck.py). */
#include "collect/kubestate/kinds.h"

#include <string.h>

#include "base/err.h"

#define KIND(e, nm, k, go, grp, ver, fam) \
	[e] = { nm, k, go, { grp, ver, nm, true }, fam }
#define CLUSTER_KIND(e, nm, k, go, grp, ver) \
	[e] = { nm, k, go, { grp, ver, nm, false }, true }

const struct ks_kind_info ks_kind_table[KS_KIND_NAMES] = {
	CLUSTER_KIND(KS_CSR, "certificatesigningrequests", "CertificateSigningRequest",
		     "*v1.CertificateSigningRequest", "certificates.k8s.io", "v1"),
	KIND(KS_CONFIGMAP, "configmaps", "ConfigMap", "*v1.ConfigMap", "", "v1", true),
	KIND(KS_CRONJOB, "cronjobs", "CronJob", "*v1.CronJob", "batch", "v1", true),
	KIND(KS_DAEMONSET, "daemonsets", "DaemonSet", "*v1.DaemonSet", "apps", "v1", true),
	KIND(KS_DEPLOYMENT, "deployments", "Deployment", "*v1.Deployment", "apps", "v1", true),
	KIND(KS_ENDPOINT, "endpoints", "Endpoints", "*v1.Endpoints", "", "v1", true),
	KIND(KS_ENDPOINTSLICE, "endpointslices", "EndpointSlice", "*v1.EndpointSlice",
	     "discovery.k8s.io", "v1", true),
	KIND(KS_HPA, "horizontalpodautoscalers", "HorizontalPodAutoscaler",
	     "*v2.HorizontalPodAutoscaler", "autoscaling", "v2", true),
	KIND(KS_INGRESS, "ingresses", "Ingress", "*v1.Ingress", "networking.k8s.io", "v1", true),
	KIND(KS_JOB, "jobs", "Job", "*v1.Job", "batch", "v1", true),
	KIND(KS_LEASE, "leases", "Lease", "*v1.Lease", "coordination.k8s.io", "v1", true),
	KIND(KS_LIMITRANGE, "limitranges", "LimitRange", "*v1.LimitRange", "", "v1", true),
	CLUSTER_KIND(KS_MUTATINGADMISSIONPOLICY, "mutatingadmissionpolicies",
		     "MutatingAdmissionPolicy", "*v1.MutatingAdmissionPolicy",
		     "admissionregistration.k8s.io", "v1"),
	CLUSTER_KIND(KS_MUTATINGADMISSIONPOLICYBINDING, "mutatingadmissionpolicybindings",
		     "MutatingAdmissionPolicyBinding", "*v1.MutatingAdmissionPolicyBinding",
		     "admissionregistration.k8s.io", "v1"),
	CLUSTER_KIND(KS_MUTATINGWEBHOOKCONFIGURATION, "mutatingwebhookconfigurations",
		     "MutatingWebhookConfiguration", "*v1.MutatingWebhookConfiguration",
		     "admissionregistration.k8s.io", "v1"),
	CLUSTER_KIND(KS_NAMESPACE, "namespaces", "Namespace", "*v1.Namespace", "", "v1"),
	KIND(KS_NETWORKPOLICY, "networkpolicies", "NetworkPolicy", "*v1.NetworkPolicy",
	     "networking.k8s.io", "v1", true),
	CLUSTER_KIND(KS_NODE, "nodes", "Node", "*v1.Node", "", "v1"),
	KIND(KS_PVC, "persistentvolumeclaims", "PersistentVolumeClaim",
	     "*v1.PersistentVolumeClaim", "", "v1", true),
	CLUSTER_KIND(KS_PV, "persistentvolumes", "PersistentVolume", "*v1.PersistentVolume", "",
		     "v1"),
	KIND(KS_PDB, "poddisruptionbudgets", "PodDisruptionBudget", "*v1.PodDisruptionBudget",
	     "policy", "v1", true),
	KIND(KS_POD, "pods", "Pod", "*v1.Pod", "", "v1", true),
	KIND(KS_REPLICASET, "replicasets", "ReplicaSet", "*v1.ReplicaSet", "apps", "v1", true),
	KIND(KS_REPLICATIONCONTROLLER, "replicationcontrollers", "ReplicationController",
	     "*v1.ReplicationController", "", "v1", true),
	KIND(KS_RESOURCEQUOTA, "resourcequotas", "ResourceQuota", "*v1.ResourceQuota", "", "v1",
	     true),
	KIND(KS_SECRET, "secrets", "Secret", "*v1.Secret", "", "v1", true),
	KIND(KS_SERVICE, "services", "Service", "*v1.Service", "", "v1", true),
	KIND(KS_STATEFULSET, "statefulsets", "StatefulSet", "*v1.StatefulSet", "apps", "v1",
	     true),
	CLUSTER_KIND(KS_STORAGECLASS, "storageclasses", "StorageClass", "*v1.StorageClass",
		     "storage.k8s.io", "v1"),
	CLUSTER_KIND(KS_VALIDATINGADMISSIONPOLICY, "validatingadmissionpolicies",
		     "ValidatingAdmissionPolicy", "*v1.ValidatingAdmissionPolicy",
		     "admissionregistration.k8s.io", "v1"),
	CLUSTER_KIND(KS_VALIDATINGADMISSIONPOLICYBINDING, "validatingadmissionpolicybindings",
		     "ValidatingAdmissionPolicyBinding", "*v1.ValidatingAdmissionPolicyBinding",
		     "admissionregistration.k8s.io", "v1"),
	CLUSTER_KIND(KS_VALIDATINGWEBHOOKCONFIGURATION, "validatingwebhookconfigurations",
		     "ValidatingWebhookConfiguration", "*v1.ValidatingWebhookConfiguration",
		     "admissionregistration.k8s.io", "v1"),
	CLUSTER_KIND(KS_VOLUMEATTACHMENT, "volumeattachments", "VolumeAttachment",
		     "*v1.VolumeAttachment", "storage.k8s.io", "v1"),
};

const struct ks_kind_info *ks_kind_by_name(const char *name)
{
	for (size_t i = 0; i < KS_KIND_NAMES; i++)
		if (strcmp(ks_kind_table[i].name, name) == 0)
			return &ks_kind_table[i];
	return NULL;
}

const struct kube_resource *ks_kind_api(enum ks_kind kind)
{
	return kind < KS_KIND_COUNT ? &ks_kind_table[kind].api : NULL;
}

const char *ks_kind_resource(enum ks_kind kind)
{
	return kind < KS_KIND_COUNT ? ks_kind_table[kind].name : "";
}

const char *ks_kind_name(enum ks_kind kind)
{
	return kind < KS_KIND_COUNT ? ks_kind_table[kind].kind : "";
}

const char *ks_kind_go_type(enum ks_kind kind)
{
	return kind < KS_KIND_COUNT ? ks_kind_table[kind].go_type : "";
}

bool ks_kind_namespaced(enum ks_kind kind)
{
	return kind < KS_KIND_COUNT && ks_kind_table[kind].api.namespaced;
}

int ks_kind_parse(const char *s, enum ks_kind *out)
{
	for (int k = 0; k < KS_KIND_COUNT; k++) {
		const struct ks_kind_info *d = &ks_kind_table[k];
		size_t n = strlen(d->name);
		/* singular = plural minus the trailing "s" */
		if (strcmp(s, d->name) == 0 || strcmp(s, d->kind) == 0 ||
		    (strlen(s) == n - 1 && strncmp(s, d->name, n - 1) == 0)) {
			*out = (enum ks_kind)k;
			return 0;
		}
	}
	/* Singulars the "minus s" rule above does not produce. */
	if (strcmp(s, "ingress") == 0) {
		*out = KS_INGRESS;
		return 0;
	}
	if (strcmp(s, "networkpolicy") == 0) {
		*out = KS_NETWORKPOLICY;
		return 0;
	}
	if (strcmp(s, "storageclass") == 0) {
		*out = KS_STORAGECLASS;
		return 0;
	}
	if (strcmp(s, "mutatingadmissionpolicy") == 0) {
		*out = KS_MUTATINGADMISSIONPOLICY;
		return 0;
	}
	if (strcmp(s, "validatingadmissionpolicy") == 0) {
		*out = KS_VALIDATINGADMISSIONPOLICY;
		return 0;
	}
	if (strcmp(s, "csr") == 0) {
		*out = KS_CSR;
		return 0;
	}
	if (strcmp(s, "hpa") == 0 || strcmp(s, "pdb") == 0 || strcmp(s, "pv") == 0 ||
	    strcmp(s, "pvc") == 0) {
		*out = s[0] == 'h' ? KS_HPA : s[1] == 'd' ? KS_PDB : s[2] ? KS_PVC : KS_PV;
		return 0;
	}
	return KM_ENOENT;
}

ks_kind_set ks_kind_mask(char *const *names, size_t n)
{
	ks_kind_set mask = 0;

	if (!n)
		return KS_KINDS_ALL;
	for (size_t i = 0; i < n; i++) {
		enum ks_kind kind;
		if (ks_kind_parse(names[i], &kind) == 0)
			mask |= KS_KIND_BIT(kind);
	}
	return mask;
}
