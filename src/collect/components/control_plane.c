/* kube-scheduler, kube-controller-manager and etcd: static pods of
 * control-plane nodes, listening on loopback by default (kubeadm), so
 * only the agent on that node can reach them. Attempted where the node
 * is labelled node-role.kubernetes.io/control-plane (or master), or where
 * the component's static pod (kube-system, label component=<name>) runs
 * on the node. Labels as kube-prometheus's ServiceMonitors give them
 * through the kubeadm platform's Services: instance = the pod's address
 * (the node's, host network), pod = the static pod. */
#include "collect/components/comp_int.h"

int comp_control_plane_targets(const struct comp_jobs *j, enum comp_id id, const struct comp_env *env,
			       struct comp_out *out)
{
	const struct comp_job *cj = &j->job[id];
	const char *pod = comp_find_pod(env, "kube-system", "component", comp_descs[id].name);
	const char *ip = env->node_ip && env->node_ip[0] ? env->node_ip : cj->address;
	const char *extra[] = { "instance", NULL, "pod", pod, NULL };
	char inst[300];

	if (!env->control_plane && !pod)
		return 0;
	comp_hostport(inst, sizeof(inst), ip, cj->port);
	extra[1] = inst;
	return comp_add(out, j, id, 0, "https", cj->address, cj->port, extra);
}
