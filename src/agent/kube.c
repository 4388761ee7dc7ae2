#include "agent/kube.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "collect/container/podmap.h"
#include "collect/kubestate/kubestate.h"
#include "config/selector.h"
#include "expo/writer.h"
#include "kube/client.h"
#include "kube/conn.h"
#include "kube/event.h"
#include "kube/leader.h"
#include "kube/loop.h"
#include "kube/reflector.h"
#include "scrape/discovery.h"
#include "scrape/scrape.h" /* scrape: application scraping */
#include "kube/status.h"
#include "kube/write.h"

/* API location of each kube-state kind (enum ks_kind order). */
static const struct kube_resource ks_resources[KS_KIND_COUNT] = {
	[KS_CONFIGMAP] = { "", "v1", "configmaps", true },
	[KS_CRONJOB] = { "batch", "v1", "cronjobs", true },
	[KS_DAEMONSET] = { "apps", "v1", "daemonsets", true },
	[KS_DEPLOYMENT] = { "apps", "v1", "deployments", true },
	[KS_ENDPOINT] = { "", "v1", "endpoints", true },
	[KS_HPA] = { "autoscaling", "v2", "horizontalpodautoscalers", true },
	[KS_INGRESS] = { "networking.k8s.io", "v1", "ingresses", true },
	[KS_JOB] = { "batch", "v1", "jobs", true },
	[KS_NAMESPACE] = { "", "v1", "namespaces", false },
	[KS_NETWORKPOLICY] = { "networking.k8s.io", "v1", "networkpolicies", true },
	[KS_NODE] = { "", "v1", "nodes", false },
	[KS_PVC] = { "", "v1", "persistentvolumeclaims", true },
	[KS_PV] = { "", "v1", "persistentvolumes", false },
	[KS_PDB] = { "policy", "v1", "poddisruptionbudgets", true },
	[KS_POD] = { "", "v1", "pods", true },
	[KS_REPLICASET] = { "apps", "v1", "replicasets", true },
	[KS_RESOURCEQUOTA] = { "", "v1", "resourcequotas", true },
	[KS_SECRET] = { "", "v1", "secrets", true },
	[KS_SERVICE] = { "", "v1", "services", true },
	[KS_STATEFULSET] = { "apps", "v1", "statefulsets", true },
};

/* Delay that coalesces the changes behind one status sync. */
#define STATUS_DELAY_MS 300
#define STATUS_SLOW_DELAY_MS 5000

struct ks_watch {
	struct agent_kube *k;
	enum ks_kind kind;
	struct kube_reflector *r;
	/* Counted for kube_state_metrics_{list,watch}_total. */
	_Atomic uint64_t list_ok;
};

/* Label allowlists derived from one configuration; used on the loop thread. */
struct ks_render_opts {
	struct config *cfg;                 /* reference held */
	struct ks_opts opts;                /* points into cfg and keys */
	const char **keys[KS_KIND_COUNT];   /* owned arrays */
};

struct agent_kube {
	const struct flags *flags;
	const struct agent_kube_hooks *hooks;
	struct kube_conn conn;
	struct kube_loop *loop;
	struct kube_client *client;
	struct kube_reflector *monitors;
	struct kube_reflector *self_node;
	struct kube_reflector *node_pods;   /* pods with spec.nodeName=<node> */
	struct scrape_mgr *scrape;          /* scrape: app targets (src/scrape) */
	struct kube_reflector *scrape_rules; /* scrape: ScrapeRules (all namespaces) */
	json_t *sr_good;                    /* "ns/name" -> last accepted spec object; loop thread */
	/* For /config: the discovery rules in effect and where they came from
	 * (a JSON object replaced whole under sr_view_lock; readers copy it). */
	pthread_mutex_t sr_view_lock;
	json_t *sr_view;
	bool sr_pending;                    /* a ScrapeRule rebuild is queued; loop thread */
	struct scrape_rule **sr_rules;      /* scrape: compiled rules in effect (refs); loop thread */
	size_t sr_nrules;
	struct podmap *podmap;
	struct kube_leader *leader_el;
	struct ks_store *ks;
	bool ks_running;                    /* loop thread */
	/* What HTTP threads may know of the kube-state watches (they must not
	 * touch ksw[].r, which the loop thread frees on a restart): ks_ready =
	 * running and every list applied; ks_settled = not running, or ready.
	 * Written on the loop thread by ks_ready_update(). */
	atomic_bool ks_ready;
	atomic_bool ks_settled;
	atomic_bool stopping;               /* set first thing in agent_kube_stop */
	uint64_t status_timer;              /* a status sync is scheduled; loop thread */
	uint64_t ks_retry_timer;            /* kube-state watches failed to start; loop thread */
	/* Status writes sent whose watch event may not have arrived yet:
	 * "<resource>/<store key>" -> {"rv": resourceVersion the status was
	 * computed from, "status": what was sent}. Loop thread. */
	json_t *status_sent;
	int64_t status_backoff_ms;          /* retry delay after a failed write; loop thread */
	struct log_limit status_log;
	struct log_limit ks_render_log;     /* loop thread */
	struct log_limit ks_labels_log;     /* loop thread */
	struct ks_watch ksw[KS_KIND_COUNT];
	struct ks_render_opts ro;           /* loop thread only */
	char last_monitor[512];             /* "name@resourceVersion" last applied; loop thread */
	atomic_bool leader;
};

static void status_kick(struct agent_kube *k);
static void status_kick_slow(struct agent_kube *k);

/* scrape: the manager takes the app switch, leadership, default interval
 * and rules as one snapshot (loop thread, after any of them changed). */
static void scrape_apply(struct agent_kube *k)
{
	struct config *c;
	struct scrape_settings s;
	int rc;

	if (!k->scrape)
		return;
	c = k->hooks->get_config(k->hooks->arg);
	s = (struct scrape_settings){
		.enabled = c->collectors & COLLECTOR_APP, .leader = atomic_load(&k->leader),
		.interval_ms = c->interval_ms, .rules = k->sr_rules, .nrules = k->sr_nrules,
	};
	config_unref(c);
	/* KM_EAGAIN: the loop is stopping, there is nothing left to apply to. */
	if ((rc = scrape_mgr_apply(k->scrape, &s)) && rc != KM_EAGAIN)
		log_error("scrape", "cannot apply the scrape settings: %s", km_strerror(rc));
}

