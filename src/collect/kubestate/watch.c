#include "collect/kubestate/watch.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "collect/kubestate/crs.h"
#include "collect/kubestate/shard.h"
#include "config/selector.h"


/* Label and annotation allowlists derived from one configuration. */
struct ks_render_opts {
	struct config *cfg;                 /* reference held */
	struct ks_opts opts;                /* points into cfg, keys and akeys */
	const char **keys[KS_KIND_COUNT];   /* owned arrays (labels) */
	const char **akeys[KS_KIND_COUNT];  /* owned arrays (annotations) */
};

struct ks_kind_sub {
	struct ks_watcher *w;
	enum ks_kind kind;
	struct kube_sub *sub;
	bool skipped;                       /* 403/404 logged; loop thread */
	_Atomic uint64_t list_ok;
};

/* A pod watch of per-node pod state (docs/kube-state-sharding.md): the
 * leader's unscheduled pods (node "") or one uncovered node's pods,
 * tagged src in the store. */
struct ks_pod_sub {
	struct ks_watcher *w;
	unsigned src;
	struct kube_sub *sub;
	bool relisting;                     /* wide: a replay of stored forms asked for a LIST */
	/* An uncovered node's watch: the "ns/name" keys of the pods it put in
	 * the store (owned), what stopping it takes out again. Not the
	 * informer's store: while a relist runs that is a new, empty one. */
	json_t *held;
	bool held_lost;                     /* a key could not be kept (out of memory) */
	char node[256];
};

/* Distinct anomalies logged once each (keys); bounded. */
#define KS_SHARD_LOGGED_MAX 4096

/* One configured custom resource (kubeState.customResourceState). */
struct ks_crs_sub {
	struct ks_watcher *w;
	size_t res;
	struct kube_sub *sub;
};

struct ks_watcher {
	struct kube_informers *reg;
	struct kube_loop *loop;
	struct ks_store *ks;
	void (*on_change)(enum ks_kind kind, void *arg);
	void *arg;
	ks_kind_set kinds_on;               /* subscribed kinds (KS_KIND_BIT); loop thread */
	ks_kind_set kinds_wanted;           /* what the cycle in effect selects; loop thread */
	uint64_t retry_timer;               /* subscribing failed; loop thread */
	uint64_t check_timer;               /* readiness re-check; loop thread */
	struct ks_render_opts ro;           /* loop thread */
	struct ks_kind_sub kinds[KS_KIND_COUNT];
	atomic_bool ready;
	atomic_bool settled;
	/* Kinds complete in this term: every subscribed kind once all were
	 * ready; while kinds added later list, those that already were
	 * (ks_watcher_served). Cleared with the kinds dropped. */
	_Atomic ks_kind_set served;
	struct log_limit render_log;        /* loop thread */
	struct log_limit labels_log;        /* loop thread */
	struct log_limit values_log;        /* loop thread */
	/* custom resources: the store (owned), the spec its subscriptions
	 * follow (owned ref, NULL = none) and one subscription per resource */
	struct crs_store *crs;
	json_t *crs_spec;
	struct ks_crs_sub crs_subs[CRS_RESOURCES_MAX];
	size_t ncrs;
	struct log_limit crs_log;           /* loop thread */
	/* Per-node pod state (loop thread unless atomic). The identity is
	 * borrowed (ks_watcher_set_identity). */
	struct kube_sub *node_pods;         /* this node's pods (agent/kube.c's) */
	const char *node_name, *pod_name, *ns;
	struct selector *agent_sel;         /* owned; NULL: every pod */
	const char *agent_sel_str;
	bool node_feed;                     /* NODE-tagged pods kept from node_pods */
	bool shard_leader;                  /* the leader's node-mode watches run */
	struct ks_pod_sub unsched;
	struct ks_pod_sub uncov[KS_SHARD_NODE_WATCH_MAX];
	size_t uncov_cap;                   /* per-node watches before the wide one */
	/* Past the cap: one cluster-wide pod watch, kept only for the pods of
	 * uncov_set (node name -> true, owned) */
	struct ks_pod_sub wide;
	json_t *uncov_set;
	uint64_t shard_retry_timer;         /* a leader watch could not start */
	ks_subscribe_fn subscribe;          /* kube_informer_subscribe; tests fail it */
	struct kube_sub *agents;            /* leader: the agent pods */
	struct kube_sub *nodes;             /* leader: every Node (names) */
	uint64_t cov_timer;
	json_t *logged;                     /* anomaly key -> true */
	atomic_int self_state;              /* enum ks_shard_self */
	atomic_bool node_ready;
	_Atomic size_t uncovered_watched, uncovered_unwatched;
};

static void ro_fini(struct ks_render_opts *ro)
{
	for (int i = 0; i < KS_KIND_COUNT; i++) {
		free(ro->keys[i]);
		free(ro->akeys[i]);
	}
	config_unref(ro->cfg);
	memset(ro, 0, sizeof(*ro));
}

/* One allowlist map ({"pods": ["app"]}) into keys[] and lists[]; the
 * strings stay owned by the configuration. */
static int allowlist_build(const json_t *map, const char **keys[KS_KIND_COUNT],
			   struct ks_allowlist lists[KS_KIND_COUNT])
{
	const char *kind_name;
	json_t *names;

	json_object_foreach((json_t *)map, kind_name, names) {
		enum ks_kind kind;
		size_t i, n = json_array_size(names);
		json_t *v;

		if (ks_kind_parse(kind_name, &kind))
			continue; /* validated as a map; unknown kinds have nothing to label */
		keys[kind] = calloc(n + 1, sizeof(char *));
		if (!keys[kind])
			return KM_ENOMEM;
		json_array_foreach(names, i, v)
			keys[kind][i] = json_string_value(v);
		lists[kind] = (struct ks_allowlist){ keys[kind], n };
	}
	return 0;
}

