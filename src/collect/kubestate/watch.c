#include "collect/kubestate/watch.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "collect/kubestate/crs.h"


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

static void on_upsert(struct ks_kind_sub *ks, json_t *obj)
{
	struct ks_watcher *w = ks->w;
	struct ks_label_drops before, after;
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	int rc;

	ks_store_label_drops(w->ks, &before);
	rc = ks_store_upsert(w->ks, ks->kind, obj, &w->ro.opts);
	ks_store_label_drops(w->ks, &after);
	if (rc)
		log_limited(&w->render_log, 30000, LOG_WARN, "kube-state",
			    "cannot render %s %s (previous rendering kept): %s",
			    ks_kind_resource(ks->kind), name ? name : "?", km_strerror(rc));
	if (after.value_length != before.value_length || after.label_count != before.label_count)
		log_limited(&w->labels_log, 30000, LOG_WARN, "kube-state",
			    "%s %s: %llu allow-listed labels/annotations over %d bytes and %llu past %d "
			    "per series left out of kube_*_labels/_annotations",
			    ks_kind_resource(ks->kind), name ? name : "?",
			    (unsigned long long)(after.value_length - before.value_length),
			    KS_LABEL_VALUE_MAX,
			    (unsigned long long)(after.label_count - before.label_count), KS_LABELS_MAX);
	if (after.bad_quantity != before.bad_quantity)
		log_limited(&w->values_log, 30000, LOG_WARN, "kube-state",
			    "%s %s: %llu resource quantities that do not parse; their series are left out "
			    "(k8smon_kube_state_values_skipped_total)",
			    ks_kind_resource(ks->kind), name ? name : "?",
			    (unsigned long long)(after.bad_quantity - before.bad_quantity));
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

	ks_store_delete(ks->w->ks, ks->kind, json_string_value(json_object_get(md, "namespace")),
			json_string_value(json_object_get(md, "name")));
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
	bool all = w->kinds_on != 0;

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
	atomic_store(&w->ready, all);
	atomic_store(&w->settled, all || !w->kinds_on);
	if (!all && w->kinds_on && !w->check_timer)
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
			/* No stale series: the next term starts from a fresh list. */
			ks_store_clear_kind(w->ks, (enum ks_kind)i);
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
	if (!c->leader || !(c->cfg->collectors & COLLECTOR_KUBE_STATE))
		return 0;
	return ks_kind_mask(c->cfg->ks_resources.v, c->cfg->ks_resources.n);
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

void ks_watcher_apply(struct ks_watcher *w, const struct cycle *c)
{
	ks_kind_set want = wanted_kinds(c), before = w->kinds_on;
	bool relabel = w->ro.cfg && !allowlist_same(w->ro.cfg, c->cfg);

	crs_apply(w, c);

	if (relabel || !w->ro.cfg) {
		ro_fini(&w->ro);
		if (ro_build(&w->ro, c->cfg))
			log_error("kube-state", "out of memory building label allowlists");
	}
	w->kinds_wanted = want;
	/* Kinds kept across an allowlist change are rendered again. */
	if (relabel && (before & want)) {
		for (int i = 0; i < KS_KIND_COUNT; i++)
			if (before & want & KS_KIND_BIT(i))
				kube_sub_relist(w->kinds[i].sub);
		log_info("kube-state", "label allowlist changed: relisting to re-render");
	}
	if (want == before)
		return;
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
	return w;
}

void ks_watcher_free(struct ks_watcher *w)
{
	if (!w)
		return;
	/* The loop is stopped: the registry frees the subscriptions. */
	ro_fini(&w->ro);
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