static void ro_fini(struct ks_render_opts *ro)
{
	for (int i = 0; i < KS_KIND_COUNT; i++)
		free(ro->keys[i]);
	config_unref(ro->cfg);
	memset(ro, 0, sizeof(*ro));
}

/* Builds render options from c's kubeState.labelsAllowlist. */
static int ro_build(struct ks_render_opts *ro, struct config *c)
{
	const char *kind_name;
	json_t *names;

	memset(ro, 0, sizeof(*ro));
	ro->cfg = config_ref(c);
	json_object_foreach(c->ks_labels_allowlist, kind_name, names) {
		enum ks_kind kind;
		size_t i, n = json_array_size(names);
		json_t *v;

		if (ks_kind_parse(kind_name, &kind))
			continue; /* validated as a map; unknown kinds have nothing to label */
		ro->keys[kind] = calloc(n + 1, sizeof(char *));
		if (!ro->keys[kind]) {
			ro_fini(ro);
			return KM_ENOMEM;
		}
		json_array_foreach(names, i, v)
			ro->keys[kind][i] = json_string_value(v);
		ro->opts.labels[kind] = (struct ks_allowlist){ ro->keys[kind], n };
	}
	return 0;
}

/* Reflector callbacks run on the loop thread: the log limits need no lock. */
static void ks_on_upsert(struct ks_watch *w, json_t *obj)
{
	struct agent_kube *k = w->k;
	struct ks_label_drops before, after;
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	int rc;

	ks_store_label_drops(k->ks, &before);
	rc = ks_store_upsert(k->ks, w->kind, obj, &k->ro.opts);
	ks_store_label_drops(k->ks, &after);
	if (rc)
		log_limited(&k->ks_render_log, 30000, LOG_WARN, "kube-state",
			    "cannot render %s %s (previous rendering kept): %s",
			    ks_kind_resource(w->kind), name ? name : "?", km_strerror(rc));
	if (after.value_length != before.value_length || after.label_count != before.label_count)
		log_limited(&k->ks_labels_log, 30000, LOG_WARN, "kube-state",
			    "%s %s: %llu allow-listed labels/annotations over %d bytes and %llu past %d "
			    "per series left out of kube_*_labels/_annotations",
			    ks_kind_resource(w->kind), name ? name : "?",
			    (unsigned long long)(after.value_length - before.value_length),
			    KS_LABEL_VALUE_MAX,
			    (unsigned long long)(after.label_count - before.label_count), KS_LABELS_MAX);
}

static void ks_add(json_t *obj, void *arg)
{
	struct ks_watch *w = arg;

	ks_on_upsert(w, obj);
	/* Node set changes move K8sMonitor node counts and conflicts; pods
	 * move ScrapeRule target counts. */
	if (w->kind == KS_NODE)
		status_kick(w->k);
	else if (w->kind == KS_POD)
		status_kick_slow(w->k);
}

static void ks_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	ks_on_upsert(arg, new_obj);
}

static void ks_delete(json_t *obj, void *arg)
{
	struct ks_watch *w = arg;
	json_t *md = json_object_get(obj, "metadata");

	ks_store_delete(w->k->ks, w->kind, json_string_value(json_object_get(md, "namespace")),
			json_string_value(json_object_get(md, "name")));
	if (w->kind == KS_NODE)
		status_kick(w->k);
	else if (w->kind == KS_POD)
		status_kick_slow(w->k);
}

/* Loop thread: recomputes ks_ready / ks_settled. */
static void ks_ready_update(struct agent_kube *k)
{
	bool all = k->ks_running;

	for (int i = 0; all && i < KS_KIND_COUNT; i++)
		all = k->ksw[i].r && kube_reflector_synced(k->ksw[i].r);
	atomic_store(&k->ks_ready, all);
	atomic_store(&k->ks_settled, all || !k->ks_running);
}

static void ks_synced(void *arg)
{
	struct ks_watch *w = arg;

	atomic_fetch_add(&w->list_ok, 1);
	ks_ready_update(w->k);
	if (w->kind == KS_NODE)
		status_kick(w->k);
}

static int start_kube_state(struct agent_kube *k);
static void stop_kube_state(struct agent_kube *k);
static void ks_start_or_retry(struct agent_kube *k, const char *what);

/* The rendered lines are all kube-state keeps of an object; its reflector
 * stores a trimmed copy. A new label allowlist therefore needs the objects
 * again: restart the watches (a fresh list re-renders everything; the
 * endpoint serves nothing until that list is complete). */
static void ks_rerender_all(struct agent_kube *k)
{
	if (!k->ks_running)
		return;
	stop_kube_state(k);
	ks_start_or_retry(k, "label allowlist changed: relisting to re-render");
}

static void ks_reconcile(struct agent_kube *k);

static void ks_retry(void *arg)
{
	struct agent_kube *k = arg;

	k->ks_retry_timer = 0;
	if (!atomic_load(&k->stopping))
		ks_reconcile(k);
}

/* Starts the kube-state watches, or on failure (out of memory) leaves none
 * running and tries again in a second: a half-started set would keep
 * /readyz failing with nothing to retry it. */
static void ks_start_or_retry(struct agent_kube *k, const char *what)
{
	if (!start_kube_state(k)) {
		log_info("kube-state", "%s", what);
		return;
	}
	stop_kube_state(k);
	log_error("kube-state", "cannot start watches: out of memory; retrying in 1 s");
	if (!k->ks_retry_timer && !atomic_load(&k->stopping))
		k->ks_retry_timer = kube_loop_timer(k->loop, 1000, ks_retry, k);
}

/* kube-state watches run only where they are needed: on the leader, with the
 * collector enabled. Called on the loop thread after any change of either. */