/* Builds render options from c's kubeState.labelsAllowlist and
 * annotationsAllowlist. */
static int ro_build(struct ks_render_opts *ro, struct config *c)
{
	int rc;

	memset(ro, 0, sizeof(*ro));
	ro->cfg = config_ref(c);
	rc = allowlist_build(c->ks_labels_allowlist, ro->keys, ro->opts.labels);
	if (!rc)
		rc = allowlist_build(c->ks_annotations_allowlist, ro->akeys, ro->opts.annotations);
	if (rc)
		ro_fini(ro);
	return rc;
}

/* Renders obj into the store as held by watch src, logging (rate
 * limited) what rendering left out. */
static void upsert_src(struct ks_watcher *w, enum ks_kind kind, json_t *obj, unsigned src)
{
	struct ks_label_drops before, after;
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	int rc;

	ks_store_label_drops(w->ks, &before);
	rc = ks_store_upsert_src(w->ks, kind, obj, &w->ro.opts, src);
	ks_store_label_drops(w->ks, &after);
	if (rc)
		log_limited(&w->render_log, 30000, LOG_WARN, "kube-state",
			    "cannot render %s %s (previous rendering kept): %s",
			    ks_kind_resource(kind), name ? name : "?", km_strerror(rc));
	if (after.value_length != before.value_length || after.label_count != before.label_count)
		log_limited(&w->labels_log, 30000, LOG_WARN, "kube-state",
			    "%s %s: %llu allow-listed labels/annotations over %d bytes and %llu past %d "
			    "per series left out of kube_*_labels/_annotations",
			    ks_kind_resource(kind), name ? name : "?",
			    (unsigned long long)(after.value_length - before.value_length),
			    KS_LABEL_VALUE_MAX,
			    (unsigned long long)(after.label_count - before.label_count), KS_LABELS_MAX);
	if (after.bad_quantity != before.bad_quantity)
		log_limited(&w->values_log, 30000, LOG_WARN, "kube-state",
			    "%s %s: %llu resource quantities that do not parse; their series are left out "
			    "(k8smon_kube_state_values_skipped_total)",
			    ks_kind_resource(kind), name ? name : "?",
			    (unsigned long long)(after.bad_quantity - before.bad_quantity));
}

static void on_upsert(struct ks_kind_sub *ks, json_t *obj)
{
	upsert_src(ks->w, ks->kind, obj, KS_SRC_LEADER);
}

static void changed(struct ks_kind_sub *ks)
{
	if (ks->w->on_change)
		ks->w->on_change(ks->kind, ks->w->arg);
}

static void cb_add(json_t *obj, void *arg)
{
	on_upsert(arg, obj);
	changed(arg);
}

static void cb_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	on_upsert(arg, new_obj);
}

static void cb_delete(json_t *obj, void *arg)
{
	struct ks_kind_sub *ks = arg;
	json_t *md = json_object_get(obj, "metadata");

	ks_store_delete_src(ks->w->ks, ks->kind, json_string_value(json_object_get(md, "namespace")),
			    json_string_value(json_object_get(md, "name")), KS_SRC_LEADER);
	changed(ks);
}

/* Ready when every subscribed kind is synced, or refused by RBAC (403) or
 * not served (404): a kind this agent may not list (the chart grants no
 * Secrets or ConfigMaps by default) must not hold back every other kind's
 * series. Such kinds simply have no series; each is logged once. Until
 * ready, a timer re-checks every second (a 403 fires no callback). */
static void ready_check(void *arg);

static void ready_update(struct ks_watcher *w)
{
	bool all = w->kinds_on != 0 || w->shard_leader;

	for (int i = 0; i < KS_KIND_COUNT; i++) {
		struct ks_kind_sub *ks = &w->kinds[i];
		bool skip;

		if (!(w->kinds_on & KS_KIND_BIT(i)) || kube_sub_synced(ks->sub))
			continue;
		skip = kube_sub_forbidden(ks->sub) || kube_sub_absent(ks->sub);
		if (skip && !ks->skipped)
			log_warn("kube-state", "%s cannot be listed (%s): its families are left out until it can",
				 ks_kind_resource(ks->kind), kube_sub_forbidden(ks->sub) ? "403: RBAC" : "404: not served");
		ks->skipped = skip;
		all &= skip;
	}
	if (w->shard_leader)
		all &= w->unsched.sub && (kube_sub_synced(w->unsched.sub) || kube_sub_forbidden(w->unsched.sub));
	atomic_store(&w->served, all ? w->kinds_on : atomic_load(&w->served) & w->kinds_on);
	atomic_store(&w->ready, all);
	atomic_store(&w->settled, all || !(w->kinds_on || w->shard_leader));
	if (!all && (w->kinds_on || w->shard_leader) && !w->check_timer)
		w->check_timer = kube_loop_timer(w->loop, 1000, ready_check, w);
}

static void ready_check(void *arg)
{
	struct ks_watcher *w = arg;

	w->check_timer = 0;
	ready_update(w);
}

static void cb_synced(void *arg)
{
	struct ks_kind_sub *ks = arg;

	atomic_fetch_add(&ks->list_ok, 1);
	ready_update(ks->w);
	changed(ks);
}

static json_t *(*trim_of(enum ks_kind kind))(const json_t *)
{
	return kind == KS_NODE ? ks_trim_node : kind == KS_POD ? ks_trim_pod : ks_trim_other;
}

/* Subscribes the kinds of mask that are off and cancels those on that
 * mask lacks. KM_ENOMEM when a subscription failed (the others stand). */
