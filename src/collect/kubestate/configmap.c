/* kube_configmap_* (KSM internal/store/configmap.go). Reads only metadata:
 * the data is never looked at (a configmap's size does not matter here). */
#include "collect/kubestate/ks_common.h"

static void info(struct ks_render *r, const json_t *o)
{
	(void)o;
	ks_emit(r, 1, NULL);
}

const struct ks_family ks_configmap_families[] = {
	{ "kube_configmap_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_configmap_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_configmap_info", "[STABLE] Information about configmap.", G, info },
	{ "kube_configmap_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_configmap_metadata_resource_version",
	  "Resource version representing a specific version of the configmap.", G,
	  ks_emit_resource_version },
};
const size_t ks_configmap_nfamilies = KS_NFAM(ks_configmap_families);
