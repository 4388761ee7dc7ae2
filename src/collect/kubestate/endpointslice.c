/* kube_endpointslice_* (KSM internal/store/endpointslice.go). Reads
 * addressType, endpoints[].{addresses, conditions, hostname, targetRef,
 * nodeName, zone, hints.forZones} and ports[].{name, protocol, port}.
 * Default labels: endpointslice, then namespace (families.c). */
#include "collect/kubestate/ks_common.h"

#include <stdio.h>

static void info(struct ks_render *r, const json_t *o)
{
	ks_emit(r, 1, "addresstype", ks_str(o, "addressType"), NULL);
}

/* One series per zone hint, on the endpoint's first address; endpoints
 * without addresses or hints give none. */
static void hints(struct ks_render *r, const json_t *o)
{
	size_t i, j;
	json_t *ep, *zone;

	json_array_foreach(ks_json_path(o, "endpoints"), i, ep) {
		const json_t *addrs = json_object_get(ep, "addresses");
		const char *first;

		if (json_array_size(addrs) == 0)
			continue;
		first = json_string_value(json_array_get(addrs, 0));
		json_array_foreach(ks_json_path(ep, "hints.forZones"), j, zone)
			ks_emit(r, 1, "address", first ? first : "", "for_zone", ks_str(zone, "name"),
				NULL);
	}
}

/* A pointer-to-bool condition: "" when unset. */
static const char *cond(const json_t *ep, const char *name)
{
	const json_t *v = json_object_get(json_object_get(ep, "conditions"), name);

	return json_is_boolean(v) ? (json_is_true(v) ? "true" : "false") : "";
}

/* One series per address of each endpoint. */
static void endpoints(struct ks_render *r, const json_t *o)
{
	static const char *const keys[] = { "ready",          "serving",
					    "hostname",       "terminating",
					    "targetref_kind", "targetref_name",
					    "targetref_namespace", "endpoint_nodename",
					    "endpoint_zone",  "address" };
	size_t i, j;
	json_t *ep, *addr;

	json_array_foreach(ks_json_path(o, "endpoints"), i, ep) {
		const char *vals[10] = {
			cond(ep, "ready"),
			cond(ep, "serving"),
			ks_str(ep, "hostname"),
			cond(ep, "terminating"),
			ks_str(ep, "targetRef.kind"),
			ks_str(ep, "targetRef.name"),
			ks_str(ep, "targetRef.namespace"),
			ks_str(ep, "nodeName"),
			ks_str(ep, "zone"),
			"",
		};

		json_array_foreach(json_object_get(ep, "addresses"), j, addr) {
			vals[9] = json_is_string(addr) ? json_string_value(addr) : "";
			ks_emitv(r, 1, keys, vals, 10);
		}
	}
}

/* One series per port; an unset name, protocol or port is "". */
static void ports(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *p;

	json_array_foreach(ks_json_path(o, "ports"), i, p) {
		char num[24] = "";
		double n;

		if (ks_int(p, "port", &n))
			snprintf(num, sizeof(num), "%lld", (long long)n);
		ks_emit(r, 1, "port_name", ks_str(p, "name"), "port_protocol", ks_str(p, "protocol"),
			"port_number", num, NULL);
	}
}

const struct ks_family ks_endpointslice_families[] = {
	{ "kube_endpointslice_info", "Information about endpointslice.", G, info },
	{ "kube_endpointslice_created", KS_HELP_CREATED_ALPHA, G, ks_emit_created },
	{ "kube_endpointslice_endpoints_hints", "Topology routing hints attached to endpoints", G,
	  hints },
	{ "kube_endpointslice_endpoints", "Endpoints attached to the endpointslice.", G, endpoints },
	{ "kube_endpointslice_ports", "Ports attached to the endpointslice.", G, ports },
	{ "kube_endpointslice_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_endpointslice_labels", KS_HELP_LABELS_ALPHA, G, ks_emit_labels },
};
const size_t ks_endpointslice_nfamilies = KS_NFAM(ks_endpointslice_families);
