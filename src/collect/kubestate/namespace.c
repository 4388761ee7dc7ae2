/* kube_namespace_* (KSM internal/store/namespace.go). Reads status.{phase,
 * conditions}; the default label namespace is metadata.name. */
#include "collect/kubestate/ks_common.h"

#include <string.h>

static void phase(struct ks_render *r, const json_t *o)
{
	const char *ph = ks_str(o, "status.phase");

	ks_emit(r, strcmp(ph, "Active") == 0, "phase", "Active", NULL);
	ks_emit(r, strcmp(ph, "Terminating") == 0, "phase", "Terminating", NULL);
}

static void condition(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *c;

	json_array_foreach(ks_json_path(o, "status.conditions"), i, c)
		ks_emit_condition(r, ks_str(c, "status"), "condition", ks_str(c, "type"), NULL,
				  NULL, "status");
}

const struct ks_family ks_namespace_families[] = {
	{ "kube_namespace_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_namespace_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_namespace_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_namespace_status_phase", "[STABLE] kubernetes namespace status phase.", G, phase },
	{ "kube_namespace_status_condition", "The condition of a namespace.", G, condition },
};
const size_t ks_namespace_nfamilies = KS_NFAM(ks_namespace_families);
