#include "kube/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/vec.h"

struct post {
	struct post *next;
	kube_loop_fn fn;
	void *arg;
};

struct timer {
	uint64_t id;
	int64_t due_ms;
	kube_loop_fn fn;
	void *arg;
};

/* Stored as CURLOPT_PRIVATE of each easy handle on the multi. */
struct xfer {
	struct xfer *prev, *next;
	CURL *easy;
	kube_easy_done_fn done;
	void *arg;
};

/* Events taken per epoll_wait: more ready sockets wait for the next call. */
#define LOOP_EVENTS 64

struct kube_loop {
	CURLM *multi;
	/* libcurl's socket interface (CURLMOPT_SOCKETFUNCTION): a wakeup
	 * services only the sockets epoll reports ready, where
	 * curl_multi_perform visited every transfer in flight. The eventfd is
	 * in the set to wake the thread from others (posts, stop). libcurl's
	 * own deadlines are read with curl_multi_timeout at every wakeup
	 * rather than kept from CURLMOPT_TIMERFUNCTION: that callback reports
	 * only changes, and one missed change would stall a transfer. */
	int epfd, evfd;
	pthread_t thread;
	bool started, joined;
	atomic_bool stopping;

	pthread_mutex_t mu; /* guards the post queue and `closed` */
	struct post *head, *tail;
	bool closed;        /* no more posts accepted */

	/* Loop-thread state. Timers are a small unsorted array: there are a few
	 * per reflector/target and a linear scan per wakeup is cheaper than it
	 * sounds at those counts. */
	struct timer *timers;
	size_t ntimers, timers_alloc;
	uint64_t next_timer_id;
	struct xfer *xfers;
};

/* CURLMOPT_SOCKETFUNCTION: mirrors what libcurl wants to wait for on s
 * into the epoll set. socketp is non-NULL once s is in the set (libcurl
 * forgets it at CURL_POLL_REMOVE, so a reused descriptor starts afresh). */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct kube_loop *l = userp;
	struct epoll_event ev = { .data.fd = s };

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		/* The descriptor may already be closed: EBADF/ENOENT are fine,
		 * a closed descriptor leaves the set by itself. */
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	if (socketp) {
		if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, s, &ev) == 0)
			return 0;
		if (errno != ENOENT)
			goto fail;
	}
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s, &ev) != 0 &&
	    (errno != EEXIST || epoll_ctl(l->epfd, EPOLL_CTL_MOD, s, &ev) != 0))
		goto fail;
	if (!socketp)
		curl_multi_assign(l->multi, s, l);
	return 0;
fail:
	/* libcurl fails the transfer on -1: better than never waking for it. */
	log_warn("kube", "loop: cannot watch socket %d: %s", (int)s, strerror(errno));
	return -1;
}

struct kube_loop *kube_loop_new(void)
{
	struct kube_loop *l = calloc(1, sizeof(*l));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ev.data.fd = l->evfd;
	if (l->epfd < 0 || l->evfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) != 0)
		goto fail;
	l->multi = curl_multi_init();
	if (!l->multi)
		goto fail;
	if (curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
	    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l) != CURLM_OK) {
		curl_multi_cleanup(l->multi);
		goto fail;
	}
	pthread_mutex_init(&l->mu, NULL);
	l->next_timer_id = 1;
	return l;
fail:
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->evfd >= 0)
		close(l->evfd);
	free(l);
	return NULL;
}

