/* Loopback scrape targets for bench/scrape.sh: one thread, one epoll set,
 * one listening socket per port in [first, first + n), every one serving the
 * same precomputed body of S series over HTTP/1.1 keep-alive. Cheap enough
 * that the agents under test, not the targets, are what the CPU measures.
 *
 *   bench_targets FIRST_PORT N SERIES [SINK_PORT]
 *
 * SINK_PORT (optional) answers every request with 204 after reading its body:
 * a remote-write receiver that drops. Prints READY once every port listens;
 * exits non-zero if one cannot be bound. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQ_MAX 65536

struct conn {
	int fd;
	int sink;                   /* 1: remote-write sink connection */
	char req[REQ_MAX];          /* request bytes not yet answered */
	size_t rlen;
	size_t body_left;           /* sink: request body bytes still to skip */
	size_t woff;                /* bytes of the response already written */
	int writing;
};

static char *resp;                  /* headers + body of a target response */
static size_t resp_len;
static const char sink_resp[] = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128)) {
		fprintf(stderr, "port %d: %s\n", port, strerror(errno));
		exit(1);
	}
	return fd;
}

/* 10 families of S/10 counters with 3 labels each, like a typical app. */
static void build_body(int series)
{
	size_t cap = (size_t)series * 96 + 4096, len = 0;
	char *body = malloc(cap);
	int fam = 10, per = series / fam, hlen;

	for (int f = 0; f < fam; f++) {
		len += (size_t)snprintf(body + len, cap - len,
					"# HELP app_family%d_total Requests of family %d.\n"
					"# TYPE app_family%d_total counter\n", f, f, f);
		for (int i = 0; i < per + (f < series % fam); i++)
			len += (size_t)snprintf(body + len, cap - len,
						"app_family%d_total{method=\"GET\",path=\"/api/v1/item%d\",code=\"200\"} %d\n",
						f, i, i * 7 + f);
	}
	resp = malloc(len + 256);
	hlen = snprintf(resp, 256, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
			"Content-Length: %zu\r\n\r\n", len);
	memcpy(resp + hlen, body, len);
	resp_len = (size_t)hlen + len;
	free(body);
}

static void conn_close(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Writes what the socket takes; returns -1 on error, 0 when done, 1 when
 * the rest waits for EPOLLOUT. */
static int flush(struct conn *c)
{
	const char *p = c->sink ? sink_resp : resp;
	size_t n = c->sink ? sizeof(sink_resp) - 1 : resp_len;

	while (c->woff < n) {
		ssize_t w = write(c->fd, p + c->woff, n - c->woff);
		if (w < 0)
			return errno == EAGAIN ? 1 : -1;
		c->woff += (size_t)w;
	}
	c->writing = 0;
	c->woff = 0;
	return 0;
}

/* Answers every complete request in c->req; returns -1 to close. */
static int serve(int ep, struct conn *c)
{
	for (;;) {
		char *end;
		size_t hl;
		int rc;

		if (c->writing)
			return 0;
		if (c->body_left) {
			size_t k = c->body_left < c->rlen ? c->body_left : c->rlen;
			memmove(c->req, c->req + k, c->rlen - k);
			c->rlen -= k;
			c->body_left -= k;
			if (c->body_left)
				return 0;
			c->writing = 1;
		} else {
			c->req[c->rlen] = 0;
			end = strstr(c->req, "\r\n\r\n");
			if (!end)
				return c->rlen >= REQ_MAX - 1 ? -1 : 0;
			hl = (size_t)(end - c->req) + 4;
			if (c->sink) {
				char *cl = strcasestr(c->req, "content-length:");
				c->body_left = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
			}
			memmove(c->req, c->req + hl, c->rlen - hl);
			c->rlen -= hl;
			if (c->body_left)
				continue;
			c->writing = 1;
		}
		rc = flush(c);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			return 0;
		}
	}
}

int main(int argc, char **argv)
{
	int first, n, series, sink = 0, ep;
	struct epoll_event evs[256];
	int *lfd;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_targets FIRST_PORT N SERIES [SINK_PORT]\n");
		return 2;
	}
	first = atoi(argv[1]);
	n = atoi(argv[2]);
	series = atoi(argv[3]);
	if (argc > 4)
		sink = atoi(argv[4]);
	build_body(series);
	ep = epoll_create1(0);
	lfd = calloc((size_t)n + 1, sizeof(*lfd));
	for (int i = 0; i <= n; i++) {
		struct epoll_event ev = { .events = EPOLLIN };
		if (i == n && !sink)
			break;
		lfd[i] = listen_on(i == n ? sink : first + i);
		/* Listening sockets are tagged by a small integer (< 2 * n + 2),
		 * connections by their heap pointer. */
		ev.data.u64 = (uint64_t)(i == n ? 2 * n + 1 : i) + 1;
		epoll_ctl(ep, EPOLL_CTL_ADD, lfd[i], &ev);
	}
	printf("READY %zu bytes per response\n", resp_len);
	fflush(stdout);
	for (;;) {
		int k = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < k; i++) {
			uint64_t tag = evs[i].data.u64;
			struct conn *c;
			if (tag <= (uint64_t)(2 * n + 2)) {
				int li = tag == (uint64_t)(2 * n + 2) ? n : (int)tag - 1, fd;
				while ((fd = accept4(lfd[li], NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					struct epoll_event ev = { .events = EPOLLIN };
					int one = 1;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					c->sink = li == n;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			c = evs[i].data.ptr;
			if (evs[i].events & EPOLLOUT) {
				int rc = flush(c);
				if (rc < 0) {
					conn_close(ep, c);
					continue;
				}
				if (rc == 0) {
					struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
					if (serve(ep, c) < 0) {
						conn_close(ep, c);
						continue;
					}
				}
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				ssize_t r = read(c->fd, c->req + c->rlen, REQ_MAX - 1 - c->rlen);
				if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
					conn_close(ep, c);
					continue;
				}
				if (r > 0)
					c->rlen += (size_t)r;
				if (serve(ep, c) < 0)
					conn_close(ep, c);
			}
		}
	}
}