static int set_kinds(struct ks_watcher *w, ks_kind_set mask)
{
	ks_kind_set drop = w->kinds_on & ~mask;
	int rc = 0;

	w->kinds_on &= ~drop;
	ready_update(w); /* before the cancels: readers stop looking */
	for (int i = 0; i < KS_KIND_COUNT; i++) {
		struct ks_kind_sub *ks = &w->kinds[i];

		if (drop & KS_KIND_BIT(i)) {
			kube_sub_cancel(ks->sub);
			ks->sub = NULL;
			ks->skipped = false;
			/* No stale series: the next term starts from a fresh list
			 * (pods other watches hold stay: per-node pod state). */
			ks_store_clear_src(w->ks, (enum ks_kind)i, KS_SRC_LEADER);
		} else if ((mask & KS_KIND_BIT(i)) && !(w->kinds_on & KS_KIND_BIT(i))) {
			struct kube_informer_key key = { .res = *ks_kind_api((enum ks_kind)i) };
			struct kube_reflector_cbs cbs = { cb_add, cb_update, cb_delete, cb_synced, ks };

			ks->w = w;
			ks->kind = (enum ks_kind)i;
			ks->sub = kube_informer_subscribe(w->reg, &key, &cbs, trim_of((enum ks_kind)i));
			if (ks->sub)
				w->kinds_on |= KS_KIND_BIT(i);
			else
				rc = KM_ENOMEM;
		}
	}
	ready_update(w);
	return rc;
}

static bool json_same(const json_t *x, const json_t *y)
{
	return (!x && !y) || (x && y && json_equal(x, y));
}

static bool allowlist_same(const struct config *a, const struct config *b)
{
	return json_same(a ? a->ks_labels_allowlist : NULL, b ? b->ks_labels_allowlist : NULL) &&
	       json_same(a ? a->ks_annotations_allowlist : NULL,
			 b ? b->ks_annotations_allowlist : NULL);
}

/* Kinds the configuration selects (kubeState.resources; empty = all). */
static ks_kind_set wanted_kinds(const struct cycle *c)
{
	ks_kind_set m;

	if (!c->leader || !(c->cfg->collectors & COLLECTOR_KUBE_STATE))
		return 0;
	m = ks_kind_mask(c->cfg->ks_resources.v, c->cfg->ks_resources.n);
	/* node mode: the leader's pods come from the watches of per-node pod
	 * state, never from a cluster-wide pod watch */
	if (c->cfg->ks_pod_sharding == KS_SHARD_NODE)
		m &= ~KS_KIND_BIT(KS_POD);
	return m;
}

/* Whether c asks for pod families at all. */
static bool pods_wanted(const struct cycle *c)
{
	return (c->cfg->collectors & COLLECTOR_KUBE_STATE) &&
	       (ks_kind_mask(c->cfg->ks_resources.v, c->cfg->ks_resources.n) & KS_KIND_BIT(KS_POD));
}

static void retry(void *arg)
{
	struct ks_watcher *w = arg;

	w->retry_timer = 0;
	if (set_kinds(w, w->kinds_wanted)) {
		log_error("kube-state", "cannot start watches: out of memory; retrying in 1 s");
		w->retry_timer = kube_loop_timer(w->loop, 1000, retry, w);
	}
}

static void crs_upsert(void *arg, json_t *obj)
{
	struct ks_crs_sub *cs = arg;
	struct ks_watcher *w = cs->w;
	uint64_t before = crs_store_skipped(w->crs);
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	int rc = crs_store_upsert(w->crs, cs->res, obj);

	if (rc)
		log_limited(&w->crs_log, 30000, LOG_WARN, "kube-state",
			    "custom resource %s: cannot render (previous rendering kept): %s", name ? name : "?",
			    km_strerror(rc));
	else if (crs_store_skipped(w->crs) != before)
		log_limited(&w->crs_log, 30000, LOG_WARN, "kube-state",
			    "custom resource %s: %llu values absent or not convertible to a number; their series "
			    "are left out (k8smon_kube_state_custom_resource_values_skipped_total)",
			    name ? name : "?", (unsigned long long)(crs_store_skipped(w->crs) - before));
}

static void crs_cb_add(json_t *obj, void *arg)
{
	crs_upsert(arg, obj);
}

static void crs_cb_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	crs_upsert(arg, new_obj);
}

static void crs_cb_delete(json_t *obj, void *arg)
{
	struct ks_crs_sub *cs = arg;
	json_t *md = json_object_get(obj, "metadata");

	crs_store_delete(cs->w->crs, cs->res, json_string_value(json_object_get(md, "namespace")),
			 json_string_value(json_object_get(md, "name")));
}

static void crs_cb_synced(void *arg)
{
	(void)arg;
}

/* Follows kubeState.customResourceState: when the spec (or whether this
 * agent renders kube-state at all) changed, every custom resource
 * subscription is cancelled, the store starts over with the new
 * configuration and each configured resource is listed and watched. A
 * CRD that is not installed (404) or not granted (403) simply has no
 * series; the informer keeps retrying. */
static void crs_apply(struct ks_watcher *w, const struct cycle *c)
{
	bool on = c->leader && (c->cfg->collectors & COLLECTOR_KUBE_STATE) && c->cfg->ks_crs;
	const json_t *spec = on ? c->cfg->ks_crs_spec : NULL;
	struct crs_config *cfg = on ? c->cfg->ks_crs : NULL;

	if (!w->crs || json_same(spec, w->crs_spec))
		return;
	for (size_t i = 0; i < w->ncrs; i++) {
		kube_sub_cancel(w->crs_subs[i].sub);
		w->crs_subs[i].sub = NULL;
	}
	w->ncrs = 0;
	json_decref(w->crs_spec);
	/* a copy of its own: the cycle's config may be freed on another thread */
	w->crs_spec = spec ? json_deep_copy(spec) : NULL;
	if (spec && !w->crs_spec)
		cfg = NULL; /* out of memory: nothing watched; the next change retries */
	crs_store_set_config(w->crs, cfg);
	for (size_t i = 0; cfg && i < crs_nresources(cfg); i++) {
		struct crs_resource_info ri;
		struct ks_crs_sub *cs = &w->crs_subs[w->ncrs];
		struct kube_informer_key key;
		struct kube_reflector_cbs cbs = { crs_cb_add, crs_cb_update, crs_cb_delete, crs_cb_synced, cs };

		crs_resource(cfg, i, &ri);
		key = (struct kube_informer_key){ .res = { ri.group, ri.version, ri.plural, false } };
		cs->w = w;
		cs->res = i;
		cs->sub = kube_informer_subscribe(w->reg, &key, &cbs, ks_trim_other);
		if (!cs->sub) {
			log_error("kube-state", "cannot watch custom resource %s: out of memory", ri.plural);
			continue;
		}
		w->ncrs++;
		log_info("kube-state", "watching custom resource %s.%s/%s (%s) for %zu families", ri.plural,
			 ri.group, ri.version, ri.kind, ri.nfamilies);
	}
}

