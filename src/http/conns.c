#include "http/conns.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/err.h"

/* How often the deadline thread looks: a deadline is enforced within it. */
#define SWEEP_MS 250

/* An address as compared: IPv4 (also when IPv4-mapped in IPv6) or IPv6. */
struct addr_key {
	unsigned char len; /* 4 or 16; 0: unknown (never grouped) */
	unsigned char b[16];
};

struct http_conn {
	struct http_conn *prev, *next; /* oldest first */
	int fd;
	struct addr_key addr;
	int64_t since_ms;  /* accepted, or the last response finished */
	bool busy;         /* request head complete, response not finished */
	bool served;       /* a response was finished: now keep-alive idle */
	bool closing;      /* shut down by us; libmicrohttpd will close it */
};

struct http_conns {
	struct http_conns_opts o;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct http_conn *head, *tail;
	unsigned open;     /* entries not closing */
	bool stop;
	pthread_t sweeper;
	_Atomic uint64_t refused[HTTP_REFUSED_N];
	_Atomic uint64_t closed[HTTP_CLOSED_N];
};

static void key_of(const struct sockaddr *sa, socklen_t len, struct addr_key *k)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(k, 0, sizeof(*k));
	if (!sa)
		return;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		k->len = 4;
		memcpy(k->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			k->len = 4;
			memcpy(k->b, a + 12, 4);
		} else {
			k->len = 16;
			memcpy(k->b, a, 16);
		}
	}
}

static bool key_eq(const struct addr_key *a, const struct addr_key *b)
{
	return a->len && a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

/* Under lock. */
static void close_entry(struct http_conns *t, struct http_conn *e, enum http_conn_closure why)
{
	e->closing = true;
	t->open--;
	atomic_fetch_add(&t->closed[why], 1);
	/* libmicrohttpd sees the end of stream on its thread and closes. */
	shutdown(e->fd, SHUT_RDWR);
}

static int64_t deadline_of(const struct http_conns *t, const struct http_conn *e)
{
	return e->since_ms + t->o.header_timeout_ms + (e->served ? t->o.idle_timeout_ms : 0);
}

static void *sweep(void *arg)
{
	struct http_conns *t = arg;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		struct timespec ts;
		int64_t now = clock_mono_ms();

		for (struct http_conn *e = t->head; e; e = e->next)
			if (!e->busy && !e->closing && now >= deadline_of(t, e))
				close_entry(t, e, HTTP_CLOSED_HEADER_TIMEOUT);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += SWEEP_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&t->wake, &t->lock, &ts);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

struct http_conns *http_conns_new(const struct http_conns_opts *o)
{
	struct http_conns *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->o = *o;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->wake, NULL);
	if (pthread_create(&t->sweeper, NULL, sweep, t) != 0) {
		pthread_cond_destroy(&t->wake);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return NULL;
	}
	return t;
}

void http_conns_free(struct http_conns *t)
{
	struct http_conn *e, *next;

	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->sweeper, NULL);
	for (e = t->head; e; e = next) {
		next = e->next;
		free(e);
	}
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int http_conns_admit(struct http_conns *t, const struct sockaddr *addr, socklen_t len,
		     enum http_conn_refusal *why)
{
	struct addr_key k;
	struct http_conn *oldest = NULL, *oldest_same = NULL;
	unsigned same = 0;
	int rc = 0;

	key_of(addr, len, &k);
	pthread_mutex_lock(&t->lock);
	for (struct http_conn *e = t->head; e; e = e->next) {
		bool mine;

		if (e->closing)
			continue;
		mine = key_eq(&e->addr, &k);
		same += mine;
		if (e->busy)
			continue;
		if (!oldest)
			oldest = e;
		if (mine && !oldest_same)
			oldest_same = e;
	}
	if (k.len && same >= t->o.max_per_addr) {
		/* The address pays for its own flood. */
		if (oldest_same)
			close_entry(t, oldest_same, HTTP_CLOSED_EVICTED);
		else
			rc = KM_ETOOBIG, *why = HTTP_REFUSED_PER_ADDR;
	} else if (t->open >= t->o.max_total) {
		if (oldest)
			close_entry(t, oldest, HTTP_CLOSED_EVICTED);
		else
			rc = KM_ETOOBIG, *why = HTTP_REFUSED_TOTAL;
	}
	pthread_mutex_unlock(&t->lock);
	if (rc)
		atomic_fetch_add(&t->refused[*why], 1);
	return rc;
}

struct http_conn *http_conns_add(struct http_conns *t, int fd, const struct sockaddr *addr,
				 socklen_t len)
{
	struct http_conn *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->fd = fd;
	key_of(addr, len, &e->addr);
	e->since_ms = clock_mono_ms();
	pthread_mutex_lock(&t->lock);
	e->prev = t->tail;
	if (t->tail)
		t->tail->next = e;
	else
		t->head = e;
	t->tail = e;
	t->open++;
	pthread_mutex_unlock(&t->lock);
	return e;
}

void http_conns_remove(struct http_conns *t, struct http_conn *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&t->lock);
	if (e->prev)
		e->prev->next = e->next;
	else
		t->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		t->tail = e->prev;
	if (!e->closing)
		t->open--;
	pthread_mutex_unlock(&t->lock);
	free(e);
}

void http_conns_set_busy(struct http_conns *t, struct http_conn *e, bool busy)
{
	if (!e)
		return;
	pthread_mutex_lock(&t->lock);
	if (e->busy && !busy) {
		e->served = true;
		e->since_ms = clock_mono_ms();
	}
	e->busy = busy;
	pthread_mutex_unlock(&t->lock);
}

uint64_t http_conns_refused(struct http_conns *t, enum http_conn_refusal why)
{
	return atomic_load(&t->refused[why]);
}

uint64_t http_conns_closed(struct http_conns *t, enum http_conn_closure why)
{
	return atomic_load(&t->closed[why]);
}

unsigned http_conns_open(struct http_conns *t)
{
	unsigned n;

	pthread_mutex_lock(&t->lock);
	n = t->open;
	pthread_mutex_unlock(&t->lock);
	return n;
}
