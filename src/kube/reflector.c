#include "kube/reflector.h"

/* How often a resource the server does not serve (404) is looked for again. */
#define ABSENT_RETRY_MS 5000

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "kube/event.h"
#include "kube/framer.h"

#define LOG_EVERY_MS 30000

/* Marker a line callback returns to abort the watch and relist. */
#define RELIST_RC KM_EEXPIRED

struct kube_reflector {
	struct kube_client *c;
	struct kube_store *store;
	struct kube_reflector_cbs cbs;
	char *group, *version, *resource, *ns, *lsel, *fsel;
	bool namespaced;
	char *name;               /* metric/log label */
	unsigned page_size;
	int watch_timeout_s, idle_timeout_s;
	size_t max_page_bytes;

	/* Loop-thread state. */
	struct kube_req *req;     /* in-flight LIST page or WATCH */
	uint64_t timer;
	bool running;
	bool listed_once;
	char *rv;                 /* last seen resourceVersion (opaque) */
	json_t *accum;            /* objects of the LIST in progress */
	char *list_rv;            /* RV of the first page of that LIST */
	char *cont;               /* continue token for the next page */
	struct kube_framer framer;
	bool relist_wanted;       /* set by the line handler */
	const char *relist_why;
	unsigned watch_events;    /* events in the current watch */
	int64_t watch_start_ms;
	struct backoff bo;
	/* One limiter per kind of message, so a routine one (a 410 relist)
	 * never hides a rarer one (an oversized event, a silent watch). */
	struct log_limit lim_fail;      /* LIST/WATCH request failures */
	struct log_limit lim_relist;    /* routine relists and list restarts */
	struct log_limit lim_bad;       /* undecodable lines, ERROR events, OOM */
	struct log_limit lim_oversized; /* watch events over the cap */
	struct log_limit lim_silent;    /* watches that went silent */

	atomic_bool synced;
	atomic_bool absent;     /* the last LIST got 404: resource not served */
	atomic_bool forbidden;  /* the last LIST got 403: RBAC does not allow it */
	size_t warn_objects;
	bool over_warned;       /* loop thread */
	json_t *(*trim)(const json_t *obj);
};

static struct kube_metrics *M(struct kube_reflector *r);
static void do_list(struct kube_reflector *r);
static void do_watch(struct kube_reflector *r);

int kube_resource_path(struct buf *out, const struct kube_resource *res, const char *ns)
{
	int rc;

	if (!res->group || !*res->group)
		rc = buf_printf(out, "/api/%s", res->version);
	else
		rc = buf_printf(out, "/apis/%s/%s", res->group, res->version);
	if (rc == 0 && res->namespaced && ns && *ns) {
		rc = buf_adds(out, "/namespaces/");
		if (rc == 0)
			rc = kube_buf_escape(out, ns);
	}
	if (rc == 0)
		rc = buf_printf(out, "/%s", res->resource);
	return rc;
}

