#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/parse.h"
#include "expo/writer.h"
#include "http/auth.h"
#include "http/conns.h"
#include "http/gzip.h"
#include "http/tls.h"

/* Bodies smaller than this are not worth compressing. */
#define GZIP_MIN_BYTES 1024

/* listen(2) backlog asked for; the kernel lowers it to net.core.somaxconn. */
#define HTTP_LISTEN_BACKLOG 4096

enum { CLS_2XX, CLS_4XX, CLS_5XX, CLS_N };

/* Why a request was refused before a handler saw it. REJ_MHD: libmicrohttpd
 * answered it itself (431: headers over HTTP_CONN_MEMORY; 400: malformed). */
enum { REJ_URI, REJ_HEADERS, REJ_MHD, REJ_N };
static const char *const rej_names[REJ_N] = { "uri_too_long", "headers_too_large",
					      "libmicrohttpd" };

/* Longest wait for a draining daemon's connections after a certificate
 * switch; idle keep-alive connections are closed by then. */
#define DRAIN_MAX_MS 60000
/* Longest wait for responses in flight at shutdown: SIGTERM must end the
 * process within 2 s, Lease release included. */
#define STOP_DRAIN_MS 800

/* One libmicrohttpd daemon on the shared listening socket. There is one,
 * except during a certificate switch: the new one accepts while the old one
 * (quiesced) finishes its in-flight responses. */
struct http_gen {
	struct http_server *s;
	struct MHD_Daemon *mhd;
	struct tls_pair tls;      /* PEM served; owned (MHD may keep pointers) */
	atomic_bool draining;     /* responses carry Connection: close */
	atomic_int conns;         /* open connections */
};

struct http_server {
	struct http_gen *gen;     /* serving; swapped by the TLS reloader thread */
	int fd;
	unsigned port;
	const struct http_route *routes;
	size_t nroutes;
	unsigned max_connections, timeout_s, threads;
	struct http_conns *conns;  /* admission, eviction, header deadline */
	struct http_auth *auth;   /* borrowed; NULL: no authentication */
	const char *const *open_paths;
	size_t nopen_paths;
	struct tls_reloader *reloader;
	atomic_bool stopping;
	_Atomic int64_t tls_not_after;
	_Atomic uint64_t answered[CLS_N];
	_Atomic uint64_t not_found;
	_Atomic uint64_t bad_method;
	_Atomic uint64_t stream_errors[2]; /* STREAM_ERR_* */
	_Atomic uint64_t rejected[REJ_N];  /* requests refused before routing */
	pthread_mutex_t log_lock;   /* guards the log_limits below */
	struct log_limit stream_log;
	struct log_limit reject_log;
	struct log_limit handler_log;
};

enum { STREAM_ERR_SIZE, STREAM_ERR_PRODUCER };

/* A streamed response: the handler's body first, then the producer's
 * blocks, each compressed as it comes when gzip is on. Owned by the
 * libmicrohttpd response (stream_free). */
struct stream {
	struct http_server *s;
	struct http_producer p;
	char url[128];       /* for the log line */
	struct buf head;     /* the handler's body, sent first */
	struct buf raw;      /* the producer's current block */
	struct buf out;      /* bytes ready to send (raw or compressed) */
	size_t out_pos;
	uint64_t total;      /* uncompressed bytes produced */
	bool head_sent, finished, gz;
	struct gzip_stream gzs;
};

int http_parse_addr(const char *addr, char *host, size_t hostlen, unsigned *port)
{
	const char *colon;
	size_t hl;
	uint64_t p;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close || close[1] != ':')
			return KM_EINVAL;
		hl = (size_t)(close - addr - 1);
		if (hl >= hostlen)
			return KM_EINVAL;
		memcpy(host, addr + 1, hl);
		host[hl] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return KM_EINVAL;
		hl = (size_t)(colon - addr);
		if (hl >= hostlen || memchr(addr, ':', hl))
			return KM_EINVAL;
		memcpy(host, addr, hl);
		host[hl] = '\0';
	}
	if (parse_u64_str(colon + 1, &p) || p > 65535)
		return KM_EINVAL;
	*port = (unsigned)p;
	return 0;
}

