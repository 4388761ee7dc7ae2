/* A stand-in for CRI-O's info API on a unix socket, for unit tests of the
 * CRI-O filesystem tracker (src/collect/container/crio.h): one thread,
 * one connection at a time, answers as CRI-O does (HTTP/1.1, JSON) or
 * misbehaves as the mode says. Header-only test helper. */
#ifndef K8SMON_TESTS_FAKE_CRIO_H
#define K8SMON_TESTS_FAKE_CRIO_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum fc_mode {
	FC_OK = 0,     /* CRI-O's answer */
	FC_GARBAGE,    /* 200 with a body that is not JSON */
	FC_500,        /* 500 with CRI-O's text body */
	FC_404,        /* 404: CRI-O does not know the container */
	FC_NOROOT,     /* a ContainerInfo without root */
	FC_ARRAY,      /* 200 with a JSON array */
	FC_HUGE,       /* 200 with a 2 MiB JSON object */
	FC_HANG,       /* reads the request, never answers */
};

struct fake_crio {
	char path[108];
	int lfd;
	int stop[2];
	pthread_t th;
	_Atomic int info_mode;   /* for GET /info */
	_Atomic int ctr_mode;    /* for GET /containers/<id> */
	const char *driver;      /* storage_driver of /info */
	char root[512];          /* "root" of every container */
	char log[512];           /* "log_path" of every container */
	_Atomic int requests;
};

static inline void fc_send(int fd, int status, const char *ctype, const char *body, size_t n)
{
	char head[256];
	int hn = snprintf(head, sizeof(head),
			  "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			  "Connection: close\r\n\r\n", status, ctype, n);

	if (send(fd, head, (size_t)hn, MSG_NOSIGNAL) != hn)
		return;
	while (n > 0) {
		ssize_t w = send(fd, body, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		body += w;
		n -= (size_t)w;
	}
}

/* Waits until the client closes fd or the server stops. */
static inline void fc_hang(struct fake_crio *fc, int fd)
{
	struct pollfd p[2] = { { fd, POLLIN, 0 }, { fc->stop[0], POLLIN, 0 } };
	char b[256];

	while (poll(p, 2, -1) > 0 && !(p[1].revents & POLLIN))
		if (recv(fd, b, sizeof(b), 0) <= 0)
			return;
}

static inline void fc_serve(struct fake_crio *fc, int fd)
{
	static const char huge_head[] = "{\"root\":\"/x\",\"pad\":\"";
	char req[4096];
	char body[2048];
	size_t n = 0;
	bool info;
	int mode;

	while (n < sizeof(req) - 1) {
		ssize_t r = recv(fd, req + n, sizeof(req) - 1 - n, 0);

		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	atomic_fetch_add(&fc->requests, 1);
	info = strncmp(req, "GET /info ", 10) == 0;
	mode = info ? atomic_load(&fc->info_mode) : atomic_load(&fc->ctr_mode);
	if (!info && strncmp(req, "GET /containers/", 16) != 0)
		mode = FC_404;
	switch (mode) {
	case FC_OK:
		if (info)
			snprintf(body, sizeof(body), "{\"storage_driver\":\"%s\",\"storage_image\":\"\","
				 "\"storage_root\":\"/var/lib/containers/storage\",\"cgroup_driver\":\"systemd\","
				 "\"default_id_mappings\":{\"uids\":[],\"gids\":[]}}", fc->driver);
		else
			snprintf(body, sizeof(body), "{\"name\":\"k8s_x\",\"pid\":1,\"image\":\"i\",\"image_ref\":\"i\","
				 "\"created_time\":1,\"labels\":{},\"annotations\":{},\"crio_annotations\":{},"
				 "\"log_path\":\"%s\",\"root\":\"%s\",\"sandbox\":\"s\",\"ip_addresses\":[],"
				 "\"host_network\":false}", fc->log, fc->root);
		fc_send(fd, 200, "application/json", body, strlen(body));
		break;
	case FC_GARBAGE:
		fc_send(fd, 200, "application/json", "{\"root\": nope", 13);
		break;
	case FC_500:
		fc_send(fd, 500, "text/plain; charset=utf-8", "can't find container state\n", 27);
		break;
	case FC_404:
		fc_send(fd, 404, "text/plain; charset=utf-8", "can't find the container with id x\n", 35);
		break;
	case FC_NOROOT:
		fc_send(fd, 200, "application/json", "{\"name\":\"k8s_x\",\"log_path\":\"/l\"}", 32);
		break;
	case FC_ARRAY:
		fc_send(fd, 200, "application/json", "[1,2]", 5);
		break;
	case FC_HUGE: {
		size_t total = 2u << 20;
		char head[256];
		int hn = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				  "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", total, huge_head);

		if (send(fd, head, (size_t)hn, MSG_NOSIGNAL) != hn)
			break;
		memset(body, 'a', sizeof(body));
		for (size_t sent = sizeof(huge_head) - 1; sent < total; sent += sizeof(body))
			if (send(fd, body, sizeof(body), MSG_NOSIGNAL) <= 0)
				break;
		break;
	}
	case FC_HANG:
	default:
		fc_hang(fc, fd);
		break;
	}
}

static inline void *fc_thread(void *arg)
{
	struct fake_crio *fc = arg;
	struct pollfd p[2] = { { fc->lfd, POLLIN, 0 }, { fc->stop[0], POLLIN, 0 } };

	while (poll(p, 2, -1) > 0 && !(p[1].revents & POLLIN)) {
		int fd = accept(fc->lfd, NULL, NULL);

		if (fd < 0)
			continue;
		fc_serve(fc, fd);
		close(fd);
	}
	return NULL;
}

/* Listens on path; 0 or -1. */
static inline int fc_start(struct fake_crio *fc, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	size_t n = strlen(path);

	if (n >= sizeof(a.sun_path) || n >= sizeof(fc->path))
		return -1;
	memcpy(fc->path, path, n + 1);
	memcpy(a.sun_path, path, n + 1);
	if (!fc->driver)
		fc->driver = "overlay";
	fc->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fc->lfd < 0 || pipe(fc->stop) != 0)
		return -1;
	unlink(path);
	if (bind(fc->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fc->lfd, 16) != 0)
		return -1;
	return pthread_create(&fc->th, NULL, fc_thread, fc) == 0 ? 0 : -1;
}

static inline void fc_stop(struct fake_crio *fc)
{
	if (write(fc->stop[1], "x", 1) != 1)
		return;
	pthread_join(fc->th, NULL);
	close(fc->lfd);
	close(fc->stop[0]);
	close(fc->stop[1]);
	unlink(fc->path);
}

#endif
