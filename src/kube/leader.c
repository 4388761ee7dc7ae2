#include "kube/leader.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

struct kube_leader {
	struct kube_client *c;
	char *ns, *name, *identity, *label, *path, *coll_path;
	int64_t lease_ms, renew_ms, retry_ms;
	bool always;
	void (*on_started)(void *arg);
	void (*on_stopped)(void *arg);
	void *arg;
	atomic_bool leader;

	/* Loop-thread state. */
	bool running;
	struct kube_req *req;
	uint64_t timer;
	uint64_t deadline_timer; /* leader: renew deadline watchdog */
	int64_t put_sent_ms;     /* when the in-flight acquire/renew was sent */
	json_t *last;            /* last Lease object seen (for PUT) */
	char *obs_key;           /* holder|renewTime|RV of the observed record */
	int64_t obs_ms;          /* local time that record was first seen */
	int64_t renewed_ms;      /* send time of the last successful acquire/renew */
	uint64_t rng;
	struct log_limit lim;

	/* Release handshake with kube_leader_stop(). */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool released;
	int64_t release_until_ms; /* mono deadline of the release PUT (and its retry) */
	bool release_retried;
};

void kube_micro_time(double wall, char *out, size_t n)
{
	time_t s = (time_t)wall;
	long us = (long)((wall - (double)s) * 1e6);
	struct tm tm;

	if (us < 0)
		us = 0;
	if (us > 999999)
		us = 999999;
	gmtime_r(&s, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
}

/* "/apis/coordination.k8s.io/v1/namespaces/<ns>/leases[/<name>]" etc. */
static char *join(const char *a, const char *b, const char *c, const char *d)
{
	struct buf x;

	buf_init(&x, 4096);
	if (buf_adds(&x, a) || buf_adds(&x, b) || buf_adds(&x, c) || buf_adds(&x, d)) {
		buf_fini(&x);
		return NULL;
	}
	return buf_steal(&x);
}

struct kube_leader *kube_leader_new(struct kube_client *c, const struct kube_leader_opts *o)
{
	struct kube_leader *l;

	if (!o->namespace || !*o->namespace || !o->name || !*o->name || !o->identity || !*o->identity)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->c = c;
	l->lease_ms = o->lease_ms ? o->lease_ms : 15000;
	l->renew_ms = o->renew_deadline_ms ? o->renew_deadline_ms : 10000;
	l->retry_ms = o->retry_ms ? o->retry_ms : 2000;
	l->always = o->always;
	l->on_started = o->on_started;
	l->on_stopped = o->on_stopped;
	l->arg = o->arg;
	l->rng = (uint64_t)clock_mono_ns() | 1;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->ns = strdup(o->namespace);
	l->name = strdup(o->name);
	l->identity = strdup(o->identity);
	l->label = join(o->namespace, "/", o->name, "");
	l->coll_path = join("/apis/coordination.k8s.io/v1/namespaces/", o->namespace, "/leases", "");
	l->path = l->coll_path ? join(l->coll_path, "/", o->name, "") : NULL;
	if (!l->ns || !l->name || !l->identity || !l->label || !l->path || !l->coll_path ||
	    (!l->always && !(l->lease_ms > l->renew_ms && l->renew_ms * 10 > l->retry_ms * 12))) {
		kube_leader_free(l);
		return NULL;
	}
	kube_metrics_set(kube_client_metrics(c), KUBE_M_LEADER, 0, l->label, NULL, NULL);
	return l;
}

bool kube_leader_is_leader(struct kube_leader *l)
{
	return l && atomic_load(&l->leader);
}

static void set_leader(struct kube_leader *l, bool on)
{
	if (atomic_load(&l->leader) == on)
		return;
	atomic_store(&l->leader, on);
	kube_metrics_set(kube_client_metrics(l->c), KUBE_M_LEADER, on ? 1 : 0, l->label, NULL, NULL);
	kube_metrics_add(kube_client_metrics(l->c), KUBE_M_LEADER_TRANSITIONS, 1, l->label, NULL, NULL);
	log_info("kube", "lease=%s identity=%s %s", l->label, l->identity,
		 on ? "became leader" : "stopped leading");
	if (on && l->on_started)
		l->on_started(l->arg);
	else if (!on && l->on_stopped)
		l->on_stopped(l->arg);
}

static void attempt(void *arg);

static void schedule(struct kube_leader *l)
{
	/* JitterFactor 1.2 as in client-go: wait in [retry, 1.2 x retry). */
	int64_t d;

	l->rng ^= l->rng << 13;
	l->rng ^= l->rng >> 7;
	l->rng ^= l->rng << 17;
	d = l->retry_ms + (int64_t)(l->rng % (uint64_t)(l->retry_ms / 5 + 1));
	if (!l->running)
		return;
	kube_loop_timer_cancel(kube_client_loop(l->c), l->timer);
	l->timer = kube_loop_timer(kube_client_loop(l->c), d, attempt, l);
}

/* After a failed or refused attempt: a leader that has not renewed within the
 * renew deadline must step down (another instance may take over once the
 * lease expires, so we must stop acting before that). */
static void attempt_failed(struct kube_leader *l, const char *why)
{
	if (atomic_load(&l->leader) && clock_mono_ms() - l->renewed_ms > l->renew_ms) {
		log_warn("kube", "lease=%s could not renew within %lldms (%s)", l->label,
			 (long long)l->renew_ms, why);
		set_leader(l, false);
	}
	schedule(l);
}

static void log_fail(struct kube_leader *l, const char *what, const struct kube_resp *r)
{
	char why[768];

	kube_resp_describe(r, why, sizeof(why));
	log_limited(&l->lim, 30000, LOG_WARN, "kube", "lease=%s %s failed: %s", l->label, what, why);
}

static json_t *lease_spec(const char *holder, int dur_s, const char *acquire,
			  const char *renew, json_int_t transitions)
{
	return json_pack("{s:s, s:i, s:s, s:s, s:I}", "holderIdentity", holder,
			 "leaseDurationSeconds", dur_s, "acquireTime", acquire, "renewTime", renew,
			 "leaseTransitions", transitions);
}

/* The renew deadline runs from the last successful renewal, whether or not
 * an attempt is still in flight: a GET and a PUT that are each slow but under
 * their timeouts must not keep a leader acting after others may have taken
 * the Lease (client-go bounds the whole renew loop the same way). */
static void deadline_fired(void *arg)
{
	struct kube_leader *l = arg;

	l->deadline_timer = 0;
	if (!l->running || !atomic_load(&l->leader))
		return;
	if (clock_mono_ms() - l->renewed_ms >= l->renew_ms) {
		log_warn("kube", "lease=%s could not renew within %lldms (%s)", l->label,
			 (long long)l->renew_ms, l->req ? "request still in flight" : "no renewal");
		set_leader(l, false);
	}
}

static void arm_deadline(struct kube_leader *l)
{
	int64_t left = l->renewed_ms + l->renew_ms - clock_mono_ms();

	kube_loop_timer_cancel(kube_client_loop(l->c), l->deadline_timer);
	l->deadline_timer = kube_loop_timer(kube_client_loop(l->c), left > 0 ? left : 0,
					    deadline_fired, l);
	/* A timer that could not be allocated (id 0) leaves the check in
	 * attempt_failed(), which runs at the latest when the in-flight
	 * request times out. */
}

static void write_done(const struct kube_resp *r, void *arg)
{
	struct kube_leader *l = arg;
	json_t *obj;

	l->req = NULL;
	if (!l->running || (r->curl == CURLE_ABORTED_BY_CALLBACK && !r->status))
		return;
	if (kube_resp_fail(r) != KUBE_OK) {
		if (r->status != 409)
			log_fail(l, "update", r);
		attempt_failed(l, "write refused");
		return;
	}
	if (clock_mono_ms() - l->put_sent_ms >= l->renew_ms) {
		/* Landed, but too late to count as a renewal within the
		 * deadline; the next attempt renews from the new record. */
		attempt_failed(l, "renewal slower than the renew deadline");
		return;
	}
	obj = json_loadb(r->body, r->body_len, 0, NULL);
	if (json_is_object(obj)) {
		json_decref(l->last);
		l->last = obj;
	} else {
		json_decref(obj);
	}
	/* Count from when the write was sent: the others see the new record
	 * no earlier than that, so the deadline errs on the safe side. */
	l->renewed_ms = l->put_sent_ms;
	set_leader(l, true);
	arm_deadline(l);
	schedule(l);
}

static void send_lease(struct kube_leader *l, const char *method, const char *path, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	struct kube_req_opts o = { .method = method, .resource = "leases", .path = path,
				   .body = text, .body_len = text ? strlen(text) : 0,
				   .timeout_ms = l->renew_ms, .max_bytes = 1u << 20 };

	l->put_sent_ms = clock_mono_ms();
	if (text)
		l->req = kube_req_start(l->c, &o, write_done, l);
	free(text);
	if (!l->req)
		attempt_failed(l, "cannot start request");
}

static void get_done(const struct kube_resp *r, void *arg)
{
	struct kube_leader *l = arg;
	char now[40], key[1024];
	json_t *obj = NULL, *spec, *body;
	const char *holder, *renew, *acquire, *rv;
	int dur_s;
	json_int_t trans;
	int64_t now_ms = clock_mono_ms();
	bool mine;

	l->req = NULL;
	if (!l->running || (r->curl == CURLE_ABORTED_BY_CALLBACK && !r->status))
		return;
	kube_micro_time(clock_wall(), now, sizeof(now));
	if (r->status == 404) {
		body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "coordination.k8s.io/v1",
				 "kind", "Lease", "metadata", "name", l->name, "namespace", l->ns, "spec",
				 lease_spec(l->identity, (int)((l->lease_ms + 999) / 1000), now, now, 0));
		send_lease(l, "POST", l->coll_path, body);
		json_decref(body);
		return;
	}
	if (kube_resp_fail(r) != KUBE_OK) {
		log_fail(l, "get", r);
		attempt_failed(l, "get failed");
		return;
	}
	obj = json_loadb(r->body, r->body_len, 0, NULL);
	spec = json_object_get(obj, "spec");
	rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	if (!json_is_object(obj) || !rv) {
		json_decref(obj);
		attempt_failed(l, "malformed Lease");
		return;
	}
	holder = json_string_value(json_object_get(spec, "holderIdentity"));
	renew = json_string_value(json_object_get(spec, "renewTime"));
	acquire = json_string_value(json_object_get(spec, "acquireTime"));
	dur_s = (int)json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	trans = json_integer_value(json_object_get(spec, "leaseTransitions"));
	if (!holder)
		holder = "";
	snprintf(key, sizeof(key), "%s|%s|%s", holder, renew ? renew : "", rv);
	if (!l->obs_key || strcmp(l->obs_key, key) != 0) {
		free(l->obs_key);
		l->obs_key = strdup(key);
		l->obs_ms = now_ms;
	}
	mine = strcmp(holder, l->identity) == 0;
	if (*holder && !mine && l->obs_ms + (int64_t)dur_s * 1000 > now_ms) {
		/* Held by someone else and not expired by our clock. */
		json_decref(obj);
		if (atomic_load(&l->leader))
			set_leader(l, false);
		schedule(l);
		return;
	}
	json_object_set_new(obj, "spec",
			    lease_spec(l->identity, (int)((l->lease_ms + 999) / 1000),
				       mine && acquire ? acquire : now, now, mine ? trans : trans + 1));
	json_object_del(json_object_get(obj, "metadata"), "managedFields");
	send_lease(l, "PUT", l->path, obj);
	json_decref(obj);
}