/* Wakes the loop thread from any thread (posts, stop). */
static void wake(struct kube_loop *l)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is already non-zero, the thread will wake. */
	if (write(l->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("kube", "loop: wakeup: %s", strerror(errno));
}

CURLM *kube_loop_multi(struct kube_loop *l)
{
	return l->multi;
}

bool kube_loop_on_thread(struct kube_loop *l)
{
	return l->started && !l->joined && pthread_equal(pthread_self(), l->thread);
}

int kube_loop_post(struct kube_loop *l, kube_loop_fn fn, void *arg)
{
	struct post *p = malloc(sizeof(*p));

	if (!p)
		return KM_ENOMEM;
	p->next = NULL;
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_lock(&l->mu);
	if (l->closed) {
		pthread_mutex_unlock(&l->mu);
		free(p);
		return KM_EAGAIN;
	}
	if (l->tail)
		l->tail->next = p;
	else
		l->head = p;
	l->tail = p;
	pthread_mutex_unlock(&l->mu);
	wake(l);
	return 0;
}

struct call {
	kube_loop_fn fn;
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void call_trampoline(void *arg)
{
	struct call *c = arg;

	c->fn(c->arg);
	pthread_mutex_lock(&c->mu);
	c->done = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

int kube_loop_call(struct kube_loop *l, kube_loop_fn fn, void *arg)
{
	struct call c = { .fn = fn, .arg = arg };
	int rc;

	if (kube_loop_on_thread(l) || !l->started || l->joined) {
		fn(arg);
		return 0;
	}
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	rc = kube_loop_post(l, call_trampoline, &c);
	if (rc == 0) {
		pthread_mutex_lock(&c.mu);
		while (!c.done)
			pthread_cond_wait(&c.cv, &c.mu);
		pthread_mutex_unlock(&c.mu);
	} else if (rc == KM_EAGAIN) {
		/* The loop is stopping; wait for the join so fn cannot race
		 * with the loop thread, then run it here. Only kube_loop_stop's
		 * caller joins, so this is approximate: prefer not to call into
		 * a stopping loop. */
		fn(arg);
		rc = 0;
	}
	pthread_cond_destroy(&c.cv);
	pthread_mutex_destroy(&c.mu);
	return rc;
}

int kube_loop_add_easy(struct kube_loop *l, CURL *easy, kube_easy_done_fn done, void *arg)
{
	struct xfer *x = calloc(1, sizeof(*x));

	if (!x)
		return KM_ENOMEM;
	x->easy = easy;
	x->done = done;
	x->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
	if (curl_multi_add_handle(l->multi, easy) != CURLM_OK) {
		free(x);
		return KM_EIO;
	}
	x->next = l->xfers;
	if (l->xfers)
		l->xfers->prev = x;
	l->xfers = x;
	return 0;
}

static void xfer_unlink(struct kube_loop *l, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		l->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
}

void kube_loop_remove_easy(struct kube_loop *l, CURL *easy)
{
	struct xfer *x = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
	if (!x)
		return;
	curl_multi_remove_handle(l->multi, easy);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	xfer_unlink(l, x);
	free(x);
}

uint64_t kube_loop_timer(struct kube_loop *l, int64_t delay_ms, kube_loop_fn fn, void *arg)
{
	/* Bounded by the callers: a few timers per watch, lease and target. */
	if (VEC_RESERVE(l->timers, l->timers_alloc, l->ntimers + 1, 16, VEC_UNBOUNDED))
		return 0;
	l->timers[l->ntimers] = (struct timer){
		.id = l->next_timer_id++,
		.due_ms = clock_mono_ms() + (delay_ms > 0 ? delay_ms : 0),
		.fn = fn,
		.arg = arg,
	};
	return l->timers[l->ntimers++].id;
}

void kube_loop_timer_cancel(struct kube_loop *l, uint64_t id)
{
	for (size_t i = 0; id && i < l->ntimers; i++) {
		if (l->timers[i].id == id) {
			l->timers[i] = l->timers[--l->ntimers];
			return;
		}
	}
}

/* Runs due timers; returns ms until the next one (or `cap`). A timer callback
 * may add or cancel timers, so pick one at a time. */
static int64_t run_timers(struct kube_loop *l, int64_t cap)
{
	for (;;) {
		int64_t now = clock_mono_ms(), next = cap;
		size_t due = (size_t)-1;

		for (size_t i = 0; i < l->ntimers; i++) {
			if (l->timers[i].due_ms <= now) {
				if (due == (size_t)-1 || l->timers[i].due_ms < l->timers[due].due_ms)
					due = i;
			} else if (l->timers[i].due_ms - now < next) {
				next = l->timers[i].due_ms - now;
			}
		}
		if (due == (size_t)-1)
			return next;
		{
			struct timer t = l->timers[due];

			l->timers[due] = l->timers[--l->ntimers];
			t.fn(t.arg);
		}
	}
}

static void run_posts(struct kube_loop *l)
{
	struct post *p;

	pthread_mutex_lock(&l->mu);
	p = l->head;
	l->head = l->tail = NULL;
	pthread_mutex_unlock(&l->mu);
	while (p) {
		struct post *next = p->next;

		p->fn(p->arg);
		free(p);
		p = next;
	}
}

static void finish_transfers(struct kube_loop *l)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(l->multi, &left))) {
		struct xfer *x = NULL;
		CURL *easy = m->easy_handle;
		CURLcode res = m->data.result;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(l->multi, easy);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		if (!x)
			continue;
		xfer_unlink(l, x);
		x->done(easy, res, x->arg);
		free(x);
	}
}

