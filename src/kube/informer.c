#include "kube/informer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "expo/writer.h"
#include "kube/loop.h"

/* What a subscriber is waiting for before live events reach it. */
enum sub_state {
	SUB_ACTIVE,      /* gets live events */
	SUB_WAIT_REPLAY, /* gets the store replayed by the next reconcile */
	SUB_WAIT_RELIST, /* gets the events of a fresh list, then on_synced */
};

struct kube_sub {
	struct kube_informer *inf;
	struct kube_reflector_cbs cbs;
	json_t *(*trim)(const json_t *obj);
	enum sub_state state;
	bool dead;      /* cancelled: no callback; freed by the reconcile */
	bool synced;
	struct kube_sub *next;
};

struct kube_informer {
	struct kube_informers *reg;
	struct kube_resource res;   /* strings owned */
	char *ns, *lsel, *fsel;
	char *selector;             /* metric label: "<ns>|<label sel>|<field sel>" parts present */
	struct kube_reflector *r;
	json_t *(*trim)(const json_t *obj); /* view of r's store; NULL = whole objects */
	/* During a replacement relist: what the subscribers had, so objects
	 * gone meanwhile are delivered as deletes when the new list is in. */
	json_t *before;
	bool relist_wanted;
	struct kube_sub *subs;
	struct kube_informer *next;
};

struct kube_informers {
	struct kube_client *c;
	struct kube_informer *list; /* loop thread */
	bool posted;                /* a reconcile is queued; loop thread */
	bool stopped;               /* loop thread */
	pthread_mutex_t lock;       /* guards metrics */
	struct buf metrics;         /* rendered by each reconcile */
};

static void reconcile(void *arg);

static void post_reconcile(struct kube_informers *reg)
{
	if (reg->posted || reg->stopped)
		return;
	if (kube_loop_post(kube_client_loop(reg->c), reconcile, reg) == 0)
		reg->posted = true;
	else
		log_warn("kube", "cannot queue a watch change: API loop stopping");
}

/* ---- events from the reflector, fanned out ---- */

static bool live(const struct kube_sub *s)
{
	return !s->dead && s->state != SUB_WAIT_REPLAY;
}

static void inf_add(json_t *obj, void *arg)
{
	struct kube_informer *inf = arg;

	for (struct kube_sub *s = inf->subs; s; s = s->next)
		if (live(s) && s->cbs.on_add)
			s->cbs.on_add(obj, s->cbs.arg);
}

static void inf_update(json_t *old_obj, json_t *new_obj, void *arg)
{
	struct kube_informer *inf = arg;

	for (struct kube_sub *s = inf->subs; s; s = s->next)
		if (live(s) && s->cbs.on_update)
			s->cbs.on_update(old_obj, new_obj, s->cbs.arg);
}

static void deliver_delete(struct kube_informer *inf, json_t *obj, bool only_active)
{
	for (struct kube_sub *s = inf->subs; s; s = s->next)
		if (live(s) && (!only_active || s->state == SUB_ACTIVE) && s->cbs.on_delete)
			s->cbs.on_delete(obj, s->cbs.arg);
}

static void inf_delete(json_t *obj, void *arg)
{
	deliver_delete(arg, obj, false);
}

/* Objects the subscribers had before a replacement relist and the new
 * list does not hold any more are deleted for them. */
static void deliver_vanished(struct kube_informer *inf)
{
	struct kube_store *st = kube_reflector_store(inf->r);
	json_t *before = inf->before, *v;
	const char *key;

	inf->before = NULL;
	json_object_foreach(before, key, v) {
		json_t *cur = kube_store_get(st, key), *obj;

		if (cur) {
			json_decref(cur);
			continue;
		}
		obj = json_is_object(v) ? json_incref(v) : kube_ident_from_key(key, v);
		if (obj)
			deliver_delete(inf, obj, true);
		json_decref(obj);
	}
	json_decref(before);
}

