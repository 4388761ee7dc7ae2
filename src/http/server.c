#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/parse.h"
#include "expo/writer.h"
#include "http/gzip.h"

/* Bodies smaller than this are not worth compressing. */
#define GZIP_MIN_BYTES 1024

enum { CLS_2XX, CLS_4XX, CLS_5XX, CLS_N };

struct http_server {
	struct MHD_Daemon *mhd;
	int fd;
	unsigned port;
	const struct http_route *routes;
	size_t nroutes;
	_Atomic uint64_t answered[CLS_N];
	_Atomic uint64_t not_found;
	_Atomic uint64_t bad_method;
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
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 128) != 0) {
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

static void count_status(struct http_server *s, int status)
{
	int cls = status >= 500 ? CLS_5XX : status >= 400 ? CLS_4XX : CLS_2XX;

	atomic_fetch_add(&s->answered[cls], 1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct http_server *s = cls;
	const struct http_route *route = NULL;
	struct http_reply reply;
	struct MHD_Response *r;
	const char *ae;
	bool head;
	int rc;
	enum MHD_Result ret;

	(void)version;
	(void)upload;
	/* First call is for headers only; answer on the second, so that a
	 * request body (which we never want) is not waited for. */
	if (*req_cls == NULL) {
		*req_cls = s;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* discard any body */
		return MHD_YES;
	}
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
	head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		atomic_fetch_add(&s->bad_method, 1);
		count_status(s, 405);
		return queue_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed\n", "GET, HEAD");
	}
	reply.status = 200;
	reply.content_type = "text/plain; charset=utf-8";
	buf_init(&reply.body, HTTP_BODY_MAX);
	rc = route->fn(route->ctx, url, &reply);
	if (rc) {
		log_warn("http", "handler for %s failed: %s", url, km_strerror(rc));
		reply.status = 500;
		buf_reset(&reply.body);
		buf_printf(&reply.body, "500 internal error: %s\n", km_strerror(rc));
	}
	ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	if (ae && gzip_accepted(ae) && reply.body.len >= GZIP_MIN_BYTES) {
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
	{
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
	ret = MHD_queue_response(c, (unsigned)reply.status, r);
	MHD_destroy_response(r);
	count_status(s, reply.status);
	return ret;
}

struct http_server *http_server_start(const struct http_opts *o, char *err, size_t errlen)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->routes = o->routes;
	s->nroutes = o->nroutes;
	s->fd = listen_socket(o->listen_addr, &s->port, err, errlen);
	if (s->fd < 0)
		goto fail;
	s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ITC,
				  0, NULL, NULL, on_request, s,
				  MHD_OPTION_LISTEN_SOCKET, s->fd,
				  MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads ? o->threads : 4),
				  MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
				  MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
				  MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(err, errlen, "cannot start HTTP server on %.128s", o->listen_addr);
		goto fail;
	}
	return s;
fail:
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	return NULL;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	/* Closing the listen socket first makes new connections fail fast,
	 * while MHD_stop_daemon lets in-flight responses complete. */
	MHD_quiesce_daemon(s->mhd);
	MHD_stop_daemon(s->mhd);
	close(s->fd);
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
		struct expo_label l = { "code", cls_names[i] };
		rc = expo_sample(out, "k8smon_http_requests_total", &l, 1,
				 (double)atomic_load(&s->answered[i]));
	}
	return rc;
}