static void node_feed_set(struct ks_watcher *w, bool on, bool rerender);
static void shard_leader_set(struct ks_watcher *w, bool on);

void ks_watcher_apply(struct ks_watcher *w, const struct cycle *c)
{
	ks_kind_set want = wanted_kinds(c), before = w->kinds_on;
	bool relabel = w->ro.cfg && !allowlist_same(w->ro.cfg, c->cfg);
	bool node_mode = c->cfg->ks_pod_sharding == KS_SHARD_NODE && pods_wanted(c);

	crs_apply(w, c);

	if (relabel || !w->ro.cfg) {
		ro_fini(&w->ro);
		if (ro_build(&w->ro, c->cfg))
			log_error("kube-state", "out of memory building label allowlists");
	}
	/* Per-node pod state: every agent keeps its node's pods, the leader
	 * watches unscheduled pods and uncovered nodes. */
	node_feed_set(w, node_mode && w->node_pods, relabel);
	shard_leader_set(w, node_mode && c->leader && w->node_pods);
	if (relabel && w->shard_leader) {
		kube_sub_relist(w->unsched.sub);
		for (size_t i = 0; i < KS_SHARD_NODE_WATCH_MAX; i++)
			if (w->uncov[i].sub)
				kube_sub_relist(w->uncov[i].sub);
	}
	w->kinds_wanted = want;
	/* Kinds kept across an allowlist change are rendered again. */
	if (relabel && (before & want)) {
		for (int i = 0; i < KS_KIND_COUNT; i++)
			if (before & want & KS_KIND_BIT(i))
				kube_sub_relist(w->kinds[i].sub);
		log_info("kube-state", "label allowlist changed: relisting to re-render");
	}
	if (want == before) {
		ready_update(w);
		return;
	}
	if (set_kinds(w, want) && !w->retry_timer) {
		log_error("kube-state", "cannot start watches: out of memory; retrying in 1 s");
		w->retry_timer = kube_loop_timer(w->loop, 1000, retry, w);
	}
	if (!want)
		log_info("kube-state", "watches stopped (%s)", c->leader ? "collector disabled" : "not the leader");
	else if (!before)
		log_info("kube-state", "watching kube-state resources");
	else
		log_info("kube-state", "watched kinds changed (kubeState.resources)");
}

struct ks_watcher *ks_watcher_new(struct kube_informers *reg, struct kube_loop *loop, struct ks_store *ks,
				  void (*on_change)(enum ks_kind kind, void *arg), void *arg)
{
	struct ks_watcher *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->reg = reg;
	w->loop = loop;
	w->ks = ks;
	w->on_change = on_change;
	w->arg = arg;
	w->crs = crs_store_new();
	if (!w->crs) {
		free(w);
		return NULL;
	}
	atomic_store(&w->settled, true); /* nothing to wait for yet */
	atomic_init(&w->self_state, KS_SELF_NONE);
	w->uncov_cap = KS_SHARD_NODE_WATCH_MAX;
	w->subscribe = kube_informer_subscribe;
	return w;
}

void ks_watcher_free(struct ks_watcher *w)
{
	if (!w)
		return;
	/* The loop is stopped: the registry frees the subscriptions. */
	ro_fini(&w->ro);
	selector_free(w->agent_sel);
	json_decref(w->logged);
	json_decref(w->uncov_set);
	for (size_t i = 0; i < KS_SHARD_NODE_WATCH_MAX; i++)
		json_decref(w->uncov[i].held);
	crs_store_free(w->crs);
	json_decref(w->crs_spec);
	free(w);
}

bool ks_watcher_ready(struct ks_watcher *w)
{
	return w && atomic_load(&w->ready);
}

bool ks_watcher_settled(struct ks_watcher *w)
{
	return !w || atomic_load(&w->settled);
}

ks_kind_set ks_watcher_served(struct ks_watcher *w)
{
	return w ? atomic_load(&w->served) : 0;
}

uint64_t ks_watcher_list_ok(struct ks_watcher *w, enum ks_kind kind)
{
	return atomic_load(&w->kinds[kind].list_ok);
}

struct kube_store *ks_watcher_store(struct ks_watcher *w, enum ks_kind kind)
{
	struct kube_sub *s = (w->kinds_on & KS_KIND_BIT(kind)) ? w->kinds[kind].sub : NULL;

	return s && kube_sub_synced(s) ? kube_sub_store(s) : NULL;
}

struct crs_store *ks_watcher_crs(struct ks_watcher *w)
{
	return w ? w->crs : NULL;
}

/* --- per-node pod state (docs/kube-state-sharding.md) ---------------------- */

/* Logs line once per key (anomalies: each is said once, not per event). */
static void log_once(struct ks_watcher *w, const char *key, const char *line)
{
	if (!w->logged)
		w->logged = json_object();
	if (!w->logged || json_object_get(w->logged, key))
		return;
	if (json_object_size(w->logged) >= KS_SHARD_LOGGED_MAX)
		json_object_clear(w->logged);
	json_object_set_new(w->logged, key, json_true());
	log_warn("kube-state", "%s", line);
}