static void ks_reconcile(struct agent_kube *k)
{
	struct config *c = k->hooks->get_config(k->hooks->arg);
	bool want = atomic_load(&k->leader) && (c->collectors & COLLECTOR_KUBE_STATE);

	config_unref(c);
	if (want && !k->ks_running) {
		ks_start_or_retry(k, "watching kube-state resources");
	} else if (!want && k->ks_running) {
		stop_kube_state(k);
		log_info("kube-state", "watches stopped (%s)",
			 atomic_load(&k->leader) ? "collector disabled" : "not the leader");
	}
}

static void config_changed_on_loop(void *arg)
{
	struct agent_kube *k = arg;

	struct config *c;
	const json_t *was, *now;

	if (atomic_load(&k->stopping))
		return;
	c = k->hooks->get_config(k->hooks->arg);
	scrape_apply(k); /* scrape: the app collector switch and the default interval */
	was = k->ro.cfg ? k->ro.cfg->ks_labels_allowlist : NULL;
	now = c->ks_labels_allowlist;

	/* Re-rendering every object is costly: only when the allowlist changed. */
	if (k->ro.cfg && ((!was && !now) || (was && now && json_equal(was, now)))) {
		config_unref(c);
		ks_reconcile(k);
		return;
	}
	ro_fini(&k->ro);
	if (ro_build(&k->ro, c))
		log_error("kube-state", "out of memory building label allowlists");
	config_unref(c);
	ks_rerender_all(k);
	ks_reconcile(k);
}

void agent_kube_config_changed(struct agent_kube *k)
{
	if (!k)
		return;
	/* Always deferred to the top of the loop: this may be reached from a
	 * reflector callback, i.e. inside curl_multi_perform(), where removing
	 * other easy handles (stopping watches) is not allowed. */
	if (kube_loop_post(k->loop, config_changed_on_loop, k))
		log_warn("kube", "configuration change not applied: API loop stopping");
}

/* --- K8sMonitor selection ------------------------------------------------ */

/* Older first: creationTimestamp (RFC 3339 UTC sorts as text), then name. */
static int monitor_cmp(const json_t *a, const json_t *b)
{
	const json_t *ma = json_object_get(a, "metadata"), *mb = json_object_get(b, "metadata");
	const char *ta = json_string_value(json_object_get(ma, "creationTimestamp"));
	const char *tb = json_string_value(json_object_get(mb, "creationTimestamp"));
	int c = strcmp(ta ? ta : "", tb ? tb : "");

	if (c)
		return c;
	return strcmp(json_string_value(json_object_get(ma, "name")) ?: "",
		      json_string_value(json_object_get(mb, "name")) ?: "");
}

static void reselect_monitor(struct agent_kube *k)
{
	json_t *snap = kube_store_snapshot(kube_reflector_store(k->monitors));
	json_t *node = NULL, *labels = NULL, *best = NULL, *m;
	const char *key;
	char id[512] = "";

	if (k->self_node) {
		node = kube_store_get(kube_reflector_store(k->self_node), k->flags->node_name);
		labels = json_object_get(json_object_get(node, "metadata"), "labels");
	}
	json_object_foreach(snap, key, m) {
		char err[256];
		struct selector *s = selector_compile(json_object_get(json_object_get(m, "spec"), "nodeSelector"),
						      "spec.nodeSelector", err, sizeof(err));
		bool match = s && selector_matches(s, labels);
		selector_free(s);
		/* A selector that does not compile selects nothing; the invalid
		 * spec itself is reported by the configuration build. */
		if (match && (!best || monitor_cmp(m, best) < 0))
			best = m;
	}
	if (best) {
		json_t *md = json_object_get(best, "metadata");
		snprintf(id, sizeof(id), "%s@%s", json_string_value(json_object_get(md, "name")) ?: "",
			 json_string_value(json_object_get(md, "resourceVersion")) ?: "");
	}
	if (strcmp(id, k->last_monitor) != 0) {
		snprintf(k->last_monitor, sizeof(k->last_monitor), "%s", id);
		k->hooks->on_monitor(best, k->hooks->arg);
	}
	json_decref(node);
	json_decref(snap);
}

static void mon_add(json_t *obj, void *arg)
{
	(void)obj;
	reselect_monitor(arg);
	status_kick(arg);
}

static void mon_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	(void)new_obj;
	reselect_monitor(arg);
	status_kick(arg);
}

static void mon_synced(void *arg)
{
	reselect_monitor(arg);
	status_kick(arg);
}

/* --- K8sMonitor status (leader only) -------------------------------------- */

static const struct kube_resource monitor_res = { "k8smon.io", "v1alpha1", "k8smonitors", false };

/* Delays of the re-sync after a failed status write (409, 5xx, transport). */
#define STATUS_RETRY_MIN_MS 250
#define STATUS_RETRY_MAX_MS 30000

static void status_schedule(struct agent_kube *k, int64_t delay_ms);

/* A failed write leaves the old status in the store, so the next sync writes
 * it again; schedule that sync (with backoff) instead of waiting for an
 * unrelated change. Loop thread. */
static void status_done(int rc, long http_status, json_t *obj, void *arg)
{
	struct agent_kube *k = arg;

	(void)obj;
	if (!rc) {
		k->status_backoff_ms = 0;
		return;
	}
	if (atomic_load(&k->stopping))
		return;
	json_object_clear(k->status_sent);
	if (k->status_timer) { /* a sync is already due: it retries */
		log_limited(&k->status_log, 10000, LOG_WARN, "status",
			    "writing a K8sMonitor/ScrapeRule status failed: %s (HTTP %ld); retrying with the next sync",
			    km_strerror(rc), http_status);
		return;
	}
	k->status_backoff_ms = k->status_backoff_ms ? k->status_backoff_ms * 2 : STATUS_RETRY_MIN_MS;
	if (k->status_backoff_ms > STATUS_RETRY_MAX_MS)
		k->status_backoff_ms = STATUS_RETRY_MAX_MS;
	status_schedule(k, k->status_backoff_ms);
	log_limited(&k->status_log, 10000, LOG_WARN, "status",
		    "writing a K8sMonitor/ScrapeRule status failed: %s (HTTP %ld); retrying in %lld ms",
		    km_strerror(rc), http_status, (long long)k->status_backoff_ms);
}

