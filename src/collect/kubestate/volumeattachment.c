/* kube_volumeattachment_* (KSM internal/store/volumeattachment.go). Reads
 * metadata.labels (every one: KSM applies no allowlist to this kind),
 * spec.{attacher, nodeName, source.persistentVolumeName} and
 * status.{attached, attachmentMetadata}. */
#include "collect/kubestate/ks_common.h"

static void labels(struct ks_render *r, const json_t *o)
{
	ks_emit_map_all(r, o, "metadata.labels", "label");
}

static void info(struct ks_render *r, const json_t *o)
{
	ks_emit(r, 1, "attacher", ks_str(o, "spec.attacher"), "node", ks_str(o, "spec.nodeName"),
		NULL);
}

static void source_pv(struct ks_render *r, const json_t *o)
{
	const json_t *pv = ks_json_path(o, "spec.source.persistentVolumeName");

	if (json_is_string(pv))
		ks_emit(r, 1, "volumename", json_string_value(pv), NULL);
}

/* status.attached is a plain bool: false when absent. */
static void attached(struct ks_render *r, const json_t *o)
{
	ks_emit(r, ks_bool(o, "status.attached") ? 1 : 0, NULL);
}

static void attachment_metadata(struct ks_render *r, const json_t *o)
{
	ks_emit_map_all(r, o, "status.attachmentMetadata", "metadata");
}

const struct ks_family ks_volumeattachment_families[] = {
	{ "kube_volumeattachment_labels", KS_HELP_LABELS_ALPHA, G, labels },
	{ "kube_volumeattachment_info", "Information about volumeattachment.", G, info },
	{ "kube_volumeattachment_created", KS_HELP_CREATED_ALPHA, G, ks_emit_created },
	{ "kube_volumeattachment_spec_source_persistentvolume", "PersistentVolume source reference.",
	  G, source_pv },
	{ "kube_volumeattachment_status_attached", "Information about volumeattachment.", G,
	  attached },
	{ "kube_volumeattachment_status_attachment_metadata", "volumeattachment metadata.", G,
	  attachment_metadata },
};
const size_t ks_volumeattachment_nfamilies = KS_NFAM(ks_volumeattachment_families);
