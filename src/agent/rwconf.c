#include "agent/rwconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "config/config.h"
#include "kube/b64.h"
#include "kube/client.h"
#include "kube/loop.h"
#include "remotewrite/rw.h"

#define RWCONF_SECRETS_MAX 64   /* distinct Secrets one spec may name (16 destinations x 4) */
#define SECRET_BODY_MAX (1u << 20)

struct round;

/* One GET of a round. */
struct sreq {
	struct round *rd;
	size_t idx;
};

/* One reading of every named Secret. */
struct round {
	struct rwconf *r;
	uint64_t gen;
	size_t pending;
	struct kube_req *req[RWCONF_SECRETS_MAX];
	struct sreq ctx[RWCONF_SECRETS_MAX];
	char *name[RWCONF_SECRETS_MAX];
	size_t n;
};

struct rwconf {
	struct kube_client *c;
	struct kube_loop *loop;
	char *ns;
	rwconf_apply_fn apply;
	void *arg;
	json_t *spec;                 /* owned copy; NULL: flags */
	bool from_flags_applied;
	json_t *secrets;              /* name -> data object, or a string: why it cannot be read */
	struct round *cur;            /* the reading in progress, or NULL */
	uint64_t gen;                 /* spec changes; a round of an older one reads again */
	uint64_t timer;
	bool stopped;
	struct rw_dest *last;         /* owned: the destinations last applied */
	size_t nlast;
	char last_err[512];
};

static void read_secrets(struct rwconf *r);

static void round_free(struct round *rd)
{
	for (size_t i = 0; i < rd->n; i++)
		free(rd->name[i]);
	free(rd);
}

static void last_free(struct rwconf *r)
{
	for (size_t i = 0; i < r->nlast; i++)
		rw_dest_fini(&r->last[i]);
	free(r->last);
	r->last = NULL;
	r->nlast = 0;
}

/* The value of key in Secret name, decoded (a new string). NULL with the
 * reason in why. */
static char *secret_value(struct rwconf *r, const json_t *ref, char *why, size_t whylen)
{
	const char *name = json_string_value(json_object_get(ref, "name"));
	const char *key = json_string_value(json_object_get(ref, "key"));
	const json_t *data = json_object_get(r->secrets, name);
	const char *b64;
	char *out;
	size_t n;

	if (!data || json_is_string(data)) {
		snprintf(why, whylen, "Secret %s/%s: %s", r->ns, name, data ? json_string_value(data) : "not read yet");
		return NULL;
	}
	b64 = json_string_value(json_object_get(data, key));
	if (!b64) {
		snprintf(why, whylen, "Secret %s/%s has no key %s", r->ns, name, key);
		return NULL;
	}
	if (b64_decode(b64, strlen(b64), &out, &n)) {
		snprintf(why, whylen, "Secret %s/%s key %s is not base64", r->ns, name, key);
		return NULL;
	}
	if (strlen(out) != n) {
		snprintf(why, whylen, "Secret %s/%s key %s holds a NUL byte", r->ns, name, key);
		free(out);
		return NULL;
	}
	return out;
}

/* Fills d (owned strings) from spec entry e. */
static int build_one(struct rwconf *r, const json_t *e, struct rw_dest *d, char *why, size_t whylen)
{
	const json_t *basic = json_object_get(e, "basicAuth"), *tls = json_object_get(e, "tlsConfig");
	const json_t *h = json_object_get(e, "headers"), *hv;
	const char *hk, *proto = json_string_value(json_object_get(e, "protocol"));
	char line[1400];
	size_t n;

	memset(d, 0, sizeof(*d));
	d->url = strdup(json_string_value(json_object_get(e, "url")));
	if (!d->url)
		goto nomem;
	if (rw_proto_parse(proto, &d->proto))
		d->proto = RW_PROTO_AUTO;
	if (json_object_get(e, "bearerTokenSecret") &&
	    !(d->bearer_token = secret_value(r, json_object_get(e, "bearerTokenSecret"), why, whylen)))
		goto fail;
	if (basic && (!(d->basic_user = secret_value(r, json_object_get(basic, "username"), why, whylen)) ||
		      !(d->basic_password = secret_value(r, json_object_get(basic, "password"), why, whylen))))
		goto fail;
	if (tls) {
		const char *sn = json_string_value(json_object_get(tls, "serverName"));

		if ((json_object_get(tls, "ca") && !(d->ca_pem = secret_value(r, json_object_get(tls, "ca"), why, whylen))) ||
		    (json_object_get(tls, "cert") &&
		     (!(d->cert_pem = secret_value(r, json_object_get(tls, "cert"), why, whylen)) ||
		      !(d->key_pem = secret_value(r, json_object_get(tls, "keySecret"), why, whylen)))))
			goto fail;
		d->insecure_skip_verify = json_is_true(json_object_get(tls, "insecureSkipVerify"));
		if (sn && sn[0] && !(d->server_name = strdup(sn)))
			goto nomem;
	}
	if (json_object_size(h)) {
		d->headers = malloc(RW_HEADERS_MAX);
		if (!d->headers)
			goto nomem;
		json_object_foreach((json_t *)h, hk, hv) {
			snprintf(line, sizeof(line), "%s:%s", hk, json_string_value(hv));
			if (rw_headers_parse(line, d->headers + d->headers_len, RW_HEADERS_MAX - d->headers_len, &n, why,
					     whylen))
				goto fail;
			d->headers_len += n;
		}
	}
	if (config_rw_dest_opts(e, "spec.remoteWrite[]", d, why, whylen) || rw_dest_check(d, why, whylen))
		goto fail;
	return 0;
nomem:
	snprintf(why, whylen, "out of memory");
fail:
	rw_dest_fini(d);
	return KM_EINVAL;
}