static void cov_run(void *arg);

/* Coverage is re-evaluated once per burst of events, never inside the
 * callback that brought one (subscriptions change there). */
static void cov_kick(struct ks_watcher *w)
{
	if (!w->cov_timer && (w->node_feed || w->shard_leader))
		w->cov_timer = kube_loop_timer(w->loop, 100, cov_run, w);
}

/* "ns/name" of pod into key; false when it does not fit or has no name. */
static bool pod_key(const json_t *pod, char *key, size_t cap)
{
	const json_t *md = json_object_get(pod, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	int n = ns && name ? snprintf(key, cap, "%s/%s", ns, name) : -1;

	return n > 0 && (size_t)n < cap;
}

static void pod_cb_add(json_t *obj, void *arg)
{
	struct ks_pod_sub *ps = arg;
	char key[600];

	upsert_src(ps->w, KS_POD, obj, ps->src);
	if (ps->src != KS_SRC_UNCOVERED)
		return;
	if (!ps->held)
		ps->held = json_object();
	if (!ps->held || !pod_key(obj, key, sizeof(key)) || json_object_set_new(ps->held, key, json_true()))
		ps->held_lost = true;
}

static void pod_cb_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	pod_cb_add(new_obj, arg);
}

static void pod_cb_delete(json_t *obj, void *arg)
{
	struct ks_pod_sub *ps = arg;
	json_t *md = json_object_get(obj, "metadata");
	char key[600];

	if (ps->held && pod_key(obj, key, sizeof(key)))
		json_object_del(ps->held, key);
	ks_store_delete_src(ps->w->ks, KS_POD, json_string_value(json_object_get(md, "namespace")),
			    json_string_value(json_object_get(md, "name")), ps->src);
}

static void pod_cb_synced(void *arg)
{
	struct ks_pod_sub *ps = arg;

	if (ps->src == KS_SRC_UNSCHED) {
		atomic_fetch_add(&ps->w->kinds[KS_POD].list_ok, 1);
		ready_update(ps->w);
	} else {
		ps->relisting = false;
		cov_kick(ps->w); /* a hand-over between node and wide watches waits for it */
	}
}

/* The wide watch keeps a pod only while its node is uncovered (pods with
 * no node are the unscheduled watch's): covered nodes' pods are decoded
 * and dropped, never rendered. */
static bool wide_keeps(const struct ks_watcher *w, const json_t *pod)
{
	const char *node = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));

	return node && node[0] && w->uncov_set && json_object_get(w->uncov_set, node);
}

static void wide_cb_add(json_t *obj, void *arg)
{
	struct ks_pod_sub *ps = arg;
	json_t *md = json_object_get(obj, "metadata");

	if (!json_is_object(json_object_get(obj, "spec"))) {
		/* a replay of what the informer stores (resourceVersions only:
		 * ks_trim_pod) when it outlived the previous wide watch: the
		 * node is unknown, so the pods come again from a LIST */
		if (!ps->relisting)
			kube_sub_relist(ps->sub);
		ps->relisting = true;
		return;
	}
	if (wide_keeps(ps->w, obj))
		upsert_src(ps->w, KS_POD, obj, KS_SRC_WIDE);
	else /* its node got an agent, or the pod moved: no longer ours */
		ks_store_delete_src(ps->w->ks, KS_POD, json_string_value(json_object_get(md, "namespace")),
				    json_string_value(json_object_get(md, "name")), KS_SRC_WIDE);
}

static void wide_cb_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	wide_cb_add(new_obj, arg);
}

static int pod_sub_start(struct ks_watcher *w, struct ks_pod_sub *ps, const char *node, unsigned src)
{
	char fsel[300];
	bool wide = src == KS_SRC_WIDE;
	struct kube_informer_key key = { .res = *ks_kind_api(KS_POD), .field_selector = wide ? NULL : fsel };
	struct kube_reflector_cbs cbs = { wide ? wide_cb_add : pod_cb_add, wide ? wide_cb_update : pod_cb_update,
					  pod_cb_delete, pod_cb_synced, ps };

	if (strlen(node) >= sizeof(ps->node))
		return KM_EINVAL;
	snprintf(ps->node, sizeof(ps->node), "%s", node);
	snprintf(fsel, sizeof(fsel), "spec.nodeName=%s", node);
	ps->w = w;
	ps->src = src;
	ps->relisting = false;
	ps->sub = w->subscribe(w->reg, &key, &cbs, ks_trim_pod);
	return ps->sub ? 0 : KM_ENOMEM;
}

/* Ends a pod watch and drops what it alone held. */
static void pod_sub_stop(struct ks_watcher *w, struct ks_pod_sub *ps)
{
	json_t *held = ps->held;
	const char *key;
	json_t *v;

	ps->held = NULL;
	if (!ps->sub) {
		json_decref(held);
		return;
	}
	kube_sub_cancel(ps->sub);
	ps->sub = NULL;
	if (ps->src != KS_SRC_UNCOVERED || ps->held_lost) {
		/* unscheduled and wide pods: the only watch with its tag; a node
		 * watch that lost a key (out of memory): every node's pods
		 * relisted */
		ks_store_clear_src(w->ks, KS_POD, ps->src);
		for (size_t i = 0; ps->src == KS_SRC_UNCOVERED && i < KS_SHARD_NODE_WATCH_MAX; i++)
			if (w->uncov[i].sub)
				kube_sub_relist(w->uncov[i].sub);
	} else {
		json_object_foreach(held, key, v) {
			const char *slash = strchr(key, '/');
			char ns[256];

			if (!slash || (size_t)(slash - key) >= sizeof(ns))
				continue;
			memcpy(ns, key, (size_t)(slash - key));
			ns[slash - key] = '\0';
			ks_store_delete_src(w->ks, KS_POD, ns, slash + 1, ps->src);
		}
	}
	json_decref(held);
	ps->held_lost = false;
	ps->node[0] = '\0';
}

