#include "remotewrite/sender.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/token.h"
#include "dl/curl.h"
#include "dl/snappy.h"
#include "dl/zstd.h"
#include "remotewrite/rw.h"

#define RETRY_MAX_MS 60000
#define RESP_KEEP 256   /* bytes of an error response kept for the log */

struct rw_sender {
	struct rw_dest d;
	char *url;                     /* d.url with the host replaced by d.server_name, or d.url */
	char connect_to[600];          /* CURLOPT_CONNECT_TO entry for d.server_name; "" none */
	char host_hdr[300];            /* "Host: ..." of the real URL for d.server_name; "" none */
	char log_url[512];             /* redacted */
	int64_t send_timeout_ms;
	bool proto_known;              /* vm_proto decided (handshake answered or forced) */
	bool vm_proto;
	struct buf raw, zbuf;          /* snappy-decoded block, zstd re-encoded block */
	struct rw_queue *q;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	_Atomic int64_t stop_ns;       /* clock_mono_ns() of rw_sender_stop */
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

/* How long a stop waits for the answer to a block already uploaded whole. */
#define STOP_GRACE_NS (5ll * 1000000000ll)

/* A stop aborts the transfer, except that a block the receiver already has
 * whole gets up to STOP_GRACE_NS for its answer: aborted there, the receiver
 * may have stored it while the block stays queued, and it would be sent
 * again after the restart (twice in the receiver). */
static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct rw_sender *s = ctx;

	(void)dt, (void)dn;
	if (!atomic_load(&s->stop))
		return 0;
	if (ut > 0 && un >= ut && clock_mono_ns() - atomic_load(&s->stop_ns) < STOP_GRACE_NS)
		return 0;
	return 1;
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

/* Reads a one-line secret file into dst (see token_read). */
static int secret_file(const char *what, const char *path, char *dst, size_t n, char *why, size_t whylen)
{
	if (token_read(path, dst, n)) {
		snprintf(why, whylen, "cannot read %s %s (empty, unreadable or not one line)", what, path);
		return KM_EIO;
	}
	return 0;
}

/* Authorization and custom headers into *h, and basic auth on c. */
static int auth_headers(struct rw_sender *s, CURL *c, struct curl_slist **h, char *why, size_t whylen)
{
	char auth[TOKEN_MAX + 32], secret[TOKEN_MAX];
	const struct rw_dest *d = &s->d;
	bool ok = true;

	if (d->bearer_token_file || d->bearer_token) {
		if (d->bearer_token)
			snprintf(secret, sizeof(secret), "%s", d->bearer_token);
		else if (secret_file("bearer token file", d->bearer_token_file, secret, sizeof(secret), why, whylen))
			return KM_EIO;
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", secret);
		ok = header(h, auth);
	} else if (d->basic_user) {
		secret[0] = '\0';
		if (d->basic_password)
			snprintf(secret, sizeof(secret), "%s", d->basic_password);
		else if (d->basic_password_file &&
			 secret_file("basic auth password file", d->basic_password_file, secret, sizeof(secret), why, whylen))
			return KM_EIO;
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, d->basic_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, secret);
	}
	memset(secret, 0, sizeof(secret));
	memset(auth, 0, sizeof(auth));
	for (size_t off = 0; ok && off < d->headers_len; off += strlen(d->headers + off) + 1)
		ok = header(h, d->headers + off);
	if (ok && s->host_hdr[0])
		ok = header(h, s->host_hdr);
	if (!ok) {
		snprintf(why, whylen, "out of memory");
		return KM_ENOMEM;
	}
	return 0;
}

/* Snappy block -> zstd in s->zbuf. */
static int to_zstd(struct rw_sender *s, char *why, size_t whylen)
{
	size_t rawlen, zcap, zlen;

	buf_reset(&s->raw);
	if (dl_snappy.uncompressed_length(s->block.data, s->block.len, &rawlen) != SNAPPY_OK ||
	    buf_reserve(&s->raw, rawlen) ||
	    dl_snappy.uncompress(s->block.data, s->block.len, s->raw.data, &rawlen) != SNAPPY_OK) {
		snprintf(why, whylen, "cannot decode a queued block for zstd");
		return KM_EIO;
	}
	zcap = dl_zstd.compress_bound(rawlen);
	buf_reset(&s->zbuf);
	if (buf_reserve(&s->zbuf, zcap)) {
		snprintf(why, whylen, "out of memory");
		return KM_ENOMEM;
	}
	zlen = dl_zstd.compress(s->zbuf.data, zcap, s->raw.data, rawlen, 1);
	if (dl_zstd.is_error(zlen)) {
		snprintf(why, whylen, "zstd: %s", dl_zstd.error_name(zlen));
		return KM_EIO;
	}
	s->zbuf.len = zlen;
	return 0;
}

/* One POST of s->block. */
static enum outcome post(struct rw_sender *s, CURL *c, long *status, char *why, size_t whylen)
{
	struct curl_slist *h = NULL;
	enum outcome o = RETRY;
	const struct buf *body = &s->block;
	bool ok;
	CURLcode cc;