/* Patches obj's status to st (taken) unless the resource already shows it,
 * or the same status was already sent for this resourceVersion (the watch
 * event of that write is still on its way): status is written only when it
 * changes. key is obj's key in its store. Loop thread. */
static void status_write(struct agent_kube *k, const struct kube_resource *res, const char *key,
			 const char *ns, const char *name, const json_t *obj, json_t *st)
{
	const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	const json_t *sent;
	char skey[640];
	json_t *patch;

	snprintf(skey, sizeof(skey), "%s/%s", res->resource, key);
	if (!st || status_same(json_object_get(obj, "status"), st)) {
		json_object_del(k->status_sent, skey);
		json_decref(st);
		return;
	}
	sent = json_object_get(k->status_sent, skey);
	if (sent && strcmp(json_string_value(json_object_get(sent, "rv")) ?: "", rv ?: "") == 0 &&
	    status_same(json_object_get(sent, "status"), st)) {
		json_decref(st);
		return;
	}
	json_object_set_new(k->status_sent, skey, json_pack("{s:s,s:O}", "rv", rv ?: "", "status", st));
	patch = json_pack("{s:o}", "status", st);
	if (!patch || kube_patch(k->client, res, ns, name, "status", patch, status_done, k)) {
		log_warn("status", "cannot queue the status write of %s %s%s%s", res->resource,
			 ns ? ns : "", ns ? "/" : "", name);
		json_object_del(k->status_sent, skey);
	}
	json_decref(patch);
}

/* Forgets sent writes of res whose object is gone from snap. */
static void status_sent_prune(struct agent_kube *k, const struct kube_resource *res, const json_t *snap)
{
	size_t plen = strlen(res->resource);
	const char *key;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(k->status_sent, tmp, key, v) {
		if (strncmp(key, res->resource, plen) == 0 && key[plen] == '/' &&
		    !json_object_get(snap, key + plen + 1))
			json_object_del(k->status_sent, key);
	}
}

static int cmp_monitor_ptr(const void *a, const void *b)
{
	return monitor_cmp(*(json_t *const *)a, *(json_t *const *)b);
}

/* All nodes the leader knows: every node when kube-state watches them, else
 * only its own (status then counts this node only). New reference. */
static json_t *known_nodes(struct agent_kube *k)
{
	struct kube_reflector *r = k->ksw[KS_NODE].r;

	if (r && kube_reflector_synced(r))
		return kube_store_snapshot(kube_reflector_store(r));
	return kube_store_snapshot(kube_reflector_store(k->self_node));
}

/* Decides every K8sMonitor's verdict (oldest first: an older valid monitor
 * claims its nodes, a younger one selecting any of them is in conflict) and
 * patches the status of those whose status changed. */
static void monitors_status_sync(struct agent_kube *k)
{
	json_t *snap = kube_store_snapshot(kube_reflector_store(k->monitors));
	json_t *nodes = known_nodes(k);
	json_t *claimed = json_object();
	json_t **order = NULL, *m;
	const char *key;
	size_t n = 0, i = 0;
	char now[32];

	status_time(clock_wall(), now, sizeof(now));
	order = calloc(json_object_size(snap) + 1, sizeof(*order));
	if (!snap || !nodes || !claimed || !order)
		goto out;
	json_object_foreach(snap, key, m)
		order[n++] = m;
	qsort(order, n, sizeof(*order), cmp_monitor_ptr);
	for (i = 0; i < n; i++) {
		const json_t *md = json_object_get(order[i], "metadata");
		const char *name = json_string_value(json_object_get(md, "name"));
		const json_t *cur = json_object_get(order[i], "status");
		char err[512] = "", msg[600];
		struct config *c = config_build(k->flags, order[i], err, sizeof(err));
		struct status_input in = {
			.generation = json_integer_value(json_object_get(md, "generation")),
			.message = msg,
		};

		if (!name) {
			config_unref(c);
			continue;
		}
		if (!c) {
			in.verdict = STATUS_INVALID;
			snprintf(msg, sizeof(msg), "%s", err);
		} else {
			struct selector *sel = selector_compile(json_object_get(json_object_get(order[i], "spec"), "nodeSelector"),
								"spec.nodeSelector", err, sizeof(err));
			const char *nkey, *winner = NULL, *lost = NULL;
			json_t *node;
			int64_t selected = 0;

			json_object_foreach(nodes, nkey, node) {
				if (!sel || !selector_matches(sel, json_object_get(json_object_get(node, "metadata"), "labels")))
					continue;
				selected++;
				if (!winner && json_object_get(claimed, nkey)) {
					winner = json_string_value(json_object_get(claimed, nkey));
					lost = nkey;
				}
			}
			if (winner) {
				in.verdict = STATUS_CONFLICT;
				snprintf(msg, sizeof(msg), "node %s is also selected by the older K8sMonitor %s, which wins", lost, winner);
			} else {
				json_object_foreach(nodes, nkey, node)
					if (sel && selector_matches(sel, json_object_get(json_object_get(node, "metadata"), "labels")))
						json_object_set_new(claimed, nkey, json_string(name));
				in.verdict = STATUS_ACCEPTED;
				in.count_field = "collectors";
				in.count = __builtin_popcount(c->collectors);
				in.extra_field = "nodes";
				in.extra = selected;
				snprintf(msg, sizeof(msg), "applied on %lld node(s)", (long long)selected);
			}
			selector_free(sel);
			config_unref(c);
		}
		status_write(k, &monitor_res, name /* cluster-scoped: key = name */, NULL, name,
			     order[i], status_build(cur, &in, now));
	}
	status_sent_prune(k, &monitor_res, snap);
out:
	free(order);
	json_decref(claimed);
	json_decref(nodes);
	json_decref(snap);
}

/* --- ScrapeRule status (leader only) ------------------------------------- */

static const struct kube_resource rule_res = { "k8smon.io", "v1alpha1", "scraperules", true };

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
	struct kube_reflector *pods = k->ksw[KS_POD].r && kube_reflector_synced(k->ksw[KS_POD].r)
					      ? k->ksw[KS_POD].r : k->node_pods;
	struct disc_ctx ctx = { .node_name = "", .leader = true, .interval_ms = 15000 };
	json_t *snap, *pod;
	const char *key;
	int64_t n = 0;

	if (r->role != ROLE_POD)
		return (int64_t)scrape_mgr_rule_targets(k->scrape, r->namespace, r->name);
	snap = kube_store_snapshot(kube_reflector_store(pods));
	json_object_foreach(snap, key, pod)
		discover(r, ROLE_POD, pod, &ctx, count_target, &n);
	json_decref(snap);
	return n;
}