/* Creates, binds and listens a socket for addr; -1 with err on failure. */
static int listen_socket(const char *addr, unsigned *bound_port, char *err, size_t errlen)
{
	char host[256];
	unsigned port;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = -1, one = 1;

	if (http_parse_addr(addr, host, sizeof(host), &port)) {
		snprintf(err, errlen, "invalid address \"%.128s\" (want host:port, :port or [v6]:port)", addr);
		return -1;
	}
	memset(&ss, 0, sizeof(ss));
	if (host[0] == '\0' || strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = in6addr_any;
		if (host[0] && inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
			snprintf(err, errlen, "invalid IPv6 address \"%s\"", host);
			return -1;
		}
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (strcmp(host, "localhost") == 0)
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
			snprintf(err, errlen, "invalid IP address \"%.128s\" (use an IP, not a name)", host);
			return -1;
		}
		sl = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 && ss.ss_family == AF_INET6 && host[0] == '\0') {
		/* No IPv6 on this host: fall back to IPv4 any. */
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		memset(&ss, 0, sizeof(ss));
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) {
		int zero = 0;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	/* A backlog as deep as the kernel allows (it caps at net.core.somaxconn,
	 * as Go's servers ask): with 128, a flood that reconnects whenever it
	 * is evicted overflows the accept queue, and a scraper whose SYN is
	 * dropped there waits for its retransmit, a whole second. */
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, HTTP_LISTEN_BACKLOG) != 0) {
		snprintf(err, errlen, "listen tcp %.128s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							      : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static void free_body(void *p)
{
	free(p);
}

static enum MHD_Result queue_text(struct MHD_Connection *c, unsigned status, const char *text,
				  const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void producer_drop(struct http_producer *p)
{
	if (p->fn && p->free)
		p->free(p->ctx);
	memset(p, 0, sizeof(*p));
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	producer_drop(&st->p);
	gzip_stream_fini(&st->gzs);
	buf_fini(&st->head);
	buf_fini(&st->raw);
	buf_fini(&st->out);
	free(st);
}

static void stream_failed(struct stream *st, int kind, int rc)
{
	struct http_server *s = st->s;

	atomic_fetch_add(&s->stream_errors[kind], 1);
	pthread_mutex_lock(&s->log_lock);
	if (kind == STREAM_ERR_SIZE)
		log_limited(&s->stream_log, 60000, LOG_ERROR, "http",
			    "%s: streamed response over the %llu-byte cap, ended with an error",
			    st->url, (unsigned long long)HTTP_STREAM_MAX);
	else
		log_limited(&s->stream_log, 60000, LOG_ERROR, "http",
			    "%s: streamed response failed after %llu bytes, ended with an error: %s",
			    st->url, (unsigned long long)st->total, km_strerror(rc));
	pthread_mutex_unlock(&s->log_lock);
}

/* Puts the next bytes into st->out (empty on entry). */
static int stream_fill(struct stream *st)
{
	struct buf *src;
	bool last = false;
	int rc;

	if (!st->head_sent) {
		st->head_sent = true;
		src = &st->head;
	} else {
		buf_reset(&st->raw);
		rc = st->p.fn(st->p.ctx, &st->raw, HTTP_STREAM_BLOCK);
		if (rc < 0) {
			stream_failed(st, STREAM_ERR_PRODUCER, rc);
			return rc;
		}
		last = rc == HTTP_PRODUCE_DONE;
		src = &st->raw;
	}
	st->total += src->len;
	if (st->total > HTTP_STREAM_MAX) {
		stream_failed(st, STREAM_ERR_SIZE, KM_ETOOBIG);
		return KM_ETOOBIG;
	}
	if (st->gz) {
		rc = gzip_stream_write(&st->gzs, buf_cstr(src), src->len, last, &st->out);
		if (rc) {
			stream_failed(st, STREAM_ERR_PRODUCER, rc);
			return rc;
		}
	} else {
		/* No copy: the block becomes the output. */
		struct buf t = st->out;
		st->out = *src;
		*src = t;
	}
	st->finished = last;
	return 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *dst, size_t max)
{
	struct stream *st = cls;
	size_t n;

	(void)pos;
	while (st->out_pos >= st->out.len) {
		if (st->finished)
			return MHD_CONTENT_READER_END_OF_STREAM;
		buf_reset(&st->out);
		st->out_pos = 0;
		if (stream_fill(st))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = st->out.len - st->out_pos;
	if (n > max)
		n = max;
	memcpy(dst, st->out.data + st->out_pos, n);
	st->out_pos += n;
	return (ssize_t)n;
}

/* Answers with reply->body followed by the producer's output, chunked.
 * Takes the body and the producer in every case. */
static struct MHD_Response *stream_response(struct http_server *s, const char *url,
					    struct http_reply *reply, bool gz)
{
	struct stream *st = calloc(1, sizeof(*st));
	struct MHD_Response *r;

	if (!st) {
		producer_drop(&reply->stream);
		buf_fini(&reply->body);
		return NULL;
	}
	st->s = s;
	st->p = reply->stream;
	memset(&reply->stream, 0, sizeof(reply->stream));
	snprintf(st->url, sizeof(st->url), "%s", url);
	st->head = reply->body;
	buf_init(&reply->body, HTTP_BODY_MAX);
	buf_init(&st->raw, HTTP_BODY_MAX);
	buf_init(&st->out, HTTP_BODY_MAX);
	/* No compressor (out of memory): no response, rather than identity
	 * bytes under the Content-Encoding: gzip the caller sets. */
	if (gz && gzip_stream_init(&st->gzs)) {
		stream_free(st);
		return NULL;
	}
	st->gz = gz;
	/* block_size is advisory for chunked bodies: libmicrohttpd reads
	 * into the connection's write buffer (HTTP_CONN_MEMORY). */
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 << 10, stream_read, st, stream_free);
	if (!r)
		stream_free(st);
	return r;
}

static void count_status(struct http_server *s, int status)
{
	int cls = status >= 500 ? CLS_5XX : status >= 400 ? CLS_4XX : CLS_2XX;

	atomic_fetch_add(&s->answered[cls], 1);
}

/* Paths served without authentication (liveness/readiness probes). */
static bool path_open(const struct http_server *s, const char *url)
{
	for (size_t i = 0; i < s->nopen_paths; i++)
		if (strcmp(s->open_paths[i], url) == 0)
			return true;
	return false;
}

/* 401 (with the Bearer challenge), 403, 429 or 503 for a request that did not
 * pass authentication; never any data. */
static enum MHD_Result queue_denied(struct http_gen *g, struct MHD_Connection *c,
				    enum http_auth_result ar)
{
	static const char *const text[HTTP_AUTH_RESULT_N] = {
		[HTTP_AUTH_UNAUTHENTICATED] = "401 unauthorized: a valid bearer token is required\n",
		[HTTP_AUTH_FORBIDDEN] = "403 forbidden\n",
		[HTTP_AUTH_ERROR] = "503 authentication unavailable: the API server did not answer, retry\n",
		[HTTP_AUTH_RATE_LIMITED] = "429 too many new tokens to review, retry\n",
	};
	unsigned status = ar == HTTP_AUTH_UNAUTHENTICATED ? MHD_HTTP_UNAUTHORIZED
			  : ar == HTTP_AUTH_FORBIDDEN ? MHD_HTTP_FORBIDDEN
			  : ar == HTTP_AUTH_RATE_LIMITED ? MHD_HTTP_TOO_MANY_REQUESTS : MHD_HTTP_SERVICE_UNAVAILABLE;
	const char *t = text[ar] ? text[ar] : text[HTTP_AUTH_ERROR];
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(t), (void *)t, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"k8smon\"");
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE || status == MHD_HTTP_TOO_MANY_REQUESTS)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (atomic_load(&g->draining))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	count_status(g->s, (int)status);
	return ret;
}

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	size_t *n = cls;

	(void)kind;
	/* "key: value\r\n" on the wire. */
	*n += strlen(key) + (value ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/* REJ_URI or REJ_HEADERS when the request is over our caps, else -1. */
static int check_size(struct MHD_Connection *c, const char *url)
{
	size_t hdr = 0;

	if (strlen(url) > HTTP_URI_MAX)
		return REJ_URI;
	MHD_get_connection_values(c, MHD_HEADER_KIND, sum_header, &hdr);
	return hdr > HTTP_HEADERS_MAX ? REJ_HEADERS : -1;
}

static void count_rejected(struct http_server *s, int why, const char *url)
{
	atomic_fetch_add(&s->rejected[why], 1);
	pthread_mutex_lock(&s->log_lock);
	if (why == REJ_MHD)
		log_limited(&s->reject_log, 60000, LOG_WARN, "http",
			    "request refused by libmicrohttpd (over the %u-byte request cap, or malformed)",
			    HTTP_CONN_MEMORY);
	else
		log_limited(&s->reject_log, 60000, LOG_WARN, "http",
			    "request refused: %s (URI %zu bytes, cap %u; headers cap %u): %.64s...",
			    rej_names[why], strlen(url), HTTP_URI_MAX, HTTP_HEADERS_MAX, url);
	pthread_mutex_unlock(&s->log_lock);
}

static enum MHD_Result queue_rejected(struct http_server *s, struct MHD_Connection *c, int why,
				      const char *url)
{
	count_rejected(s, why, url);
	count_status(s, why == REJ_URI ? 414 : 431);
	return queue_text(c, why == REJ_URI ? MHD_HTTP_URI_TOO_LONG
					    : MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
			  why == REJ_URI ? "414 URI too long\n" : "431 request header fields too large\n",
			  NULL);
}

/* Called once the request line is read: the value becomes *req_cls, which
 * on_request replaces with the server on its first call. */
static void *on_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)uri;
	(void)c;
	return cls;
}

