/* kube_node_* families (KSM internal/store/node.go). Reads metadata.labels
 * (node-role.kubernetes.io/<role>), spec.{unschedulable,taints,providerID,
 * podCIDR}, status.{nodeInfo,addresses,capacity,allocatable,conditions}. */
#include "collect/kubestate/ks_common.h"

#include <string.h>

#include "base/err.h"

static void info(struct ks_render *r, const json_t *n)
{
	const char *ip = "";
	size_t i;
	json_t *a;

	/* The last InternalIP wins, as in KSM. */
	json_array_foreach(ks_json_path(n, "status.addresses"), i, a) {
		if (strcmp(ks_str(a, "type"), "InternalIP") == 0)
			ip = ks_str(a, "address");
	}
	ks_emit(r, 1, "kernel_version", ks_str(n, "status.nodeInfo.kernelVersion"), "os_image",
		ks_str(n, "status.nodeInfo.osImage"), "container_runtime_version",
		ks_str(n, "status.nodeInfo.containerRuntimeVersion"), "kubelet_version",
		ks_str(n, "status.nodeInfo.kubeletVersion"), "kubeproxy_version", "deprecated",
		"provider_id", ks_str(n, "spec.providerID"), "pod_cidr", ks_str(n, "spec.podCIDR"),
		"system_uuid", ks_str(n, "status.nodeInfo.systemUUID"), "internal_ip", ip, NULL);
}

static void role(struct ks_render *r, const json_t *n)
{
	const char *k;
	json_t *v;
	const char pre[] = "node-role.kubernetes.io/";

	json_object_foreach((json_t *)ks_json_path(n, "metadata.labels"), k, v) {
		if (strncmp(k, pre, sizeof(pre) - 1) == 0 && k[sizeof(pre) - 1])
			ks_emit(r, 1, "role", k + sizeof(pre) - 1, NULL);
	}
}

static void taint(struct ks_render *r, const json_t *n)
{
	size_t i;
	json_t *t;

	json_array_foreach(ks_json_path(n, "spec.taints"), i, t)
		ks_emit(r, 1, "key", ks_str(t, "key"), "value", ks_str(t, "value"), "effect",
			ks_str(t, "effect"), NULL);
}

static void unschedulable(struct ks_render *r, const json_t *n)
{
	ks_emit(r, ks_bool(n, "spec.unschedulable"), NULL);
}

/* Every value is MilliValue()/1000 here (KSM convertValueToFloat64). */
static void resources(struct ks_render *r, const json_t *n, const char *path)
{
	const char *name;
	json_t *q;

	json_object_foreach((json_t *)ks_json_path(n, path), name, q) {
		const char *unit = NULL;
		struct buf san;
		double v;

		if (strcmp(name, "cpu") == 0)
			unit = "core";
		else if (strcmp(name, "memory") == 0 || strcmp(name, "storage") == 0 ||
			 strcmp(name, "ephemeral-storage") == 0 ||
			 strncmp(name, "hugepages-", 10) == 0 ||
			 strncmp(name, "attachable-volumes-", 19) == 0)
			unit = "byte";
		else if (strcmp(name, "pods") == 0 || ks_res_is_extended(name))
			unit = "integer";
		if (!unit || !ks_render_milli(r, q, &v))
			continue;
		buf_init(&san, 4096);
		if (ks_sanitize(&san, name) && !r->err)
			r->err = KM_ENOMEM;
		ks_emit(r, v, "resource", buf_cstr(&san), "unit", unit, NULL);
		buf_fini(&san);
	}
}

static void allocatable(struct ks_render *r, const json_t *n)
{
	resources(r, n, "status.allocatable");
}

static void capacity(struct ks_render *r, const json_t *n)
{
	resources(r, n, "status.capacity");
}

static void condition(struct ks_render *r, const json_t *n)
{
	size_t i;
	json_t *c;

	json_array_foreach(ks_json_path(n, "status.conditions"), i, c)
		ks_emit_condition(r, ks_str(c, "status"), "condition", ks_str(c, "type"), NULL,
				  NULL, "status");
}

static void pod_cidrs(struct ks_render *r, const json_t *n)
{
	size_t i;
	json_t *c;

	json_array_foreach(ks_json_path(n, "spec.podCIDRs"), i, c)
		ks_emit(r, 1, "pod_cidr", json_string_value(c), NULL);
}

/* Every status.addresses entry in API order (InternalIP, Hostname, ...). */
static void addresses(struct ks_render *r, const json_t *n)
{
	size_t i;
	json_t *a;

	json_array_foreach(ks_json_path(n, "status.addresses"), i, a)
		ks_emit(r, 1, "type", ks_str(a, "type"), "address", ks_str(a, "address"), NULL);
}

/* KSM generator order (node.go nodeMetricFamilies). */
const struct ks_family ks_node_families[] = {
	{ "kube_node_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_node_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_node_deletion_timestamp", KS_HELP_DELETION, G, ks_emit_deletion },
	{ "kube_node_info", "[STABLE] Information about a cluster node.", G, info },
	{ "kube_node_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_node_role", "The role of a cluster node.", G, role },
	{ "kube_node_spec_pod_cidrs", "The pod CIDRs of a cluster node.", G, pod_cidrs },
	{ "kube_node_spec_taint", "[STABLE] The taint of a cluster node.", G, taint },
	{ "kube_node_spec_unschedulable", "[STABLE] Whether a node can schedule new pods.", G,
	  unschedulable },
	{ "kube_node_status_allocatable",
	  "[STABLE] The allocatable for different resources of a node that are available for "
	  "scheduling.",
	  G, allocatable },
	{ "kube_node_status_capacity", "[STABLE] The capacity for different resources of a node.",
	  G, capacity },
	{ "kube_node_status_condition", "[STABLE] The condition of a cluster node.", G, condition },
	{ "kube_node_status_addresses", "Node address information.", G, addresses },
};
const size_t ks_node_nfamilies = sizeof(ks_node_families) / sizeof(ks_node_families[0]);
