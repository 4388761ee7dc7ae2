/* kube_persistentvolumeclaim_* (KSM internal/store/persistentvolumeclaim.go).
 * Reads metadata.annotations[volume.beta.kubernetes.io/storage-class],
 * spec.{storageClassName,volumeName,volumeMode,accessModes,
 * resources.requests.storage}, status.{phase,conditions}. */
#include "collect/kubestate/ks_common.h"

#include <string.h>

static void info(struct ks_render *r, const json_t *o)
{
	const json_t *beta = json_object_get(ks_json_path(o, "metadata.annotations"),
					     "volume.beta.kubernetes.io/storage-class");
	const char *sc = json_is_string(beta) ? json_string_value(beta)
					      : ks_str(o, "spec.storageClassName");

	ks_emit(r, 1, "storageclass", sc, "volumename", ks_str(o, "spec.volumeName"), "volumemode",
		ks_str(o, "spec.volumeMode"), NULL);
}

static void phase(struct ks_render *r, const json_t *o)
{
	static const char *const phases[] = { "Lost", "Bound", "Pending" };
	const char *ph = ks_str(o, "status.phase");

	if (!*ph)
		return;
	for (size_t i = 0; i < KS_NFAM(phases); i++)
		ks_emit(r, strcmp(ph, phases[i]) == 0, "phase", phases[i], NULL);
}

static void storage(struct ks_render *r, const json_t *o)
{
	double v;

	if (ks_render_value(r, ks_json_path(o, "spec.resources.requests.storage"), &v))
		ks_emit(r, v, NULL);
}

static void access_mode(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *m;

	json_array_foreach(ks_json_path(o, "spec.accessModes"), i, m)
		ks_emit(r, 1, "access_mode", json_string_value(m), NULL);
}

static void condition(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *c;

	json_array_foreach(ks_json_path(o, "status.conditions"), i, c)
		ks_emit_condition(r, ks_str(c, "status"), "condition", ks_str(c, "type"), NULL,
				  NULL, "status");
}

const struct ks_family ks_pvc_families[] = {
	{ "kube_persistentvolumeclaim_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_persistentvolumeclaim_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_persistentvolumeclaim_info", "[STABLE] Information about persistent volume claim.",
	  G, info },
	{ "kube_persistentvolumeclaim_status_phase",
	  "[STABLE] The phase the persistent volume claim is currently in.", G, phase },
	{ "kube_persistentvolumeclaim_resource_requests_storage_bytes",
	  "[STABLE] The capacity of storage requested by the persistent volume claim.", G,
	  storage },
	{ "kube_persistentvolumeclaim_access_mode",
	  "[STABLE] The access mode(s) specified by the persistent volume claim.", G, access_mode },
	{ "kube_persistentvolumeclaim_status_condition",
	  "Information about status of different conditions of persistent volume claim.", G,
	  condition },
	{ "kube_persistentvolumeclaim_created", KS_HELP_CREATED_ALPHA, G, ks_emit_created },
	{ "kube_persistentvolumeclaim_deletion_timestamp", KS_HELP_DELETION, G, ks_emit_deletion },
};
const size_t ks_pvc_nfamilies = KS_NFAM(ks_pvc_families);
