/* kube_storageclass_* (KSM internal/store/storageclass.go). Reads
 * provisioner, reclaimPolicy and volumeBindingMode (top-level fields of a
 * StorageClass), with the API defaults KSM fills in when unset. */
#include "collect/kubestate/ks_common.h"

static void info(struct ks_render *r, const json_t *o)
{
	const char *reclaim = ks_str(o, "reclaimPolicy");
	const char *binding = ks_str(o, "volumeBindingMode");

	ks_emit(r, 1, "provisioner", ks_str(o, "provisioner"), "reclaim_policy",
		*reclaim ? reclaim : "Delete", "volume_binding_mode",
		*binding ? binding : "Immediate", NULL);
}

const struct ks_family ks_storageclass_families[] = {
	{ "kube_storageclass_info", "[STABLE] Information about storageclass.", G, info },
	{ "kube_storageclass_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_storageclass_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_storageclass_labels", KS_HELP_LABELS, G, ks_emit_labels },
};
const size_t ks_storageclass_nfamilies = KS_NFAM(ks_storageclass_families);
