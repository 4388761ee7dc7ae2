/* Wiring of the Kubernetes side: which informers feed which part, when the
 * configuration cycle is rebuilt, and who hears about a new one. The
 * rules themselves live where a newcomer looks for them: monitor choice
 * and verdicts in config/monitor.c, ScrapeRules in config/ruleset.c, the
 * cycle in config/cycle.c, shared watches in kube/informer.c, status
 * writes in kube/status_writer.c, the kube-state watches in
 * collect/kubestate/watch.c. */
#include "agent/kube.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "collect/components/components.h"
#include "collect/container/podmap.h"
#include "collect/kubestate/kubestate.h"
#include "collect/kubestate/crs.h"
#include "collect/kubestate/shard.h"
#include "collect/kubestate/watch.h"
#include "config/crstatus.h"
#include "config/cycle.h"
#include "expo/writer.h"
#include "kube/client.h"
#include "kube/conn.h"
#include "kube/event.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "kube/loop.h"
#include "kube/metrics.h"
#include "kube/status.h"
#include "kube/status_writer.h"
#include "scrape/discovery.h"
#include "scrape/scrape.h"

/* Delays that coalesce the changes behind one status sync; pod churn
 * recounts targets at most every few seconds. */
#define STATUS_DELAY_MS 300
#define STATUS_SLOW_DELAY_MS 5000

static const struct kube_resource monitor_res = { "k8smon.io", "v1alpha1", "k8smonitors", false };
static const struct kube_resource rule_res = { "k8smon.io", "v1alpha1", "scraperules", true };
static const struct kube_resource node_res = { "", "v1", "nodes", false };
static const struct kube_resource pod_res = { "", "v1", "pods", true };
static const struct kube_resource slice_res = { "discovery.k8s.io", "v1", "endpointslices", true };

/* Endpoints of the API server a leader lists (more are ignored). */
#define COMP_APISERVERS_MAX 16
/* Cap of a component's response: an API server's /metrics runs to tens
 * of MB on large clusters (applications keep SCRAPE_BODY_MAX_DEFAULT). */
#define COMP_BODY_MAX (64u << 20)

struct agent_kube {
	const struct flags *flags;
	const struct agent_kube_hooks *hooks;
	struct kube_conn conn;
	struct kube_loop *loop;
	struct kube_client *client;
	struct rwconf *rwc;             /* spec.remoteWrite (loop thread); NULL without hooks->rw_apply */
	struct kube_informers *informers;
	/* Subscriptions of the wiring (loop thread). */
	struct kube_sub *monitors;
	struct kube_sub *self_node;     /* metadata.name=<node> */
	struct kube_sub *node_pods;     /* spec.nodeName=<node> */
	struct kube_sub *scrape_rules;
	struct kube_sub *all_nodes;     /* leader: nodes for monitor status */
	struct scrape_mgr *scrape;
	/* Built-in component jobs (src/collect/components/): their own scrape
	 * manager, fed static targets whenever this node, its pods, the API
	 * server's endpoints or leadership change (loop thread). */
	struct scrape_mgr *comp;
	struct comp_jobs *comp_jobs;
	struct kube_sub *api_slices;    /* leader: EndpointSlices of default/kubernetes */
	bool comp_posted;
	struct podmap *podmap;
	struct kube_leader *leader_el;
	struct ks_store *ks;
	struct ks_watcher *ksw;
	struct status_writer *status;
	/* The cycle in effect (loop thread) and its published copy for other
	 * threads (under pub_lock). */
	struct cycle *cycle;
	pthread_mutex_t pub_lock;
	struct cycle *pub;
	bool rebuild_posted;            /* loop thread */
	bool no_node_logged;            /* loop thread: this node's Node is missing, said */
	atomic_bool leader;             /* set by the elector's callbacks */
	atomic_bool stopping;
	_Atomic uint64_t cycles;        /* cycles built */
	_Atomic uint64_t reloads[3];    /* cycles that changed config, rules, leadership */
	_Atomic uint64_t build_failures;
};

static void status_kick(struct agent_kube *k, int64_t delay_ms)
{
	if (k->status && atomic_load(&k->leader))
		status_writer_kick(k->status, delay_ms);
}

/* --- the configuration cycle ---------------------------------------------- */

static void rebuild(void *arg);
static void comp_kick(struct agent_kube *k);
static void comp_apply(struct agent_kube *k, const struct cycle *old, const struct cycle *c);

/* Any input changed: rebuild once at the top of the loop (never inside a
 * reflector callback, where subscribers may not start or stop watches). */
static void cycle_kick(struct agent_kube *k)
{
	if (k->rebuild_posted || atomic_load(&k->stopping))
		return;
	if (kube_loop_post(k->loop, rebuild, k) == 0)
		k->rebuild_posted = true;
	else
		log_warn("kube", "configuration change not applied: API loop stopping");
}

/* New reference to a synced subscription's store snapshot, else NULL. */
static json_t *snapshot_if_synced(struct kube_sub *s)
{
	return kube_sub_synced(s) ? kube_store_snapshot(kube_sub_store(s)) : NULL;
}

/* Each rejected generation of each object is logged once: a second bad
 * edit of the same object, or a bad edit of another, is a new line
 * however soon it comes (no global rate limit hides it); re-evaluating
 * the same generation logs nothing. */
static void log_rejections(const struct cycle *old, const struct cycle *c)
{
	const char *name;
	json_t *r;

	json_object_foreach(c->rejected, name, r) {
		json_int_t gen = json_integer_value(json_object_get(r, "generation"));
		const json_t *was = old ? json_object_get(old->rejected, name) : NULL;

		if (was && json_integer_value(json_object_get(was, "generation")) == gen)
			continue;
		log_error("config", "K8sMonitor %s generation %lld rejected: %s%s", name, (long long)gen,
			  json_string_value(json_object_get(r, "message")),
			  json_is_true(json_object_get(r, "kept")) ? "" : " (not applied)");
	}
	if (old && old->rules == c->rules)
		return;
	json_object_foreach(c->rules->invalid, name, r) {
		json_int_t gen = json_integer_value(json_object_get(r, "generation"));
		const json_t *was = old ? json_object_get(old->rules->invalid, name) : NULL;

		if (was && json_integer_value(json_object_get(was, "generation")) == gen &&
		    json_equal(json_object_get(was, "error"), json_object_get(r, "error")))
			continue;
		log_error("config", "ScrapeRule %s generation %lld rejected: %s (%s)", name, (long long)gen,
			  json_string_value(json_object_get(r, "error")),
			  json_is_true(json_object_get(r, "kept")) ? "its last accepted version stays in effect"
								   : "not applied");
	}
}

