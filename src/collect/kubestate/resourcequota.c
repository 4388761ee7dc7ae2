/* kube_resourcequota* (KSM internal/store/resourcequota.go). Reads
 * status.{hard,used}: one series per entry, resource = the raw name (not
 * sanitised), value MilliValue()/1000. */
#include "collect/kubestate/ks_common.h"

static void entries(struct ks_render *r, const json_t *o, const char *path, const char *type)
{
	const char *name;
	json_t *q;
	double v;

	json_object_foreach((json_t *)ks_json_path(o, path), name, q) {
		if (ks_render_milli(r, q, &v))
			ks_emit(r, v, "resource", name, "type", type, NULL);
	}
}

static void quota(struct ks_render *r, const json_t *o)
{
	entries(r, o, "status.hard", "hard");
	entries(r, o, "status.used", "used");
}

const struct ks_family ks_resourcequota_families[] = {
	{ "kube_resourcequota_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_resourcequota", "[STABLE] Information about resource quota.", G, quota },
	{ "kube_resourcequota_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_resourcequota_labels", KS_HELP_LABELS, G, ks_emit_labels },
};
const size_t ks_resourcequota_nfamilies = KS_NFAM(ks_resourcequota_families);
