/* Authentication and authorization of HTTP clients the Kubernetes way (what
 * kube-rbac-proxy does in front of node-exporter and kube-state-metrics):
 *
 *   Authorization: Bearer <token>
 *     -> TokenReview (authentication.k8s.io/v1): who is it?
 *     -> SubjectAccessReview (authorization.k8s.io/v1) for that user with
 *        nonResourceAttributes {path: <request path>, verb: "get"}
 *
 * so a Prometheus service account needs a ClusterRole with
 *   nonResourceURLs ["/metrics", "/metrics/..."] (a trailing star), verbs ["get"]
 * and the agent's own service account needs system:auth-delegator (create
 * tokenreviews and subjectaccessreviews).
 *
 * Results are cached per (token, path) for a short TTL in a bounded table
 * keyed by a salted SHA-256 of the token and path: the token itself is never
 * stored beyond the review in flight, and never logged.
 *
 * Outcomes and HTTP answers (decided here, applied by the server):
 *   allowed          -> the handler runs
 *   unauthenticated  -> 401 with WWW-Authenticate: Bearer (no or bad header,
 *                       unknown/expired token)
 *   forbidden        -> 403 (valid token, SubjectAccessReview denied)
 *   error            -> 503 with Retry-After (API unreachable, API error, or
 *                       no answer within HTTP_AUTH_TIMEOUT_MS): the token may
 *                       well be good, so 401/403 would be a lie; not cached.
 *   rate_limited     -> 429 with Retry-After: a cache miss found the review
 *                       budget (a token bucket) empty; no review is sent.
 *
 * Pre-authentication cost: whoever reaches the port can make up tokens, and
 * each unknown one would cost the API server a TokenReview. So (1) a token
 * the TokenReview rejected is remembered for ttl_fail_ms whatever path it
 * comes back on (keyed by the salted hash of the token alone), and (2) the
 * TokenReviews sent are limited to review_burst at once and review_rate per
 * second on average; over that, uncached requests get 429 without a review.
 *
 * Threads: http_auth_check() is called on libmicrohttpd's threads and blocks
 * for at most the timeout while the reviews run on the kube I/O loop. */
#ifndef K8SMON_HTTP_AUTH_H
#define K8SMON_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct kube_client;

/* Defaults: positive results trusted for a minute, negative ones for 10 s
 * (a freshly granted RoleBinding takes effect quickly), at most 4096
 * (token, path) pairs, 5 s for the reviews before the scrape gets a 503. */
#define HTTP_AUTH_TTL_OK_MS 60000
#define HTTP_AUTH_TTL_FAIL_MS 10000
#define HTTP_AUTH_CACHE_MAX 4096
#define HTTP_AUTH_TIMEOUT_MS 5000
/* TokenReview budget: 20 at once, 2 per second on average. A node's
 * scrapers need a few per minute (one per (token, path) every
 * HTTP_AUTH_TTL_OK_MS); a flood of made-up tokens gets 429s instead. */
#define HTTP_AUTH_REVIEW_BURST 20
#define HTTP_AUTH_REVIEW_RATE 2.0
/* Longest accepted bearer token (service-account JWTs are ~1 KiB). */
#define HTTP_AUTH_TOKEN_MAX 8192
/* Cap of a review response body. */
#define HTTP_AUTH_BODY_MAX (256u << 10)

enum http_auth_result {
	HTTP_AUTH_ALLOWED = 0,
	HTTP_AUTH_UNAUTHENTICATED,
	HTTP_AUTH_FORBIDDEN,
	HTTP_AUTH_ERROR,
	HTTP_AUTH_RATE_LIMITED,
	HTTP_AUTH_RESULT_N
};

/* "allowed", "unauthenticated", "forbidden", "error", "rate_limited"
 * (metric label). */
const char *http_auth_result_name(enum http_auth_result r);

/* Finds the token in an Authorization header value: scheme "Bearer"
 * (case-insensitive), one or more spaces, then a token of visible ASCII
 * without spaces, optionally followed by trailing spaces. Returns 0 with
 * tok and len pointing into header (borrowed), KM_ENOENT for a NULL/empty
 * header, KM_EINVAL for another scheme or a malformed token, KM_ETOOBIG past
 * HTTP_AUTH_TOKEN_MAX. */