/* Our admission entry of c (NULL when it could not be tracked). */
static struct http_conn *conn_entry(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* A request whose *req_cls is still on_uri_log's value never reached
 * on_request: libmicrohttpd answered it itself (431: headers over
 * HTTP_CONN_MEMORY; 400: malformed). Requests cut by the client, a timeout
 * or shutdown are not rejections. A request line too long to be read at
 * all (414 before on_uri_log) is not seen here: libmicrohttpd 0.9.75 calls
 * no request callback for it, only the connection close, which carries no
 * status. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_gen *g = cls;

	http_conns_set_busy(g->s->conns, conn_entry(c), false);
	if (*req_cls == g && (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ||
			      toe == MHD_REQUEST_TERMINATED_WITH_ERROR))
		count_rejected(g->s, REJ_MHD, "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct http_gen *g = cls;
	struct http_server *s = g->s;
	const struct http_route *route = NULL;
	struct http_reply reply;
	struct MHD_Response *r = NULL;
	const char *ae;
	int rc;
	enum MHD_Result ret;

	(void)version;
	(void)upload;
	/* First call is for headers only; answer on the second, so that a
	 * request body (which we never want) is not waited for. Until then
	 * *req_cls is what on_uri_log returned (g), so on_completed can tell a
	 * request libmicrohttpd refused on its own from one we answered. */
	if (*req_cls != s) {
		*req_cls = s;
		/* No body is read for a method we refuse (a slowly sent body
		 * would hold the slot as long as it trickles). */
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
			atomic_fetch_add(&s->bad_method, 1);
			count_status(s, 405);
			return queue_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed\n", "GET, HEAD");
		}
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* discard any body */
		return MHD_YES;
	}
	/* A request in progress from here: never evicted, no header deadline
	 * (a body, which we discard, is still under both). */
	http_conns_set_busy(s->conns, conn_entry(c), true);
	rc = check_size(c, url);
	if (rc >= 0)
		return queue_rejected(s, c, rc, url);
	for (size_t i = 0; i < s->nroutes; i++) {
		if (strcmp(s->routes[i].path, url) == 0) {
			route = &s->routes[i];
			break;
		}
	}
	if (!route) {
		atomic_fetch_add(&s->not_found, 1);
		count_status(s, 404);
		return queue_text(c, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
	}
	if (s->auth && !path_open(s, url)) {
		enum http_auth_result ar = http_auth_check(
			s->auth, MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), url);
		if (ar != HTTP_AUTH_ALLOWED)
			return queue_denied(g, c, ar);
	}
	reply.status = 200;
	reply.content_type = "text/plain; charset=utf-8";
	buf_init(&reply.body, HTTP_BODY_MAX);
	memset(&reply.stream, 0, sizeof(reply.stream));
	rc = route->fn(route->ctx, url, &reply);
	if (rc) {
		/* Every scrape of a too-large section fails the same way. */
		pthread_mutex_lock(&s->log_lock);
		log_limited(&s->handler_log, 60000, LOG_WARN, "http", "handler for %s failed: %s", url,
			    km_strerror(rc));
		pthread_mutex_unlock(&s->log_lock);
		producer_drop(&reply.stream);
		reply.status = 500;
		buf_reset(&reply.body);
		buf_printf(&reply.body, "500 internal error: %s\n", km_strerror(rc));
	}
	ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	if (reply.stream.fn) {
		/* Streamed: compressed whenever accepted (the size is not known
		 * up front). HEAD: libmicrohttpd never calls the reader, and
		 * stream_free releases the producer. */
		ae = ae && gzip_accepted(ae) ? "gzip" : NULL;
		r = stream_response(s, url, &reply, ae != NULL);
		if (!r)
			return MHD_NO;
	} else if (ae && gzip_accepted(ae) && reply.body.len >= GZIP_MIN_BYTES) {
		struct buf z;
		buf_init(&z, HTTP_BODY_MAX);
		if (gzip_compress(buf_cstr(&reply.body), reply.body.len, &z) == 0) {
			buf_fini(&reply.body);
			reply.body = z;
			reply.body.cap = HTTP_BODY_MAX;
			ae = "gzip";
		} else {
			buf_fini(&z);
			ae = NULL;
		}
	} else {
		ae = NULL;
	}
	if (!r) {
		size_t len = reply.body.len;
		char *data = buf_steal(&reply.body);
		/* HEAD: same headers, and libmicrohttpd sends no body. */
		r = MHD_create_response_from_buffer_with_free_callback(len, data ? data : (char *)"", data ? free_body : NULL);
		if (!r) {
			free(data);
			return MHD_NO;
		}
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type);
	if (ae)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	if (atomic_load(&g->draining))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, (unsigned)reply.status, r);
	MHD_destroy_response(r);
	count_status(s, reply.status);
	return ret;
}