/* What the leader keeps of an agent pod: what coverage reads. */
static json_t *trim_agent(const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	json_t *conds = json_array(), *c;
	size_t i;
	json_t *out = json_pack("{s:{s:O?, s:O?, s:O?, s:O?, s:O?}, s:{s:O?}, s:{s:o}}",
				"metadata", "name", json_object_get(md, "name"), "namespace",
				json_object_get(md, "namespace"), "labels", json_object_get(md, "labels"),
				"deletionTimestamp", json_object_get(md, "deletionTimestamp"), "resourceVersion",
				json_object_get(md, "resourceVersion"), "spec", "nodeName",
				json_object_get(json_object_get(obj, "spec"), "nodeName"), "status", "conditions",
				conds ? conds : json_array());

	json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (out && conds && t && strcmp(t, "Ready") == 0)
			json_array_append_new(conds, json_pack("{s:s, s:O?}", "type", "Ready", "status",
							       json_object_get(c, "status")));
	}
	return out;
}

static void agents_cb(json_t *obj, void *arg)
{
	(void)obj;
	cov_kick(arg);
}

static void agents_cb_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	(void)old_obj;
	(void)new_obj;
	cov_kick(arg);
}

static void agents_cb_synced(void *arg)
{
	cov_kick(arg);
}

static void shard_retry(void *arg);

/* A leader watch that could not start is tried again in 1 s (as the kind
 * watches are): output must not stop for good on one failed allocation. */
static void shard_retry_arm(struct ks_watcher *w)
{
	if (!w->shard_retry_timer && w->shard_leader)
		w->shard_retry_timer = kube_loop_timer(w->loop, 1000, shard_retry, w);
}

/* Starts whichever of the leader's fixed watches (unscheduled pods, agent
 * pods, nodes) is not running. KM_ENOMEM when one still is not. */
static int shard_leader_fill(struct ks_watcher *w)
{
	struct kube_informer_key ak = { .res = *ks_kind_api(KS_POD), .namespace = w->ns,
					.label_selector = w->agent_sel_str };
	struct kube_informer_key nk = { .res = *ks_kind_api(KS_NODE) };
	struct kube_reflector_cbs cbs = { agents_cb, agents_cb_update, agents_cb, agents_cb_synced, w };
	int rc = 0;

	if (!w->unsched.sub && pod_sub_start(w, &w->unsched, "", KS_SRC_UNSCHED)) {
		log_error("kube-state", "cannot watch unscheduled pods: out of memory; retrying in 1 s");
		rc = KM_ENOMEM;
	}
	if (!w->agents)
		w->agents = w->subscribe(w->reg, &ak, &cbs, trim_agent);
	if (!w->nodes)
		w->nodes = w->subscribe(w->reg, &nk, &cbs, ks_trim_node);
	if (!w->agents || !w->nodes) {
		log_error("kube-state", "cannot watch the agents' pods or the nodes: out of memory; "
			  "retrying in 1 s (until then the leader emits no uncovered node's pods)");
		rc = KM_ENOMEM;
	}
	ready_update(w);
	return rc;
}

static void shard_retry(void *arg)
{
	struct ks_watcher *w = arg;

	w->shard_retry_timer = 0;
	if (!w->shard_leader)
		return;
	if (shard_leader_fill(w))
		shard_retry_arm(w);
	cov_kick(w); /* node watches that failed are started by the coverage pass */
}

