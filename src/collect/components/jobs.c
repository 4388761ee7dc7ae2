/* The job table and what every component shares: names, rule compilation
 * (limits, honorLabels, drop lists, authentication) and target building. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "collect/components/comp_int.h"
#include "kube/event.h"
#include "scrape/discovery.h"
#include "scrape/tlabels.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount/"

/* Labels as kube-prometheus's monitors produce them (docs/components.md
 * has the sources): jobLabel values, the namespaces of the Services or
 * pods, service names (for the scheduler and controller-manager those of
 * kube-prometheus's kubeadm platform, the only place that creates them),
 * and port names. */
const struct comp_desc comp_descs[COMP_COUNT] = {
	[COMP_KUBELET] = { "kubelet", "kubelet", "kube-system", "kubelet", "https-metrics",
			   { "/metrics", "/metrics/cadvisor", "/metrics/probes", "/metrics/resource" } },
	[COMP_APISERVER] = { "apiserver", "apiserver", "default", "kubernetes", "https", { "/metrics" } },
	[COMP_SCHEDULER] = { "kube-scheduler", "kube-scheduler", "kube-system",
			     "kube-scheduler-prometheus-discovery", "https-metrics", { "/metrics" } },
	[COMP_CONTROLLER_MANAGER] = { "kube-controller-manager", "kube-controller-manager", "kube-system",
				      "kube-controller-manager-prometheus-discovery", "https-metrics",
				      { "/metrics" } },
	[COMP_PROXY] = { "kube-proxy", "kube-proxy", "kube-system", NULL, NULL, { "/metrics" } },
	[COMP_COREDNS] = { "coredns", "kube-dns", "kube-system", "kube-dns", "metrics", { "/metrics" } },
	[COMP_ETCD] = { "etcd", "etcd", "kube-system", "etcd", "metrics", { "/metrics" } },
};

static const char *const rule_prefix[COMP_COUNT] = {
	[COMP_KUBELET] = "kubelet/",
	[COMP_APISERVER] = "apiserver/",
	[COMP_SCHEDULER] = "kube-scheduler/",
	[COMP_CONTROLLER_MANAGER] = "kube-controller-manager/",
	[COMP_PROXY] = "kube-proxy/",
	[COMP_COREDNS] = "coredns/",
	[COMP_ETCD] = "etcd/",
};

const char *comp_name(enum comp_id id)
{
	return id < COMP_COUNT ? comp_descs[id].name : "?";
}

const char *comp_rule_prefix(enum comp_id id)
{
	return id < COMP_COUNT ? rule_prefix[id] : "?";
}

int comp_parse(const char *name, size_t len, enum comp_id *out)
{
	for (int i = 0; i < COMP_COUNT; i++) {
		if (strlen(comp_descs[i].name) == len && strncmp(name, comp_descs[i].name, len) == 0) {
			*out = (enum comp_id)i;
			return 0;
		}
	}
	return KM_EINVAL;
}

int comp_parse_list(const char *s, unsigned *out, char *err, size_t errlen)
{
	unsigned bits = 0;

	while (*s) {
		size_t n = strcspn(s, ",");
		const char *q = s;
		size_t m = n;
		enum comp_id id;

		while (m && *q == ' ')
			q++, m--;
		while (m && q[m - 1] == ' ')
			m--;
		if (m && comp_parse(q, m, &id)) {
			snprintf(err, errlen, "unknown component \"%.*s\" (known: kubelet, apiserver, kube-scheduler, "
				 "kube-controller-manager, kube-proxy, coredns, etcd)", (int)(m > 64 ? 64 : m), q);
			return KM_EINVAL;
		}
		if (m)
			bits |= COMP_BIT(id);
		s += n;
		if (*s == ',')
			s++;
	}
	*out = bits;
	return 0;
}

/* ---- compiling the jobs ----------------------------------------------------- */

static char *dup_or(const char *s, const char *dflt)
{
	return strdup(s && s[0] ? s : dflt);
}

/* The authentication of a component's scrapes: HTTPS ones send the
 * service-account token (never over plain HTTP) and verify the server
 * against the cluster CA unless told not to; etcd uses a client
 * certificate and its own CA instead. */