/* "+ns/a, -ns/b, ns/c 3->4": the rules that came, went or changed
 * generation in effect. */
static void rules_diff(const struct ruleset *a, const struct ruleset *b, char *out, size_t outlen)
{
	const char *key;
	json_t *g;
	size_t len = 0;
	int w;

	out[0] = '\0';
	json_object_foreach(b->good, key, g) {
		const json_t *was = json_object_get(a->good, key);
		json_int_t gen = json_integer_value(json_object_get(json_object_get(g, "metadata"), "generation"));
		json_int_t wgen = was ? json_integer_value(json_object_get(json_object_get(was, "metadata"), "generation")) : 0;

		if (was && wgen == gen && json_equal(json_object_get(was, "spec"), json_object_get(g, "spec")))
			continue;
		w = was ? snprintf(out + len, outlen - len, "%s%s %lld\u2192%lld", len ? ", " : "", key, (long long)wgen,
				   (long long)gen)
			: snprintf(out + len, outlen - len, "%s+%s", len ? ", " : "", key);
		if (w < 0 || (size_t)w >= outlen - len)
			return;
		len += (size_t)w;
	}
	json_object_foreach(a->good, key, g) {
		if (json_object_get(b->good, key))
			continue;
		w = snprintf(out + len, outlen - len, "%s-%s", len ? ", " : "", key);
		if (w < 0 || (size_t)w >= outlen - len)
			return;
		len += (size_t)w;
	}
}

/* One line per effective change, saying what changed. */
static void log_changes(const struct cycle *old, const struct cycle *c, unsigned ch)
{
	char what[512];

	if (ch & CYCLE_CONFIG) {
		config_diff(old ? old->cfg : NULL, c->cfg, what, sizeof(what));
		log_info("config", "configuration now from %s (%s); changed: %s", c->cfg->source,
			 c->monitor_id[0] ? c->monitor_id : "no K8sMonitor selects this node",
			 what[0] ? what : "nothing effective (same settings)");
	}
	if ((ch & CYCLE_RULES) && old) {
		rules_diff(old->rules, c->rules, what, sizeof(what));
		if (what[0])
			log_info("scrape", "ScrapeRules in effect: %zu; changed: %s", c->rules->n, what);
	}
}

/* Hands the scrape manager the settings of c, as one snapshot. */
static void scrape_apply(struct agent_kube *k, const struct cycle *c)
{
	const struct scrape_settings s = {
		.enabled = c->cfg->collectors & COLLECTOR_APP,
		.leader = c->leader,
		.interval_ms = c->cfg->interval_ms,
		.rules = c->rules->v,
		.nrules = c->rules->n,
		.policy = &c->cfg->scrape,
	};
	int rc = scrape_mgr_apply(k->scrape, &s);

	/* KM_EAGAIN: the loop is stopping, there is nothing left to apply to. */
	if (rc && rc != KM_EAGAIN)
		log_error("scrape", "cannot apply the scrape settings: %s", km_strerror(rc));
}

static void nodes_changed(json_t *obj, void *arg)
{
	(void)obj;
	status_kick(arg, STATUS_DELAY_MS);
}

static void nodes_updated(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	nodes_changed(new_obj, arg);
}

static void nodes_synced(void *arg)
{
	status_kick(arg, STATUS_DELAY_MS);
}

/* The leader reads every node (sharing kube-state's node informer, same
 * trim) to write each monitor's node counts and conflicts. */
static void all_nodes_apply(struct agent_kube *k, const struct cycle *c)
{
	if (c->leader && !k->all_nodes) {
		struct kube_informer_key key = { .res = node_res };
		struct kube_reflector_cbs cbs = { nodes_changed, nodes_updated, nodes_changed, nodes_synced, k };

		k->all_nodes = kube_informer_subscribe(k->informers, &key, &cbs, ks_trim_node);
		if (!k->all_nodes)
			log_error("status", "cannot watch nodes: out of memory; K8sMonitor node counts are this node's");
	} else if (!c->leader && k->all_nodes) {
		kube_sub_cancel(k->all_nodes);
		k->all_nodes = NULL;
	}
}

static void rebuild(void *arg)
{
	struct agent_kube *k = arg;
	struct cycle *c = NULL, *old = k->cycle;
	json_t *monitors, *rules, *node = NULL;
	struct cycle_inputs in;
	char err[512];
	unsigned ch;
	int rc;

	k->rebuild_posted = false;
	if (atomic_load(&k->stopping))
		return;
	monitors = snapshot_if_synced(k->monitors);
	rules = snapshot_if_synced(k->scrape_rules);
	if (kube_sub_store(k->self_node))
		node = kube_store_get(kube_sub_store(k->self_node), k->flags->node_name);
	/* Said once per absence: an agent whose -nodeName names no Node. */
	if (!node && kube_sub_synced(k->self_node) && !k->no_node_logged)
		log_warn("kube", "no Node named %s (-nodeName, else $NODE_NAME): K8sMonitor nodeSelectors "
			 "see no labels, and with kubeState.podSharding=node this agent's pods are only those "
			 "bound to that name", k->flags->node_name);
	k->no_node_logged = !node && kube_sub_synced(k->self_node);
	in = (struct cycle_inputs){ .flags = k->flags, .monitors = monitors, .node = node,
				    .rules = rules, .leader = atomic_load(&k->leader) };
	rc = cycle_build(old, &in, &c, err, sizeof(err));
	json_decref(monitors);
	json_decref(rules);
	json_decref(node);
	if (rc) {
		atomic_fetch_add(&k->build_failures, 1);
		log_error("config", "cannot build the configuration, keeping the running one: %s", err);
		return;
	}
	atomic_fetch_add(&k->cycles, 1);
	ch = cycle_changes(old, c);
	log_rejections(old, c);
	k->cycle = c;
	pthread_mutex_lock(&k->pub_lock);
	k->pub = cycle_ref(c);
	pthread_mutex_unlock(&k->pub_lock);
	for (int i = 0; i < 3; i++)
		if (ch & (1u << i))
			atomic_fetch_add(&k->reloads[i], 1);
	if (ch) {
		log_changes(old, c, ch);
		if (ch & CYCLE_CONFIG)
			k->hooks->on_config(c->cfg, k->hooks->arg);
		scrape_apply(k, c);
		comp_apply(k, old, c);
		ks_watcher_apply(k->ksw, c);
		all_nodes_apply(k, c);
		if (k->rwc)
			rwconf_set(k->rwc, c->cfg->remote_write);
		status_kick(k, STATUS_DELAY_MS);
	}
	comp_kick(k); /* leadership moves the API server job */
	/* Last: the parts above compare with old. */
	if (old) {
		cycle_unref(old); /* the loop's reference */
		cycle_unref(old); /* the published one */
	}
}

