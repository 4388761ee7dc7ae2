/* The kubelet of this node: https://<InternalIP>:10250 on each of its
 * metrics paths, as kube-prometheus's "kubelet" ServiceMonitor scrapes
 * the endpoints of the kube-system/kubelet Service (one per node): the
 * node label from the endpoint's target Node, metrics_path from
 * __metrics_path__. */
#include "collect/components/comp_int.h"

int comp_kubelet_targets(const struct comp_jobs *j, const struct comp_env *env, struct comp_out *out)
{
	const struct comp_job *cj = &j->job[COMP_KUBELET];
	const char *host = cj->address ? cj->address : env->node_ip;
	const char *ip = env->node_ip && env->node_ip[0] ? env->node_ip : host;
	char inst[300];
	int rc = 0;

	/* No InternalIP yet (the node object not listed): no target rather
	 * than a guess; absent(up{job="kubelet"}) tells the rules. */
	if (!host || !host[0])
		return 0;
	comp_hostport(inst, sizeof(inst), ip, cj->port);
	for (size_t p = 0; !rc && p < COMP_PATHS_MAX && comp_descs[COMP_KUBELET].paths[p]; p++) {
		const char *extra[] = { "instance", inst, "node", env->node_name, "metrics_path",
					comp_descs[COMP_KUBELET].paths[p], NULL };
		rc = comp_add(out, j, COMP_KUBELET, p, "https", host, cj->port, extra);
	}
	return rc;
}
