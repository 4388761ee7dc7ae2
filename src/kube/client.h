/* Kubernetes API client: one connection configuration, a bearer-token source
 * (re-read from its file at least every minute and right after a 401), TLS
 * settings (peer and host verification always on unless the kubeconfig says
 * insecure-skip-tls-verify), request metrics, and requests that run as easy
 * handles on the shared I/O loop.
 *
 * Threads: kube_client_new/free on the owner's thread (free only after the
 * loop has stopped). kube_req_start/cancel and everything that touches the
 * token run on the loop thread. kube_client_metrics()/kube_metrics_write()
 * may be called from any thread. */
#ifndef K8SMON_KUBE_CLIENT_H
#define K8SMON_KUBE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "dl/curl.h"
#include "kube/conn.h"
#include "kube/loop.h"
#include "kube/metrics.h"

/* Default cap on a buffered response body (one list page, one object). */
#define KUBE_BODY_MAX (64u << 20)
/* How long a token read from a file is trusted before it is re-read. */
#define KUBE_TOKEN_TTL_MS 60000

struct kube_client;
struct kube_req;

/* Outcome of one request, borrowed for the duration of the callback. */
struct kube_resp {
	long status;            /* HTTP status; 0 when no response arrived */
	CURLcode curl;          /* transport result (CURLE_OK on any HTTP status) */
	const char *error;      /* transport error text ("" if none) */
	const char *body;       /* buffered body (NUL-terminated; "" if none) */
	size_t body_len;
	bool too_big;           /* body exceeded max_bytes (status kept, body cut) */
	int64_t retry_after_ms; /* Retry-After of a 429/503, else -1 */
	int stream_rc;          /* non-zero if on_data aborted the transfer */
};

/* Why a request failed, for metrics, logs and decisions. */
enum kube_fail {
	KUBE_OK = 0,
	KUBE_FAIL_TLS,          /* certificate verification: wrong CA, bad name;
				 * a TLS alert from the server (e.g. client
				 * certificate required or not trusted) */
	KUBE_FAIL_UNREACHABLE,  /* DNS, connect, reset before a response */
	KUBE_FAIL_TIMEOUT,      /* total or low-speed timeout */
	KUBE_FAIL_UNAUTHORIZED, /* 401 */
	KUBE_FAIL_FORBIDDEN,    /* 403 (RBAC) */
	KUBE_FAIL_NOTFOUND,     /* 404 */
	KUBE_FAIL_CONFLICT,     /* 409 */
	KUBE_FAIL_EXPIRED,      /* 410 */
	KUBE_FAIL_THROTTLED,    /* 429 */
	KUBE_FAIL_SERVER,       /* 5xx */
	KUBE_FAIL_OTHER,
};

enum kube_fail kube_resp_fail(const struct kube_resp *r);
/* Short label: "tls", "unreachable", "timeout", "unauthorized", ... */
const char *kube_fail_name(enum kube_fail f);
/* One human sentence for logs: cause plus the server's Status message or the
 * transport error (never headers, so never the token). */
void kube_resp_describe(const struct kube_resp *r, char *out, size_t n);

/* done runs on the loop thread exactly once per successfully started request,
 * unless the request is cancelled. The request object is freed right after
 * done returns. */
typedef void (*kube_resp_fn)(const struct kube_resp *resp, void *arg);
/* Streaming body of a 2xx response; return 0 to continue or a negative code to
 * abort the transfer (it then completes with resp->stream_rc set). */
typedef int (*kube_data_fn)(const char *p, size_t n, void *arg);

struct kube_req_opts {
	const char *method;      /* "GET" (default), "POST", "PUT", "PATCH", "DELETE" */
	const char *verb;        /* metric label, e.g. "LIST", "WATCH"; default method */
	const char *resource;    /* metric label; default "other" */
	const char *path;        /* absolute path with query, starting with '/' */
	const char *body;        /* request body or NULL (copied) */
	size_t body_len;
	const char *content_type; /* of the body; default application/json */
	size_t max_bytes;        /* cap on the buffered body; 0 = KUBE_BODY_MAX */
	long timeout_ms;         /* total timeout; 0 = none (watches) */
	long low_speed_s;        /* abort when < 1 byte/s for this long; 0 = off */
	kube_data_fn on_data;    /* stream 2xx bodies here instead of buffering */
};

/* Copies conn. Returns NULL with a message in err on failure (e.g. a token
 * file that cannot be read). The loop is borrowed and must outlive the
 * client. */
struct kube_client *kube_client_new(const struct kube_conn *conn, struct kube_loop *loop,
				    char *err, size_t errlen);
/* After kube_loop_stop(): frees the client. */
void kube_client_free(struct kube_client *c);

struct kube_loop *kube_client_loop(struct kube_client *c);
/* Default namespace of the connection (context namespace or service-account
 * namespace); borrowed. */
const char *kube_client_namespace(struct kube_client *c);
const char *kube_client_server(struct kube_client *c);
struct kube_metrics *kube_client_metrics(struct kube_client *c);

/* Loop thread: starts a request. Returns NULL on failure (done not called). */
struct kube_req *kube_req_start(struct kube_client *c, const struct kube_req_opts *o,
				kube_resp_fn done, void *arg);
/* Loop thread: aborts a request; done is not called. */
void kube_req_cancel(struct kube_req *r);

/* Loop thread: forget the cached token (next request re-reads the file). */
void kube_client_token_invalidate(struct kube_client *c);

/* Writes all k8smon_kube_* self-metrics (and k8smon_leader) of this client.
 * Any thread. */
int kube_metrics_write(struct kube_client *c, struct buf *out);

/* URL-escape s and append it to out (for selectors, names, continue tokens). */
int kube_buf_escape(struct buf *out, const char *s);

#endif
