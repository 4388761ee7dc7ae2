/* kube_endpoint_* (KSM internal/store/endpoint.go, core/v1 Endpoints).
 * Reads subsets[].{addresses[].ip,notReadyAddresses[].ip,ports[].{name,
 * protocol,port}}. Port numbers are printed as decimal integers. */
#include "collect/kubestate/ks_common.h"

#include <stdio.h>

static void info(struct ks_render *r, const json_t *o)
{
	(void)o;
	ks_emit(r, 1, NULL);
}

static void port_number(const json_t *port, char *dst, size_t n)
{
	snprintf(dst, n, "%lld", (long long)json_integer_value(json_object_get(port, "port")));
}

/* One series per (port, address): ready addresses first, then not-ready
 * ones, per port, as KSM loops. */
static void address(struct ks_render *r, const json_t *o)
{
	size_t i, j, k;
	json_t *s, *p, *a;

	json_array_foreach(json_object_get(o, "subsets"), i, s) {
		json_array_foreach(json_object_get(s, "ports"), j, p) {
			char num[24];
			port_number(p, num, sizeof(num));
			json_array_foreach(json_object_get(s, "addresses"), k, a)
				ks_emit(r, 1, "port_protocol", ks_str(p, "protocol"), "port_number",
					num, "port_name", ks_str(p, "name"), "ip", ks_str(a, "ip"),
					"ready", "true", NULL);
			json_array_foreach(json_object_get(s, "notReadyAddresses"), k, a)
				ks_emit(r, 1, "port_protocol", ks_str(p, "protocol"), "port_number",
					num, "port_name", ks_str(p, "name"), "ip", ks_str(a, "ip"),
					"ready", "false", NULL);
		}
	}
}

static void ports(struct ks_render *r, const json_t *o)
{
	size_t i, j;
	json_t *s, *p;

	json_array_foreach(json_object_get(o, "subsets"), i, s) {
		json_array_foreach(json_object_get(s, "ports"), j, p) {
			char num[24];
			port_number(p, num, sizeof(num));
			ks_emit(r, 1, "port_name", ks_str(p, "name"), "port_protocol",
				ks_str(p, "protocol"), "port_number", num, NULL);
		}
	}
}

const struct ks_family ks_endpoint_families[] = {
	{ "kube_endpoint_info", "[STABLE] Information about endpoint.", G, info },
	{ "kube_endpoint_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_endpoint_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_endpoint_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_endpoint_address",
	  "[STABLE] Information about Endpoint available and non available addresses.", G,
	  address },
	{ "kube_endpoint_ports",
	  "[STABLE] (Deprecated since v2.14.0) Information about the Endpoint ports.", G, ports },
};
const size_t ks_endpoint_nfamilies = KS_NFAM(ks_endpoint_families);
