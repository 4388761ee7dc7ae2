/* The kind table: KSM resource names, default labels and family tables. */
#include "collect/kubestate/ks_internal.h"

#include <string.h>

#include "base/err.h"

#define KIND(e, res, k, go, lbl, nsd, u, tab) \
	[e] = { res, k, go, lbl, nsd, u, ks_##tab##_families, &ks_##tab##_nfamilies }

const struct ks_kind_def ks_kinds[KS_KIND_COUNT] = {
	KIND(KS_CONFIGMAP, "configmaps", "ConfigMap", "*v1.ConfigMap", "configmap", true, false,
	     configmap),
	KIND(KS_CRONJOB, "cronjobs", "CronJob", "*v1.CronJob", "cronjob", true, false, cronjob),
	KIND(KS_DAEMONSET, "daemonsets", "DaemonSet", "*v1.DaemonSet", "daemonset", true, false,
	     daemonset),
	KIND(KS_DEPLOYMENT, "deployments", "Deployment", "*v1.Deployment", "deployment", true,
	     false, deployment),
	KIND(KS_ENDPOINT, "endpoints", "Endpoints", "*v1.Endpoints", "endpoint", true, false,
	     endpoint),
	KIND(KS_HPA, "horizontalpodautoscalers", "HorizontalPodAutoscaler",
	     "*v2.HorizontalPodAutoscaler", "horizontalpodautoscaler", true, false, hpa),
	KIND(KS_INGRESS, "ingresses", "Ingress", "*v1.Ingress", "ingress", true, false, ingress),
	KIND(KS_JOB, "jobs", "Job", "*v1.Job", "job_name", true, false, job),
	KIND(KS_NAMESPACE, "namespaces", "Namespace", "*v1.Namespace", "namespace", false, false,
	     namespace),
	KIND(KS_NETWORKPOLICY, "networkpolicies", "NetworkPolicy", "*v1.NetworkPolicy",
	     "networkpolicy", true, false, networkpolicy),
	KIND(KS_NODE, "nodes", "Node", "*v1.Node", "node", false, false, node),
	KIND(KS_PVC, "persistentvolumeclaims", "PersistentVolumeClaim",
	     "*v1.PersistentVolumeClaim", "persistentvolumeclaim", true, false, pvc),
	KIND(KS_PV, "persistentvolumes", "PersistentVolume", "*v1.PersistentVolume",
	     "persistentvolume", false, false, pv),
	KIND(KS_PDB, "poddisruptionbudgets", "PodDisruptionBudget", "*v1.PodDisruptionBudget",
	     "poddisruptionbudget", true, false, pdb),
	KIND(KS_POD, "pods", "Pod", "*v1.Pod", "pod", true, true, pod),
	KIND(KS_REPLICASET, "replicasets", "ReplicaSet", "*v1.ReplicaSet", "replicaset", true,
	     false, replicaset),
	KIND(KS_RESOURCEQUOTA, "resourcequotas", "ResourceQuota", "*v1.ResourceQuota",
	     "resourcequota", true, false, resourcequota),
	KIND(KS_SECRET, "secrets", "Secret", "*v1.Secret", "secret", true, false, secret),
	KIND(KS_SERVICE, "services", "Service", "*v1.Service", "service", true, true, service),
	KIND(KS_STATEFULSET, "statefulsets", "StatefulSet", "*v1.StatefulSet", "statefulset", true,
	     false, statefulset),
};