/* --- component jobs (loop thread) ------------------------------------------ */

static void comp_refresh(void *arg);

/* Coalesces a burst of changes (a relist, pod churn) into one refresh. */
static void comp_kick(struct agent_kube *k)
{
	if (!k->comp || k->comp_posted || atomic_load(&k->stopping))
		return;
	if (kube_loop_post(k->loop, comp_refresh, k) == 0)
		k->comp_posted = true;
}

static void comp_obj(json_t *obj, void *arg)
{
	(void)obj;
	comp_kick(arg);
}

static void comp_obj_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	(void)new_obj;
	comp_kick(arg);
}

static void comp_synced(void *arg)
{
	comp_kick(arg);
}

/* "host:port" of the kubeconfig / in-cluster server URL. */
static void server_hostport(const char *url, char *dst, size_t n)
{
	const char *h = strstr(url, "://");
	size_t len;

	const char *host_end;

	h = h ? h + 3 : url;
	len = strcspn(h, "/");
	/* A port follows the host: after the ']' of an IPv6 literal. */
	host_end = memchr(h, ']', len);
	host_end = host_end ? host_end : h;
	if (memchr(host_end, ':', len - (size_t)(host_end - h)))
		snprintf(dst, n, "%.*s", (int)len, h);
	else
		snprintf(dst, n, "%.*s:443", (int)len, h);
}

/* The ready endpoints of default/kubernetes on its "https" port, as
 * "ip:port" into eps (at most max of size COMP_EP_LEN). */
#define COMP_EP_LEN 64
static size_t apiserver_endpoints(json_t *slices, char (*eps)[COMP_EP_LEN], size_t max)
{
	const char *key;
	json_t *sl;
	size_t n = 0;

	json_object_foreach(slices, key, sl) {
		json_int_t port = 0;
		size_t i;
		json_t *v;

		json_array_foreach(json_object_get(sl, "ports"), i, v) {
			const char *name = json_string_value(json_object_get(v, "name"));
			if (name && strcmp(name, "https") == 0)
				port = json_integer_value(json_object_get(v, "port"));
		}
		if (port <= 0 || port > 65535)
			continue;
		json_array_foreach(json_object_get(sl, "endpoints"), i, v) {
			const json_t *ready = json_object_get(json_object_get(v, "conditions"), "ready");
			const char *ip = json_string_value(json_array_get(json_object_get(v, "addresses"), 0));
			if (!ip || json_is_false(ready) || n == max || strlen(ip) > 45)
				continue;
			snprintf(eps[n++], COMP_EP_LEN, strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, (int)port);
		}
	}
	return n;
}

/* The leader watches the API server's EndpointSlices while its job runs;
 * others do not. */
static void comp_watch_apiserver(struct agent_kube *k, bool leader)
{
	bool want = leader && (comp_jobs_enabled(k->comp_jobs) & COMP_BIT(COMP_APISERVER));

	if (want && !k->api_slices) {
		struct kube_informer_key key = { .res = slice_res, .namespace = "default",
						 .label_selector = "kubernetes.io/service-name=kubernetes" };
		struct kube_reflector_cbs cbs = { comp_obj, comp_obj_update, comp_obj, comp_synced, k };

		k->api_slices = kube_informer_subscribe(k->informers, &key, &cbs, NULL);
		if (!k->api_slices)
			log_error("components", "cannot watch the API server's endpoints: out of memory");
	} else if (!want && k->api_slices) {
		kube_sub_cancel(k->api_slices);
		k->api_slices = NULL;
	}
}

/* Rebuilds this node's component targets from what the watches hold now
 * and hands them to the component scraper (targets that stay keep their
 * state there). */
static void comp_refresh(void *arg)
{
	struct agent_kube *k = arg;
	char ip[64], eps[COMP_APISERVERS_MAX][COMP_EP_LEN];
	const char *epv[COMP_APISERVERS_MAX];
	struct comp_env env = { .node_name = k->flags->node_name };
	struct scrape_static *v = NULL;
	json_t *node = NULL, *pods, *slices = NULL;
	size_t n = 0;
	int rc;

	k->comp_posted = false;
	if (atomic_load(&k->stopping))
		return;
	env.leader = atomic_load(&k->leader);
	comp_watch_apiserver(k, env.leader);
	if (kube_sub_store(k->self_node))
		node = kube_store_get(kube_sub_store(k->self_node), k->flags->node_name);
	comp_node_facts(node, ip, sizeof(ip), &env.control_plane);
	json_decref(node);
	if (!ip[0] && getenv("NODE_IP"))
		snprintf(ip, sizeof(ip), "%s", getenv("NODE_IP"));
	env.node_ip = ip;
	pods = kube_sub_store(k->node_pods) ? kube_store_snapshot(kube_sub_store(k->node_pods)) : NULL;
	env.pods = pods;
	if (env.leader) {
		slices = k->api_slices && kube_sub_store(k->api_slices) ?
			 kube_store_snapshot(kube_sub_store(k->api_slices)) : NULL;
		env.napiservers = slices ? apiserver_endpoints(slices, eps, COMP_APISERVERS_MAX) : 0;
		/* No EndpointSlice (an API server that serves none, a test
		 * setup): the server this agent talks to. */
		if (!env.napiservers)
			server_hostport(kube_client_server(k->client), eps[env.napiservers++], COMP_EP_LEN);
		for (size_t i = 0; i < env.napiservers; i++)
			epv[i] = eps[i];
		env.apiservers = epv;
	}
	rc = comp_jobs_targets(k->comp_jobs, &env, &v, &n);
	json_decref(pods);
	json_decref(slices);
	if (!rc)
		rc = scrape_mgr_set_static(k->comp, v, n);
	if (rc && rc != KM_EAGAIN)
		log_error("components", "component targets not updated: %s", km_strerror(rc));
}