static const struct rw_dest *last_of(struct rwconf *r, const char *url)
{
	for (size_t i = 0; i < r->nlast; i++)
		if (strcmp(r->last[i].url, url) == 0)
			return &r->last[i];
	return NULL;
}

/* Builds the destinations from the spec and the Secrets read, and applies
 * them when they differ from the last applied. */
static void build_and_apply(struct rwconf *r)
{
	struct rw_dest *d;
	size_t n = 0, i;
	const json_t *e;
	char why[512], err[512];
	bool same;
	int rc;

	d = calloc(json_array_size(r->spec) + 1, sizeof(*d));
	if (!d) {
		log_error("remotewrite", "spec.remoteWrite: out of memory");
		return;
	}
	why[0] = '\0';
	json_array_foreach(r->spec, i, e) {
		char one[300];
		const struct rw_dest *old;

		if (!build_one(r, e, &d[n], one, sizeof(one))) {
			n++;
			continue;
		}
		/* Keep what was working rather than drop a destination. */
		old = last_of(r, json_string_value(json_object_get(e, "url")));
		if (!why[0])
			snprintf(why, sizeof(why), "spec.remoteWrite[%zu]: %s%s", i, one,
				 old ? " (its previous settings stay)" : " (not started)");
		if (old && rw_dest_copy(&d[n], old) == 0)
			n++;
	}
	if (why[0] && strcmp(why, r->last_err) != 0)
		log_error("remotewrite", "%s", why);
	snprintf(r->last_err, sizeof(r->last_err), "%s", why);
	same = !r->from_flags_applied && n == r->nlast;
	for (i = 0; same && i < n; i++)
		same = rw_dest_equal(&d[i], &r->last[i]);
	if (same) {
		for (i = 0; i < n; i++)
			rw_dest_fini(&d[i]);
		free(d);
		return;
	}
	rc = r->apply(d, n, false, r->arg, err, sizeof(err));
	if (rc && rc != KM_EIO) {
		/* Nothing applied (e.g. libsnappy missing): tried again at the
		 * next reading. */
		log_error("remotewrite", "spec.remoteWrite: %s", err);
		for (i = 0; i < n; i++)
			rw_dest_fini(&d[i]);
		free(d);
		return;
	}
	/* KM_EIO: the destinations whose queue could not open are left out,
	 * the others run. */
	if (rc)
		log_error("remotewrite", "spec.remoteWrite: %s", err);
	else
		log_info("remotewrite", "spec.remoteWrite applied: %zu destination(s)", n);
	last_free(r);
	r->last = d;
	r->nlast = n;
	r->from_flags_applied = false;
}

static void secret_done(const struct kube_resp *resp, void *arg)
{
	struct sreq *sq = arg;
	struct round *rd = sq->rd;
	struct rwconf *r = rd->r;
	const char *name = rd->name[sq->idx];
	json_t *obj = NULL, *data;
	char why[300];

	rd->req[sq->idx] = NULL;
	if (resp->status == 200)
		obj = json_loads(resp->body, 0, NULL);
	data = json_object_get(obj, "data");
	if (obj) {
		/* A Secret without data is a Secret without keys. */
		json_object_set_new(r->secrets, name, json_is_object(data) ? json_incref(data) : json_object());
	} else {
		kube_resp_describe(resp, why, sizeof(why));
		/* Forbidden: the chart grants get on remoteWrite.secretNames only. */
		json_object_set_new(r->secrets, name, json_string(why));
	}
	json_decref(obj);
	if (--rd->pending)
		return;
	r->cur = NULL;
	if (rd->gen != r->gen) {
		/* The spec changed meanwhile: its Secrets may be others. */
		round_free(rd);
		if (!r->stopped && r->spec)
			read_secrets(r);
		return;
	}
	round_free(rd);
	if (!r->stopped && r->spec)
		build_and_apply(r);
}