static void on_conn(void *cls, struct MHD_Connection *c, void **socket_ctx,
		    enum MHD_ConnectionNotificationCode toe)
{
	struct http_gen *g = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ad = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		atomic_fetch_add(&g->conns, 1);
		/* Not tracked (out of memory): served, just never evicted. */
		*socket_ctx = fd && ad ? http_conns_add(g->s->conns, fd->connect_fd, ad->client_addr,
							 sizeof(struct sockaddr_storage))
				       : NULL;
	} else {
		atomic_fetch_add(&g->conns, -1);
		http_conns_remove(g->s->conns, *socket_ctx);
		*socket_ctx = NULL;
	}
}

/* Admission (http/conns.h): at a cap an idle connection makes room; only
 * a new connection finding every slot busy is refused, and counted.
 * libmicrohttpd's own limit is set far above ours. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_gen *g = cls;
	enum http_conn_refusal why;

	return http_conns_admit(g->s->conns, addr, addrlen, &why) ? MHD_NO : MHD_YES;
}

/* Starts a daemon serving p (taken on success; left to the caller on
 * failure; NULL or empty: plain HTTP) on the listening socket. */
static struct http_gen *gen_start(struct http_server *s, struct tls_pair *p)
{
	struct http_gen *g = calloc(1, sizeof(*g));
	struct MHD_OptionItem tls_opts[4] = { { MHD_OPTION_END, 0, NULL } };
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ITC;