/* The jobs of a configuration: what a K8sMonitor may set (spec.components,
 * spec.interval) from c, the rest from the flags. */
static struct comp_jobs *comp_jobs_from(const struct flags *f, const struct config *c, char *err, size_t errlen)
{
	struct comp_opts o = {
		.enabled = c->components,
		.token_file = f->comp_token_file,
		.ca_file = f->comp_ca_file,
		.drop_lists = c->comp_drop_lists,
		.kubelet_address = f->comp_kubelet_address,
		.kubelet_port = (int)f->comp_kubelet_port,
		.kubelet_insecure = c->comp_kubelet_insecure,
		.kubelet_cadvisor = c->comp_kubelet_cadvisor,
		.control_plane_address = f->comp_control_plane_address,
		.scheduler_port = (int)f->comp_scheduler_port,
		.scheduler_insecure = f->comp_scheduler_insecure,
		.controller_manager_port = (int)f->comp_cm_port,
		.controller_manager_insecure = f->comp_cm_insecure,
		.proxy_address = f->comp_proxy_address,
		.proxy_port = (int)f->comp_proxy_port,
		.coredns_port = (int)f->comp_coredns_port,
		.etcd_port = (int)f->comp_etcd_port,
		.etcd_cert_file = f->comp_etcd_cert_file,
		.etcd_key_file = f->comp_etcd_key_file,
		.etcd_ca_file = f->comp_etcd_ca_file,
		.interval_ms = c->interval_ms,
	};

	return comp_jobs_new(&o, err, errlen);
}

/* A new configuration: new jobs when what they are built from changed,
 * built whole and swapped (the old ones stay on error). */
static void comp_apply(struct agent_kube *k, const struct cycle *old, const struct cycle *c)
{
	struct comp_jobs *j;
	char err[256];

	if (old && config_components_equal(old->cfg, c->cfg) && old->cfg->interval_ms == c->cfg->interval_ms)
		return;
	j = comp_jobs_from(k->flags, c->cfg, err, sizeof(err));
	if (!j) {
		log_error("components", "component jobs not changed: %s", err);
		return;
	}
	comp_jobs_unref(k->comp_jobs);
	k->comp_jobs = j;
	comp_kick(k);
}

/* --- informer callbacks (loop thread) -------------------------------------- */

static void input_add(json_t *obj, void *arg)
{
	(void)obj;
	cycle_kick(arg);
	comp_kick(arg);
	status_kick(arg, STATUS_DELAY_MS);
}

static void input_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	input_add(new_obj, arg);
}

static void input_synced(void *arg)
{
	cycle_kick(arg);
	comp_kick(arg);
	status_kick(arg, STATUS_DELAY_MS);
}

static void pod_add(json_t *obj, void *arg)
{
	struct agent_kube *k = arg;
	int rc = podmap_upsert(k->podmap, obj);

	if (rc)
		log_warn("container", "cannot map pod %s: %s", kube_obj_name(obj) ?: "?", km_strerror(rc));
	scrape_mgr_upsert(k->scrape, ROLE_POD, obj);
	ks_watcher_node_pod(k->ksw, obj, false);
	comp_kick(k);
	status_kick(k, STATUS_SLOW_DELAY_MS);
}

static void pod_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	pod_add(new_obj, arg);
}

static void pod_delete(json_t *obj, void *arg)
{
	struct agent_kube *k = arg;

	podmap_delete(k->podmap, kube_obj_namespace(obj), kube_obj_name(obj));
	scrape_mgr_delete(k->scrape, ROLE_POD, obj);
	ks_watcher_node_pod(k->ksw, obj, true);
	comp_kick(k);
	status_kick(k, STATUS_SLOW_DELAY_MS);
}

static void node_pods_synced(void *arg)
{
	struct agent_kube *k = arg;

	ks_watcher_node_pod(k->ksw, NULL, false);
	comp_synced(k);
}

/* Node and pod counts move monitor and ScrapeRule status. */
static void ks_changed(enum ks_kind kind, void *arg)
{
	if (kind == KS_NODE)
		status_kick(arg, STATUS_DELAY_MS);
	else if (kind == KS_POD)
		status_kick(arg, STATUS_SLOW_DELAY_MS);
}

/* Leadership callbacks may come from inside curl callbacks: the cycle
 * carries leadership to every part. The change is logged once, by
 * kube/leader.c (Lease and identity); kube-state logs its watches. */
static void on_leader_started(void *arg)
{
	struct agent_kube *k = arg;

	atomic_store(&k->leader, true);
	cycle_kick(k);
}

static void on_leader_stopped(void *arg)
{
	struct agent_kube *k = arg;

	atomic_store(&k->leader, false);
	cycle_kick(k);
}

/* --- status (leader only) --------------------------------------------------- */

/* Nodes the leader knows, as an array: every node once the shared node
 * informer is synced, else this node alone (counts are then this node's). */
static json_t *known_nodes(struct agent_kube *k)
{
	json_t *snap = snapshot_if_synced(k->all_nodes), *arr = json_array(), *n;
	const char *key;

	if (!snap && kube_sub_store(k->self_node))
		snap = kube_store_snapshot(kube_sub_store(k->self_node));
	json_object_foreach(snap, key, n)
		json_array_append(arr, n);
	json_decref(snap);
	return arr;
}

static int count_target(struct disc_target *t, void *arg)
{
	(*(int64_t *)arg)++;
	disc_target_free(t);
	return 0;
}