static void rules_status_sync(struct agent_kube *k)
{
	json_t *snap = kube_store_snapshot(kube_reflector_store(k->scrape_rules));
	const char *key;
	json_t *obj;
	char now[32];

	status_time(clock_wall(), now, sizeof(now));
	json_object_foreach(snap, key, obj) {
		const json_t *md = json_object_get(obj, "metadata");
		const char *name = json_string_value(json_object_get(md, "name"));
		const char *ns = json_string_value(json_object_get(md, "namespace"));
		const json_t *cur = json_object_get(obj, "status");
		char err[512] = "", msg[640];
		struct scrape_rule *r = scrape_rule_compile(obj, err, sizeof(err));
		struct status_input in = {
			.generation = json_integer_value(json_object_get(md, "generation")),
			.message = msg,
		};

		if (!name || !ns) {
			scrape_rule_unref(r);
			continue;
		}
		if (!r) {
			in.verdict = STATUS_INVALID;
			snprintf(msg, sizeof(msg), "%s%s", err, json_object_get(k->sr_good, key)
				 ? "; the last accepted version stays in effect" : "");
		} else {
			in.count_field = "targets";
			in.count = rule_targets(k, r);
			in.verdict = in.count ? STATUS_ACCEPTED : STATUS_NO_TARGETS;
			if (in.count)
				snprintf(msg, sizeof(msg), "%lld target(s) selected", (long long)in.count);
			else
				snprintf(msg, sizeof(msg), "no %s annotated %s/scrape matches the selectors",
					 scrape_role_name(r->role), r->prefix[0]);
			scrape_rule_unref(r);
		}
		status_write(k, &rule_res, key, ns, name, obj, status_build(cur, &in, now));
	}
	status_sent_prune(k, &rule_res, snap);
	json_decref(snap);
}

static void status_posted(void *arg)
{
	struct agent_kube *k = arg;

	k->status_timer = 0;
	if (atomic_load(&k->stopping) || !atomic_load(&k->leader))
		return;
	if (kube_reflector_synced(k->monitors))
		monitors_status_sync(k);
	if (k->scrape_rules && kube_reflector_synced(k->scrape_rules))
		rules_status_sync(k);
}

static void status_schedule(struct agent_kube *k, int64_t delay_ms)
{
	if (k->status_timer || atomic_load(&k->stopping))
		return;
	k->status_timer = kube_loop_timer(k->loop, delay_ms, status_posted, k);
}

/* Schedules one status sync shortly (coalescing bursts of changes). Loop thread. */
static void status_kick(struct agent_kube *k)
{
	status_schedule(k, STATUS_DELAY_MS);
}

/* Pod churn changes target counts: recount, but at most every few seconds,
 * so a busy cluster does not recount every pod on every event. */
static void status_kick_slow(struct agent_kube *k)
{
	status_schedule(k, STATUS_SLOW_DELAY_MS);
}

/* --- pods of this node, for the container collector ------------------------ */

static void pod_add(json_t *obj, void *arg)
{
	struct agent_kube *k = arg;
	int rc = podmap_upsert(k->podmap, obj);

	if (rc)
		log_warn("container", "cannot map pod %s: %s", kube_obj_name(obj) ?: "?", km_strerror(rc));
	scrape_mgr_upsert(k->scrape, ROLE_POD, obj); /* scrape */
	status_kick_slow(k);
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
	scrape_mgr_delete(k->scrape, ROLE_POD, obj); /* scrape */
	status_kick_slow(k);
}

/* --- scrape: ScrapeRules -> compiled rules for the scrape manager ---------- */

/* One entry of /config's discovery.scrapeRules: the rule key ("ns/name"),
 * the version in effect (r, NULL = none), its state and error. */
static void sr_view_add(json_t *rules, const char *key, const struct scrape_rule *r, const char *state,
			const char *err)
{
	json_t *e = json_pack("{s:s+, s:s}", "source", "ScrapeRule/", key, "state", state);

	if (!e)
		return;
	if (r)
		json_object_set_new(e, "inEffect",
				    json_pack("{s:I, s:s, s:s}", "generation", (json_int_t)r->generation,
					      "role", scrape_role_name(r->role), "annotationPrefix", r->prefix[0]));
	if (err)
		json_object_set_new(e, "error", json_string(err));
	json_array_append_new(rules, e);
}

/* /config's discovery object; takes rules. NULL on OOM. */
static json_t *sr_view_new(size_t in_effect, json_t *rules)
{
	return json_pack("{s:s, s:o}", "from", in_effect ? "ScrapeRules" : "flags (built-in rule: pods annotated "
			 RULE_DEFAULT_PREFIX "/scrape or prometheus.io/scrape)", "scrapeRules", rules);
}

/* Every valid ScrapeRule applies. An invalid edit of a rule that was valid
 * before keeps its last accepted version running (the nginx model); its
 * status, written by the leader, names the field. A rule that was never
 * valid does nothing. */