	if (!g)
		return NULL;
	g->s = s;
	if (p && p->cert_pem) {
		flags |= MHD_USE_TLS;
		tls_opts[0] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, p->cert_pem };
		tls_opts[1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, p->key_pem };
		tls_opts[2] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES };
		tls_opts[3] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	}
	g->mhd = MHD_start_daemon(flags, 0, on_accept, g, on_request, g,
				  MHD_OPTION_LISTEN_SOCKET, s->fd,
				  MHD_OPTION_THREAD_POOL_SIZE, s->threads,
				  /* Split between the pool threads, which accept
				   * unevenly, and evicted connections linger until their
				   * thread closes them: keep MHD's own limit (silent)
				   * out of the way of on_accept's counted one. */
				  MHD_OPTION_CONNECTION_LIMIT, (s->max_connections + 16) * (s->threads + 1),
				  MHD_OPTION_CONNECTION_TIMEOUT, s->timeout_s,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
				  MHD_OPTION_NOTIFY_CONNECTION, on_conn, g,
				  MHD_OPTION_URI_LOG_CALLBACK, on_uri_log, g,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, g,
				  MHD_OPTION_ARRAY, tls_opts,
				  MHD_OPTION_END);
	if (!g->mhd) {
		free(g);
		return NULL;
	}
	if (p && p->cert_pem) {
		g->tls = *p;
		memset(p, 0, sizeof(*p));
		atomic_store(&s->tls_not_after, g->tls.not_after);
	}
	return g;
}