/* Targets a rule selects in the whole cluster. Pod rules are counted over
 * every pod the leader knows (all pods while it runs kube-state, else those
 * of its own node); the other roles are what this agent scrapes (services and
 * ingresses belong to the leader; endpoints addresses are counted on the
 * leader's node only — documented in docs/crds.md). */
static int64_t rule_targets(struct agent_kube *k, const struct scrape_rule *r)
{
	struct kube_store *pods = ks_watcher_store(k->ksw, KS_POD);
	struct disc_ctx ctx = { .node_name = "", .leader = true, .interval_ms = 15000 };
	json_t *snap, *pod;
	const char *key;
	int64_t n = 0;

	if (r->role != ROLE_POD)
		return (int64_t)scrape_mgr_rule_targets(k->scrape, r->namespace, r->name);
	if (!pods)
		pods = kube_sub_store(k->node_pods);
	snap = pods ? kube_store_snapshot(pods) : NULL;
	json_object_foreach(snap, key, pod)
		discover(r, ROLE_POD, pod, &ctx, count_target, &n);
	json_decref(snap);
	return n;
}

static void put_monitor_status(const char *key, const char *ns, const char *name, const json_t *obj,
			       json_t *st, void *arg)
{
	struct agent_kube *k = arg;

	status_writer_put(k->status, &monitor_res, key, ns, name, obj, st);
}

static void put_rule_status(const char *key, const char *ns, const char *name, const json_t *obj,
			    json_t *st, void *arg)
{
	struct agent_kube *k = arg;

	status_writer_put(k->status, &rule_res, key, ns, name, obj, st);
}

static int64_t count_rule(const struct scrape_rule *r, void *arg)
{
	return rule_targets(arg, r);
}

/* Every monitor's and rule's status, from the verdicts the cycle applies
 * (config/crstatus.c), written where it changed. */
static void status_sync(void *arg)
{
	struct agent_kube *k = arg;
	json_t *monitors, *rules, *nodes;
	char now[32];

	if (atomic_load(&k->stopping) || !atomic_load(&k->leader) || !k->cycle)
		return;
	status_time(clock_wall(), now, sizeof(now));
	monitors = snapshot_if_synced(k->monitors);
	nodes = known_nodes(k);
	if (monitors && nodes &&
	    !crstatus_monitors(k->flags, monitors, k->cycle->monitor_good, nodes, now, put_monitor_status, k))
		status_writer_prune(k->status, &monitor_res, monitors);
	rules = snapshot_if_synced(k->scrape_rules);
	if (rules && !crstatus_rules(rules, k->cycle->rules, count_rule, now, put_rule_status, k))
		status_writer_prune(k->status, &rule_res, rules);
	json_decref(monitors);
	json_decref(nodes);
	json_decref(rules);
}

/* --- lifecycle ------------------------------------------------------------ */

static struct kube_sub *subscribe(struct agent_kube *k, struct kube_resource res, const char *fsel,
				  struct kube_reflector_cbs cbs)
{
	struct kube_informer_key key = { .res = res, .field_selector = fsel };

	return kube_informer_subscribe(k->informers, &key, &cbs, NULL);
}

/* The agents' namespace: $POD_NAMESPACE, else the service account's. */
static const char *own_namespace(struct agent_kube *k)
{
	const char *ns = getenv("POD_NAMESPACE");

	return ns && ns[0] ? ns : kube_client_namespace(k->client);
}

/* Subscriptions are made on the loop thread (agent_kube_start calls this
 * through kube_loop_call). */
struct start_ctx {
	struct agent_kube *k;
	int rc;
};

static void start_on_loop(void *arg)
{
	struct start_ctx *s = arg;
	struct agent_kube *k = s->k;
	char nsel[320], psel[320];
	struct kube_reflector_cbs in_cbs = { input_add, input_update, input_add, input_synced, k };

	snprintf(nsel, sizeof(nsel), "metadata.name=%s", k->flags->node_name);
	snprintf(psel, sizeof(psel), "spec.nodeName=%s", k->flags->node_name);
	k->self_node = subscribe(k, node_res, nsel, in_cbs);
	k->monitors = subscribe(k, monitor_res, NULL, in_cbs);
	k->scrape_rules = subscribe(k, rule_res, NULL, in_cbs);
	/* The scrape manager exists (scrape_mgr_new) before pods feed it. */
	k->node_pods = subscribe(k, pod_res, psel,
				 (struct kube_reflector_cbs){ pod_add, pod_update, pod_delete, node_pods_synced, k });
	s->rc = k->self_node && k->monitors && k->scrape_rules && k->node_pods ? 0 : KM_ENOMEM;
	/* Per-node pod state reads the same watch (before the first cycle). */
	if (!s->rc)
		s->rc = ks_watcher_set_identity(k->ksw, k->node_pods, k->flags->node_name, k->flags->pod_name,
						own_namespace(k), k->flags->ks_agent_selector);
	if (!s->rc)
		ks_watcher_set_uncovered_cap(k->ksw, (size_t)k->flags->ks_uncovered_watches);
	if (!s->rc)
		rebuild(k); /* the first cycle: the flags until the monitors are listed */
	s->rc = s->rc ? s->rc : k->cycle ? 0 : KM_ENOMEM;
}