	*status = 0;
	buf_reset(&s->resp);
	if (s->vm_proto) {
		int rc = to_zstd(s, why, whylen);

		if (rc)
			return rc == KM_EIO ? DROP : RETRY;
		body = &s->zbuf;
	}
	/* "Expect:" off: libcurl would wait up to 1 s for a 100 Continue
	 * before bodies over 1 MiB, which not every receiver sends. */
	ok = header(&h, s->vm_proto ? "Content-Encoding: zstd" : "Content-Encoding: snappy") &&
	     header(&h, "Content-Type: application/x-protobuf") &&
	     header(&h, "X-Prometheus-Remote-Write-Version: 0.1.0") &&
	     header(&h, "User-Agent: k8smon/" K8SMON_VERSION) && header(&h, "Expect:");
	if (!ok) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (auth_headers(s, c, &h, why, whylen))
		goto out;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	cc = curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_PASSWORD, "");
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

/* TLS and the server-name override, shared by the POSTs and the handshake. */
static void setup_tls(struct rw_sender *s, CURL *c, struct curl_slist *connect_to)
{
	const struct rw_dest *d = &s->d;

	if (d->ca_pem) {
		struct curl_blob b = { d->ca_pem, strlen(d->ca_pem), CURL_BLOB_COPY };

		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
	} else if (d->ca_file) {
		curl_easy_setopt(c, CURLOPT_CAINFO, d->ca_file);
	}
	if (d->cert_pem) {
		struct curl_blob cb = { d->cert_pem, strlen(d->cert_pem), CURL_BLOB_COPY };
		struct curl_blob kb = { d->key_pem, strlen(d->key_pem), CURL_BLOB_COPY };

		curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (d->cert_file) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, d->cert_file);
		curl_easy_setopt(c, CURLOPT_SSLKEY, d->key_file);
	}
	if (d->insecure_skip_verify) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (connect_to)
		curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
}

static CURL *easy_new(struct rw_sender *s, const char *url, struct curl_slist *connect_to)
{
	CURL *c = curl_easy_init();
	int64_t ct = s->send_timeout_ms < 10000 ? s->send_timeout_ms : 10000;

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
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
	setup_tls(s, c, connect_to);
	return c;
}

/* vmagent's handshake: GET url?get_vm_proto_version=1; VictoriaMetrics
 * answers 200 "1" (a version >= 1), anything else speaks only the
 * Prometheus protocol. 0 when decided, KM_EAGAIN when the receiver did not
 * answer (decided at the next attempt). */
