/* kube_service_* (KSM internal/store/service.go); default labels
 * namespace,service,uid. Reads spec.{clusterIP,externalName,loadBalancerIP,
 * externalTrafficPolicy,type,externalIPs}, status.loadBalancer.ingress. */
#include "collect/kubestate/ks_common.h"

static void info(struct ks_render *r, const json_t *o)
{
	ks_emit(r, 1, "cluster_ip", ks_str(o, "spec.clusterIP"), "external_name",
		ks_str(o, "spec.externalName"), "load_balancer_ip", ks_str(o, "spec.loadBalancerIP"),
		"external_traffic_policy", ks_str(o, "spec.externalTrafficPolicy"), NULL);
}

static void spec_type(struct ks_render *r, const json_t *o)
{
	ks_emit(r, 1, "type", ks_str(o, "spec.type"), NULL);
}

static void external_ip(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *ip;

	json_array_foreach(ks_json_path(o, "spec.externalIPs"), i, ip)
		ks_emit(r, 1, "external_ip", json_string_value(ip), NULL);
}

static void lb_ingress(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *in;

	json_array_foreach(ks_json_path(o, "status.loadBalancer.ingress"), i, in)
		ks_emit(r, 1, "ip", ks_str(in, "ip"), "hostname", ks_str(in, "hostname"), NULL);
}

const struct ks_family ks_service_families[] = {
	{ "kube_service_info", "[STABLE] Information about service.", G, info },
	{ "kube_service_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_service_spec_type", "[STABLE] Type about service.", G, spec_type },
	{ "kube_service_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_service_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_service_spec_external_ip", "[STABLE] Service external ips. One series for each ip",
	  G, external_ip },
	{ "kube_service_status_load_balancer_ingress",
	  "[STABLE] Service load balancer ingress status", G, lb_ingress },
	{ "kube_service_deletion_timestamp", KS_HELP_DELETION, G, ks_emit_deletion },
};
const size_t ks_service_nfamilies = KS_NFAM(ks_service_families);
