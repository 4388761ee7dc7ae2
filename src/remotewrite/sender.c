#include "remotewrite/sender.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/token.h"
#include "dl/curl.h"

#define RETRY_MAX_MS 60000
#define RESP_KEEP 256   /* bytes of an error response kept for the log */

struct rw_sender {
	char *url, *token_file, *ca_file;
	int64_t send_timeout_ms;
	struct rw_queue *q;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	pthread_mutex_t lock;          /* guards st */
	struct rw_sender_stats st;
	struct backoff bo;
	struct log_limit drop_log, err_log;
	struct buf block, resp;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct buf *b = ctx;
	size_t n = size * nmemb;
	size_t room = b->cap - b->len;

	buf_add(b, p, n < room ? n : room);
	return n;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct rw_sender *s = ctx;

	(void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(&s->stop) ? 1 : 0;
}

enum outcome { SENT, RETRY, DROP };

/* Appends s to *h; false (list freed, *h NULL) when out of memory. */
static bool header(struct curl_slist **h, const char *s)
{
	struct curl_slist *n = curl_slist_append(*h, s);

	if (!n) {
		curl_slist_free_all(*h);
		*h = NULL;
		return false;
	}
	*h = n;
	return true;
}

/* One POST of s->block. */
static enum outcome post(struct rw_sender *s, CURL *c, long *status, char *why, size_t whylen)
{
	struct curl_slist *h = NULL;
	char auth[TOKEN_MAX + 32], token[TOKEN_MAX];
	enum outcome o = RETRY;
	bool ok;
	CURLcode cc;

	*status = 0;
	buf_reset(&s->resp);
	/* "Expect:" off: libcurl would wait up to 1 s for a 100 Continue
	 * before bodies over 1 MiB, which not every receiver sends. */
	ok = header(&h, "Content-Encoding: snappy") && header(&h, "Content-Type: application/x-protobuf") &&
	     header(&h, "X-Prometheus-Remote-Write-Version: 0.1.0") &&
	     header(&h, "User-Agent: k8smon/" K8SMON_VERSION) && header(&h, "Expect:");
	if (ok && s->token_file) {
		if (token_read(s->token_file, token, sizeof(token))) {
			snprintf(why, whylen, "cannot read -remoteWrite.bearerTokenFile=%s (empty, unreadable or not one line)",
				 s->token_file);
			goto out;
		}
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		ok = header(&h, auth);
		memset(token, 0, sizeof(token));
		memset(auth, 0, sizeof(auth));
	}
	if (!ok) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, s->block.data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->block.len);
	cc = curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	if (cc != CURLE_OK) {
		snprintf(why, whylen, "%s", atomic_load(&s->stop) ? "stopped" : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (*status >= 200 && *status < 300) {
		o = SENT;
	} else {
		o = (*status == 429 || *status >= 500) ? RETRY : DROP;
		snprintf(why, whylen, "HTTP %ld: %.*s", *status, (int)s->resp.len, buf_cstr(&s->resp));
		for (char *p = why; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
	}
out:
	curl_slist_free_all(h);
	return o;
}

static void sleep_interruptible(struct rw_sender *s, int64_t ms)
{
	int64_t end = clock_mono_ms() + ms;

	while (!atomic_load(&s->stop)) {
		int64_t left = end - clock_mono_ms();
		struct timespec ts;

		if (left <= 0)
			return;
		if (left > 100)
			left = 100;
		ts.tv_sec = 0;
		ts.tv_nsec = left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

static CURL *easy_new(struct rw_sender *s)
{
	CURL *c = curl_easy_init();
	int64_t ct = s->send_timeout_ms < 10000 ? s->send_timeout_ms : 10000;

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, s->url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->send_timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ct);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s->resp);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
	/* Never follow a redirect with the token and the body. */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (s->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
	return c;
}

static void *run(void *arg)
{
	struct rw_sender *s = arg;
	CURL *c = easy_new(s);
	char why[512];

	if (!c) {
		log_error("remotewrite", "%s: cannot create a libcurl handle: nothing will be sent", s->url);
		return NULL;
	}
	while (!atomic_load(&s->stop)) {
		uint64_t seq;
		long status;
		int64_t t0;
		double dt;
		enum outcome o;
		int rc;

		if (!rw_queue_wait(s->q, 1000))
			continue;
		rc = rw_queue_front(s->q, &s->block, &seq);
		if (rc == KM_ENOENT)
			continue;
		if (rc) {
			sleep_interruptible(s, 1000);
			continue;
		}
		why[0] = '\0';
		t0 = clock_mono_ns();
		o = post(s, c, &status, why, sizeof(why));
		dt = (double)(clock_mono_ns() - t0) / 1e9;
		if (atomic_load(&s->stop) && o != SENT)
			break;
		pthread_mutex_lock(&s->lock);
		s->st.requests++;
		s->st.duration_sum_s += dt;
		if (o == SENT) {
			s->st.blocks_sent++;
			s->st.bytes_sent += s->block.len;
			s->st.last_success_s = clock_wall();
		} else {
			s->st.last_error_s = clock_wall();
			if (o == RETRY)
				s->st.retries++;
			else
				s->st.dropped_rejected++;
		}
		pthread_mutex_unlock(&s->lock);
		if (o == SENT) {
			rw_queue_pop(s->q, seq);
			backoff_reset(&s->bo);
		} else if (o == DROP) {
			rw_queue_pop(s->q, seq);
			log_limited(&s->drop_log, 60000, LOG_ERROR, "remotewrite",
				    "%s rejected a block (%zu bytes), dropped, not retried: %s", s->url,
				    s->block.len, why);
		} else {
			int64_t d = backoff_next(&s->bo);

			log_limited(&s->err_log, 60000, LOG_WARN, "remotewrite",
				    "%s: send failed, retrying in %lld ms: %s", s->url, (long long)d, why);
			sleep_interruptible(s, d);
		}
	}
	curl_easy_cleanup(c);
	return NULL;
}

static void sender_free(struct rw_sender *s)
{
	free(s->url);
	free(s->token_file);
	free(s->ca_file);
	buf_fini(&s->block);
	buf_fini(&s->resp);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct rw_sender *rw_sender_start(const struct rw_sender_opts *o, char *err, size_t errlen)
{
	struct rw_sender *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	buf_init(&s->block, 64u << 20);
	buf_init(&s->resp, RESP_KEEP);
	s->url = strdup(o->url);
	s->token_file = o->bearer_token_file && o->bearer_token_file[0] ? strdup(o->bearer_token_file) : NULL;
	s->ca_file = o->ca_file && o->ca_file[0] ? strdup(o->ca_file) : NULL;
	s->send_timeout_ms = o->send_timeout_ms;
	s->q = o->q;
	backoff_init(&s->bo, o->retry_min_ms, RETRY_MAX_MS, (uint64_t)clock_mono_ns() ^ (uintptr_t)s);
	if (!s->url || (o->bearer_token_file && o->bearer_token_file[0] && !s->token_file) ||
	    (o->ca_file && o->ca_file[0] && !s->ca_file)) {
		snprintf(err, errlen, "out of memory");
		sender_free(s);
		return NULL;
	}
	if (pthread_create(&s->thread, NULL, run, s) != 0) {
		snprintf(err, errlen, "cannot start a thread");
		sender_free(s);
		return NULL;
	}
	s->started = true;
	return s;
}

void rw_sender_stop(struct rw_sender *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	rw_queue_wake(s->q);
	pthread_join(s->thread, NULL);
	sender_free(s);
}

void rw_sender_stats(struct rw_sender *s, struct rw_sender_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	pthread_mutex_unlock(&s->lock);
}
