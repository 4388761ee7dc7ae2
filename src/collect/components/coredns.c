/* The CoreDNS pods on this node (kube-system, k8s-app=kube-dns), each on
 * http://<podIP>:9153/metrics, as kube-prometheus's "coredns"
 * ServiceMonitor scrapes the kube-dns Service's "metrics" port. Its
 * jobLabel app.kubernetes.io/name is absent from the kube-dns Service
 * kubeadm creates, so Prometheus Operator falls back to the Service
 * name: job="kube-dns" (docs/components.md). */
#include "collect/components/comp_int.h"

struct dns_ctx {
	const struct comp_jobs *j;
	struct comp_out *out;
};

static int add_pod(const json_t *pod, void *arg)
{
	struct dns_ctx *c = arg;
	const struct comp_job *cj = &c->j->job[COMP_COREDNS];
	const char *ip = json_string_value(json_object_get(json_object_get(pod, "status"), "podIP"));
	const char *extra[] = { "instance", NULL, "pod", json_string_value(json_object_get(json_object_get(pod, "metadata"), "name")),
				"container", "coredns", NULL };
	char inst[300];

	if (!ip || !ip[0])
		return 0;
	comp_hostport(inst, sizeof(inst), ip, cj->port);
	extra[1] = inst;
	return comp_add(c->out, c->j, COMP_COREDNS, 0, "http", ip, cj->port, extra);
}

int comp_coredns_targets(const struct comp_jobs *j, const struct comp_env *env, struct comp_out *out)
{
	struct dns_ctx c = { j, out };

	return comp_each_pod(env, "kube-system", "k8s-app", "kube-dns", add_pod, &c);
}
