#include "kube/write.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"

struct wop {
	struct kube_client *c;
	char *path;       /* object path (with /sub) */
	char *resource;   /* metric label */
	char *patch;      /* kube_patch: text; NULL for get/update */
	bool is_patch, is_update;
	kube_mutate_fn mutate;
	void *mutate_arg;
	kube_write_fn done;
	void *arg;
	int tries;
};

static void wop_free(struct wop *w)
{
	if (!w)
		return;
	free(w->path);
	free(w->resource);
	free(w->patch);
	free(w);
}

static int status_rc(const struct kube_resp *r)
{
	switch (kube_resp_fail(r)) {
	case KUBE_OK: return 0;
	case KUBE_FAIL_NOTFOUND: return KM_ENOENT;
	case KUBE_FAIL_CONFLICT: return KM_ECONFLICT;
	case KUBE_FAIL_UNAUTHORIZED:
	case KUBE_FAIL_FORBIDDEN: return KM_EACCES;
	case KUBE_FAIL_TLS:
	case KUBE_FAIL_UNREACHABLE:
	case KUBE_FAIL_TIMEOUT: return KM_EIO;
	default: return r->status ? KM_EHTTP : KM_EIO;
	}
}

static void finish(struct wop *w, int rc, long status, json_t *obj)
{
	w->done(rc, status, obj, w->arg);
	wop_free(w);
}

static void step(void *arg);

static void patch_done(const struct kube_resp *r, void *arg)
{
	struct wop *w = arg;
	int rc = status_rc(r);
	json_t *obj = NULL;

	if (rc == KM_ECONFLICT && w->is_update && w->tries < KUBE_UPDATE_MAX_TRIES) {
		/* Someone wrote in between: re-read and recompute. */
		step(w);
		return;
	}
	if (rc == 0) {
		obj = json_loadb(r->body, r->body_len, 0, NULL);
		if (!obj)
			rc = KM_EPARSE;
	}
	finish(w, rc, r->status, obj);
	json_decref(obj);
}

static int send_patch(struct wop *w, const char *text)
{
	struct kube_req_opts o = { .method = "PATCH", .resource = w->resource, .path = w->path,
				   .body = text, .body_len = strlen(text),
				   .content_type = "application/merge-patch+json", .timeout_ms = 30000 };

	return kube_req_start(w->c, &o, patch_done, w) ? 0 : KM_ENOMEM;
}

static void get_done(const struct kube_resp *r, void *arg)
{
	struct wop *w = arg;
	int rc = status_rc(r);
	json_t *cur = NULL, *patch = NULL, *meta;
	const char *rv;
	char *text = NULL;

	if (rc == 0) {
		cur = json_loadb(r->body, r->body_len, 0, NULL);
		if (!cur)
			rc = KM_EPARSE;
	}
	if (rc || !w->is_update) {
		finish(w, rc, r->status, cur);
		json_decref(cur);
		return;
	}
	patch = w->mutate(cur, w->mutate_arg);
	if (!patch) {
		finish(w, 0, r->status, cur);
		json_decref(cur);
		return;
	}
	/* The RV makes the merge patch conditional: 409 if cur is stale. */
	rv = json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
	meta = json_object_get(patch, "metadata");
	if (!meta) {
		meta = json_object();
		json_object_set_new(patch, "metadata", meta);
	}
	if (rv)
		json_object_set_new(meta, "resourceVersion", json_string(rv));
	text = json_dumps(patch, JSON_COMPACT);
	json_decref(patch);
	json_decref(cur);
	if (!text || send_patch(w, text)) {
		free(text);
		finish(w, KM_ENOMEM, 0, NULL);
		return;
	}
	free(text);
}

/* Loop thread: next round of the operation. */
static void step(void *arg)
{
	struct wop *w = arg;
	struct kube_req_opts o = { .resource = w->resource, .path = w->path, .timeout_ms = 30000 };

	w->tries++;
	if (w->is_patch) {
		if (send_patch(w, w->patch))
			finish(w, KM_ENOMEM, 0, NULL);
		return;
	}
	if (!kube_req_start(w->c, &o, get_done, w))
		finish(w, KM_ENOMEM, 0, NULL);
}

static int start(struct kube_client *c, const struct kube_resource *res, const char *ns,
		 const char *name, const char *sub, struct wop *w)
{
	struct buf p;
	int rc;

	buf_init(&p, 16384);
	rc = kube_resource_path(&p, res, ns);
	if (rc == 0)
		rc = buf_addc(&p, '/');
	if (rc == 0)
		rc = kube_buf_escape(&p, name);
	if (rc == 0 && sub && *sub)
		rc = buf_printf(&p, "/%s", sub);
	w->c = c;
	w->path = buf_steal(&p);
	w->resource = strdup(res->resource);
	buf_fini(&p);
	if (rc == 0 && (!w->path || !w->resource))
		rc = KM_ENOMEM;
	if (rc == 0)
		rc = kube_loop_post(kube_client_loop(c), step, w);
	if (rc)
		wop_free(w);
	return rc;
}

static struct wop *wop_new(kube_write_fn done, void *arg)
{
	struct wop *w = calloc(1, sizeof(*w));

	if (w) {
		w->done = done;
		w->arg = arg;
	}
	return w;
}

int kube_get(struct kube_client *c, const struct kube_resource *res, const char *ns,
	     const char *name, const char *sub, kube_write_fn done, void *arg)
{
	struct wop *w = wop_new(done, arg);

	if (!w)
		return KM_ENOMEM;
	return start(c, res, ns, name, sub, w);
}

int kube_patch(struct kube_client *c, const struct kube_resource *res, const char *ns,
	       const char *name, const char *sub, json_t *patch, kube_write_fn done, void *arg)
{
	struct wop *w = wop_new(done, arg);

	if (!w)
		return KM_ENOMEM;
	w->is_patch = true;
	w->patch = json_dumps(patch, JSON_COMPACT);
	if (!w->patch) {
		wop_free(w);
		return KM_ENOMEM;
	}
	return start(c, res, ns, name, sub, w);
}

int kube_update(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const char *name, const char *sub, kube_mutate_fn mutate, void *mutate_arg,
		kube_write_fn done, void *arg)
{
	struct wop *w = wop_new(done, arg);

	if (!w)
		return KM_ENOMEM;
	w->is_update = true;
	w->mutate = mutate;
	w->mutate_arg = mutate_arg;
	return start(c, res, ns, name, sub, w);
}
