/* kube_persistentvolume_* (KSM internal/store/persistentvolume.go), without
 * the per-volume-source info/claim_ref/csi families. Reads
 * spec.{capacity.storage,volumeMode,accessModes}, status.phase. */
#include "collect/kubestate/ks_common.h"

#include <string.h>

static void phase(struct ks_render *r, const json_t *o)
{
	static const char *const phases[] = { "Pending", "Available", "Bound", "Released",
					      "Failed" };
	const char *ph = ks_str(o, "status.phase");

	if (!*ph)
		return;
	for (size_t i = 0; i < KS_NFAM(phases); i++)
		ks_emit(r, strcmp(ph, phases[i]) == 0, "phase", phases[i], NULL);
}

/* A missing capacity is a zero Quantity in KSM: the series is still 0. */
static void capacity(struct ks_render *r, const json_t *o)
{
	double v = 0;

	ks_quantity_value(ks_json_path(o, "spec.capacity.storage"), &v);
	ks_emit(r, v, NULL);
}

static void volume_mode(struct ks_render *r, const json_t *o)
{
	const char *m = json_string_value(ks_json_path(o, "spec.volumeMode"));

	ks_emit(r, 1, "volumemode", m ? m : "Filesystem", NULL);
}

static void access_mode(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *m;

	json_array_foreach(ks_json_path(o, "spec.accessModes"), i, m)
		ks_emit(r, 1, "access_mode", json_string_value(m), NULL);
}

const struct ks_family ks_pv_families[] = {
	{ "kube_persistentvolume_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_persistentvolume_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_persistentvolume_status_phase",
	  "[STABLE] The phase indicates if a volume is available, bound to a claim, or released "
	  "by a claim.",
	  G, phase },
	{ "kube_persistentvolume_capacity_bytes", "[STABLE] Persistentvolume capacity in bytes.", G,
	  capacity },
	{ "kube_persistentvolume_created", KS_HELP_CREATED_ALPHA, G, ks_emit_created },
	{ "kube_persistentvolume_deletion_timestamp", KS_HELP_DELETION, G, ks_emit_deletion },
	{ "kube_persistentvolume_volume_mode", "Volume Mode information for the PersistentVolume.",
	  G, volume_mode },
	{ "kube_persistentvolume_access_mode",
	  "The access mode(s) specified by the persistent volume.", G, access_mode },
};
const size_t ks_pv_nfamilies = KS_NFAM(ks_pv_families);