/* Stops a quiesced (or the last) daemon and frees it. */
static void gen_stop(struct http_gen *g)
{
	if (!g)
		return;
	MHD_stop_daemon(g->mhd);
	tls_pair_fini(&g->tls);
	free(g);
}

/* Reloader thread: a new valid pair. The new daemon starts accepting on the
 * same socket before the old one stops accepting, so no connection is
 * refused; the old one finishes what it serves, then goes. */
static int tls_apply(void *arg, struct tls_pair *p)
{
	struct http_server *s = arg;
	struct http_gen *ng = gen_start(s, p), *old;
	int64_t deadline, drain_ms;

	if (!ng)
		return KM_EINVAL;
	old = s->gen;
	s->gen = ng;
	atomic_store(&old->draining, true);
	MHD_quiesce_daemon(old->mhd);
	drain_ms = (int64_t)s->timeout_s * 1000 + 1000 < DRAIN_MAX_MS ? (int64_t)s->timeout_s * 1000 + 1000
								     : DRAIN_MAX_MS;
	deadline = clock_mono_ms() + drain_ms;
	while (atomic_load(&old->conns) > 0 && clock_mono_ms() < deadline && !atomic_load(&s->stopping)) {
		struct timespec ts = { 0, 50 * 1000000 };
		nanosleep(&ts, NULL);
	}
	log_info("http", "previous TLS daemon stopped after draining %lld ms (%d idle connections closed)",
		 (long long)(clock_mono_ms() - (deadline - drain_ms)), atomic_load(&old->conns));
	gen_stop(old);
	return 0;
}

/* -http.maxConnections sockets plus the agent's own need more than the
 * usual soft limit of 1024 open files: raised towards the hard one (as the
 * Go runtime does), and said when it cannot be. */
static void ensure_nofile(unsigned max_connections)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
		log_warn("http", "open files limit %llu is below -http.maxConnections + 256 (%llu): connections past it "
				 "fail to be accepted; raise the limit or lower -http.maxConnections",
			 (unsigned long long)rl.rlim_cur, (unsigned long long)need);
}