static int set_auth(struct scrape_rule *r, enum comp_id id, const struct comp_opts *o)
{
	struct scrape_auth *a = &r->auth;

	switch (id) {
	case COMP_PROXY:
	case COMP_COREDNS:
		return 0;
	case COMP_ETCD:
		a->cert_file = dup_or(o->etcd_cert_file, "");
		a->key_file = dup_or(o->etcd_key_file, "");
		a->ca_file = dup_or(o->etcd_ca_file, SA_DIR "ca.crt");
		return a->cert_file && a->key_file && a->ca_file ? 0 : KM_ENOMEM;
	default:
		break;
	}
	a->bearer_token_file = dup_or(o->token_file, SA_DIR "token");
	a->insecure_skip_verify = (id == COMP_KUBELET && o->kubelet_insecure) ||
				  (id == COMP_SCHEDULER && o->scheduler_insecure) ||
				  (id == COMP_CONTROLLER_MANAGER && o->controller_manager_insecure);
	if (!a->insecure_skip_verify)
		a->ca_file = dup_or(o->ca_file, SA_DIR "ca.crt");
	return a->bearer_token_file && (a->insecure_skip_verify || a->ca_file) ? 0 : KM_ENOMEM;
}

static struct scrape_rule *compile_rule(enum comp_id id, const char *path, const struct comp_opts *o, char *err,
					size_t errlen)
{
	const struct comp_desc *d = &comp_descs[id];
	const char *drops = o->drop_lists ? comp_drop_list(id, path) : NULL;
	char name[128];
	json_t *obj, *mr = NULL;
	json_error_t jerr;
	struct scrape_rule *r = NULL;

	snprintf(name, sizeof(name), "%s%s", d->name, path);
	if (drops && !(mr = json_loads(drops, 0, &jerr))) {
		snprintf(err, errlen, "components.%s: built-in drop list: %s", d->name, jerr.text);
		return NULL;
	}
	/* kube-prometheus sets honorLabels on the kubelet (its cAdvisor and
	 * probe series carry their own namespace/pod) and on kube-proxy. */
	obj = json_pack_ex(&jerr, 0, "{s:{s:s,s:s},s:{s:s,s:b,s:o*}}", "metadata", "namespace", d->namespace, "name", name, "spec",
			"role", "pod", "honorLabels", id == COMP_KUBELET || id == COMP_PROXY, "metricRelabelings",
			mr);
	if (!obj) {
		snprintf(err, errlen, "components.%s: %s", d->name, jerr.text);
		return NULL;
	}
	r = scrape_rule_compile(obj, err, errlen);
	json_decref(obj);
	if (r && set_auth(r, id, o)) {
		scrape_rule_unref(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return r;
}

static int compile_job(struct comp_jobs *j, enum comp_id id, const struct comp_opts *o, char *err, size_t errlen)
{
	static const int ports[COMP_COUNT] = { 10250, 6443, 10259, 10257, 10249, 9153, 2379 };
	const int opt_port[COMP_COUNT] = { o->kubelet_port, 0, o->scheduler_port, o->controller_manager_port,
					   o->proxy_port, o->coredns_port, o->etcd_port };
	const char *addr[COMP_COUNT] = { o->kubelet_address, NULL, o->control_plane_address,
					 o->control_plane_address, o->proxy_address, NULL, o->control_plane_address };
	struct comp_job *cj = &j->job[id];

	cj->port = opt_port[id] > 0 ? opt_port[id] : ports[id];
	if (cj->port > 65535) {
		snprintf(err, errlen, "components.%s.port: %d is not a port", comp_name(id), cj->port);
		return KM_EINVAL;
	}
	/* Control-plane components and kube-proxy listen on loopback by
	 * default (kubeadm); the agent runs in the host network. */
	const char *host = NULL;

	cj->explicit_address = addr[id] && addr[id][0];
	if (cj->explicit_address)
		host = addr[id];
	else if (id == COMP_SCHEDULER || id == COMP_CONTROLLER_MANAGER || id == COMP_ETCD || id == COMP_PROXY)
		host = "127.0.0.1";
	if (host && !(cj->address = strdup(host))) {
		snprintf(err, errlen, "out of memory");
		return KM_ENOMEM;
	}
	for (size_t p = 0; p < COMP_PATHS_MAX && comp_descs[id].paths[p]; p++) {
		if (id == COMP_KUBELET && p == 1 && !o->kubelet_cadvisor)
			continue; /* k8smon's own /metrics/cadvisor is the default */
		cj->rule[p] = compile_rule(id, comp_descs[id].paths[p], o, err, errlen);
		if (!cj->rule[p])
			return KM_EINVAL;
	}
	return 0;
}

struct comp_jobs *comp_jobs_new(const struct comp_opts *o, char *err, size_t errlen)
{
	struct comp_jobs *j = calloc(1, sizeof(*j));

	if (!j) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	atomic_store(&j->refs, 1);
	j->enabled = o->enabled & COMP_ALL;
	j->interval_ms = o->interval_ms > 0 ? o->interval_ms : 15000;
	if (j->enabled & COMP_BIT(COMP_ETCD) && (!o->etcd_cert_file || !o->etcd_cert_file[0] ||
						 !o->etcd_key_file || !o->etcd_key_file[0])) {
		/* etcd answers nothing without a client certificate: not
		 * attempted rather than down forever (docs/components.md). */
		j->enabled &= ~COMP_BIT(COMP_ETCD);
	}
	for (int id = 0; id < COMP_COUNT; id++) {
		if ((j->enabled & COMP_BIT(id)) && compile_job(j, (enum comp_id)id, o, err, errlen)) {
			comp_jobs_unref(j);
			return NULL;
		}
	}
	return j;
}

struct comp_jobs *comp_jobs_ref(struct comp_jobs *j)
{
	if (j)
		atomic_fetch_add(&j->refs, 1);
	return j;
}

void comp_jobs_unref(struct comp_jobs *j)
{
	if (!j || atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	for (int id = 0; id < COMP_COUNT; id++) {
		for (size_t p = 0; p < COMP_PATHS_MAX; p++)
			scrape_rule_unref(j->job[id].rule[p]);
		free(j->job[id].address);
	}
	free(j);
}

unsigned comp_jobs_enabled(const struct comp_jobs *j)
{
	return j ? j->enabled : 0;
}

/* ---- targets ------------------------------------------------------------------ */

int comp_add(struct comp_out *out, const struct comp_jobs *j, enum comp_id id, size_t p, const char *scheme,
	     const char *host, int port, const char *const *extra)
{
	const struct comp_desc *d = &comp_descs[id];
	struct scrape_rule *r = j->job[id].rule[p];
	struct disc_target *t;
	char url[600], hp[300];
	int rc = 0;

	if (!r)
		return 0;
	if (out->n == out->cap) {
		size_t nc = out->cap ? out->cap * 2 : 16;
		struct scrape_static *nv = realloc(out->v, nc * sizeof(*nv));
		if (!nv)
			return KM_ENOMEM;
		out->v = nv;
		out->cap = nc;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return KM_ENOMEM;
	tl_init(&t->discovered);
	tl_init(&t->labels);
	comp_hostport(hp, sizeof(hp), host, port);
	snprintf(url, sizeof(url), "%s://%s%s", scheme, hp, d->paths[p]);
	t->url = strdup(url);
	t->interval_ms = j->interval_ms;
	t->timeout_ms = scrape_rule_timeout(r, j->interval_ms);
	rc = t->url ? 0 : KM_ENOMEM;
	if (!rc)
		rc = tl_set(&t->labels, "job", d->job);
	if (!rc)
		rc = tl_set(&t->labels, "namespace", d->namespace);
	if (!rc && d->service)
		rc = tl_set(&t->labels, "service", d->service);
	if (!rc && d->endpoint)
		rc = tl_set(&t->labels, "endpoint", d->endpoint);
	for (size_t i = 0; !rc && extra && extra[i]; i += 2) {
		if (extra[i + 1] && extra[i + 1][0])
			rc = tl_set(&t->labels, extra[i], extra[i + 1]);
	}
	if (rc) {
		disc_target_free(t);
		return rc;
	}
	tl_sort(&t->labels);
	out->v[out->n++] = (struct scrape_static){ scrape_rule_ref(r), t };
	return 0;
}

void comp_hostport(char *dst, size_t n, const char *host, int port)
{
	bool v6 = strchr(host, ':') != NULL;

	snprintf(dst, n, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* Pods come as the store's object (key -> pod) or as an array. */
int comp_each_pod(const struct comp_env *env, const char *ns, const char *key, const char *value,
		  int (*fn)(const json_t *pod, void *arg), void *arg)
{
	const json_t *pods = env->pods;
	size_t n = json_is_array(pods) ? json_array_size(pods) : 0;
	void *it = json_is_object(pods) ? json_object_iter((json_t *)pods) : NULL;

	for (size_t i = 0; i < n || it;) {
		const json_t *pod;
		const char *v, *pns, *phase;
		int rc;

		if (it) {
			pod = json_object_iter_value(it);
			it = json_object_iter_next((json_t *)pods, it);
		} else {
			pod = json_array_get(pods, i++);
		}
		pns = kube_obj_namespace(pod);
		v = json_string_value(json_object_get(json_object_get(json_object_get(pod, "metadata"), "labels"), key));
		phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
		if (!pns || strcmp(pns, ns) != 0 || !v || strcmp(v, value) != 0 || !phase ||
		    strcmp(phase, "Running") != 0)
			continue;
		if ((rc = fn(pod, arg)))
			return rc;
	}
	return 0;
}

static int first_pod(const json_t *pod, void *arg)
{
	*(const char **)arg = kube_obj_name(pod);
	return 1;
}

const char *comp_find_pod(const struct comp_env *env, const char *ns, const char *key, const char *value)
{
	const char *name = NULL;

	comp_each_pod(env, ns, key, value, first_pod, &name);
	return name;
}

int comp_jobs_targets(const struct comp_jobs *j, const struct comp_env *env, struct scrape_static **out, size_t *n)
{
	struct comp_out o = { 0 };
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!j)
		return 0;
	if (j->enabled & COMP_BIT(COMP_KUBELET))
		rc = comp_kubelet_targets(j, env, &o);
	if (!rc && (j->enabled & COMP_BIT(COMP_APISERVER)))
		rc = comp_apiserver_targets(j, env, &o);
	if (!rc && (j->enabled & COMP_BIT(COMP_SCHEDULER)))
		rc = comp_control_plane_targets(j, COMP_SCHEDULER, env, &o);
	if (!rc && (j->enabled & COMP_BIT(COMP_CONTROLLER_MANAGER)))
		rc = comp_control_plane_targets(j, COMP_CONTROLLER_MANAGER, env, &o);
	if (!rc && (j->enabled & COMP_BIT(COMP_ETCD)))
		rc = comp_control_plane_targets(j, COMP_ETCD, env, &o);
	if (!rc && (j->enabled & COMP_BIT(COMP_PROXY)))
		rc = comp_proxy_targets(j, env, &o);
	if (!rc && (j->enabled & COMP_BIT(COMP_COREDNS)))
		rc = comp_coredns_targets(j, env, &o);
	if (rc) {
		scrape_static_free(o.v, o.n);
		return rc;
	}
	*out = o.v;
	*n = o.n;
	return 0;
}

void comp_node_facts(const json_t *node, char *ip, size_t iplen, bool *control_plane)
{
	const json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels");
	const json_t *addrs = json_object_get(json_object_get(node, "status"), "addresses");
	size_t i;
	const json_t *a;

	ip[0] = '\0';
	*control_plane = json_object_get(labels, "node-role.kubernetes.io/control-plane") ||
			 json_object_get(labels, "node-role.kubernetes.io/master");
	json_array_foreach(addrs, i, a) {
		const char *type = json_string_value(json_object_get(a, "type"));
		const char *v = json_string_value(json_object_get(a, "address"));
		if (type && v && strcmp(type, "InternalIP") == 0) {
			snprintf(ip, iplen, "%s", v);
			return;
		}
	}
}