static char *xstrdup(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

struct kube_reflector *kube_reflector_new(struct kube_client *c, const struct kube_reflector_opts *o)
{
	struct kube_reflector *r = calloc(1, sizeof(*r));
	struct buf nb;

	if (!r)
		return NULL;
	r->c = c;
	r->cbs = o->cbs;
	r->namespaced = o->res.namespaced;
	r->group = xstrdup(o->res.group);
	r->version = xstrdup(o->res.version);
	r->resource = xstrdup(o->res.resource);
	r->ns = xstrdup(o->namespace);
	r->lsel = xstrdup(o->label_selector);
	r->fsel = xstrdup(o->field_selector);
	r->page_size = o->page_size ? o->page_size : 500;
	r->watch_timeout_s = o->watch_timeout_s;
	r->idle_timeout_s = o->idle_timeout_s ? o->idle_timeout_s : 150;
	r->warn_objects = o->warn_objects ? o->warn_objects : KUBE_OBJECTS_WARN;
	r->trim = o->trim;
	r->max_page_bytes = o->max_page_bytes ? o->max_page_bytes : KUBE_BODY_MAX;
	kube_framer_init(&r->framer, o->max_event_bytes ? o->max_event_bytes : (16u << 20));
	backoff_init(&r->bo, o->backoff_min_ms ? o->backoff_min_ms : 800,
		     o->backoff_max_ms ? o->backoff_max_ms : 30000,
		     (uint64_t)clock_mono_ns() ^ (uint64_t)(uintptr_t)r);
	r->store = kube_store_new();
	buf_init(&nb, 512);
	if (r->group)
		buf_printf(&nb, "%s.%s", o->res.resource ? o->res.resource : "", r->group);
	else
		buf_adds(&nb, o->res.resource ? o->res.resource : "");
	r->name = buf_steal(&nb);
	buf_fini(&nb);
	if (!r->version || !r->resource || !r->store || !r->name ||
	    (o->res.group && *o->res.group && !r->group)) {
		kube_reflector_free(r);
		return NULL;
	}
	/* Counters exist at 0 from the start, so rate() and alerts see a
	 * resource that has not restarted or relisted yet. */
	kube_metrics_add(M(r), KUBE_M_WATCH_RESTARTS, 0, r->name, NULL, NULL);
	kube_metrics_add(M(r), KUBE_M_RELISTS, 0, r->name, NULL, NULL);
	kube_metrics_add(M(r), KUBE_M_OVERSIZED, 0, r->name, NULL, NULL);
	kube_metrics_add(M(r), KUBE_M_DECODE_ERRORS, 0, r->name, NULL, NULL);
	return r;
}

bool kube_reflector_absent(struct kube_reflector *r)
{
	return atomic_load(&r->absent);
}

bool kube_reflector_forbidden(struct kube_reflector *r)
{
	return atomic_load(&r->forbidden);
}

bool kube_reflector_synced(struct kube_reflector *r)
{
	return atomic_load(&r->synced);
}

struct kube_store *kube_reflector_store(struct kube_reflector *r)
{
	return r->store;
}

const char *kube_reflector_name(struct kube_reflector *r)
{
	return r->name;
}

static struct kube_metrics *M(struct kube_reflector *r)
{
	return kube_client_metrics(r->c);
}

static void set_str(char **dst, const char *s)
{
	char *d = s ? strdup(s) : NULL;

	/* On allocation failure keep the old value: an older RV only costs
	 * replayed events, never lost ones. */
	if (s && !d)
		return;
	free(*dst);
	*dst = d;
}

static void note_progress(struct kube_reflector *r)
{
	size_t n = kube_store_len(r->store);
	bool over = n > r->warn_objects;

	kube_metrics_set(M(r), KUBE_M_OBJECTS, (double)n, r->name, NULL, NULL);
	if (over != r->over_warned) {
		r->over_warned = over;
		kube_metrics_set(M(r), KUBE_M_OBJECTS_OVER, over ? 1 : 0, r->name, NULL, NULL);
		if (over)
			log_warn("kube", "resource=%s: %zu objects in the store, over the warning threshold of %zu",
				 r->name, n, r->warn_objects);
	}
	kube_metrics_set(M(r), KUBE_M_LAST_SYNC, clock_wall(), r->name, NULL, NULL);
}

static void on_timer(void *arg)
{
	struct kube_reflector *r = arg;

	r->timer = 0;
	if (!r->running)
		return;
	if (r->relist_wanted || !r->rv)
		do_list(r);
	else
		do_watch(r);
}

/* Schedules the next step: after delay_ms (0 = at the next loop turn). */
static void schedule(struct kube_reflector *r, int64_t delay_ms)
{
	if (!r->running)
		return;
	kube_loop_timer_cancel(kube_client_loop(r->c), r->timer);
	r->timer = kube_loop_timer(kube_client_loop(r->c), delay_ms, on_timer, r);
	if (!r->timer)
		log_error("kube", "resource=%s: cannot schedule a timer; reflector stalled", r->name);
}

static int64_t failure_delay(struct kube_reflector *r, const struct kube_resp *resp)
{
	int64_t d = backoff_next(&r->bo);

	if (resp && resp->retry_after_ms > d)
		d = resp->retry_after_ms;
	return d;
}

static void log_failure(struct kube_reflector *r, const char *what, const struct kube_resp *resp,
			int64_t delay_ms)
{
	char why[768];

	kube_resp_describe(resp, why, sizeof(why));
	log_limited(&r->lim_fail, LOG_EVERY_MS, LOG_WARN, "kube",
		    "resource=%s %s failed: %s; store keeps %zu objects; retrying in %.1fs",
		    r->name, what, why, kube_store_len(r->store), (double)delay_ms / 1000.0);
}

/* Builds path?query for a LIST page or a WATCH. */
static int build_path(struct kube_reflector *r, struct buf *out, bool watch)
{
	struct kube_resource res = { r->group, r->version, r->resource, r->namespaced };
	int rc = kube_resource_path(out, &res, r->ns);

	if (rc)
		return rc;
	if (watch) {
		int t = r->watch_timeout_s;

		/* Spread reconnects of many agents over [5, 10) minutes, as
		 * client-go does. */
		if (t <= 0)
			t = 300 + (int)((uint64_t)clock_mono_ns() / 1000 % 300);
		rc = buf_adds(out, "?watch=1&allowWatchBookmarks=true&resourceVersion=");
		if (rc == 0)
			rc = kube_buf_escape(out, r->rv);
		if (rc == 0)
			rc = buf_printf(out, "&timeoutSeconds=%d", t);
	} else {
		rc = buf_printf(out, "?limit=%u", r->page_size);
		if (rc == 0 && r->cont) {
			rc = buf_adds(out, "&continue=");
			if (rc == 0)
				rc = kube_buf_escape(out, r->cont);
		}
	}
	if (rc == 0 && r->lsel) {
		rc = buf_adds(out, "&labelSelector=");
		if (rc == 0)
			rc = kube_buf_escape(out, r->lsel);
	}
	if (rc == 0 && r->fsel) {
		rc = buf_adds(out, "&fieldSelector=");
		if (rc == 0)
			rc = kube_buf_escape(out, r->fsel);
	}
	return rc;
}

/* ---- LIST ---- */

static void list_reset(struct kube_reflector *r)
{
	json_decref(r->accum);
	r->accum = NULL;
	set_str(&r->cont, NULL);
	set_str(&r->list_rv, NULL);
}

/* {"metadata":{"namespace","name","resourceVersion"}} from a store key
 * ("ns/name" or "name": names never contain '/') and the compact form's
 * resourceVersion; a new reference or NULL (out of memory). */
json_t *kube_ident_from_key(const char *key, const json_t *compact)
{
	const char *slash = strchr(key, '/');
	json_t *obj = json_object(), *md = json_object();
	int bad;

	if (!obj || !md) {
		json_decref(obj);
		json_decref(md);
		return NULL;
	}
	bad = json_object_set_new(obj, "metadata", md);
	if (slash)
		bad |= json_object_set_new(md, "namespace",
					   json_stringn(key, (size_t)(slash - key)));
	bad |= json_object_set_new(md, "name", json_string(slash ? slash + 1 : key));
	bad |= json_object_set_new(md, "resourceVersion", json_copy((json_t *)compact));
	if (bad) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static void on_change(enum kube_change ch, const char *key, json_t *old_obj, json_t *new_obj,
		      void *arg)
{
	struct kube_reflector *r = arg;

	/* Trim mode delivered adds and updates when the items arrived. */
	if (r->trim && ch != KUBE_CHANGE_DELETE)
		return;
	if (ch == KUBE_CHANGE_ADD && r->cbs.on_add) {
		r->cbs.on_add(new_obj, r->cbs.arg);
	} else if (ch == KUBE_CHANGE_UPDATE && r->cbs.on_update) {
		r->cbs.on_update(old_obj, new_obj, r->cbs.arg);
	} else if (ch == KUBE_CHANGE_DELETE && r->cbs.on_delete) {
		/* A compact stored object (a resourceVersion string) carries
		 * no identity: a delete handler gets it back from the key. */
		json_t *ident = json_is_object(old_obj) ? NULL : kube_ident_from_key(key, old_obj);

		if (!json_is_object(old_obj) && !ident)
			log_limited(&r->lim_bad, LOG_EVERY_MS, LOG_ERROR, "kube",
				    "resource=%s cannot report the deletion of %s: out of memory",
				    r->name, key);
		else
			r->cbs.on_delete(ident ? ident : old_obj, r->cbs.arg);
		json_decref(ident);
	}
}

/* Adds one page's items to accum. KM_EPARSE on a malformed page. */
/* Trim mode: deliver a changed list item now (full object), keep only the
 * trimmed copy for the end-of-list diff, which then reports deletes only. */
static int absorb_trimmed(struct kube_reflector *r, const char *key, json_t *it)
{
	json_t *old = kube_store_get(r->store, key);
	const char *ov = kube_obj_rv(old), *nv = kube_obj_rv(it);
	json_t *small;

	if (!old || !ov || !nv || strcmp(ov, nv) != 0) {
		if (old && r->cbs.on_update)
			r->cbs.on_update(old, it, r->cbs.arg);
		else if (!old && r->cbs.on_add)
			r->cbs.on_add(it, r->cbs.arg);
	}
	json_decref(old);
	small = r->trim(it);
	if (!small || json_object_set_new(r->accum, key, small))
		return KM_ENOMEM;
	return 0;
}

static int list_absorb(struct kube_reflector *r, json_t *page)
{
	json_t *items = json_object_get(page, "items"), *it;
	struct buf key;
	size_t i;
	int rc = 0;

	if (!json_is_array(items) && !json_is_null(items) && items)
		return KM_EPARSE;
	buf_init(&key, 1024);
	json_array_foreach(items, i, it) {
		buf_reset(&key);
		if (!json_is_object(it) || kube_store_key(it, &key)) {
			rc = KM_EPARSE;
			break;
		}
		if (r->trim) {
			rc = absorb_trimmed(r, buf_cstr(&key), it);
			if (rc)
				break;
			continue;
		}
		if (json_object_set(r->accum, buf_cstr(&key), it)) {
			rc = KM_ENOMEM;
			break;
		}
	}
	buf_fini(&key);
	return rc;
}

static void list_done(const struct kube_resp *resp, void *arg)
{
	struct kube_reflector *r = arg;
	json_t *page = NULL;
	const char *rv, *cont;
	int64_t d;

	r->req = NULL;
	if (!r->running || (resp->curl == CURLE_ABORTED_BY_CALLBACK && !resp->status))
		return;
	if (resp->status == 410 && r->cont) {
		/* The continue token expired mid-list: start over, now. */
		log_limited(&r->lim_relist, LOG_EVERY_MS, LOG_INFO, "kube",
			    "resource=%s list continue token expired; restarting the list", r->name);
		list_reset(r);
		schedule(r, 0);
		return;
	}
	if (resp->too_big) {
		kube_metrics_add(M(r), KUBE_M_OVERSIZED, 1, r->name, NULL, NULL);
		d = failure_delay(r, NULL);
		log_limited(&r->lim_fail, LOG_EVERY_MS, LOG_ERROR, "kube",
			    "resource=%s list page over the %zu-byte cap (page size %u); retrying with smaller pages in %.1fs",
			    r->name, r->max_page_bytes, r->page_size, (double)d / 1000.0);
		if (r->page_size > 1)
			r->page_size /= 2;
		list_reset(r);
		schedule(r, d);
		return;
	}
	if (resp->status == 404) {
		/* The resource is not served (a CRD not installed yet, or
		 * removed). Not an error to back off from for long: look
		 * again every few seconds so it is picked up soon after it
		 * appears. */
		/* The moment it goes away is always logged; the polls after
		 * that are rate-limited. */
		if (!atomic_exchange(&r->absent, true))
			log_warn("kube", "resource=%s is not served by the API server (CRD not installed?); store keeps %zu objects; looking again every %.0fs",
				 r->name, kube_store_len(r->store), (double)ABSENT_RETRY_MS / 1000.0);
		else
			log_limited(&r->lim_fail, LOG_EVERY_MS, LOG_WARN, "kube",
				    "resource=%s is not served by the API server (CRD not installed?); store keeps %zu objects; looking again every %.0fs",
				    r->name, kube_store_len(r->store), (double)ABSENT_RETRY_MS / 1000.0);
		list_reset(r);
		schedule(r, ABSENT_RETRY_MS);
		return;
	}
	if (kube_resp_fail(resp) != KUBE_OK) {
		atomic_store(&r->forbidden, kube_resp_fail(resp) == KUBE_FAIL_FORBIDDEN);
		d = failure_delay(r, resp);
		log_failure(r, "list", resp, d);
		list_reset(r);
		schedule(r, d);
		return;
	}
	page = json_loadb(resp->body, resp->body_len, 0, NULL);
	rv = json_string_value(json_object_get(json_object_get(page, "metadata"), "resourceVersion"));
	cont = json_string_value(json_object_get(json_object_get(page, "metadata"), "continue"));
	if (!json_is_object(page) || !rv || !*rv || list_absorb(r, page)) {
		kube_metrics_add(M(r), KUBE_M_DECODE_ERRORS, 1, r->name, NULL, NULL);
		d = failure_delay(r, NULL);
		log_limited(&r->lim_fail, LOG_EVERY_MS, LOG_ERROR, "kube",
			    "resource=%s list response is not a valid list; retrying in %.1fs",
			    r->name, (double)d / 1000.0);
		json_decref(page);
		list_reset(r);
		schedule(r, d);
		return;
	}
	/* All pages share the first page's RV. */
	if (!r->list_rv)
		set_str(&r->list_rv, rv);
	set_str(&r->cont, cont && *cont ? cont : NULL);
	json_decref(page);
	if (r->cont) {
		do_list(r);
		return;
	}
	/* Complete: apply as a diff so consumers see only real changes. */
	if (kube_store_replace(r->store, r->accum, on_change, r)) {
		list_reset(r);
		schedule(r, failure_delay(r, NULL));
		return;
	}
	set_str(&r->rv, r->list_rv);
	list_reset(r);
	r->relist_wanted = false;
	r->listed_once = true;
	backoff_reset(&r->bo);
	atomic_store(&r->synced, true);
	atomic_store(&r->forbidden, false);
	if (atomic_exchange(&r->absent, false))
		log_info("kube", "resource=%s is served now (CRD installed): listed %zu objects", r->name,
			 kube_store_len(r->store));
	kube_metrics_set(M(r), KUBE_M_SYNCED, 1, r->name, NULL, NULL);
	note_progress(r);
	log_debug("kube", "resource=%s listed %zu objects at resourceVersion %s", r->name,
		  kube_store_len(r->store), r->rv);
	if (r->cbs.on_synced)
		r->cbs.on_synced(r->cbs.arg);
	if (r->running)
		do_watch(r);
}

static void do_list(struct kube_reflector *r)
{
	struct kube_req_opts o = { .verb = "LIST", .resource = r->name,
				   .max_bytes = r->max_page_bytes, .timeout_ms = 120000 };
	struct buf path;

	if (!r->cont) {
		/* First page of a new list. */
		list_reset(r);
		r->accum = json_object();
		if (r->listed_once)
			kube_metrics_add(M(r), KUBE_M_RELISTS, 1, r->name, NULL, NULL);
	}
	buf_init(&path, 16384);
	if (!r->accum || build_path(r, &path, false)) {
		buf_fini(&path);
		list_reset(r);
		schedule(r, failure_delay(r, NULL));
		return;
	}
	o.path = buf_cstr(&path);
	r->req = kube_req_start(r->c, &o, list_done, r);
	buf_fini(&path);
	if (!r->req) {
		list_reset(r);
		schedule(r, failure_delay(r, NULL));
	}
}

/* ---- WATCH ---- */

static void want_relist(struct kube_reflector *r, const char *why)
{
	r->relist_wanted = true;
	r->relist_why = why;
}

static int apply_event(struct kube_reflector *r, struct kube_event *ev)
{
	struct buf key;
	json_t *old = NULL;
	int rc = 0;

	kube_metrics_add(M(r), KUBE_M_EVENTS, 1, r->name, kube_event_type_name(ev->type), NULL);
	if (ev->type == KUBE_EV_ERROR) {
		if (kube_event_expired(ev)) {
			want_relist(r, "resourceVersion expired (410)");
		} else {
			log_limited(&r->lim_bad, LOG_EVERY_MS, LOG_WARN, "kube",
				    "resource=%s watch ERROR event code=%d reason=%s: %s; relisting",
				    r->name, ev->code, ev->reason, ev->message);
			want_relist(r, "watch ERROR event");
		}
		return RELIST_RC;
	}
	if (ev->type == KUBE_EV_BOOKMARK) {
		set_str(&r->rv, ev->rv);
		return 0;
	}
	buf_init(&key, 1024);
	if (kube_store_key(ev->object, &key)) {
		buf_fini(&key);
		kube_metrics_add(M(r), KUBE_M_DECODE_ERRORS, 1, r->name, NULL, NULL);
		want_relist(r, "event object without metadata.name");
		return RELIST_RC;
	}
	if (ev->type == KUBE_EV_DELETED) {
		if (kube_store_del(r->store, buf_cstr(&key), &old) == 0 && r->cbs.on_delete)
			r->cbs.on_delete(ev->object, r->cbs.arg);
	} else {
		json_t *keep = r->trim ? r->trim(ev->object) : json_incref(ev->object);

		rc = keep ? kube_store_put(r->store, buf_cstr(&key), keep, &old) : KM_ENOMEM;
		json_decref(keep);
		if (rc == 0 && old && r->cbs.on_update)
			r->cbs.on_update(old, ev->object, r->cbs.arg);
		else if (rc == 0 && !old && r->cbs.on_add)
			r->cbs.on_add(ev->object, r->cbs.arg);
	}
	json_decref(old);
	buf_fini(&key);
	if (rc) {
		want_relist(r, "out of memory applying an event");
		return RELIST_RC;
	}
	/* Advance only after the event is applied: a restart resumes after the
	 * last event the store reflects. */
	set_str(&r->rv, ev->rv);
	/* Object count and its threshold follow every add and delete. */
	if (ev->type != KUBE_EV_MODIFIED)
		note_progress(r);
	return 0;
}

static int on_line(const char *line, size_t n, void *arg)
{
	struct kube_reflector *r = arg;
	struct kube_event ev;
	int rc;

	if (kube_event_decode(line, n, &ev)) {
		/* We cannot tell whether this was an event we needed: relist
		 * rather than risk a store that silently diverges. */
		kube_metrics_add(M(r), KUBE_M_DECODE_ERRORS, 1, r->name, NULL, NULL);
		log_limited(&r->lim_bad, LOG_EVERY_MS, LOG_WARN, "kube",
			    "resource=%s undecodable watch line (%zu bytes); relisting", r->name, n);
		want_relist(r, "undecodable watch line");
		return RELIST_RC;
	}
	r->watch_events++;
	rc = apply_event(r, &ev);
	kube_event_fini(&ev);
	return rc;
}

static int on_watch_data(const char *p, size_t n, void *arg)
{
	struct kube_reflector *r = arg;
	int rc;

	if (!r->running)
		return KM_EAGAIN;
	rc = kube_framer_feed(&r->framer, p, n, on_line, r);
	if (rc == KM_ETOOBIG) {
		kube_metrics_add(M(r), KUBE_M_OVERSIZED, 1, r->name, NULL, NULL);
		log_limited(&r->lim_oversized, LOG_EVERY_MS, LOG_ERROR, "kube",
			    "resource=%s watch event over the %zu-byte cap; relisting", r->name,
			    r->framer.partial.cap);
		want_relist(r, "oversized watch event");
	}
	return rc;
}

static void watch_done(const struct kube_resp *resp, void *arg)
{
	struct kube_reflector *r = arg;
	enum kube_fail f = kube_resp_fail(resp);
	int64_t lasted = clock_mono_ms() - r->watch_start_ms;
	int64_t d;

	r->req = NULL;
	kube_framer_reset(&r->framer);
	if (!r->running || (resp->curl == CURLE_ABORTED_BY_CALLBACK && !resp->status))
		return;
	if (r->watch_events)
		backoff_reset(&r->bo);
	note_progress(r);
	if (r->relist_wanted) {
		log_limited(&r->lim_relist, LOG_EVERY_MS, LOG_INFO, "kube", "resource=%s relisting: %s",
			    r->name, r->relist_why ? r->relist_why : "requested");
		/* Expiry is routine: relist at once. Anything else may repeat,
		 * so pace it. */
		schedule(r, r->relist_why && strstr(r->relist_why, "410") ? 0 : failure_delay(r, NULL));
		return;
	}
	kube_metrics_add(M(r), KUBE_M_WATCH_RESTARTS, 1, r->name, NULL, NULL);
	if (f == KUBE_FAIL_EXPIRED) {
		want_relist(r, "resourceVersion expired (HTTP 410)");
		schedule(r, 0);
		return;
	}
	if (f == KUBE_OK) {
		/* Server closed the stream (timeoutSeconds): resume at once
		 * unless it keeps closing empty streams immediately. */
		schedule(r, (lasted < 1000 && r->watch_events == 0) ? failure_delay(r, NULL) : 0);
		return;
	}
	if (f == KUBE_FAIL_TIMEOUT && resp->status >= 200 && resp->status < 300) {
		log_limited(&r->lim_silent, LOG_EVERY_MS, LOG_WARN, "kube",
			    "resource=%s watch silent for %ds (no events, no bookmarks); reconnecting",
			    r->name, r->idle_timeout_s);
		schedule(r, 0);
		return;
	}
	d = failure_delay(r, resp);
	if (resp->status == 404) {
		/* The resource went away (its CRD was deleted): a LIST says
		 * so once, and keeps looking for it. */
		want_relist(r, "resource not served (HTTP 404)");
		schedule(r, d);
		return;
	}
	log_failure(r, "watch", resp, d);
	/* The RV is still good; re-watch from it after the backoff. */
	schedule(r, d);
}

static void do_watch(struct kube_reflector *r)
{
	struct kube_req_opts o = { .verb = "WATCH", .resource = r->name,
				   .max_bytes = 1u << 20, .low_speed_s = r->idle_timeout_s,
				   .on_data = on_watch_data };
	struct buf path;

	buf_init(&path, 16384);
	kube_framer_reset(&r->framer);
	r->watch_events = 0;
	r->watch_start_ms = clock_mono_ms();
	if (build_path(r, &path, true)) {
		buf_fini(&path);
		schedule(r, failure_delay(r, NULL));
		return;
	}
	o.path = buf_cstr(&path);
	r->req = kube_req_start(r->c, &o, watch_done, r);
	buf_fini(&path);
	if (!r->req)
		schedule(r, failure_delay(r, NULL));
}

/* ---- lifecycle ---- */

/* The first LIST goes out from the reflector's own timer, never from a
 * posted job: stop cancels the timer, so a reflector started and freed in
 * the same loop turn leaves nothing queued that points at it (a posted
 * start once ran on freed memory). The timer also keeps curl_multi calls
 * out of start, which reflector callbacks may reach. */
static void start_on_loop(void *arg)
{
	struct kube_reflector *r = arg;

	if (r->running)
		return;
	r->running = true;
	schedule(r, 0);
}

int kube_reflector_start(struct kube_reflector *r)
{
	return kube_loop_call(kube_client_loop(r->c), start_on_loop, r);
}

static void stop_on_loop(void *arg)
{
	struct kube_reflector *r = arg;

	r->running = false;
	kube_loop_timer_cancel(kube_client_loop(r->c), r->timer);
	r->timer = 0;
	if (r->req) {
		kube_req_cancel(r->req);
		r->req = NULL;
	}
}

void kube_reflector_stop(struct kube_reflector *r)
{
	if (r)
		kube_loop_call(kube_client_loop(r->c), stop_on_loop, r);
}

void kube_reflector_free(struct kube_reflector *r)
{
	if (!r)
		return;
	kube_reflector_stop(r);
	list_reset(r);
	kube_framer_fini(&r->framer);
	kube_store_free(r->store);
	free(r->rv);
	free(r->group);
	free(r->version);
	free(r->resource);
	free(r->ns);
	free(r->lsel);
	free(r->fsel);
	free(r->name);
	free(r);
}