int http_auth_parse_bearer(const char *header, const char **tok, size_t *len);

/* ---- the cache (exposed for unit tests) ---- */

#define HTTP_AUTH_KEY_LEN 32

struct auth_cache;

/* Constructor: capacity is rounded up to a multiple of the set size; NULL
 * on allocation failure. */
struct auth_cache *auth_cache_new(size_t capacity);
void auth_cache_free(struct auth_cache *c);
/* key = SHA-256(salt || token || 0 || path). path "" is the token's own
 * key (a rejected token, whatever the path; real paths start with '/'). */
void auth_cache_key(const uint8_t salt[16], const char *token, size_t toklen, const char *path,
		    uint8_t key[HTTP_AUTH_KEY_LEN]);
/* A result not expired at now_ms; false when absent or expired. */
bool auth_cache_get(struct auth_cache *c, const uint8_t key[HTTP_AUTH_KEY_LEN], int64_t now_ms,
		    enum http_auth_result *out);
/* Inserts or replaces; when the key's set is full the entry expiring first
 * (expired ones first of all) makes room. */
void auth_cache_put(struct auth_cache *c, const uint8_t key[HTTP_AUTH_KEY_LEN],
		    enum http_auth_result r, int64_t expires_ms);
/* Entries not expired at now_ms. */
size_t auth_cache_count(struct auth_cache *c, int64_t now_ms);

/* ---- the authenticator ---- */

struct http_auth_opts {
	int64_t ttl_ok_ms;      /* 0: HTTP_AUTH_TTL_OK_MS */
	int64_t ttl_fail_ms;    /* 0: HTTP_AUTH_TTL_FAIL_MS */
	size_t cache_max;       /* 0: HTTP_AUTH_CACHE_MAX */
	int64_t timeout_ms;     /* 0: HTTP_AUTH_TIMEOUT_MS */
	unsigned review_burst;  /* 0: HTTP_AUTH_REVIEW_BURST */
	double review_rate;     /* per second; 0: HTTP_AUTH_REVIEW_RATE */
};

/* ---- the review budget (exposed for unit tests) ---- */

/* A token bucket: starts full with burst tokens, refills rate per second. */
struct auth_bucket {
	double tokens;
	double burst;
	double rate_per_ms;
	int64_t last_ms;
};

void auth_bucket_init(struct auth_bucket *b, unsigned burst, double rate_per_s, int64_t now_ms);
/* Takes one token at now_ms; false (nothing taken) when the bucket is empty.
 * Not locked: the caller serialises. */
bool auth_bucket_take(struct auth_bucket *b, int64_t now_ms);

struct http_auth;

/* Constructor; NULL on failure. Until a client is attached every check of a
 * protected path answers "error" (503). */
struct http_auth *http_auth_new(const struct http_auth_opts *o);
/* Attaches the API client (borrowed; its loop runs the reviews). Any thread. */
void http_auth_set_client(struct http_auth *a, struct kube_client *c);
/* Shutdown: checks waiting for the API return "error" now, and later misses
 * do not wait (so stopping the HTTP server is not held up by a slow API).
 * Any thread; idempotent. */
void http_auth_close(struct http_auth *a);
/* Frees a. Only after the attached client's loop has stopped (a review still
 * in flight completes on the loop and refers to a). NULL is ok. */
void http_auth_free(struct http_auth *a);

/* Decides one request. authorization is the raw header value or NULL; path
 * the request path. Counts the outcome. Blocks up to timeout_ms on a cache
 * miss. Any thread. */
enum http_auth_result http_auth_check(struct http_auth *a, const char *authorization,
				      const char *path);

/* k8smon_http_auth_total{result}, k8smon_http_auth_cache_requests_total{result="hit|miss"},
 * k8smon_http_auth_cache_entries, k8smon_http_auth_token_reviews_total.
 * Any thread. */
int http_auth_write_metrics(struct http_auth *a, struct buf *out);

#endif
