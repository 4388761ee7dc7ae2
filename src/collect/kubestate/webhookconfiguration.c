/* kube_mutatingwebhookconfiguration_* and kube_validatingwebhookconfiguration_*
 * (KSM internal/store/{mutating,validating}webhookconfiguration.go): the two
 * kinds have the same families, so they share this file. Reads
 * metadata.resourceVersion and webhooks[].{name, clientConfig.service}.
 * Default labels: namespace (always "": the kinds are cluster-scoped), then
 * the name (families.c: KS_NS_FIRST). */
#include "collect/kubestate/ks_common.h"

static void info(struct ks_render *r, const json_t *o)
{
	(void)o;
	ks_emit(r, 1, NULL);
}

/* One series per webhook; a URL webhook (no service) has "" service labels. */
static void clientconfig_service(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *w;

	json_array_foreach(ks_json_path(o, "webhooks"), i, w)
		ks_emit(r, 1, "webhook_name", ks_str(w, "name"), "service_name",
			ks_str(w, "clientConfig.service.name"), "service_namespace",
			ks_str(w, "clientConfig.service.namespace"), NULL);
}

#define CREATED_HELP "Unix creation timestamp."

const struct ks_family ks_mutatingwebhookconfiguration_families[] = {
	{ "kube_mutatingwebhookconfiguration_info",
	  "Information about the MutatingWebhookConfiguration.", G, info },
	{ "kube_mutatingwebhookconfiguration_created", CREATED_HELP, G, ks_emit_created },
	{ "kube_mutatingwebhookconfiguration_metadata_resource_version",
	  "Resource version representing a specific version of the MutatingWebhookConfiguration.",
	  G, ks_emit_resource_version },
	{ "kube_mutatingwebhookconfiguration_webhook_clientconfig_service",
	  "Service used by the apiserver to connect to a mutating webhook.", G,
	  clientconfig_service },
};
const size_t ks_mutatingwebhookconfiguration_nfamilies =
	KS_NFAM(ks_mutatingwebhookconfiguration_families);

const struct ks_family ks_validatingwebhookconfiguration_families[] = {
	{ "kube_validatingwebhookconfiguration_info",
	  "Information about the ValidatingWebhookConfiguration.", G, info },
	{ "kube_validatingwebhookconfiguration_created", CREATED_HELP, G, ks_emit_created },
	{ "kube_validatingwebhookconfiguration_metadata_resource_version",
	  "Resource version representing a specific version of the ValidatingWebhookConfiguration.",
	  G, ks_emit_resource_version },
	{ "kube_validatingwebhookconfiguration_webhook_clientconfig_service",
	  "Service used by the apiserver to connect to a validating webhook.", G,
	  clientconfig_service },
};
const size_t ks_validatingwebhookconfiguration_nfamilies =
	KS_NFAM(ks_validatingwebhookconfiguration_families);