static int handshake(struct rw_sender *s, struct curl_slist *connect_to, char *why, size_t whylen)
{
	char url[2200];
	struct curl_slist *h = NULL;
	CURL *c;
	CURLcode cc;
	long status = 0;
	int rc = KM_EAGAIN;

	if (s->d.proto != RW_PROTO_AUTO || !dl_zstd_loaded()) {
		s->vm_proto = s->d.proto == RW_PROTO_VM && dl_zstd_loaded();
		s->proto_known = true;
		return 0;
	}
	snprintf(url, sizeof(url), "%s%sget_vm_proto_version=1", s->url, strchr(s->url, '?') ? "&" : "?");
	c = easy_new(s, url, connect_to);
	if (!c) {
		snprintf(why, whylen, "cannot create a libcurl handle");
		return KM_ENOMEM;
	}
	buf_reset(&s->resp);
	if (auth_headers(s, c, &h, why, whylen))
		goto out;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(why, whylen, "protocol handshake: %s", curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 429 || status >= 500) {
		snprintf(why, whylen, "protocol handshake: HTTP %ld", status);
		goto out;
	}
	s->vm_proto = status == 200 && s->resp.len && s->resp.len < 8 && buf_cstr(&s->resp)[0] >= '1' &&
		      buf_cstr(&s->resp)[0] <= '9';
	s->proto_known = true;
	log_info("remotewrite", "%s speaks the %s remote-write protocol (%s)", s->log_url,
		 s->vm_proto ? "VictoriaMetrics" : "Prometheus", s->vm_proto ? "zstd" : "snappy");
	rc = 0;
out:
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

static void *run(void *arg)
{
	struct rw_sender *s = arg;
	struct curl_slist *connect_to = NULL;
	CURL *c = NULL;
	char why[512];

	if (s->connect_to[0])
		connect_to = curl_slist_append(NULL, s->connect_to);
	if (!s->connect_to[0] || connect_to)
		c = easy_new(s, s->url, connect_to);
	if (!c) {
		log_error("remotewrite", "%s: cannot create a libcurl handle: nothing will be sent", s->log_url);
		curl_slist_free_all(connect_to);
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	while (!atomic_load(&s->stop)) {
		uint64_t seq;
		long status;
		int64_t t0;
		double dt;
		enum outcome o;
		int rc;

		if (!rw_queue_wait(s->q, 1000))
			continue;
		why[0] = '\0';
		t0 = clock_mono_ns();
		if (!s->proto_known && handshake(s, connect_to, why, sizeof(why))) {
			o = RETRY;
			seq = 0;
			goto account;
		}
		rc = rw_queue_front(s->q, &s->block, &seq);
		if (rc == KM_ENOENT)
			continue;
		if (rc) {
			sleep_interruptible(s, 1000);
			continue;
		}
		t0 = clock_mono_ns();
		o = post(s, c, &status, why, sizeof(why));
		if (o == DROP && status == 415 && s->vm_proto) {
			/* The receiver does not take zstd after all: snappy from now on. */
			log_warn("remotewrite", "%s refused zstd (HTTP 415): using the Prometheus protocol (snappy)", s->log_url);
			s->vm_proto = false;
			o = post(s, c, &status, why, sizeof(why));
		}
account:
		dt = (double)(clock_mono_ns() - t0) / 1e9;
		if (atomic_load(&s->stop) && o != SENT)
			break;
		pthread_mutex_lock(&s->lock);
		s->st.requests++;
		s->st.duration_sum_s += dt;
		s->st.vm_proto = s->vm_proto;
		if (o == SENT) {
			s->st.blocks_sent++;
			s->st.bytes_sent += s->vm_proto ? s->zbuf.len : s->block.len;
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
				    "%s rejected a block (%zu bytes), dropped, not retried: %s", s->log_url,
				    s->block.len, why);
		} else {
			int64_t d = backoff_next(&s->bo);

			log_limited(&s->err_log, 60000, LOG_WARN, "remotewrite",
				    "%s: send failed, retrying in %lld ms: %s", s->log_url, (long long)d, why);
			sleep_interruptible(s, d);
		}
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(connect_to);
	return NULL;
}

static void sender_free(struct rw_sender *s)
{
	if (s->url != s->d.url)
		free(s->url);
	rw_dest_fini(&s->d);
	buf_fini(&s->block);
	buf_fini(&s->resp);
	buf_fini(&s->raw);
	buf_fini(&s->zbuf);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* -remoteWrite.tlsServerName: libcurl verifies (and sends as SNI) the URL's
 * host name, so the URL gets the server name as its host, CONNECT_TO sends
 * the connection to the real host and port, and Host: keeps the real one. */
static int server_name_url(struct rw_sender *s)
{
	const char *u = s->d.url, *host = strstr(u, "://") + 3, *end, *hend;
	bool https = strncmp(u, "https", 5) == 0;
	size_t hlen;
	char port[8];

	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(end - host)))
		host = (const char *)memchr(host, '@', (size_t)(end - host)) + 1;
	hend = *host == '[' ? memchr(host, ']', (size_t)(end - host)) : NULL;
	hend = hend ? hend + 1 : host + strcspn(host, ":/?#");
	hlen = (size_t)(hend - host);
	if (*hend == ':')
		snprintf(port, sizeof(port), "%.*s", (int)(end - hend - 1 < 7 ? end - hend - 1 : 6), hend + 1);
	else
		snprintf(port, sizeof(port), "%s", https ? "443" : "80");
	if (strlen(s->d.server_name) > 253 || hlen > 253)
		return KM_EINVAL;
	s->url = malloc(strlen(u) + strlen(s->d.server_name) + 1);
	if (!s->url)
		return KM_ENOMEM;
	snprintf(s->url, strlen(u) + strlen(s->d.server_name) + 1, "%.*s%s%s", (int)(host - u), u,
		 s->d.server_name, hend);
	snprintf(s->connect_to, sizeof(s->connect_to), "%s:%s:%.*s:%s", s->d.server_name, port, (int)hlen, host, port);
	snprintf(s->host_hdr, sizeof(s->host_hdr), "Host: %.*s", (int)(end - host), host);
	return 0;
}

struct rw_sender *rw_sender_start(const struct rw_sender_opts *o, char *err, size_t errlen)
{
	struct rw_sender *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	buf_init(&s->block, 64u << 20);
	buf_init(&s->resp, RESP_KEEP);
	buf_init(&s->raw, 256u << 20);
	buf_init(&s->zbuf, 256u << 20);
	rc = rw_dest_copy(&s->d, o->dest);
	s->url = s->d.url;
	if (!rc && s->d.server_name)
		rc = server_name_url(s);
	if (rc) {
		snprintf(err, errlen, rc == KM_ENOMEM ? "out of memory" : "server name or host too long");
		s->url = NULL;
		sender_free(s);
		return NULL;
	}
	rw_url_redact(s->d.url, s->log_url, sizeof(s->log_url));
	s->send_timeout_ms = o->send_timeout_ms;
	s->q = o->q;
	backoff_init(&s->bo, o->retry_min_ms, RETRY_MAX_MS, (uint64_t)clock_mono_ns() ^ (uintptr_t)s);
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
	atomic_store(&s->stop_ns, clock_mono_ns());
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