/* The names of the Secrets spec refers to, once each. */
static void add_name(struct round *rd, const json_t *ref)
{
	const char *name = json_string_value(json_object_get(ref, "name"));

	if (!name || rd->n == RWCONF_SECRETS_MAX)
		return;
	for (size_t i = 0; i < rd->n; i++)
		if (strcmp(rd->name[i], name) == 0)
			return;
	rd->name[rd->n] = strdup(name);
	if (rd->name[rd->n])
		rd->n++;
}

static void on_timer(void *arg)
{
	struct rwconf *r = arg;

	r->timer = 0;
	if (!r->stopped && r->spec)
		read_secrets(r);
}

static void read_secrets(struct rwconf *r)
{
	struct round *rd;
	const json_t *e;
	size_t i;

	if (r->cur)
		return;   /* the reading in progress applies the newest spec when it ends */
	rd = calloc(1, sizeof(*rd));
	if (!rd) {
		log_error("remotewrite", "spec.remoteWrite: out of memory");
		return;
	}
	rd->r = r;
	rd->gen = r->gen;
	json_array_foreach(r->spec, i, e) {
		const json_t *b = json_object_get(e, "basicAuth"), *t = json_object_get(e, "tlsConfig");

		add_name(rd, json_object_get(e, "bearerTokenSecret"));
		add_name(rd, json_object_get(b, "username"));
		add_name(rd, json_object_get(b, "password"));
		add_name(rd, json_object_get(t, "ca"));
		add_name(rd, json_object_get(t, "cert"));
		add_name(rd, json_object_get(t, "keySecret"));
	}
	/* Secrets no longer named are forgotten. */
	json_object_clear(r->secrets);
	if (!r->timer)
		r->timer = kube_loop_timer(r->loop, RWCONF_REREAD_MS, on_timer, r);
	if (!rd->n) {
		round_free(rd);
		build_and_apply(r);
		return;
	}
	r->cur = rd;
	rd->pending = rd->n;
	for (i = 0; i < rd->n; i++) {
		struct buf path;
		struct kube_req_opts o = { .verb = "GET", .resource = "secrets", .timeout_ms = 30000,
					   .max_bytes = SECRET_BODY_MAX };

		buf_init(&path, 2048);
		buf_printf(&path, "/api/v1/namespaces/%s/secrets/", r->ns);
		kube_buf_escape(&path, rd->name[i]);
		o.path = buf_cstr(&path);
		rd->ctx[i] = (struct sreq){ rd, i };
		rd->req[i] = kube_req_start(r->c, &o, secret_done, &rd->ctx[i]);
		buf_fini(&path);
		if (!rd->req[i]) {
			json_object_set_new(r->secrets, rd->name[i], json_string("the request could not be started"));
			rd->pending--;
		}
	}
	if (!rd->pending) {
		r->cur = NULL;
		round_free(rd);
		build_and_apply(r);
	}
}

struct rwconf *rwconf_new(struct kube_client *c, struct kube_loop *loop, const char *ns, rwconf_apply_fn apply,
			  void *arg)
{
	struct rwconf *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->c = c;
	r->loop = loop;
	r->apply = apply;
	r->arg = arg;
	r->ns = strdup(ns ? ns : "default");
	r->secrets = json_object();
	/* What runs at start-up is the flags' set. */
	r->from_flags_applied = true;
	if (!r->ns || !r->secrets) {
		rwconf_free(r);
		return NULL;
	}
	return r;
}

void rwconf_set(struct rwconf *r, const json_t *spec)
{
	char err[512];

	if (r->stopped)
		return;
	if (!spec) {
		json_decref(r->spec);
		r->spec = NULL;
		if (r->from_flags_applied)
			return;
		if (r->apply(NULL, 0, true, r->arg, err, sizeof(err)))
			log_error("remotewrite", "back to the -remoteWrite.url flags: %s", err);
		else
			log_info("remotewrite", "no spec.remoteWrite: the -remoteWrite.url flags apply");
		r->from_flags_applied = true;
		last_free(r);
		return;
	}
	if (r->spec && json_equal(r->spec, spec))
		return;
	json_decref(r->spec);
	r->spec = json_deep_copy(spec);
	r->gen++;
	if (!r->spec) {
		log_error("remotewrite", "spec.remoteWrite: out of memory");
		return;
	}
	read_secrets(r);
}

void rwconf_stop(struct rwconf *r)
{
	if (!r)
		return;
	r->stopped = true;
	if (r->timer)
		kube_loop_timer_cancel(r->loop, r->timer);
	r->timer = 0;
	if (r->cur) {
		for (size_t i = 0; i < r->cur->n; i++)
			if (r->cur->req[i])
				kube_req_cancel(r->cur->req[i]);
		round_free(r->cur);
		r->cur = NULL;
	}
}

void rwconf_free(struct rwconf *r)
{
	if (!r)
		return;
	last_free(r);
	json_decref(r->spec);
	json_decref(r->secrets);
	free(r->ns);
	free(r);
}
