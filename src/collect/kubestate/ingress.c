/* kube_ingress_* (KSM internal/store/ingress.go, networking.k8s.io/v1).
 * Reads metadata.annotations["kubernetes.io/ingress.class"],
 * spec.{ingressClassName,rules[].{host,http.paths[]},tls[].{hosts,secretName}}. */
#include "collect/kubestate/ks_common.h"

#include <stdio.h>

/* The legacy annotation wins over spec.ingressClassName when present, even
 * when empty; neither gives "_default". */
static void info(struct ks_render *r, const json_t *o)
{
	const json_t *ann = json_object_get(ks_json_path(o, "metadata.annotations"),
					    "kubernetes.io/ingress.class");
	const char *cls = json_string_value(ks_json_path(o, "spec.ingressClassName"));

	if (json_is_string(ann))
		cls = json_string_value(ann);
	ks_emit(r, 1, "ingressclass", cls ? cls : "_default", NULL);
}

static void path(struct ks_render *r, const json_t *o)
{
	size_t i, j;
	json_t *rule, *p;

	json_array_foreach(ks_json_path(o, "spec.rules"), i, rule) {
		json_array_foreach(ks_json_path(rule, "http.paths"), j, p) {
			const json_t *svc = ks_json_path(p, "backend.service");
			if (json_is_object(svc)) {
				char port[24];
				snprintf(port, sizeof(port), "%lld",
					 (long long)json_integer_value(ks_json_path(svc, "port.number")));
				ks_emit(r, 1, "host", ks_str(rule, "host"), "path", ks_str(p, "path"),
					"path_type", ks_str(p, "pathType"), "service_name",
					ks_str(svc, "name"), "service_port", port, NULL);
			} else {
				ks_emit(r, 1, "host", ks_str(rule, "host"), "path", ks_str(p, "path"),
					"path_type", ks_str(p, "pathType"), "resource_api_group",
					ks_str(p, "backend.resource.apiGroup"), "resource_kind",
					ks_str(p, "backend.resource.kind"), "resource_name",
					ks_str(p, "backend.resource.name"), NULL);
			}
		}
	}
}

static void tls(struct ks_render *r, const json_t *o)
{
	size_t i, j;
	json_t *t, *h;

	json_array_foreach(ks_json_path(o, "spec.tls"), i, t) {
		json_array_foreach(json_object_get(t, "hosts"), j, h)
			ks_emit(r, 1, "tls_host", json_string_value(h), "secret",
				ks_str(t, "secretName"), NULL);
	}
}

const struct ks_family ks_ingress_families[] = {
	{ "kube_ingress_info", "[STABLE] Information about ingress.", G, info },
	{ "kube_ingress_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_ingress_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_ingress_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_ingress_metadata_resource_version",
	  "Resource version representing a specific version of ingress.", G,
	  ks_emit_resource_version },
	{ "kube_ingress_path", "[STABLE] Ingress host, paths and backend service information.", G,
	  path },
	{ "kube_ingress_tls", "[STABLE] Ingress TLS host and secret information.", G, tls },
};
const size_t ks_ingress_nfamilies = KS_NFAM(ks_ingress_families);