/* Lets libcurl act on its deadlines when due (connects, timeouts, handles
 * just added or unpaused), then hands finished transfers to their owners. */
static void curl_timeout(struct kube_loop *l)
{
	long ms = -1;
	int running;

	curl_multi_timeout(l->multi, &ms);
	if (ms != 0)
		return;
	curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	finish_transfers(l);
}

static void *loop_main(void *arg)
{
	struct kube_loop *l = arg;
	struct epoll_event ev[LOOP_EVENTS];

	while (!atomic_load(&l->stopping)) {
		int64_t wait;
		long curl_ms = -1;
		int n;

		run_posts(l);
		curl_timeout(l);
		wait = run_timers(l, 1000);
		/* A timer may have added a transfer: libcurl's deadline again. */
		curl_multi_timeout(l->multi, &curl_ms);
		if (curl_ms >= 0 && curl_ms < wait)
			wait = curl_ms;
		if (atomic_load(&l->stopping))
			break;
		/* Sleeps on the sockets, the eventfd and the timeout; a post
		 * from another thread interrupts it. */
		n = epoll_wait(l->epfd, ev, LOOP_EVENTS, (int)wait);
		for (int i = 0; i < n; i++) {
			int mask = 0, running;

			if (ev[i].data.fd == l->evfd) {
				uint64_t v;

				if (read(l->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					log_warn("kube", "loop: wakeup read: %s", strerror(errno));
				continue;
			}
			if (ev[i].events & (EPOLLIN | EPOLLHUP))
				mask |= CURL_CSELECT_IN;
			if (ev[i].events & EPOLLOUT)
				mask |= CURL_CSELECT_OUT;
			if (ev[i].events & EPOLLERR)
				mask |= CURL_CSELECT_ERR;
			curl_multi_socket_action(l->multi, ev[i].data.fd, mask, &running);
		}
		finish_transfers(l);
	}
	/* Shutdown: drain posts (owners may be waiting in kube_loop_call),
	 * then abort whatever is still in flight so owners free it. */
	pthread_mutex_lock(&l->mu);
	l->closed = true;
	pthread_mutex_unlock(&l->mu);
	run_posts(l);
	while (l->xfers) {
		struct xfer *x = l->xfers;

		curl_multi_remove_handle(l->multi, x->easy);
		curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
		xfer_unlink(l, x);
		x->done(x->easy, CURLE_ABORTED_BY_CALLBACK, x->arg);
		free(x);
	}
	l->ntimers = 0;
	return NULL;
}

int kube_loop_start(struct kube_loop *l)
{
	if (l->started)
		return KM_EINVAL;
	if (pthread_create(&l->thread, NULL, loop_main, l) != 0)
		return KM_EIO;
	l->started = true;
	return 0;
}

void kube_loop_stop(struct kube_loop *l)
{
	if (!l || !l->started || l->joined)
		return;
	atomic_store(&l->stopping, true);
	wake(l);
	pthread_join(l->thread, NULL);
	l->joined = true;
}

void kube_loop_free(struct kube_loop *l)
{
	struct post *p;

	if (!l)
		return;
	kube_loop_stop(l);
	/* Never started: posts were queued but can never run. */
	p = l->head;
	while (p) {
		struct post *next = p->next;

		free(p);
		p = next;
	}
	while (l->xfers) {
		struct xfer *x = l->xfers;

		curl_multi_remove_handle(l->multi, x->easy);
		xfer_unlink(l, x);
		free(x);
	}
	curl_multi_cleanup(l->multi);
	close(l->epfd);
	close(l->evfd);
	free(l->timers);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