static void inf_synced(void *arg)
{
	struct kube_informer *inf = arg;

	if (inf->before)
		deliver_vanished(inf);
	for (struct kube_sub *s = inf->subs; s; s = s->next) {
		if (!live(s))
			continue;
		s->state = SUB_ACTIVE;
		s->synced = true;
		if (s->cbs.on_synced)
			s->cbs.on_synced(s->cbs.arg);
	}
}

/* ---- registry ---- */

static char *dup_or_null(const char *s)
{
	return s && s[0] ? strdup(s) : NULL;
}

static bool same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool key_matches(const struct kube_informer *inf, const struct kube_informer_key *k)
{
	return same(inf->res.group, k->res.group) && same(inf->res.version, k->res.version) &&
	       same(inf->res.resource, k->res.resource) && same(inf->ns, k->namespace) &&
	       same(inf->lsel, k->label_selector) && same(inf->fsel, k->field_selector);
}

static void inf_free(struct kube_informer *inf)
{
	if (!inf)
		return;
	kube_reflector_free(inf->r);
	json_decref(inf->before);
	while (inf->subs) {
		struct kube_sub *s = inf->subs;
		inf->subs = s->next;
		free(s);
	}
	free((char *)inf->res.group);
	free((char *)inf->res.version);
	free((char *)inf->res.resource);
	free(inf->ns);
	free(inf->lsel);
	free(inf->fsel);
	free(inf->selector);
	free(inf);
}

static struct kube_informer *inf_new(struct kube_informers *reg, const struct kube_informer_key *k)
{
	struct kube_informer *inf = calloc(1, sizeof(*inf));
	struct buf sel;

	if (!inf)
		return NULL;
	inf->reg = reg;
	inf->res.group = strdup(k->res.group ? k->res.group : "");
	inf->res.version = strdup(k->res.version ? k->res.version : "");
	inf->res.resource = strdup(k->res.resource ? k->res.resource : "");
	inf->res.namespaced = k->res.namespaced;
	inf->ns = dup_or_null(k->namespace);
	inf->lsel = dup_or_null(k->label_selector);
	inf->fsel = dup_or_null(k->field_selector);
	buf_init(&sel, 4096);
	if (inf->ns)
		buf_printf(&sel, "namespace=%s", inf->ns);
	if (inf->lsel)
		buf_printf(&sel, "%s%s", sel.len ? "," : "", inf->lsel);
	if (inf->fsel)
		buf_printf(&sel, "%s%s", sel.len ? "," : "", inf->fsel);
	inf->selector = strdup(sel.len ? buf_cstr(&sel) : "");
	buf_fini(&sel);
	if (!inf->res.group || !inf->res.version || !inf->res.resource || !inf->selector ||
	    (k->namespace && k->namespace[0] && !inf->ns) ||
	    (k->label_selector && k->label_selector[0] && !inf->lsel) ||
	    (k->field_selector && k->field_selector[0] && !inf->fsel)) {
		inf_free(inf);
		return NULL;
	}
	return inf;
}

struct kube_informers *kube_informers_new(struct kube_client *c)
{
	struct kube_informers *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return NULL;
	reg->c = c;
	pthread_mutex_init(&reg->lock, NULL);
	buf_init(&reg->metrics, 1u << 20);
	return reg;
}