static void attempt(void *arg)
{
	struct kube_leader *l = arg;
	struct kube_req_opts o = { .resource = "leases", .path = l->path, .timeout_ms = l->renew_ms,
				   .max_bytes = 1u << 20 };

	l->timer = 0;
	if (!l->running || l->req)
		return;
	l->req = kube_req_start(l->c, &o, get_done, l);
	if (!l->req)
		attempt_failed(l, "cannot start request");
}

static void start_on_loop(void *arg)
{
	struct kube_leader *l = arg;

	if (l->running)
		return;
	l->running = true;
	if (l->always) {
		set_leader(l, true);
		return;
	}
	attempt(l);
}

int kube_leader_start(struct kube_leader *l)
{
	return kube_loop_post(kube_client_loop(l->c), start_on_loop, l);
}

static void signal_released(struct kube_leader *l)
{
	pthread_mutex_lock(&l->mu);
	l->released = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void release_done(const struct kube_resp *r, void *arg);

/* PUT the Lease obj (with its resourceVersion) holder "", duration 1 s,
 * keeping acquireTime's transitions. A real API server refuses a Lease
 * update without metadata.resourceVersion (422 "must be specified for an
 * update"), so the release is conditional; a 409 is retried once from a
 * fresh GET (release_get_done). Returns false if nothing was started. */
static bool send_release(struct kube_leader *l, json_t *lease)
{
	char now[40];
	json_t *obj = json_deep_copy(lease);
	char *text;
	int64_t left = l->release_until_ms - clock_mono_ms();

	if (!obj || left <= 0) {
		json_decref(obj);
		return false;
	}
	kube_micro_time(clock_wall(), now, sizeof(now));
	json_object_set_new(obj, "spec",
			    lease_spec("", 1, now, now,
				       json_integer_value(json_object_get(json_object_get(lease, "spec"),
									  "leaseTransitions"))));
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (text) {
		struct kube_req_opts o = { .method = "PUT", .resource = "leases", .path = l->path,
					   .body = text, .body_len = strlen(text),
					   .timeout_ms = left, .max_bytes = 1u << 20 };

		l->req = kube_req_start(l->c, &o, release_done, l);
		free(text);
	}
	return l->req != NULL;
}

static void release_get_done(const struct kube_resp *r, void *arg)
{
	struct kube_leader *l = arg;
	json_t *obj;
	const char *holder;

	l->req = NULL;
	if (kube_resp_fail(r) != KUBE_OK) {
		if (r->curl != CURLE_ABORTED_BY_CALLBACK)
			log_fail(l, "release", r);
		signal_released(l);
		return;
	}
	obj = json_loadb(r->body, r->body_len, 0, NULL);
	holder = json_string_value(json_object_get(json_object_get(obj, "spec"), "holderIdentity"));
	/* Still ours (a renew cancelled at stop landed and moved the
	 * resourceVersion): release from this record; else nothing to do. */
	if (!holder || strcmp(holder, l->identity) != 0 || !send_release(l, obj))
		signal_released(l);
	json_decref(obj);
}

static void release_done(const struct kube_resp *r, void *arg)
{
	struct kube_leader *l = arg;
	int64_t left = l->release_until_ms - clock_mono_ms();

	l->req = NULL;
	if (r->status == 409 && !l->release_retried && left > 0) {
		struct kube_req_opts o = { .resource = "leases", .path = l->path,
					   .timeout_ms = left, .max_bytes = 1u << 20 };

		l->release_retried = true;
		l->req = kube_req_start(l->c, &o, release_get_done, l);
		if (l->req)
			return;
	}
	if (kube_resp_fail(r) != KUBE_OK && r->curl != CURLE_ABORTED_BY_CALLBACK)
		log_fail(l, "release", r);
	signal_released(l);
}

static void stop_on_loop(void *arg)
{
	struct kube_leader *l = arg;
	bool was = atomic_load(&l->leader);

	l->running = false;
	kube_loop_timer_cancel(kube_client_loop(l->c), l->timer);
	l->timer = 0;
	kube_loop_timer_cancel(kube_client_loop(l->c), l->deadline_timer);
	l->deadline_timer = 0;
	if (l->req) {
		kube_req_cancel(l->req);
		l->req = NULL;
	}
	if (was)
		set_leader(l, false);
	if (!was || l->always || !l->last || !kube_loop_on_thread(kube_client_loop(l->c))) {
		signal_released(l);
		return;
	}
	/* Release: keep transitions, holder "", duration 1 s, conditional on
	 * the last resourceVersion we wrote (a renew cancelled just above may
	 * still have landed: 409, retried once from a fresh GET). At most 1 s
	 * in all: SIGTERM must end the process within 2 s even with a slow API
	 * server (the Lease then expires by itself). */
	l->release_retried = false;
	l->release_until_ms = clock_mono_ms() + (l->renew_ms < 1000 ? l->renew_ms : 1000);
	if (!send_release(l, l->last))
		signal_released(l);
}

void kube_leader_stop(struct kube_leader *l)
{
	struct timespec until;

	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->released = false;
	pthread_mutex_unlock(&l->mu);
	kube_loop_call(kube_client_loop(l->c), stop_on_loop, l);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += l->renew_ms / 1000 + 1;
	pthread_mutex_lock(&l->mu);
	while (!l->released) {
		if (pthread_cond_timedwait(&l->cv, &l->mu, &until))
			break;
	}
	pthread_mutex_unlock(&l->mu);
}

void kube_leader_free(struct kube_leader *l)
{
	if (!l)
		return;
	json_decref(l->last);
	free(l->obs_key);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l->label);
	free(l->path);
	free(l->coll_path);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
