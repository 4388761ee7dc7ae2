/* The API server, scraped by the kube-state leader only (one emitter per
 * cluster): every endpoint of the default/kubernetes Service, as
 * kube-prometheus's "kube-apiserver" ServiceMonitor (jobLabel component
 * -> job="apiserver", port https). */
#include <stdio.h>
#include <string.h>

#include "collect/components/comp_int.h"

int comp_apiserver_targets(const struct comp_jobs *j, const struct comp_env *env, struct comp_out *out)
{
	int rc = 0;

	if (!env->leader)
		return 0;
	for (size_t i = 0; !rc && i < env->napiservers; i++) {
		const char *ep = env->apiservers[i], *colon = strrchr(ep, ':');
		const char *extra[] = { "instance", ep, NULL };
		char host[256];
		int port = 0;
		size_t hl;

		if (!colon || sscanf(colon + 1, "%d", &port) != 1 || port <= 0 || port > 65535)
			continue;
		hl = (size_t)(colon - ep);
		if (hl >= 2 && ep[0] == '[' && ep[hl - 1] == ']') {
			ep++;
			hl -= 2;
		}
		if (!hl || hl >= sizeof(host))
			continue;
		memcpy(host, ep, hl);
		host[hl] = '\0';
		rc = comp_add(out, j, COMP_APISERVER, 0, "https", host, port, extra);
	}
	return rc;
}
