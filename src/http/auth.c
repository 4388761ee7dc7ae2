#include "http/auth.h"

#include <jansson.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "expo/writer.h"
#include "kube/client.h"
#include "kube/loop.h"

static const char *const result_names[HTTP_AUTH_RESULT_N] = {
	[HTTP_AUTH_ALLOWED] = "allowed",
	[HTTP_AUTH_UNAUTHENTICATED] = "unauthenticated",
	[HTTP_AUTH_FORBIDDEN] = "forbidden",
	[HTTP_AUTH_ERROR] = "error",
	[HTTP_AUTH_RATE_LIMITED] = "rate_limited",
};

const char *http_auth_result_name(enum http_auth_result r)
{
	return (unsigned)r < HTTP_AUTH_RESULT_N ? result_names[r] : "error";
}

/* RFC 6750 b64token plus what real tokens contain: any visible ASCII. */
static bool token_char(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f;
}

int http_auth_parse_bearer(const char *h, const char **tok, size_t *len)
{
	size_t n = 0;

	if (!h)
		return KM_ENOENT;
	while (*h == ' ' || *h == '\t')
		h++;
	if (!*h)
		return KM_ENOENT;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return KM_EINVAL;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	while (token_char((unsigned char)h[n]))
		n++;
	if (n == 0)
		return KM_EINVAL;
	/* Only trailing whitespace may follow ("Bearer a b" is not a token). */
	for (const char *t = h + n; *t; t++)
		if (*t != ' ' && *t != '\t')
			return KM_EINVAL;
	if (n > HTTP_AUTH_TOKEN_MAX)
		return KM_ETOOBIG;
	*tok = h;
	*len = n;
	return 0;
}

/* --- cache ------------------------------------------------------------------
 * Set-associative: the key's first bytes pick a set of CACHE_WAYS slots, so a
 * lookup is a few comparisons and the table never grows. */

#define CACHE_WAYS 8

struct cache_entry {
	uint8_t key[HTTP_AUTH_KEY_LEN];
	int64_t expires_ms;        /* 0: empty slot */
	enum http_auth_result result;
};

struct auth_cache {
	pthread_mutex_t mu;
	size_t nsets;
	struct cache_entry *e;     /* nsets * CACHE_WAYS */
};

struct auth_cache *auth_cache_new(size_t capacity)
{
	struct auth_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->nsets = (capacity + CACHE_WAYS - 1) / CACHE_WAYS;
	if (c->nsets == 0)
		c->nsets = 1;
	c->e = calloc(c->nsets * CACHE_WAYS, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void auth_cache_free(struct auth_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c->e);
	free(c);
}

void auth_cache_key(const uint8_t salt[16], const char *token, size_t toklen, const char *path,
		    uint8_t key[HTTP_AUTH_KEY_LEN])
{
	gnutls_hash_hd_t h = NULL;
	static const uint8_t zero = 0;

	/* GnuTLS, loaded at the first key (dl/gnutls.h), rather than a second
	 * crypto library. Only allocation failure or a GnuTLS that cannot be
	 * loaded makes SHA-256 fail. The all-zero key is then
	 * returned, and the cache refuses to store or find it (key_usable):
	 * such requests are reviewed every time instead of sharing a slot. */
	if (gnutls_hash_get_len(GNUTLS_DIG_SHA256) != HTTP_AUTH_KEY_LEN ||
	    gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		memset(key, 0, HTTP_AUTH_KEY_LEN);
		return;
	}
	if (gnutls_hash(h, salt, 16) < 0 || gnutls_hash(h, token, toklen) < 0 ||
	    gnutls_hash(h, &zero, 1) < 0 || gnutls_hash(h, path, strlen(path)) < 0) {
		gnutls_hash_deinit(h, NULL);
		memset(key, 0, HTTP_AUTH_KEY_LEN);
		return;
	}
	gnutls_hash_deinit(h, key);
}

static bool key_usable(const uint8_t key[HTTP_AUTH_KEY_LEN])
{
	for (size_t i = 0; i < HTTP_AUTH_KEY_LEN; i++)
		if (key[i])
			return true;
	return false;
}

static struct cache_entry *cache_set(struct auth_cache *c, const uint8_t key[HTTP_AUTH_KEY_LEN])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return &c->e[(h % c->nsets) * CACHE_WAYS];
}