struct http_server *http_server_start(const struct http_opts *o, char *err, size_t errlen)
{
	struct http_server *s = calloc(1, sizeof(*s));
	struct tls_pair tls = { 0 };
	bool want_tls = o->tls_cert_file && o->tls_key_file;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->routes = o->routes;
	s->nroutes = o->nroutes;
	s->auth = o->auth;
	s->open_paths = o->open_paths;
	s->nopen_paths = o->nopen_paths;
	s->max_connections = o->max_connections;
	s->timeout_s = o->timeout_s;
	s->threads = o->threads ? o->threads : 4;
	pthread_mutex_init(&s->log_lock, NULL);
	ensure_nofile(o->max_connections);
	s->conns = http_conns_new(&(struct http_conns_opts){
		.max_total = o->max_connections,
		.max_per_addr = o->max_connections_per_addr && o->max_connections_per_addr < o->max_connections
					? o->max_connections_per_addr
					: o->max_connections,
		.header_timeout_ms = o->header_timeout_ms ? o->header_timeout_ms : 10000,
		.idle_timeout_ms = (int64_t)o->timeout_s * 1000,
	});
	if (!s->conns) {
		snprintf(err, errlen, "out of memory");
		goto fail_nofd;
	}
	if (want_tls) {
		if (!tls_supported()) {
			snprintf(err, errlen, "-tls: this libmicrohttpd was built without TLS support");
			goto fail_nofd;
		}
		if (tls_pair_load(&tls, o->tls_cert_file, o->tls_key_file, err, errlen))
			goto fail_nofd;
	}
	s->fd = listen_socket(o->listen_addr, &s->port, err, errlen);
	if (s->fd < 0)
		goto fail_nofd;
	s->gen = gen_start(s, want_tls ? &tls : NULL);
	if (!s->gen) {
		snprintf(err, errlen, "cannot start HTTP%s server on %.128s", want_tls ? "S" : "", o->listen_addr);
		goto fail;
	}
	if (want_tls) {
		s->reloader = tls_reloader_start(o->tls_cert_file, o->tls_key_file, &s->gen->tls,
						 TLS_RELOAD_CHECK_MS, tls_apply, s);
		if (!s->reloader) {
			snprintf(err, errlen, "cannot start the TLS certificate reloader");
			goto fail;
		}
	}
	return s;
fail:
	if (s->gen) {
		MHD_quiesce_daemon(s->gen->mhd);
		gen_stop(s->gen);
	}
	close(s->fd);
fail_nofd:
	tls_pair_fini(&tls);
	http_conns_free(s->conns);
	pthread_mutex_destroy(&s->log_lock);
	free(s);
	return NULL;
}

