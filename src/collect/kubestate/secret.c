/* kube_secret_* (KSM internal/store/secret.go). Reads metadata and type;
 * the secret's data is never looked at or copied. */
#include "collect/kubestate/ks_common.h"

static void info(struct ks_render *r, const json_t *o)
{
	(void)o;
	ks_emit(r, 1, NULL);
}

static void type(struct ks_render *r, const json_t *o)
{
	ks_emit(r, 1, "type", ks_str(o, "type"), NULL);
}

static void owner(struct ks_render *r, const json_t *o)
{
	ks_emit_owners(r, o, true);
}

const struct ks_family ks_secret_families[] = {
	{ "kube_secret_info", "[STABLE] Information about secret.", G, info },
	{ "kube_secret_type", "[STABLE] Type about secret.", G, type },
	{ "kube_secret_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_secret_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_secret_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_secret_metadata_resource_version",
	  "Resource version representing a specific version of secret.", G,
	  ks_emit_resource_version },
	{ "kube_secret_owner", "Information about the Secret's owner.", G, owner },
};
const size_t ks_secret_nfamilies = KS_NFAM(ks_secret_families);