static void scrape_rules_changed(struct agent_kube *k)
{
	json_t *snap = kube_store_snapshot(kube_reflector_store(k->scrape_rules));
	json_t *good = json_object(), *rules = json_array(), *view;
	size_t n = 0, cap = json_object_size(snap);
	struct scrape_rule **v = calloc(cap ? cap : 1, sizeof(*v));
	const char *key;
	json_t *obj;

	if (!snap || !good || !rules || !v)
		goto out;
	json_object_foreach(snap, key, obj) {
		char err[512];
		json_t *last = json_object_get(k->sr_good, key);

		v[n] = scrape_rule_compile(obj, err, sizeof(err));
		if (v[n]) {
			json_object_set(good, key, obj);
			sr_view_add(rules, key, v[n], "accepted", NULL);
			n++;
			continue;
		}
		if (last && (v[n] = scrape_rule_compile(last, err, sizeof(err)))) {
			json_object_set(good, key, last);
			sr_view_add(rules, key, v[n], "invalid; the last accepted version stays in effect", err);
			n++;
			log_warn("scrape", "ScrapeRule %s rejected, its last accepted version stays: %s", key, err);
		} else {
			sr_view_add(rules, key, NULL, "invalid; ignored", err);
			log_warn("scrape", "ScrapeRule %s ignored: %s", key, err);
		}
	}
	/* scrape: the compiled rules become the ones in effect */
	for (size_t i = 0; i < k->sr_nrules; i++)
		scrape_rule_unref(k->sr_rules[i]);
	free(k->sr_rules);
	k->sr_rules = v;
	k->sr_nrules = n;
	v = NULL;
	n = 0;
	scrape_apply(k);
	/* Deleted rules drop out of the last-good map with this swap. */
	json_decref(k->sr_good);
	k->sr_good = good;
	good = NULL;
	view = sr_view_new(k->sr_nrules, rules);
	rules = NULL;
	if (view) {
		pthread_mutex_lock(&k->sr_view_lock);
		json_decref(k->sr_view);
		k->sr_view = view;
		pthread_mutex_unlock(&k->sr_view_lock);
	}
out:
	json_decref(rules);
	for (size_t i = 0; i < n; i++)
		scrape_rule_unref(v[i]);
	free(v);
	json_decref(good);
	json_decref(snap);
	status_kick(k);
}

static void sr_changed_posted(void *arg)
{
	struct agent_kube *k = arg;

	k->sr_pending = false;
	if (!atomic_load(&k->stopping))
		scrape_rules_changed(k);
}

/* Reflector callbacks run inside libcurl callbacks, where the scrape
 * manager may not start or stop its watches (removing other transfers from
 * the multi handle there is not allowed): apply at the top of the loop. */
static void sr_kick(struct agent_kube *k)
{
	if (k->sr_pending)
		return;
	k->sr_pending = kube_loop_post(k->loop, sr_changed_posted, k) == 0;
}

static void sr_add(json_t *obj, void *arg)
{
	(void)obj;
	sr_kick(arg);
}

static void sr_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	(void)new_obj;
	sr_kick(arg);
}

static void sr_synced(void *arg)
{
	sr_kick(arg);
}

/* --- leadership ----------------------------------------------------------- */

static void ks_reconcile_posted(void *arg)
{
	struct agent_kube *k = arg;

	if (!atomic_load(&k->stopping)) {
		ks_reconcile(k);
		status_kick(k);
	}
}

/* Leadership callbacks may come from inside curl callbacks: defer. */
static void on_leader_started(void *arg)
{
	struct agent_kube *k = arg;

	atomic_store(&k->leader, true);
	scrape_apply(k); /* scrape */
	log_info("leader", "became the leader: serving kube-state metrics after the initial sync");
	kube_loop_post(k->loop, ks_reconcile_posted, k);
}

static void on_leader_stopped(void *arg)
{
	struct agent_kube *k = arg;

	atomic_store(&k->leader, false);
	scrape_apply(k); /* scrape */
	log_info("leader", "no longer the leader: kube-state metrics stop");
	kube_loop_post(k->loop, ks_reconcile_posted, k);
}

/* --- lifecycle ------------------------------------------------------------ */

static struct kube_reflector *start_reflector(struct agent_kube *k, const struct kube_reflector_opts *o)
{
	struct kube_reflector *r = kube_reflector_new(k->client, o);

	if (!r)
		return NULL;
	if (kube_reflector_start(r)) {
		kube_reflector_free(r);
		return NULL;
	}
	return r;
}

/* Copies obj[name] into dst when present. */
static void keep_field(json_t *dst, const json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);

	if (v)
		json_object_set(dst, name, v);
}

/* True when some annotation key ends in "/scrape" (any prefix). */
static bool wants_scrape(const json_t *ann)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)ann, key, v) {
		size_t n = strlen(key);
		if (n >= 7 && strcmp(key + n - 7, "/scrape") == 0)
			return true;
	}
	return false;
}

/* Keeps only the Ready condition (discovery's only use of them). */
static void keep_ready_condition(json_t *dst, const json_t *st)
{
	json_t *conds = json_array(), *c;
	size_t i;

	if (!conds)
		return;
	json_array_foreach(json_object_get(st, "conditions"), i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && strcmp(t, "Ready") == 0) {
			json_t *one = json_object();
			if (one) {
				keep_field(one, c, "type");
				keep_field(one, c, "status");
				json_array_append_new(conds, one);
			}
		}
	}
	json_object_set_new(dst, "conditions", conds);
}

/* What the kube-state stores keep of an object: its resourceVersion (relist
 * diffs; the store key gives the identity for deletes), plus, for nodes, the
 * identity and labels (K8sMonitor nodeSelector status) and, for pods
 * annotated <prefix>/scrape, what discovery reads (ScrapeRule target counts;
 * a rule with requireAnnotation false therefore counts only annotated pods
 * cluster-wide). A full pod is ~20 KB as a JSON tree, the trimmed one a few
 * hundred bytes; kube-state itself keeps rendered lines. */