void kube_informers_free(struct kube_informers *reg)
{
	if (!reg)
		return;
	reg->stopped = true;
	while (reg->list) {
		struct kube_informer *inf = reg->list;
		reg->list = inf->next;
		inf_free(inf);
	}
	buf_fini(&reg->metrics);
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

struct kube_sub *kube_informer_subscribe(struct kube_informers *reg, const struct kube_informer_key *key,
					 const struct kube_reflector_cbs *cbs,
					 json_t *(*trim)(const json_t *obj))
{
	struct kube_informer *inf;
	struct kube_sub *s, **tail;

	for (inf = reg->list; inf; inf = inf->next)
		if (key_matches(inf, key))
			break;
	if (!inf) {
		inf = inf_new(reg, key);
		if (!inf)
			return NULL;
		inf->next = reg->list;
		reg->list = inf;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		post_reconcile(reg); /* frees an informer left without subscribers */
		return NULL;
	}
	s->inf = inf;
	s->cbs = *cbs;
	s->trim = trim;
	s->state = SUB_WAIT_REPLAY;
	/* Appended: fan-out in subscription order, and a subscriber added
	 * from inside a fan-out is not visited by it. */
	for (tail = &inf->subs; *tail; tail = &(*tail)->next)
		;
	*tail = s;
	post_reconcile(reg);
	return s;
}

void kube_sub_cancel(struct kube_sub *s)
{
	if (!s)
		return;
	s->dead = true;
	post_reconcile(s->inf->reg);
}

void kube_sub_relist(struct kube_sub *s)
{
	if (!s || s->dead)
		return;
	s->inf->relist_wanted = true;
	post_reconcile(s->inf->reg);
}

bool kube_sub_synced(const struct kube_sub *s)
{
	return s && !s->dead && s->synced;
}

bool kube_sub_absent(const struct kube_sub *s)
{
	return s && s->inf->r && kube_reflector_absent(s->inf->r);
}

bool kube_sub_forbidden(const struct kube_sub *s)
{
	return s && s->inf->r && kube_reflector_forbidden(s->inf->r);
}

struct kube_store *kube_sub_store(const struct kube_sub *s)
{
	return s && s->inf->r ? kube_reflector_store(s->inf->r) : NULL;
}

/* ---- reconcile (a posted job: never inside a curl callback) ---- */

/* The view the live subscribers need: their common trim, else whole. */
static json_t *(*wanted_trim(const struct kube_informer *inf))(const json_t *)
{
	json_t *(*t)(const json_t *) = NULL;
	bool first = true;

	for (const struct kube_sub *s = inf->subs; s; s = s->next) {
		if (s->dead)
			continue;
		if (first)
			t = s->trim;
		else if (t != s->trim)
			return NULL;
		first = false;
	}
	return t;
}

static void drop_dead(struct kube_informer *inf)
{
	struct kube_sub **pp = &inf->subs;

	while (*pp) {
		struct kube_sub *s = *pp;
		if (s->dead) {
			*pp = s->next;
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

/* Starts a reflector with view t, replacing the running one (whose store
 * is remembered for the vanished-object deletes). */
static int inf_restart(struct kube_informer *inf, json_t *(*t)(const json_t *))
{
	struct kube_reflector_opts o = {
		.res = inf->res,
		.namespace = inf->ns,
		.label_selector = inf->lsel,
		.field_selector = inf->fsel,
		.cbs = { inf_add, inf_update, inf_delete, inf_synced, inf },
		.trim = t,
	};
	struct kube_reflector *r = kube_reflector_new(inf->reg->c, &o);

	if (!r)
		return KM_ENOMEM;
	if (inf->r) {
		json_t *snap = kube_store_snapshot(kube_reflector_store(inf->r));

		if (!snap) {
			kube_reflector_free(r);
			return KM_ENOMEM;
		}
		if (inf->before)
			json_object_update_missing(snap, inf->before);
		json_decref(inf->before);
		inf->before = snap;
		kube_reflector_free(inf->r);
	}
	inf->r = r;
	inf->trim = t;
	for (struct kube_sub *s = inf->subs; s; s = s->next)
		if (!s->dead && s->state == SUB_WAIT_REPLAY)
			s->state = SUB_WAIT_RELIST;
	if (kube_reflector_start(r))
		return KM_ENOMEM; /* kept: the next reconcile cannot start it either; logged */
	return 0;
}

/* Replays the store to the subscribers waiting for it (whole objects). */
static void inf_replay(struct kube_informer *inf)
{
	for (struct kube_sub *s = inf->subs; s; s = s->next) {
		json_t *snap, *obj;
		const char *key;

		if (s->dead || s->state != SUB_WAIT_REPLAY)
			continue;
		snap = kube_store_snapshot(kube_reflector_store(inf->r));
		if (!snap) {
			post_reconcile(inf->reg); /* try again */
			continue;
		}
		s->state = SUB_ACTIVE;
		json_object_foreach(snap, key, obj) {
			if (s->dead)
				break;
			if (s->cbs.on_add)
				s->cbs.on_add(obj, s->cbs.arg);
		}
		json_decref(snap);
		if (!s->dead && kube_reflector_synced(inf->r) && !inf->before) {
			s->synced = true;
			if (s->cbs.on_synced)
				s->cbs.on_synced(s->cbs.arg);
		}
	}
}

static void inf_reconcile(struct kube_informer *inf)
{
	json_t *(*t)(const json_t *) = wanted_trim(inf);
	bool waiting = false;

	for (struct kube_sub *s = inf->subs; s; s = s->next)
		waiting |= !s->dead && s->state == SUB_WAIT_REPLAY;
	/* A new reflector when there is none, on request, when the view must
	 * widen, or when a newcomer needs objects a trimmed store lacks. */
	if (!inf->r || inf->relist_wanted || (inf->trim && t != inf->trim) || (waiting && inf->trim)) {
		int rc = inf_restart(inf, inf->trim && t != inf->trim ? NULL : t);

		if (rc) {
			log_error("kube", "resource=%s: cannot start its watch: %s", inf->res.resource,
				  km_strerror(rc));
			return;
		}
		inf->relist_wanted = false;
		return;
	}
	if (waiting)
		inf_replay(inf);
}

static void render_metrics(struct kube_informers *reg)
{
	struct buf b;
	int rc;

	buf_init(&b, 1u << 20);
	rc = expo_family(&b, "k8smon_kube_informers",
			 "Watches this agent runs, by resource and selector (one per key: shared by every subscriber).",
			 EXPO_GAUGE);
	for (struct kube_informer *inf = reg->list; !rc && inf; inf = inf->next) {
		struct label_pair l[] = { { "resource", inf->res.resource }, { "selector", inf->selector } };
		rc = expo_sample(&b, "k8smon_kube_informers", l, 2, inf->r ? 1 : 0);
	}
	if (!rc)
		rc = expo_family(&b, "k8smon_kube_informer_subscribers",
				 "Parts of the agent reading each watch.", EXPO_GAUGE);
	for (struct kube_informer *inf = reg->list; !rc && inf; inf = inf->next) {
		struct label_pair l[] = { { "resource", inf->res.resource }, { "selector", inf->selector } };
		size_t n = 0;

		for (struct kube_sub *s = inf->subs; s; s = s->next)
			n += !s->dead;
		rc = expo_sample(&b, "k8smon_kube_informer_subscribers", l, 2, (double)n);
	}
	pthread_mutex_lock(&reg->lock);
	if (!rc) {
		buf_fini(&reg->metrics);
		reg->metrics = b;
	} else {
		buf_fini(&b); /* keep the previous figures */
	}
	pthread_mutex_unlock(&reg->lock);
}

static void reconcile(void *arg)
{
	struct kube_informers *reg = arg;
	struct kube_informer **pp = &reg->list;

	reg->posted = false;
	if (reg->stopped)
		return;
	while (*pp) {
		struct kube_informer *inf = *pp;

		drop_dead(inf);
		if (!inf->subs) {
			*pp = inf->next;
			inf_free(inf);
			continue;
		}
		inf_reconcile(inf);
		pp = &inf->next;
	}
	render_metrics(reg);
}

size_t kube_informers_count(struct kube_informers *reg, const char *resource)
{
	size_t n = 0;

	for (struct kube_informer *inf = reg->list; inf; inf = inf->next)
		n += inf->r && (!resource || strcmp(inf->res.resource, resource) == 0);
	return n;
}

int kube_informers_write_metrics(struct kube_informers *reg, struct buf *out)
{
	int rc;

	if (!reg)
		return 0;
	pthread_mutex_lock(&reg->lock);
	rc = buf_add(out, reg->metrics.data, reg->metrics.len);
	pthread_mutex_unlock(&reg->lock);
	return rc;
}