void http_server_stop(struct http_server *s)
{
	int64_t deadline;

	if (!s)
		return;
	/* The reloader first: it may be swapping daemons (and gives up
	 * draining when stopping is set). */
	atomic_store(&s->stopping, true);
	/* Handlers waiting for a TokenReview would hold MHD_stop_daemon. */
	http_auth_close(s->auth);
	tls_reloader_stop(s->reloader);
	/* Stop accepting and close the listen socket, so new connections fail
	 * fast; then let responses in flight finish (MHD_stop_daemon cuts every
	 * open connection) for at most STOP_DRAIN_MS. Idle keep-alive
	 * connections also count, so with those the full wait is spent. */
	MHD_quiesce_daemon(s->gen->mhd);
	close(s->fd);
	deadline = clock_mono_ms() + STOP_DRAIN_MS;
	while (atomic_load(&s->gen->conns) > 0 && clock_mono_ms() < deadline) {
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	gen_stop(s->gen);
	http_conns_free(s->conns);
	pthread_mutex_destroy(&s->log_lock);
	free(s);
}

unsigned http_server_port(const struct http_server *s)
{
	return s->port;
}

int http_server_write_metrics(struct http_server *s, struct buf *out)
{
	static const char *const cls_names[CLS_N] = { "2xx", "4xx", "5xx" };
	int rc = expo_family(out, "k8smon_http_requests_total",
			     "HTTP requests answered, by status class.", EXPO_COUNTER);

	for (int i = 0; !rc && i < CLS_N; i++) {
		struct label_pair l = { "code", cls_names[i] };
		rc = expo_sample(out, "k8smon_http_requests_total", &l, 1,
				 (double)atomic_load(&s->answered[i]));
	}
	if (!rc)
		rc = expo_family(out, "k8smon_http_stream_errors_total",
				 "Streamed responses ended with an error (the client sees a failed chunked transfer): size_limit = over the streamed-body cap, producer = the body could not be produced.",
				 EXPO_COUNTER);
	for (int i = 0; !rc && i < 2; i++) {
		struct label_pair l = { "reason", i == STREAM_ERR_SIZE ? "size_limit" : "producer" };
		rc = expo_sample(out, "k8smon_http_stream_errors_total", &l, 1,
				 (double)atomic_load(&s->stream_errors[i]));
	}
	if (!rc)
		rc = expo_family(out, "k8smon_http_rejected_connections_total",
				 "Connections refused at once because every slot held a request in progress: max_connections = -http.maxConnections, max_connections_per_address = -http.maxConnectionsPerAddress.",
				 EXPO_COUNTER);
	for (int i = 0; !rc && i < HTTP_REFUSED_N; i++) {
		struct label_pair l = { "reason", i == HTTP_REFUSED_TOTAL ? "max_connections" : "max_connections_per_address" };
		rc = expo_sample(out, "k8smon_http_rejected_connections_total", &l, 1,
				 (double)http_conns_refused(s->conns, (enum http_conn_refusal)i));
	}
	if (!rc)
		rc = expo_family(out, "k8smon_http_closed_connections_total",
				 "Connections closed by k8smon with no request in progress: evicted = to admit a new connection at a cap (oldest idle first), header_timeout = no complete request head within -http.headerTimeout.",
				 EXPO_COUNTER);
	for (int i = 0; !rc && i < HTTP_CLOSED_N; i++) {
		struct label_pair l = { "reason", i == HTTP_CLOSED_EVICTED ? "evicted" : "header_timeout" };
		rc = expo_sample(out, "k8smon_http_closed_connections_total", &l, 1,
				 (double)http_conns_closed(s->conns, (enum http_conn_closure)i));
	}
	if (!rc)
		rc = expo_family(out, "k8smon_http_open_connections", "HTTP connections open now.", EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, "k8smon_http_open_connections", NULL, 0, (double)http_conns_open(s->conns));
	if (!rc)
		rc = expo_family(out, "k8smon_http_rejected_requests_total",
				 "Requests refused before routing: uri_too_long (414) and headers_too_large (431) are over k8smon's caps; libmicrohttpd = answered by libmicrohttpd itself (request over its per-connection memory, or malformed).",
				 EXPO_COUNTER);
	for (int i = 0; !rc && i < REJ_N; i++) {
		struct label_pair l = { "reason", rej_names[i] };
		rc = expo_sample(out, "k8smon_http_rejected_requests_total", &l, 1,
				 (double)atomic_load(&s->rejected[i]));
	}
	if (!rc && s->reloader) {
		uint64_t ok, failed;
		tls_reloader_counts(s->reloader, &ok, &failed);
		rc = expo_family(out, "k8smon_http_tls_reloads_total",
				 "TLS certificate reloads after the files changed; failure: invalid pair, previous kept.",
				 EXPO_COUNTER);
		if (!rc) {
			struct label_pair l = { "result", "success" };
			rc = expo_sample(out, "k8smon_http_tls_reloads_total", &l, 1, (double)ok);
		}
		if (!rc) {
			struct label_pair l = { "result", "failure" };
			rc = expo_sample(out, "k8smon_http_tls_reloads_total", &l, 1, (double)failed);
		}
		if (!rc)
			rc = expo_family(out, "k8smon_http_tls_certificate_expiry_timestamp_seconds",
					 "notAfter of the certificate being served, Unix seconds.", EXPO_GAUGE);
		if (!rc)
			rc = expo_sample(out, "k8smon_http_tls_certificate_expiry_timestamp_seconds", NULL, 0,
					 (double)atomic_load(&s->tls_not_after));
	}
	if (!rc && s->auth)
		rc = http_auth_write_metrics(s->auth, out);
	return rc;
}