/* The leader's node-mode watches on or off. */
static void shard_leader_set(struct ks_watcher *w, bool on)
{
	if (on == w->shard_leader)
		return;
	if (on) {
		w->shard_leader = true;
		if (shard_leader_fill(w))
			shard_retry_arm(w);
		log_info("kube-state", "pod sharding by node: the leader emits pods with no node and pods of "
			 "nodes without a Ready agent (selector %s in %s)",
			 w->agent_sel_str && w->agent_sel_str[0] ? w->agent_sel_str : "(all pods)", w->ns);
		cov_kick(w);
		return;
	}
	pod_sub_stop(w, &w->unsched);
	for (size_t i = 0; i < KS_SHARD_NODE_WATCH_MAX; i++)
		pod_sub_stop(w, &w->uncov[i]);
	pod_sub_stop(w, &w->wide);
	json_decref(w->uncov_set);
	w->uncov_set = NULL;
	kube_sub_cancel(w->agents);
	kube_sub_cancel(w->nodes);
	w->agents = w->nodes = NULL;
	w->shard_leader = false;
	if (w->shard_retry_timer)
		kube_loop_timer_cancel(w->loop, w->shard_retry_timer);
	w->shard_retry_timer = 0;
	atomic_store(&w->uncovered_watched, 0);
	atomic_store(&w->uncovered_unwatched, 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Logs once each node with more than one Ready agent. */
static void log_dups(struct ks_watcher *w, json_t *dups)
{
	const char *node;
	json_t *names;

	json_object_foreach(dups, node, names) {
		char key[600], line[900], list[512];
		size_t len = 0, i;
		json_t *n;

		list[0] = '\0';
		json_array_foreach(names, i, n) {
			int k = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", json_string_value(n));
			if (k < 0 || (size_t)k >= sizeof(list) - len)
				break;
			len += (size_t)k;
		}
		snprintf(key, sizeof(key), "dup/%s/%s", node, list);
		snprintf(line, sizeof(line), "node %s has %zu Ready agent pods (%s): %s emits its pods, the others none",
			 node, json_array_size(names), list, json_string_value(json_array_get(names, 0)));
		log_once(w, key, line);
	}
}

/* This agent: who emits its node's pods. */
static void cov_node(struct ks_watcher *w)
{
	json_t *snap = kube_sub_store(w->node_pods) ? kube_store_snapshot(kube_sub_store(w->node_pods)) : NULL;
	json_t *dups = NULL, *cov = snap ? ks_shard_coverage(snap, w->ns, w->agent_sel, &dups) : NULL;
	const char *emitter = cov ? json_string_value(json_object_get(cov, w->node_name)) : NULL;
	enum ks_shard_self st = ks_shard_self_state(emitter, w->pod_name);
	char key[600], line[900];

	if (!cov && snap) {
		json_decref(snap);
		return; /* out of memory: the state in effect stays */
	}
	atomic_store(&w->self_state, (int)st);
	atomic_store(&w->node_ready, w->node_feed && kube_sub_synced(w->node_pods));
	log_dups(w, dups);
	if (st == KS_SELF_OTHER) {
		snprintf(key, sizeof(key), "other/%s", emitter);
		snprintf(line, sizeof(line), "pod %s: agent %s emits node %s's pods, this one none", w->pod_name,
			 emitter, w->node_name);
		log_once(w, key, line);
	}
	if (w->pod_name[0] && kube_sub_synced(w->node_pods)) {
		snprintf(key, sizeof(key), "%s/%s", w->ns, w->pod_name);
		if (snap && !json_object_get(snap, key)) {
			snprintf(line, sizeof(line), "pod %s/%s is not among node %s's pods (check -nodeName and "
				 "-podName): the leader counts that node as covered only by an agent pod on it",
				 w->ns, w->pod_name, w->node_name);
			log_once(w, "self-missing", line);
		}
	}
	json_decref(dups);
	json_decref(cov);
	json_decref(snap);
}

/* Makes the per-node watches those of unc[0..n): stops the others (logged
 * as covered when covered), starts the missing ones. 0 when all run and
 * listed, KM_EAGAIN while some list, KM_ENOMEM when one could not start. */
static int node_watches(struct ks_watcher *w, const char **unc, size_t n, bool covered)
{
	int rc = 0;
	char lkey[600], line[900];

	for (size_t i = 0; i < KS_SHARD_NODE_WATCH_MAX; i++) {
		struct ks_pod_sub *ps = &w->uncov[i];
		bool keep = false;

		for (size_t j = 0; ps->sub && j < n && !keep; j++)
			keep = strcmp(ps->node, unc[j]) == 0;
		if (ps->sub && !keep) {
			if (covered)
				log_info("kube-state", "node %s is covered by an agent: the leader no longer emits "
					 "its pods", ps->node);
			pod_sub_stop(w, ps);
		}
	}
	for (size_t j = 0; j < n; j++) {
		size_t i, free_slot = KS_SHARD_NODE_WATCH_MAX;

		for (i = 0; i < KS_SHARD_NODE_WATCH_MAX; i++) {
			if (w->uncov[i].sub && strcmp(w->uncov[i].node, unc[j]) == 0)
				break;
			if (!w->uncov[i].sub && free_slot == KS_SHARD_NODE_WATCH_MAX)
				free_slot = i;
		}
		if (i < KS_SHARD_NODE_WATCH_MAX) {
			if (!kube_sub_synced(w->uncov[i].sub) && !rc)
				rc = KM_EAGAIN;
			continue;
		}
		if (free_slot == KS_SHARD_NODE_WATCH_MAX) {
			rc = KM_ENOMEM; /* n is never over the slots: not reached */
			continue;
		}
		snprintf(lkey, sizeof(lkey), "uncovered/%s", unc[j]);
		snprintf(line, sizeof(line), "node %s has no Ready agent pod (selector %s): the leader emits its pods",
			 unc[j], w->agent_sel_str && w->agent_sel_str[0] ? w->agent_sel_str : "(all)");
		log_once(w, lkey, line);
		if (pod_sub_start(w, &w->uncov[free_slot], unc[j], KS_SRC_UNCOVERED)) {
			log_error("kube-state", "cannot watch node %s's pods: out of memory; retrying in 1 s", unc[j]);
			rc = KM_ENOMEM;
		} else if (!rc) {
			rc = KM_EAGAIN;
		}
	}
	return rc;
}

/* The wide watch's filter becomes unc[0..n). Its informer keeps only
 * resourceVersions (ks_trim_pod), so the pods are filtered anew from a
 * fresh LIST: a node that lost its agent has a gap, one that got one an
 * overlap, of that LIST. KM_ENOMEM: the previous set stays. */
static int wide_set(struct ks_watcher *w, const char **unc, size_t n)
{
	json_t *set = json_object();

	for (size_t i = 0; set && i < n; i++)
		if (json_object_set_new(set, unc[i], json_true())) {
			json_decref(set);
			set = NULL;
		}
	if (!set)
		return KM_ENOMEM;
	if (w->uncov_set && json_equal(set, w->uncov_set)) {
		json_decref(set);
		return 0;
	}
	json_decref(w->uncov_set);
	w->uncov_set = set;
	kube_sub_relist(w->wide.sub);
	return 0;
}

/* The leader: watch the uncovered nodes' pods, up to the cap. */
static void cov_leader(struct ks_watcher *w)
{
	json_t *agents, *nodes, *cov, *dups = NULL, *a;
	const char **unc = NULL;
	const char *key;
	size_t n = 0;
	char lkey[600], line[900];

	if (!w->agents || !w->nodes || !kube_sub_synced(w->agents) || !kube_sub_synced(w->nodes))
		return; /* a partial view would call every node uncovered */
	agents = kube_store_snapshot(kube_sub_store(w->agents));
	nodes = kube_store_snapshot(kube_sub_store(w->nodes));
	cov = agents ? ks_shard_coverage(agents, w->ns, w->agent_sel, &dups) : NULL;
	unc = nodes ? calloc(json_object_size(nodes) + 1, sizeof(*unc)) : NULL;
	if (!cov || !unc)
		goto out; /* out of memory: the watches in effect stay */
	log_dups(w, dups);
	json_object_foreach(cov, key, a) {
		if (!json_object_get(nodes, key)) {
			snprintf(lkey, sizeof(lkey), "nonode/%s", key);
			snprintf(line, sizeof(line), "agent pod %s runs on node %s, which has no Node object: "
				 "it emits that node's pods", json_string_value(a), key);
			log_once(w, lkey, line);
		}
	}
	json_object_foreach(nodes, key, a)
		if (!json_object_get(cov, key))
			unc[n++] = key;
	qsort(unc, n, sizeof(*unc), cmp_str);
	if (!w->wide.sub && n > w->uncov_cap) {
		log_info("kube-state", "%zu nodes have no Ready agent pod (over %zu): the leader watches every pod "
			 "and keeps those of these nodes", n, w->uncov_cap);
		if (pod_sub_start(w, &w->wide, "", KS_SRC_WIDE)) {
			log_error("kube-state", "cannot watch every pod: out of memory; retrying in 1 s");
			shard_retry_arm(w);
		}
	}
	if (w->wide.sub && wide_set(w, unc, n))
		shard_retry_arm(w); /* the previous set filters until then */
	if (!w->wide.sub) {
		if (node_watches(w, unc, n < w->uncov_cap ? n : w->uncov_cap, true) == KM_ENOMEM || n > w->uncov_cap)
			shard_retry_arm(w);
	} else if (n <= w->uncov_cap / 2) {
		/* Back to node watches (hysteresis: not at cap, so a count
		 * around it does not flap); the wide watch goes once they
		 * all listed, so no pod misses a sample. */
		int rc = node_watches(w, unc, n, true);

		if (rc == 0) {
			log_info("kube-state", "%zu nodes have no Ready agent pod: the leader is back to one watch "
				 "per node", n);
			pod_sub_stop(w, &w->wide);
			json_decref(w->uncov_set);
			w->uncov_set = NULL;
		} else if (rc != KM_EAGAIN) {
			shard_retry_arm(w);
		}
	} else if (kube_sub_synced(w->wide.sub)) {
		node_watches(w, unc, 0, false); /* the wide watch holds them all now */
	}
	atomic_store(&w->uncovered_watched, n);
	atomic_store(&w->uncovered_unwatched, 0);
out:
	free(unc);
	json_decref(dups);
	json_decref(cov);
	json_decref(agents);
	json_decref(nodes);
}

static void cov_run(void *arg)
{
	struct ks_watcher *w = arg;

	w->cov_timer = 0;
	if (w->node_feed)
		cov_node(w);
	if (w->shard_leader)
		cov_leader(w);
}

/* Keeps (or drops) this node's pods as NODE-tagged store objects. */
static void node_feed_set(struct ks_watcher *w, bool on, bool rerender)
{
	json_t *snap, *pod;
	const char *key;

	if (!on) {
		if (w->node_feed)
			ks_store_clear_src(w->ks, KS_POD, KS_SRC_NODE);
		w->node_feed = false;
		atomic_store(&w->node_ready, false);
		return;
	}
	if (w->node_feed && !rerender)
		return;
	w->node_feed = true;
	snap = kube_sub_store(w->node_pods) ? kube_store_snapshot(kube_sub_store(w->node_pods)) : NULL;
	json_object_foreach(snap, key, pod)
		upsert_src(w, KS_POD, pod, KS_SRC_NODE);
	json_decref(snap);
	cov_kick(w);
}

int ks_watcher_set_identity(struct ks_watcher *w, struct kube_sub *node_pods, const char *node,
			    const char *pod, const char *ns, const char *selector)
{
	char err[256];
	json_t *map;
	int rc;

	w->node_pods = node_pods;
	w->node_name = node;
	w->pod_name = pod ? pod : "";
	w->ns = ns;
	w->agent_sel_str = selector;
	rc = ks_shard_selector_parse(selector, &map, err, sizeof(err));
	if (rc)
		return rc;
	w->agent_sel = selector_compile(map, "-kubeState.agentSelector", err, sizeof(err));
	json_decref(map);
	return w->agent_sel ? 0 : KM_EINVAL;
}

void ks_watcher_node_pod(struct ks_watcher *w, json_t *obj, bool deleted)
{
	if (obj && w->node_feed) {
		json_t *md = json_object_get(obj, "metadata");

		if (deleted)
			ks_store_delete_src(w->ks, KS_POD, json_string_value(json_object_get(md, "namespace")),
					    json_string_value(json_object_get(md, "name")), KS_SRC_NODE);
		else
			upsert_src(w, KS_POD, obj, KS_SRC_NODE);
	}
	cov_kick(w);
}

int ks_watcher_self_state(struct ks_watcher *w)
{
	return atomic_load(&w->self_state);
}

bool ks_watcher_node_ready(struct ks_watcher *w)
{
	return atomic_load(&w->node_ready);
}

void ks_watcher_set_subscribe(struct ks_watcher *w, ks_subscribe_fn fn)
{
	w->subscribe = fn ? fn : kube_informer_subscribe;
}

void ks_watcher_set_uncovered_cap(struct ks_watcher *w, size_t cap)
{
	w->uncov_cap = cap < 1 ? 1 : cap > KS_SHARD_NODE_WATCH_MAX ? KS_SHARD_NODE_WATCH_MAX : cap;
}

void ks_watcher_uncovered(struct ks_watcher *w, size_t *watched, size_t *unwatched)
{
	*watched = atomic_load(&w->uncovered_watched);
	*unwatched = atomic_load(&w->uncovered_unwatched);
}
