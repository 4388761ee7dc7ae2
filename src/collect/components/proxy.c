/* kube-proxy of this node, as kube-prometheus's "kube-proxy" PodMonitor
 * (kubeProxy: true): job from the pod's k8s-app label, instance = the
 * node name, honorLabels. Its metrics listen on 127.0.0.1:10249 by
 * default (metricsBindAddress), plain HTTP. Scraped only where a
 * kube-proxy pod (kube-system, k8s-app=kube-proxy) runs on this node --
 * clusters with a kube-proxy replacement have none, and a target there
 * would be down forever -- or where its address is given explicitly. */
#include "collect/components/comp_int.h"

int comp_proxy_targets(const struct comp_jobs *j, const struct comp_env *env, struct comp_out *out)
{
	const struct comp_job *cj = &j->job[COMP_PROXY];
	const char *pod = comp_find_pod(env, "kube-system", "k8s-app", "kube-proxy");
	const char *extra[] = { "instance", env->node_name, "pod", pod, "container", "kube-proxy", NULL };

	if (!pod && !cj->explicit_address)
		return 0;
	return comp_add(out, j, COMP_PROXY, 0, "http", cj->address, cj->port, extra);
}