bool auth_cache_get(struct auth_cache *c, const uint8_t key[HTTP_AUTH_KEY_LEN], int64_t now_ms,
		    enum http_auth_result *out)
{
	struct cache_entry *set;
	bool found = false;

	if (!key_usable(key))
		return false;
	pthread_mutex_lock(&c->mu);
	set = cache_set(c, key);
	for (int i = 0; i < CACHE_WAYS; i++) {
		if (set[i].expires_ms > now_ms && memcmp(set[i].key, key, HTTP_AUTH_KEY_LEN) == 0) {
			*out = set[i].result;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return found;
}

void auth_cache_put(struct auth_cache *c, const uint8_t key[HTTP_AUTH_KEY_LEN],
		    enum http_auth_result r, int64_t expires_ms)
{
	struct cache_entry *set, *victim;

	if (!key_usable(key))
		return;
	pthread_mutex_lock(&c->mu);
	set = cache_set(c, key);
	victim = &set[0];
	for (int i = 0; i < CACHE_WAYS; i++) {
		if (set[i].expires_ms && memcmp(set[i].key, key, HTTP_AUTH_KEY_LEN) == 0) {
			victim = &set[i];
			break;
		}
		/* Empty (0) or expiring soonest loses its slot. */
		if (set[i].expires_ms < victim->expires_ms)
			victim = &set[i];
	}
	memcpy(victim->key, key, HTTP_AUTH_KEY_LEN);
	victim->expires_ms = expires_ms;
	victim->result = r;
	pthread_mutex_unlock(&c->mu);
}

size_t auth_cache_count(struct auth_cache *c, int64_t now_ms)
{
	size_t n = 0;

	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->nsets * CACHE_WAYS; i++)
		if (c->e[i].expires_ms > now_ms)
			n++;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* --- review budget ----------------------------------------------------------- */

void auth_bucket_init(struct auth_bucket *b, unsigned burst, double rate_per_s, int64_t now_ms)
{
	b->burst = burst;
	b->tokens = burst;
	b->rate_per_ms = rate_per_s / 1000.0;
	b->last_ms = now_ms;
}

bool auth_bucket_take(struct auth_bucket *b, int64_t now_ms)
{
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * b->rate_per_ms;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ms = now_ms;
	}
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

/* --- authenticator ----------------------------------------------------------- */

struct http_auth {
	struct http_auth_opts o;
	uint8_t salt[16];
	struct auth_cache *cache;
	_Atomic(struct kube_client *) client;
	struct log_limit review_log;          /* loop thread */
	_Atomic uint64_t results[HTTP_AUTH_RESULT_N];
	_Atomic uint64_t hits, misses;
	_Atomic uint64_t token_reviews;       /* TokenReviews sent */
	pthread_mutex_t bucket_mu;
	struct auth_bucket bucket;            /* under bucket_mu */
	atomic_bool closing;                  /* http_auth_close() called */
};

/* Waiters re-check closing this often. */
#define WAIT_SLICE_MS 50

/* One review in flight, shared by the waiting HTTP thread and the loop:
 * whichever lets go last frees it (the HTTP side may give up on timeout). */
struct review {
	atomic_int refs;
	struct http_auth *a;
	struct kube_client *client;
	char *token;                          /* wiped as soon as it is sent */
	size_t toklen;
	char *path;
	uint8_t key[HTTP_AUTH_KEY_LEN];       /* (token, path) */
	uint8_t tkey[HTTP_AUTH_KEY_LEN];      /* token alone */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	enum http_auth_result result;
};

static void review_unref(struct review *rv)
{
	if (atomic_fetch_sub(&rv->refs, 1) != 1)
		return;
	if (rv->token) {
		explicit_bzero(rv->token, rv->toklen);
		free(rv->token);
	}
	free(rv->path);
	pthread_cond_destroy(&rv->cv);
	pthread_mutex_destroy(&rv->mu);
	free(rv);
}

static void wipe_token(struct review *rv)
{
	if (!rv->token)
		return;
	explicit_bzero(rv->token, rv->toklen);
	free(rv->token);
	rv->token = NULL;
}

/* Loop thread: records the outcome, caches it (not errors), wakes the
 * waiter and drops the loop's reference. */
static void review_finish(struct review *rv, enum http_auth_result r)
{
	struct http_auth *a = rv->a;

	wipe_token(rv);
	if (r != HTTP_AUTH_ERROR)
		auth_cache_put(a->cache, rv->key, r,
			       clock_mono_ms() + (r == HTTP_AUTH_ALLOWED ? a->o.ttl_ok_ms : a->o.ttl_fail_ms));
	pthread_mutex_lock(&rv->mu);
	rv->result = r;
	rv->done = true;
	pthread_cond_signal(&rv->cv);
	pthread_mutex_unlock(&rv->mu);
	review_unref(rv);
}

/* Body of a finished review as JSON, or NULL with a log line. */
static json_t *review_body(struct review *rv, const struct kube_resp *resp, const char *what)
{
	char why[512];
	json_t *j;

	if (resp->status != 200 && resp->status != 201) {
		kube_resp_describe(resp, why, sizeof(why));
		log_limited(&rv->a->review_log, 10000, LOG_ERROR, "http",
			    "%s failed, answering 503 to scrapers: %s%s", what, why,
			    resp->status == 403 ? " (the agent's service account needs the ClusterRole system:auth-delegator)" : "");
		return NULL;
	}
	j = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (!json_is_object(json_object_get(j, "status"))) {
		log_limited(&rv->a->review_log, 10000, LOG_ERROR, "http", "%s: response without a status", what);
		json_decref(j);
		return NULL;
	}
	return j;
}

static void sar_done(const struct kube_resp *resp, void *arg)
{
	struct review *rv = arg;
	json_t *j = review_body(rv, resp, "SubjectAccessReview");

	if (!j) {
		review_finish(rv, HTTP_AUTH_ERROR);
		return;
	}
	review_finish(rv, json_is_true(json_object_get(json_object_get(j, "status"), "allowed"))
				  ? HTTP_AUTH_ALLOWED : HTTP_AUTH_FORBIDDEN);
	json_decref(j);
}

/* Starts the SubjectAccessReview for user (the TokenReview's status.user). */
static int start_sar(struct review *rv, json_t *user)
{
	json_t *spec = json_object(), *body = NULL;
	const char *k[] = { "uid", "groups", "extra" };
	char *text = NULL;
	struct kube_req_opts o;
	int rc = KM_ENOMEM;

	if (!spec)
		goto out;
	json_object_set(spec, "user", json_object_get(user, "username"));
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (json_object_get(user, k[i]))
			json_object_set(spec, k[i], json_object_get(user, k[i]));
	json_object_set_new(spec, "nonResourceAttributes",
			    json_pack("{s:s, s:s}", "path", rv->path, "verb", "get"));
	body = json_pack("{s:s, s:s, s:O}", "apiVersion", "authorization.k8s.io/v1",
			 "kind", "SubjectAccessReview", "spec", spec);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text)
		goto out;
	o = (struct kube_req_opts){
		.method = "POST", .verb = "CREATE", .resource = "subjectaccessreviews",
		.path = "/apis/authorization.k8s.io/v1/subjectaccessreviews",
		.body = text, .body_len = strlen(text),
		.max_bytes = HTTP_AUTH_BODY_MAX, .timeout_ms = rv->a->o.timeout_ms,
	};
	rc = kube_req_start(rv->client, &o, sar_done, rv) ? 0 : KM_EIO;
out:
	free(text);
	json_decref(body);
	json_decref(spec);
	return rc;
}

static void tr_done(const struct kube_resp *resp, void *arg)
{
	struct review *rv = arg;
	json_t *j = review_body(rv, resp, "TokenReview"), *st;

	if (!j) {
		review_finish(rv, HTTP_AUTH_ERROR);
		return;
	}
	st = json_object_get(j, "status");
	if (!json_is_true(json_object_get(st, "authenticated")) ||
	    !json_is_string(json_object_get(json_object_get(st, "user"), "username"))) {
		/* Rejected whatever the path: the same made-up token on
		 * another path costs no second review. */
		auth_cache_put(rv->a->cache, rv->tkey, HTTP_AUTH_UNAUTHENTICATED,
			       clock_mono_ms() + rv->a->o.ttl_fail_ms);
		review_finish(rv, HTTP_AUTH_UNAUTHENTICATED);
	} else if (start_sar(rv, json_object_get(st, "user"))) {
		review_finish(rv, HTTP_AUTH_ERROR);
	}
	json_decref(j);
}

/* Loop thread: the TokenReview. */
static void review_start(void *arg)
{
	struct review *rv = arg;
	json_t *body = json_pack("{s:s, s:s, s:{s:s%}}", "apiVersion", "authentication.k8s.io/v1",
				 "kind", "TokenReview", "spec", "token", rv->token, rv->toklen);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct kube_req_opts o;
	struct kube_req *req = NULL;

	if (text) {
		o = (struct kube_req_opts){
			.method = "POST", .verb = "CREATE", .resource = "tokenreviews",
			.path = "/apis/authentication.k8s.io/v1/tokenreviews",
			.body = text, .body_len = strlen(text),
			.max_bytes = HTTP_AUTH_BODY_MAX, .timeout_ms = rv->a->o.timeout_ms,
		};
		req = kube_req_start(rv->client, &o, tr_done, rv);
		if (req)
			atomic_fetch_add(&rv->a->token_reviews, 1);
	}
	/* The request holds its own copy; ours go now. */
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	if (body) {
		json_t *spec = json_object_get(body, "spec");
		json_t *t = json_object_get(spec, "token");
		if (json_is_string(t))
			explicit_bzero((char *)json_string_value(t), json_string_length(t));
		json_decref(body);
	}
	wipe_token(rv);
	if (!req)
		review_finish(rv, HTTP_AUTH_ERROR);
}

struct http_auth *http_auth_new(const struct http_auth_opts *o)
{
	struct http_auth *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->o = *o;
	if (a->o.ttl_ok_ms <= 0)
		a->o.ttl_ok_ms = HTTP_AUTH_TTL_OK_MS;
	if (a->o.ttl_fail_ms <= 0)
		a->o.ttl_fail_ms = HTTP_AUTH_TTL_FAIL_MS;
	if (a->o.cache_max == 0)
		a->o.cache_max = HTTP_AUTH_CACHE_MAX;
	if (a->o.timeout_ms <= 0)
		a->o.timeout_ms = HTTP_AUTH_TIMEOUT_MS;
	if (a->o.review_burst == 0)
		a->o.review_burst = HTTP_AUTH_REVIEW_BURST;
	if (!(a->o.review_rate > 0))
		a->o.review_rate = HTTP_AUTH_REVIEW_RATE;
	auth_bucket_init(&a->bucket, a->o.review_burst, a->o.review_rate, clock_mono_ms());
	/* A per-process salt: the keys in memory say nothing about tokens. */
	if (getrandom(a->salt, sizeof(a->salt), 0) != (ssize_t)sizeof(a->salt)) {
		uint64_t t = (uint64_t)clock_mono_ns() ^ (uint64_t)(uintptr_t)a;
		memcpy(a->salt, &t, sizeof(t));
	}
	a->cache = auth_cache_new(a->o.cache_max);
	if (!a->cache) {
		free(a);
		return NULL;
	}
	pthread_mutex_init(&a->bucket_mu, NULL);
	return a;
}

void http_auth_set_client(struct http_auth *a, struct kube_client *c)
{
	atomic_store(&a->client, c);
}

void http_auth_close(struct http_auth *a)
{
	if (a)
		atomic_store(&a->closing, true);
}

void http_auth_free(struct http_auth *a)
{
	if (!a)
		return;
	auth_cache_free(a->cache);
	pthread_mutex_destroy(&a->bucket_mu);
	explicit_bzero(a->salt, sizeof(a->salt));
	free(a);
}

/* Asks the API (cache miss): posts the review to the loop and waits. */
static enum http_auth_result ask_api(struct http_auth *a, struct kube_client *client,
				     const char *tok, size_t toklen, const char *path,
				     const uint8_t key[HTTP_AUTH_KEY_LEN],
				     const uint8_t tkey[HTTP_AUTH_KEY_LEN])
{
	struct review *rv = calloc(1, sizeof(*rv));
	pthread_condattr_t ca;
	struct timespec ts;
	int64_t deadline;
	enum http_auth_result r = HTTP_AUTH_ERROR;

	if (!rv || atomic_load(&a->closing)) {
		free(rv);
		return HTTP_AUTH_ERROR;
	}
	atomic_init(&rv->refs, 1);
	rv->a = a;
	rv->client = client;
	rv->toklen = toklen;
	rv->token = strndup(tok, toklen);
	rv->path = strdup(path);
	memcpy(rv->key, key, HTTP_AUTH_KEY_LEN);
	memcpy(rv->tkey, tkey, HTTP_AUTH_KEY_LEN);
	pthread_mutex_init(&rv->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rv->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (!rv->token || !rv->path)
		goto out;
	atomic_fetch_add(&rv->refs, 1); /* the loop's */
	if (kube_loop_post(kube_client_loop(client), review_start, rv)) {
		atomic_fetch_sub(&rv->refs, 1);
		goto out;
	}
	deadline = clock_mono_ms() + a->o.timeout_ms;
	pthread_mutex_lock(&rv->mu);
	/* In slices, so that http_auth_close() is noticed promptly. */
	while (!rv->done && !atomic_load(&a->closing)) {
		int64_t now = clock_mono_ms(), slice;
		if (now >= deadline)
			break;
		slice = deadline - now < WAIT_SLICE_MS ? deadline - now : WAIT_SLICE_MS;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += slice * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&rv->cv, &rv->mu, &ts);
	}
	if (rv->done)
		r = rv->result;
	pthread_mutex_unlock(&rv->mu);
out:
	review_unref(rv);
	return r;
}

enum http_auth_result http_auth_check(struct http_auth *a, const char *authorization,
				      const char *path)
{
	struct kube_client *client = atomic_load(&a->client);
	uint8_t key[HTTP_AUTH_KEY_LEN], tkey[HTTP_AUTH_KEY_LEN];
	const char *tok;
	size_t toklen;
	enum http_auth_result r;
	bool budget;

	if (http_auth_parse_bearer(authorization, &tok, &toklen)) {
		r = HTTP_AUTH_UNAUTHENTICATED;
		goto out;
	}
	auth_cache_key(a->salt, tok, toklen, path, key);
	auth_cache_key(a->salt, tok, toklen, "", tkey);
	if (auth_cache_get(a->cache, key, clock_mono_ms(), &r) ||
	    (auth_cache_get(a->cache, tkey, clock_mono_ms(), &r) && r == HTTP_AUTH_UNAUTHENTICATED)) {
		atomic_fetch_add(&a->hits, 1);
		goto out;
	}
	atomic_fetch_add(&a->misses, 1);
	if (!client) {
		r = HTTP_AUTH_ERROR;
		goto out;
	}
	/* Only what would reach the API server spends the budget: cached
	 * scrapes keep working through a flood of made-up tokens. */
	pthread_mutex_lock(&a->bucket_mu);
	budget = auth_bucket_take(&a->bucket, clock_mono_ms());
	pthread_mutex_unlock(&a->bucket_mu);
	r = budget ? ask_api(a, client, tok, toklen, path, key, tkey) : HTTP_AUTH_RATE_LIMITED;
out:
	atomic_fetch_add(&a->results[r], 1);
	return r;
}

int http_auth_write_metrics(struct http_auth *a, struct buf *out)
{
	int rc = expo_family(out, "k8smon_http_auth_total",
			     "HTTP requests to protected endpoints by authentication/authorization outcome.",
			     EXPO_COUNTER);

	for (int i = 0; !rc && i < HTTP_AUTH_RESULT_N; i++) {
		struct label_pair l = { "result", result_names[i] };
		rc = expo_sample(out, "k8smon_http_auth_total", &l, 1, (double)atomic_load(&a->results[i]));
	}
	if (!rc)
		rc = expo_family(out, "k8smon_http_auth_cache_requests_total",
				 "Authentication cache lookups (miss: TokenReview and SubjectAccessReview sent).",
				 EXPO_COUNTER);
	if (!rc) {
		struct label_pair l = { "result", "hit" };
		rc = expo_sample(out, "k8smon_http_auth_cache_requests_total", &l, 1, (double)atomic_load(&a->hits));
	}
	if (!rc) {
		struct label_pair l = { "result", "miss" };
		rc = expo_sample(out, "k8smon_http_auth_cache_requests_total", &l, 1, (double)atomic_load(&a->misses));
	}
	if (!rc)
		rc = expo_family(out, "k8smon_http_auth_cache_entries",
				 "Unexpired (token, path) decisions in the authentication cache.", EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, "k8smon_http_auth_cache_entries", NULL, 0,
				 (double)auth_cache_count(a->cache, clock_mono_ms()));
	if (!rc)
		rc = expo_family(out, "k8smon_http_auth_token_reviews_total",
				 "TokenReviews sent to the API server (bounded by the review budget; "
				 "over it, requests get 429 and count as rate_limited).",
				 EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_http_auth_token_reviews_total", NULL, 0,
				 (double)atomic_load(&a->token_reviews));
	return rc;
}