struct agent_kube *agent_kube_start(const struct flags *f, const struct agent_kube_hooks *hooks,
				    char *err, size_t errlen)
{
	struct agent_kube *k = calloc(1, sizeof(*k));
	struct start_ctx sc = { .k = k };

	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->flags = f;
	k->hooks = hooks;
	pthread_mutex_init(&k->pub_lock, NULL);
	if (kube_conn_load(&k->conn, f->kubeconfig[0] ? f->kubeconfig : NULL, err, errlen))
		goto fail;
	k->loop = kube_loop_new();
	if (!k->loop) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	k->client = kube_client_new(&k->conn, k->loop, err, errlen);
	if (!k->client)
		goto fail;
	k->informers = kube_informers_new(k->client);
	k->ks = ks_store_new();
	k->podmap = podmap_new();
	k->ksw = k->ks && k->informers ? ks_watcher_new(k->informers, k->loop, k->ks, ks_changed, k) : NULL;
	k->status = status_writer_new(k->client, k->loop, status_sync, k);
	if (hooks->rw_apply) {
		/* The Secrets of spec.remoteWrite live in the agents' own namespace. */
		const char *ns = getenv("POD_NAMESPACE");

		k->rwc = rwconf_new(k->client, k->loop, ns && ns[0] ? ns : kube_client_namespace(k->client),
				    hooks->rw_apply, hooks->arg);
		if (!k->rwc) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	{
		struct config *c = hooks->get_config(hooks->arg);
		struct scrape_opts so = {
			.node_name = f->node_name, .interval_ms = c->interval_ms,
			.enabled = c->collectors & COLLECTOR_APP, .informers = k->informers,
			.api_server = kube_client_server(k->client), .policy = &c->scrape,
		};
		config_unref(c);
		k->scrape = k->informers ? scrape_mgr_new(k->loop, &so) : NULL;
	}
	{
		/* Components are the agent's own, not a tenant's: their
		 * addresses (loopback, the node's, the API server's) are what
		 * they are for; kubelet and kube-proxy keep their labels as in
		 * kube-prometheus (honorLabels); one component may export
		 * SCRAPE_MAX_SAMPLE_LIMIT series. */
		struct scrape_policy cp;
		struct scrape_opts co = { .node_name = f->node_name, .interval_ms = f->interval_ms,
					  .body_max = COMP_BODY_MAX, .enabled = true, .policy = &cp,
					  .self_prefix = "k8smon_components_scrape" };

		scrape_policy_default(&cp);
		cp.allow_loopback = cp.allow_link_local = cp.allow_node_addresses = cp.allow_api_server = true;
		cp.builtin_rule = false;
		cp.max_targets = cp.max_targets_per_namespace = 0;
		cp.default_sample_limit = cp.max_sample_limit = SCRAPE_MAX_SAMPLE_LIMIT;
		cp.ncross = cp.nhonor = 1;
		snprintf(cp.cross_ns[0], sizeof(cp.cross_ns[0]), "*");
		snprintf(cp.honor_ns[0], sizeof(cp.honor_ns[0]), "*");
		k->comp = scrape_mgr_new(k->loop, &co);
		if (!k->comp) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (!k->informers || !k->ks || !k->podmap || !k->ksw || !k->status || !k->scrape) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (kube_loop_start(k->loop)) {
		snprintf(err, errlen, "cannot start the API I/O thread");
		goto fail;
	}
	kube_loop_call(k->loop, start_on_loop, &sc);
	if (sc.rc) {
		snprintf(err, errlen, "cannot start watches: out of memory");
		goto fail;
	}
	{
		const char *pod = f->pod_name;
		struct kube_leader_opts lo = {
			.namespace = f->lease_namespace[0] ? f->lease_namespace : kube_client_namespace(k->client),
			.name = f->lease_name,
			.identity = pod && pod[0] ? pod : f->node_name,
			.lease_ms = f->lease_duration_ms,
			.renew_deadline_ms = f->renew_deadline_ms,
			.retry_ms = f->retry_period_ms,
			.always = !f->leader_election,
			.on_started = on_leader_started,
			.on_stopped = on_leader_stopped,
			.arg = k,
		};
		k->leader_el = kube_leader_new(k->client, &lo);
		if (!k->leader_el || kube_leader_start(k->leader_el)) {
			snprintf(err, errlen, "cannot start leader election");
			goto fail;
		}
	}
	log_info("kube", "API server %s (%s); starting the watches (nothing received yet)", kube_client_server(k->client), k->conn.source);
	return k;
fail:
	agent_kube_stop(k);
	return NULL;
}

/* Ends every subscription of the wiring on the loop thread. */
static void stop_on_loop(void *arg)
{
	struct agent_kube *k = arg;

	status_writer_stop(k->status);
	rwconf_stop(k->rwc);
	kube_sub_cancel(k->monitors);
	kube_sub_cancel(k->self_node);
	kube_sub_cancel(k->node_pods);
	kube_sub_cancel(k->scrape_rules);
	kube_sub_cancel(k->all_nodes);
	kube_sub_cancel(k->api_slices);
	k->monitors = k->self_node = k->node_pods = k->scrape_rules = k->all_nodes = k->api_slices = NULL;
}

void agent_kube_stop(struct agent_kube *k)
{
	if (!k)
		return;
	atomic_store(&k->stopping, true);
	/* Leadership first: the Lease is released while the API is still up. */
	if (k->leader_el)
		kube_leader_stop(k->leader_el);
	if (k->loop)
		kube_loop_call(k->loop, stop_on_loop, k);
	if (k->loop) {
		scrape_mgr_free(k->scrape); /* needs the running loop */
		scrape_mgr_free(k->comp);
	}
	if (k->loop)
		kube_loop_stop(k->loop);
	/* After the stop: aborted writes still call the status writer back;
	 * the registry frees every remaining informer and subscription. */
	kube_informers_free(k->informers);
	ks_watcher_free(k->ksw);
	rwconf_free(k->rwc);
	status_writer_free(k->status);
	kube_leader_free(k->leader_el);
	kube_client_free(k->client);
	kube_loop_free(k->loop);
	ks_store_free(k->ks);
	podmap_free(k->podmap);
	comp_jobs_unref(k->comp_jobs);
	cycle_unref(k->cycle);
	cycle_unref(k->pub);
	pthread_mutex_destroy(&k->pub_lock);
	kube_conn_fini(&k->conn);
	free(k);
}

struct ready_ctx {
	struct agent_kube *k;
	bool ready;
};

static void ready_on_loop(void *arg)
{
	struct ready_ctx *r = arg;
	struct agent_kube *k = r->k;
	/* Without the K8sMonitor CRD the flags rule: do not wait for it. */
	bool monitors = kube_sub_synced(k->monitors) || kube_sub_absent(k->monitors);

	r->ready = monitors && kube_sub_synced(k->self_node) && kube_sub_synced(k->node_pods) &&
		   ks_watcher_settled(k->ksw);
}

bool agent_kube_ready(struct agent_kube *k)
{
	struct ready_ctx r = { .k = k };

	if (atomic_load(&k->stopping))
		return false;
	kube_loop_call(k->loop, ready_on_loop, &r);
	return r.ready;
}

/* A reference to the published cycle. */
static struct cycle *published(struct agent_kube *k)
{
	struct cycle *c;

	pthread_mutex_lock(&k->pub_lock);
	c = cycle_ref(k->pub);
	pthread_mutex_unlock(&k->pub_lock);
	return c;
}

int agent_kube_apps_open(struct agent_kube *k, struct scrape_apps_cursor **c)
{
	return scrape_apps_open(k->scrape, c);
}

json_t *agent_kube_discovery_json(struct agent_kube *k)
{
	struct cycle *c;
	json_t *v;

	if (!k)
		return NULL;
	c = published(k);
	v = c ? json_deep_copy(c->rules->view) : NULL;
	if (v && json_object_size(c->rejected))
		json_object_set(v, "rejectedK8sMonitors", c->rejected);
	if (v)
		json_object_set_new(v, "k8sMonitors", json_deep_copy(c->monitors_view));
	cycle_unref(c);
	return v;
}

int agent_kube_components_open(struct agent_kube *k, const char *prefix, struct scrape_apps_cursor **c)
{
	*c = NULL;
	return k->comp ? scrape_apps_open_for(k->comp, prefix, c) : 0;
}

int agent_kube_write_targets(struct agent_kube *k, struct buf *out)
{
	return scrape_mgr_write_targets(k->scrape, out);
}

struct scrape_mgr *agent_kube_scrape(struct agent_kube *k)
{
	return k ? k->scrape : NULL;
}

struct kube_client *agent_kube_client(struct agent_kube *k)
{
	return k ? k->client : NULL;
}

struct podmap *agent_kube_podmap(struct agent_kube *k)
{
	return k ? k->podmap : NULL;
}

/* --- /metrics/kube-state ---------------------------------------------------- */

/* What this agent emits now (docs/kube-state-sharding.md): the decision
 * table of collect/kubestate/shard.c, each part only once complete. Not
 * ready: only the kinds served already (*served; the leader's pods only in
 * leader mode, where they are a kind of its own). */
static struct ks_emit emit_of(struct agent_kube *k, const struct config *c, ks_kind_set *served)
{
	struct ks_emit e = { false, false, false };

	*served = ~(ks_kind_set)0;
	if (!(c->collectors & COLLECTOR_KUBE_STATE))
		return e;
	e = ks_shard_emit((enum ks_pod_sharding)c->ks_pod_sharding, atomic_load(&k->leader),
			  (enum ks_shard_self)ks_watcher_self_state(k->ksw));
	if (!ks_watcher_ready(k->ksw)) {
		*served = ks_watcher_served(k->ksw);
		e.others = e.others && (*served & ~KS_KIND_BIT(KS_POD));
		e.leader_pods = e.leader_pods && (*served & KS_KIND_BIT(KS_POD));
	}
	if (!ks_watcher_node_ready(k->ksw))
		e.own_pods = false;
	return e;
}

/* The filter of c; false when there is nothing to write (collector off,
 * neither the leader nor its node's pod emitter, or the initial lists not
 * all applied: exactly one emitter, and only a complete set). *others:
 * the leader's part (every kind, custom resources, list counts). */
static bool ks_filter_of(struct agent_kube *k, const struct config *c, struct ks_filter *f, bool *others)
{
	ks_kind_set kinds, served;
	struct ks_emit e = emit_of(k, c, &served);

	*others = e.others;
	if (!e.others && !e.leader_pods && !e.own_pods)
		return false;
	*f = (struct ks_filter){
		.namespaces = (const char *const *)c->namespaces.v,
		.nnamespaces = c->namespaces.n,
		.exclude_namespaces = (const char *const *)c->exclude_namespaces.v,
		.nexclude_namespaces = c->exclude_namespaces.n,
		.metric_allow = c->ks_allow,
		.metric_deny = c->ks_deny,
	};
	kinds = ks_kind_mask(c->ks_resources.v, c->ks_resources.n);
	if (!e.others)
		kinds &= KS_KIND_BIT(KS_POD);
	/* the node's own pods come from its node watch, not from a kind */
	kinds &= served | (e.own_pods ? KS_KIND_BIT(KS_POD) : 0);
	if (!kinds)
		return false; /* (0 would mean every kind) */
	f->kinds = kinds;
	f->srcs = (e.others ? KS_SRC_LEADER : 0) |
		  (e.leader_pods ? KS_SRC_LEADER | KS_SRC_UNCOVERED | KS_SRC_UNSCHED | KS_SRC_WIDE : 0) |
		  (e.own_pods ? KS_SRC_NODE : 0);
	return true;
}

/* kube_state_metrics_list_total of the watched kinds. */
static int write_list_counts(struct agent_kube *k, const struct ks_filter *f, struct buf *out)
{
	struct ks_self_counts counts[KS_KIND_COUNT];
	size_t n = 0;

	for (int i = 0; i < KS_KIND_COUNT; i++) {
		if (f->kinds && !(f->kinds & KS_KIND_BIT(i)))
			continue;
		counts[n++] = (struct ks_self_counts){
			.resource = ks_kind_go_type((enum ks_kind)i),
			.list_success = ks_watcher_list_ok(k->ksw, (enum ks_kind)i),
		};
	}
	return ks_write_self(out, counts, n, 0, 1);
}

int agent_kube_write_kube_state(struct agent_kube *k, const struct config *c, struct buf *out)
{
	struct ks_filter f;
	bool others;
	int rc;

	if (!ks_filter_of(k, c, &f, &others))
		return 0;
	rc = ks_store_write(k->ks, &f, out);
	if (!rc && others)
		rc = crs_store_write(ks_watcher_crs(k->ksw), &f, out);
	return rc || !others ? rc : write_list_counts(k, &f, out);
}

/* Cycle counters: a status write by the leader must move none of the
 * reload counters (tests/integration/test_config_cycle.sh). */
static int write_cycle_metrics(struct agent_kube *k, struct buf *out)
{
	static const char *const parts[3] = { "config", "rules", "leader" };
	int rc = expo_family(out, "k8smon_config_cycles_total",
			     "Configuration cycles built (one per batch of input changes).", EXPO_COUNTER);

	if (!rc)
		rc = expo_sample(out, "k8smon_config_cycles_total", NULL, 0, (double)atomic_load(&k->cycles));
	if (!rc)
		rc = expo_family(out, "k8smon_config_reloads_total",
				 "Cycles that changed a part of the configuration (what subscribers acted on).",
				 EXPO_COUNTER);
	for (int i = 0; !rc && i < 3; i++) {
		struct label_pair l = { "part", parts[i] };
		rc = expo_sample(out, "k8smon_config_reloads_total", &l, 1, (double)atomic_load(&k->reloads[i]));
	}
	if (!rc)
		rc = expo_family(out, "k8smon_config_build_failures_total",
				 "Cycles that could not be built (out of memory); the running one stayed.",
				 EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_config_build_failures_total", NULL, 0,
				 (double)atomic_load(&k->build_failures));
	return rc;
}

/* k8smon_kube_state_pod_shard, _pods_emitted, _uncovered_nodes
 * (docs/kube-state-sharding.md). */
static int write_shard_metrics(struct agent_kube *k, struct buf *out)
{
	struct config *c = k->hooks->get_config(k->hooks->arg);
	bool leader = atomic_load(&k->leader), others;
	struct label_pair l[2] = {
		{ "mode", ks_shard_mode_name((enum ks_pod_sharding)c->ks_pod_sharding) },
		{ "role", leader ? "leader" : "node" },
	};
	struct ks_filter f;
	size_t pods = 0, watched, unwatched;
	int rc;

	if (ks_filter_of(k, c, &f, &others) && (!f.kinds || (f.kinds & KS_KIND_BIT(KS_POD))))
		pods = ks_store_count_src(k->ks, KS_POD, f.srcs);
	config_unref(c);
	ks_watcher_uncovered(k->ksw, &watched, &unwatched);
	rc = expo_family(out, "k8smon_kube_state_pod_shard",
			 "Who emits the kube_pod_* families (kubeState.podSharding) and this agent's role.",
			 EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, "k8smon_kube_state_pod_shard", l, 2, 1);
	if (!rc)
		rc = expo_family(out, "k8smon_kube_state_pods_emitted",
				 "Pods whose families this agent emits now (before namespace filters).", EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, "k8smon_kube_state_pods_emitted", NULL, 0, (double)pods);
	if (!rc)
		rc = expo_family(out, "k8smon_kube_state_uncovered_nodes",
				 "Leader, podSharding=node: nodes without a Ready agent pod whose pods it watches "
				 "(watched=true; past the per-node watch cap through one cluster-wide watch); "
				 "watched=false is always 0.", EXPO_GAUGE);
	for (int i = 0; !rc && i < 2; i++) {
		struct label_pair w = { "watched", i ? "false" : "true" };
		rc = expo_sample(out, "k8smon_kube_state_uncovered_nodes", &w, 1, (double)(i ? unwatched : watched));
	}
	return rc;
}

int agent_kube_write_self(struct agent_kube *k, struct buf *out)
{
	/* k8smon_leader comes with the client's metrics (the elector registers it). */
	int rc = kube_metrics_write(k->client, out);

	if (!rc)
		rc = kube_informers_write_metrics(k->informers, out);
	if (!rc)
		rc = write_cycle_metrics(k, out);
	if (!rc)
		rc = scrape_mgr_write_self(k->scrape, out);
	if (!rc)
		rc = scrape_mgr_write_self(k->comp, out);
	/* Store size: the memory figure of the kube-state benchmark. */
	if (!rc)
		rc = ks_write_store_metrics(out, k->ks);
	if (!rc)
		rc = write_shard_metrics(k, out);
	if (!rc)
		rc = expo_family(out, "k8smon_kube_state_custom_resource_values_skipped_total",
				 "Custom resource state series left out because their value is absent (without nilIsZero) or does not convert to a number (kubeState.customResourceState; KSM logs these).",
				 EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_kube_state_custom_resource_values_skipped_total", NULL, 0,
				 (double)crs_store_skipped(ks_watcher_crs(k->ksw)));
	return rc;
}

/* Streaming /metrics/kube-state: the same bytes as
 * agent_kube_write_kube_state, the store through a ks_cursor. */
struct agent_ks_stream {
	struct ks_store *ks;   /* borrowed: lives until agent_kube_stop, after HTTP stopped */
	struct ks_filter f;    /* borrows the config passed to _open */
	struct ks_cursor cur;
	struct buf tail;       /* kube_state_metrics_* self series, rendered at open */
	bool store_done;
};

int agent_kube_kube_state_open(struct agent_kube *k, const struct config *c,
			       struct agent_ks_stream **out)
{
	struct agent_ks_stream *st;
	struct ks_filter f;
	bool others;
	int rc;

	*out = NULL;
	if (!ks_filter_of(k, c, &f, &others))
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return KM_ENOMEM;
	st->ks = k->ks;
	st->f = f;
	ks_cursor_init(&st->cur);
	/* custom resources are few: rendered whole at open, sent after the store */
	buf_init(&st->tail, 256u << 20);
	rc = others ? crs_store_write(ks_watcher_crs(k->ksw), &f, &st->tail) : 0;
	if (!rc && others)
		rc = write_list_counts(k, &f, &st->tail);
	if (rc) {
		agent_kube_kube_state_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

int agent_kube_kube_state_next(struct agent_ks_stream *st, struct buf *out, size_t budget)
{
	if (!st->store_done) {
		int rc = ks_store_write_next(st->ks, &st->cur, &st->f, out, budget);
		if (rc != KS_WRITE_DONE)
			return rc; /* KS_WRITE_MORE or an error */
		st->store_done = true;
	}
	if (st->tail.len) {
		int rc = buf_add(out, st->tail.data, st->tail.len);
		if (rc)
			return rc;
		buf_reset(&st->tail);
	}
	return KS_WRITE_DONE;
}

void agent_kube_kube_state_close(struct agent_ks_stream *st)
{
	if (!st)
		return;
	ks_cursor_fini(&st->cur);
	buf_fini(&st->tail);
	free(st);
}
