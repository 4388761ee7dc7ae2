/* HTTP server on libmicrohttpd: a fixed route table, GET/HEAD only, gzip when
 * the client accepts it, connection limits and timeouts.
 *
 * The server knows nothing about metrics: each route has a handler that fills
 * a struct http_reply: a body, and for large responses also a producer that
 * the server calls for the rest of the body block by block while it sends. Handlers run on libmicrohttpd's worker threads, so they
 * must be thread-safe; a slow handler holds only its own connection. */
#ifndef K8SMON_HTTP_SERVER_H
#define K8SMON_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Hard cap of one response body before compression. */
#define HTTP_BODY_MAX (512u << 20)
/* Hard cap of a request URL plus headers (libmicrohttpd memory per
 * connection, MHD_OPTION_CONNECTION_MEMORY_LIMIT). A request that does not
 * fit is answered 414/431 by libmicrohttpd itself; it is counted in
 * k8smon_http_rejected_requests_total{reason="libmicrohttpd"} when the
 * request line was read (see on_completed in server.c). */
#define HTTP_CONN_MEMORY (64u << 10)
/* Our own, lower caps, checked before routing so that an oversized request
 * is answered (414 / 431), counted in k8smon_http_rejected_requests_total
 * {reason="uri_too_long"|"headers_too_large"} and logged (rate-limited)
 * by us rather than left to libmicrohttpd. Scrapers send well under 1 KiB. */
#define HTTP_URI_MAX (8u << 10)
#define HTTP_HEADERS_MAX (32u << 10)

/* Hard cap of a streamed body before compression: past it the stream ends
 * with an error (the client sees a failed chunked transfer), counted in
 * k8smon_http_stream_errors_total{reason="size_limit"} and logged
 * (rate-limited). */
#define HTTP_STREAM_MAX (4ull << 30)
/* Bytes asked from a producer per call (before compression). */
#define HTTP_STREAM_BLOCK (128u << 10)

/* A streamed body (chunked transfer encoding, gzip per block when the
 * client accepts it): fn appends about budget bytes to out (a fresh, empty
 * buffer each call) and returns HTTP_PRODUCE_MORE, HTTP_PRODUCE_DONE (these
 * are the last bytes, possibly none), or a negative KM_* code (the stream
 * ends with an error, counted and logged). fn runs on the connection's
 * worker thread, one call at a time, possibly long after the handler
 * returned: ctx must own (or hold references to) whatever it reads. free
 * (may be NULL) is called exactly once with ctx when the response is done
 * with it: finished, failed, client gone, HEAD, server stopping, or the
 * handler returned an error. fn must make progress: a MORE with no bytes is
 * allowed but fn is called again at once. */
#define HTTP_PRODUCE_DONE 0
#define HTTP_PRODUCE_MORE 1
typedef int (*http_produce_fn)(void *ctx, struct buf *out, size_t budget);

struct http_producer {
	http_produce_fn fn; /* NULL: no stream, body is the whole response */
	void *ctx;
	void (*free)(void *ctx);
};

struct http_reply {
	int status;               /* 200 by default */
	const char *content_type; /* static string; text/plain by default */
	struct buf body;          /* filled by the handler; owned by the server;
				   * capped at HTTP_BODY_MAX */
	/* Optional: when fn is set, the response is body (sent first) followed
	 * by the producer's output, streamed, without Content-Length, capped at
	 * HTTP_STREAM_MAX; for large responses (/metrics/kube-state). */
	struct http_producer stream;
};

/* Returns 0, or a negative KM_* code (answered as 500, body from the reply if any). */
typedef int (*http_handler_fn)(void *ctx, const char *path, struct http_reply *reply);

struct http_route {
	const char *path;   /* exact match */
	http_handler_fn fn;
	void *ctx;          /* borrowed; must outlive the server */
	const char *help;   /* one line for the landing page; static */
};

struct http_auth;

struct http_opts {
	const char *listen_addr;    /* ":9420", "127.0.0.1:9420", "[::1]:9420" */
	unsigned max_connections;          /* see http/conns.h */
	unsigned max_connections_per_addr; /* 0 or over max_connections: max_connections */
	int64_t header_timeout_ms;         /* 0: 10 s */
	unsigned timeout_s;                /* keep-alive idle */
	unsigned threads;           /* worker threads */
	const struct http_route *routes; /* borrowed; must outlive the server */
	size_t nroutes;
	/* HTTPS when both are set (files re-read when they change, see
	 * http/tls.h); NULL: plain HTTP. Copied. */
	const char *tls_cert_file;
	const char *tls_key_file;
	/* Bearer-token authentication of every route except open_paths (the
	 * probes); NULL: none. Borrowed; must outlive the server. */
	struct http_auth *auth;
	const char *const *open_paths; /* borrowed; must outlive the server */
	size_t nopen_paths;
};

struct http_server;

/* Binds and starts serving. On failure returns NULL and explains in err
 * (e.g. "listen tcp :9420: address already in use", or for TLS a line
 * naming -tlsCertFile/-tlsKeyFile). */
struct http_server *http_server_start(const struct http_opts *opts, char *err, size_t errlen);
/* Stops accepting, finishes in-flight responses, frees everything. NULL is ok. */
void http_server_stop(struct http_server *s);
/* The port actually bound (useful with port 0). */
unsigned http_server_port(const struct http_server *s);
/* Requests answered, by status class; rejected requests and connections;
 * TLS reloads and authentication outcomes when enabled; for self-metrics. */
int http_server_write_metrics(struct http_server *s, struct buf *out);

/* Parse a Go-style listen address into host (may be "") and port. */
int http_parse_addr(const char *addr, char *host, size_t hostlen, unsigned *port);

#endif