static json_t *ks_trim(const json_t *obj, enum ks_kind kind)
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
	bool discovery = kind == KS_POD && wants_scrape(json_object_get(md, "annotations"));
	json_t *out, *m;

	/* Nobody reads more than the identity of the other objects: keep the
	 * reflector's compact form (the resourceVersion alone, the key holds
	 * namespace/name), ~210 instead of ~1,330 bytes per object, 150 MB at
	 * 135k objects. Without a resourceVersion the relist diff needs the
	 * object form. */
	if (kind != KS_NODE && !discovery && rv && *rv)
		return json_string(rv);
	out = json_object();
	m = json_object();
	if (!out || !m)
		goto fail;
	keep_field(m, md, "name");
	keep_field(m, md, "namespace");
	keep_field(m, md, "uid");
	keep_field(m, md, "resourceVersion");
	if (kind == KS_NODE)
		keep_field(m, md, "labels");
	/* Discovery fields only for pods that ask to be scraped: at 100k pods
	 * the full set of every pod would be most of the agent's memory. */
	if (discovery) {
		const json_t *spec = json_object_get(obj, "spec"), *st = json_object_get(obj, "status");
		json_t *ann = json_object_get(md, "annotations");
		json_t *ns = json_object(), *nst = json_object(), *ctrs = json_array(), *c;
		size_t i;

		if (!ns || !nst || !ctrs) {
			json_decref(ns);
			json_decref(nst);
			json_decref(ctrs);
			goto fail;
		}
		if (ann) {
			/* The last-applied copy of the whole object is the biggest
			 * annotation and nobody here reads it. */
			json_t *a = json_copy(ann);
			if (a)
				json_object_del(a, "kubectl.kubernetes.io/last-applied-configuration");
			json_object_set_new(m, "annotations", a ? a : json_object());
		}
		keep_field(m, md, "labels");
		keep_field(m, md, "ownerReferences");
		keep_field(ns, spec, "nodeName");
		json_array_foreach(json_object_get(spec, "containers"), i, c) {
			json_t *one = json_object();
			if (!one)
				continue;
			keep_field(one, c, "name");
			keep_field(one, c, "image");
			keep_field(one, c, "ports");
			json_array_append_new(ctrs, one);
		}
		json_object_set_new(ns, "containers", ctrs);
		keep_field(nst, st, "phase");
		keep_field(nst, st, "podIP");
		keep_field(nst, st, "hostIP");
		keep_ready_condition(nst, st);
		json_object_set_new(out, "spec", ns);
		json_object_set_new(out, "status", nst);
	}
	json_object_set_new(out, "metadata", m);
	return out;
fail:
	json_decref(m);
	json_decref(out);
	return NULL;
}

static json_t *ks_trim_node(const json_t *obj)
{
	return ks_trim(obj, KS_NODE);
}

static json_t *ks_trim_pod(const json_t *obj)
{
	return ks_trim(obj, KS_POD);
}

static json_t *ks_trim_other(const json_t *obj)
{
	return ks_trim(obj, KS_KIND_COUNT);
}

static void stop_kube_state(struct agent_kube *k)
{
	k->ks_running = false;
	ks_ready_update(k); /* before the frees: HTTP threads stop looking */
	for (int i = 0; i < KS_KIND_COUNT; i++) {
		kube_reflector_free(k->ksw[i].r);
		k->ksw[i].r = NULL;
		/* No stale series: the next leader term starts from a fresh list. */
		ks_store_clear_kind(k->ks, (enum ks_kind)i);
	}
}

static int start_kube_state(struct agent_kube *k)
{
	k->ks_running = true;
	ks_ready_update(k);
	for (int i = 0; i < KS_KIND_COUNT; i++) {
		struct kube_reflector_opts o = {
			.res = ks_resources[i],
			.cbs = { ks_add, ks_update, ks_delete, ks_synced, &k->ksw[i] },
			.trim = i == KS_NODE ? ks_trim_node : i == KS_POD ? ks_trim_pod : ks_trim_other,
		};
		k->ksw[i].k = k;
		k->ksw[i].kind = (enum ks_kind)i;
		k->ksw[i].r = start_reflector(k, &o);
		if (!k->ksw[i].r)
			return KM_ENOMEM;
	}
	return 0;
}

