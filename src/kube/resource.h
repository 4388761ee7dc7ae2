/* Where the API server serves a resource: the part of a reflector's options
 * that tables of kinds (src/collect/kubestate/kinds.c) fill in without
 * depending on the reflector. */
#ifndef K8SMON_KUBE_RESOURCE_H
#define K8SMON_KUBE_RESOURCE_H

#include <stdbool.h>

struct kube_resource {
	const char *group;    /* "" or NULL for the core group */
	const char *version;  /* "v1", "v1alpha1" */
	const char *resource; /* plural: "pods", "k8smonitors" */
	bool namespaced;
};

#endif