struct agent_kube *agent_kube_start(const struct flags *f, const struct agent_kube_hooks *hooks,
				    char *err, size_t errlen)
{
	struct agent_kube *k = calloc(1, sizeof(*k));
	struct config *c = NULL;
	char sel[320];

	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->flags = f;
	k->hooks = hooks;
	atomic_store(&k->ks_settled, true); /* no kube-state watches yet */
	pthread_mutex_init(&k->sr_view_lock, NULL);
	k->status_sent = json_object();
	k->sr_view = sr_view_new(0, json_array());
	if (!k->status_sent || !k->sr_view) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
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
	k->ks = ks_store_new();
	k->podmap = podmap_new();
	c = hooks->get_config(hooks->arg);
	if (!k->ks || !k->podmap || ro_build(&k->ro, c)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	config_unref(c);
	c = NULL;
	if (kube_loop_start(k->loop)) {
		snprintf(err, errlen, "cannot start the API I/O thread");
		goto fail;
	}
	snprintf(sel, sizeof(sel), "metadata.name=%s", f->node_name);
	{
		struct kube_reflector_opts on = {
			.res = { "", "v1", "nodes", false },
			.field_selector = sel,
			.cbs = { mon_add, mon_update, mon_add, NULL, k },
		};
		struct kube_reflector_opts om = {
			.res = { "k8smon.io", "v1alpha1", "k8smonitors", false },
			.cbs = { mon_add, mon_update, mon_add, mon_synced, k },
		};
		char psel[320];
		struct kube_reflector_opts op = {
			.res = { "", "v1", "pods", true },
			.field_selector = psel,
			.cbs = { pod_add, pod_update, pod_delete, NULL, k },
		};
		snprintf(psel, sizeof(psel), "spec.nodeName=%s", f->node_name);
		k->self_node = start_reflector(k, &on);
		k->monitors = start_reflector(k, &om);
		/* scrape: the manager exists before the pod watch feeds it */
		{
			struct config *sc = hooks->get_config(hooks->arg);
			struct scrape_opts so = {
				.node_name = f->node_name, .interval_ms = sc->interval_ms,
				.enabled = sc->collectors & COLLECTOR_APP, .client = k->client,
			};
			struct kube_reflector_opts osr = {
				.res = { "k8smon.io", "v1alpha1", "scraperules", true },
				.cbs = { sr_add, sr_update, sr_add, sr_synced, k },
			};
			config_unref(sc);
			k->scrape = scrape_mgr_new(k->loop, &so);
			k->scrape_rules = k->scrape ? start_reflector(k, &osr) : NULL;
			if (!k->scrape_rules) {
				snprintf(err, errlen, "cannot start application scraping");
				goto fail;
			}
		}
		k->node_pods = start_reflector(k, &op);
		if (!k->self_node || !k->monitors || !k->node_pods) {
			snprintf(err, errlen, "cannot start watches");
			goto fail;
		}
	}
	{
		const char *pod = getenv("POD_NAME");
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
	log_info("kube", "connected to %s (%s)", kube_client_server(k->client), k->conn.source);
	return k;
fail:
	config_unref(c);
	agent_kube_stop(k);
	return NULL;
}

void agent_kube_stop(struct agent_kube *k)
{
	if (!k)
		return;
	atomic_store(&k->stopping, true);
	/* Leadership first: the Lease is released while the API is still up. */
	if (k->leader_el)
		kube_leader_stop(k->leader_el);
	for (int i = 0; i < KS_KIND_COUNT; i++)
		kube_reflector_free(k->ksw[i].r);
	kube_reflector_free(k->monitors);
	kube_reflector_free(k->self_node);
	kube_reflector_free(k->node_pods);
	kube_reflector_free(k->scrape_rules); /* scrape */
	json_decref(k->sr_good);
	if (k->loop)
		scrape_mgr_free(k->scrape); /* scrape: needs the running loop */
	for (size_t i = 0; i < k->sr_nrules; i++) /* scrape */
		scrape_rule_unref(k->sr_rules[i]);
	free(k->sr_rules);
	if (k->loop)
		kube_loop_stop(k->loop);
	json_decref(k->status_sent); /* after the stop: aborted writes still call status_done */
	json_decref(k->sr_view);
	pthread_mutex_destroy(&k->sr_view_lock);
	kube_leader_free(k->leader_el);
	kube_client_free(k->client);
	kube_loop_free(k->loop);
	ks_store_free(k->ks);
	podmap_free(k->podmap);
	ro_fini(&k->ro);
	kube_conn_fini(&k->conn);
	free(k);
}

bool agent_kube_ready(struct agent_kube *k)
{
	/* Without the K8sMonitor CRD the flags rule: do not wait for it. */
	bool monitors = kube_reflector_synced(k->monitors) || kube_reflector_absent(k->monitors);

	return monitors && kube_reflector_synced(k->self_node) &&
	       kube_reflector_synced(k->node_pods) && atomic_load(&k->ks_settled);
}

/* scrape: /metrics/apps, /api/v1/targets and the manager itself */
int agent_kube_apps_open(struct agent_kube *k, struct scrape_apps_cursor **c)
{
	return scrape_apps_open(k->scrape, c);
}

json_t *agent_kube_discovery_json(struct agent_kube *k)
{
	json_t *v;

	if (!k)
		return NULL;
	pthread_mutex_lock(&k->sr_view_lock);
	v = json_deep_copy(k->sr_view);
	pthread_mutex_unlock(&k->sr_view_lock);
	return v;
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

int agent_kube_write_kube_state(struct agent_kube *k, const struct config *c, struct buf *out)
{
	struct ks_filter f = {
		.namespaces = (const char *const *)c->namespaces.v,
		.nnamespaces = c->namespaces.n,
		.exclude_namespaces = (const char *const *)c->exclude_namespaces.v,
		.nexclude_namespaces = c->exclude_namespaces.n,
		.metric_allow = c->ks_allow,
		.metric_deny = c->ks_deny,
	};
	struct ks_self_counts counts[KS_KIND_COUNT];
	size_t n = 0;
	int rc;

	/* Exactly one emitter, and only a complete set: nothing until the
	 * leader's initial lists are all applied. */
	if (!(c->collectors & COLLECTOR_KUBE_STATE) || !atomic_load(&k->leader) || !atomic_load(&k->ks_ready))
		return 0;
	for (size_t i = 0; i < c->ks_resources.n; i++) {
		enum ks_kind kind;
		if (ks_kind_parse(c->ks_resources.v[i], &kind) == 0)
			f.kinds |= 1u << kind;
	}
	rc = ks_store_write(k->ks, &f, out);
	/* ks_ready: every kind is watched. */
	for (int i = 0; !rc && i < KS_KIND_COUNT; i++) {
		counts[n++] = (struct ks_self_counts){
			.resource = ks_kind_go_type((enum ks_kind)i),
			.list_success = atomic_load(&k->ksw[i].list_ok),
		};
	}
	if (!rc)
		rc = ks_write_self(out, counts, n, 0, 1);
	return rc;
}

int agent_kube_write_self(struct agent_kube *k, struct buf *out)
{
	/* k8smon_leader comes with the client's metrics (the elector registers it). */
	int rc = kube_metrics_write(k->client, out);

	if (!rc)
		rc = scrape_mgr_write_self(k->scrape, out); /* scrape */

	/* Store size: the memory figure of the kube-state benchmark. */
	if (!rc)
		rc = ks_write_store_metrics(out, k->ks);
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
	struct ks_self_counts counts[KS_KIND_COUNT];
	struct agent_ks_stream *st;
	size_t n = 0;
	int rc;

	*out = NULL;
	/* As agent_kube_write_kube_state: nothing unless leader and synced. */
	if (!(c->collectors & COLLECTOR_KUBE_STATE) || !atomic_load(&k->leader) || !atomic_load(&k->ks_ready))
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return KM_ENOMEM;
	st->ks = k->ks;
	st->f = (struct ks_filter){
		.namespaces = (const char *const *)c->namespaces.v,
		.nnamespaces = c->namespaces.n,
		.exclude_namespaces = (const char *const *)c->exclude_namespaces.v,
		.nexclude_namespaces = c->exclude_namespaces.n,
		.metric_allow = c->ks_allow,
		.metric_deny = c->ks_deny,
	};
	for (size_t i = 0; i < c->ks_resources.n; i++) {
		enum ks_kind kind;
		if (ks_kind_parse(c->ks_resources.v[i], &kind) == 0)
			st->f.kinds |= 1u << kind;
	}
	ks_cursor_init(&st->cur);
	buf_init(&st->tail, 1u << 20);
	/* ks_ready: every kind is watched. */
	for (int i = 0; i < KS_KIND_COUNT; i++) {
		counts[n++] = (struct ks_self_counts){
			.resource = ks_kind_go_type((enum ks_kind)i),
			.list_success = atomic_load(&k->ksw[i].list_ok),
		};
	}
	rc = ks_write_self(&st->tail, counts, n, 0, 1);
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
