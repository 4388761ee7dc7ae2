#include "kube/client.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

struct kube_client {
	struct kube_conn conn;     /* deep copy; owned */
	struct kube_loop *loop;    /* borrowed */
	struct kube_metrics metrics;
	/* Loop-thread token cache. */
	char *token;               /* current bearer token, owned, or NULL */
	int64_t token_read_ms;     /* when token was read from the file; 0 = stale */
	struct log_limit token_log;
};

struct kube_req {
	struct kube_client *c;
	CURL *easy;
	struct curl_slist *hdrs;
	struct buf body;
	char *verb, *resource;
	kube_resp_fn done;
	kube_data_fn on_data;
	void *arg;
	int64_t t0_ns;
	long status;        /* learned at the first body byte */
	bool too_big;
	int stream_rc;
	char errbuf[CURL_ERROR_SIZE];
};

static char *dup_or_null(const char *s, size_t n, bool bin)
{
	char *d;

	if (!s)
		return NULL;
	if (!bin)
		n = strlen(s);
	d = malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static int conn_copy(struct kube_conn *d, const struct kube_conn *s)
{
	memset(d, 0, sizeof(*d));
#define CP(f) do { if (s->f && !(d->f = dup_or_null(s->f, 0, false))) goto nomem; } while (0)
#define CPB(f, l) do { if (s->f && !(d->f = dup_or_null(s->f, s->l, true))) goto nomem; d->l = s->l; } while (0)
	CP(server);
	CP(ca_file);
	CPB(ca_pem, ca_pem_len);
	CP(cert_file);
	CPB(cert_pem, cert_pem_len);
	CP(key_file);
	CPB(key_pem, key_pem_len);
	CP(token);
	CP(token_file);
	CP(tls_server_name);
	CP(namespace);
	CP(source);
#undef CP
#undef CPB
	d->insecure = s->insecure;
	d->token_ttl_ms = s->token_ttl_ms > 0 ? s->token_ttl_ms : KUBE_TOKEN_TTL_MS;
	if (!d->namespace && !(d->namespace = dup_or_null("default", 0, false)))
		goto nomem;
	return 0;
nomem:
	kube_conn_fini(d);
	return KM_ENOMEM;
}

/* Loop thread (or before the loop starts): refresh the token from its file
 * when stale. A failed re-read keeps the previous token, as client-go does:
 * a kubelet rotating the file must not cause a gap. */
static const char *token_get(struct kube_client *c)
{
	int64_t now = clock_mono_ms();
	char *t = NULL;
	size_t len = 0;
	int rc;

	if (!c->conn.token_file)
		return c->conn.token;
	if (c->token && c->token_read_ms && now - c->token_read_ms < c->conn.token_ttl_ms)
		return c->token;
	rc = kube_read_file(c->conn.token_file, KUBE_FILE_MAX, &t, &len);
	if (rc) {
		log_limited(&c->token_log, 60000, LOG_WARN, "kube",
			    "cannot re-read token file %s: %s (keeping the previous token)",
			    c->conn.token_file, km_strerror(rc));
		/* Retry on the next request rather than waiting a full TTL. */
		return c->token;
	}
	while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' '))
		t[--len] = '\0';
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	c->token = t;
	c->token_read_ms = now;
	kube_metrics_add(&c->metrics, KUBE_M_TOKEN_RELOADS, 1, NULL, NULL, NULL);
	return c->token;
}

void kube_client_token_invalidate(struct kube_client *c)
{
	c->token_read_ms = 0;
}

struct kube_client *kube_client_new(const struct kube_conn *conn, struct kube_loop *loop,
				    char *err, size_t errlen)
{
	struct kube_client *c = calloc(1, sizeof(*c));

	if (!c || conn_copy(&c->conn, conn)) {
		free(c);
		snprintf(err, errlen, "kube client: out of memory");
		return NULL;
	}
	c->loop = loop;
	kube_metrics_init(&c->metrics);
	kube_metrics_add(&c->metrics, KUBE_M_TOKEN_RELOADS, 0, NULL, NULL, NULL);
	if (c->conn.token_file && !token_get(c)) {
		snprintf(err, errlen, "%s: cannot read token file %s", c->conn.source ? c->conn.source : "kube",
			 c->conn.token_file);
		kube_client_free(c);
		return NULL;
	}
	if (c->conn.tls_server_name)
		log_warn("kube", "%s: tls-server-name is not supported and is ignored",
			 c->conn.source ? c->conn.source : "kubeconfig");
	if (c->conn.insecure)
		log_warn("kube", "%s: insecure-skip-tls-verify is set: the API server certificate is NOT verified",
			 c->conn.source ? c->conn.source : "kubeconfig");
	return c;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	kube_metrics_fini(&c->metrics);
	kube_conn_fini(&c->conn);
	free(c);
}

struct kube_loop *kube_client_loop(struct kube_client *c)
{
	return c->loop;
}

const char *kube_client_namespace(struct kube_client *c)
{
	return c->conn.namespace;
}

const char *kube_client_server(struct kube_client *c)
{
	return c->conn.server;
}

struct kube_metrics *kube_client_metrics(struct kube_client *c)
{
	return &c->metrics;
}

int kube_metrics_write(struct kube_client *c, struct buf *out)
{
	return kube_metrics_render(&c->metrics, out);
}

int kube_buf_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && rc == 0; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			rc = buf_addc(out, (char)ch);
		} else {
			char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };

			rc = buf_add(out, e, 3);
		}
	}
	return rc;
}

/* ---- failure classification ---- */

static const char *const fail_names[] = {
	[KUBE_OK] = "ok",
	[KUBE_FAIL_TLS] = "tls",
	[KUBE_FAIL_UNREACHABLE] = "unreachable",
	[KUBE_FAIL_TIMEOUT] = "timeout",
	[KUBE_FAIL_UNAUTHORIZED] = "unauthorized",
	[KUBE_FAIL_FORBIDDEN] = "forbidden",
	[KUBE_FAIL_NOTFOUND] = "notfound",
	[KUBE_FAIL_CONFLICT] = "conflict",
	[KUBE_FAIL_EXPIRED] = "expired",
	[KUBE_FAIL_THROTTLED] = "throttled",
	[KUBE_FAIL_SERVER] = "server",
	[KUBE_FAIL_OTHER] = "other",
};

const char *kube_fail_name(enum kube_fail f)
{
	return (unsigned)f < sizeof(fail_names) / sizeof(fail_names[0]) ? fail_names[f] : "other";
}

/* A TLS alert from the server. With TLS 1.3 the client considers the
 * handshake done before the server has checked the client certificate, so a
 * server refusing it (certificate_required, unknown_ca, ...) is only seen at
 * the first read or write, as CURLE_RECV_ERROR / CURLE_SEND_ERROR whose text
 * names the alert ("... SSL routines::tlsv13 alert certificate required"). */
static bool tls_alert(const struct kube_resp *r)
{
	return r->error && strstr(r->error, "SSL") && strstr(r->error, " alert ");
}

/* The alert or the curl code says the server wants a client certificate. */
static bool tls_cert_required(const struct kube_resp *r)
{
	return r->curl == CURLE_SSL_CLIENTCERT ||
	       (tls_alert(r) && strstr(r->error, "alert certificate required"));
}

enum kube_fail kube_resp_fail(const struct kube_resp *r)
{
	if (r->curl != CURLE_OK && r->status == 0) {
		switch (r->curl) {
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_CLIENTCERT:
			return KUBE_FAIL_TLS;
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
			return tls_alert(r) ? KUBE_FAIL_TLS : KUBE_FAIL_UNREACHABLE;
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_GOT_NOTHING:
			return KUBE_FAIL_UNREACHABLE;
		case CURLE_OPERATION_TIMEDOUT:
			return KUBE_FAIL_TIMEOUT;
		default:
			return KUBE_FAIL_OTHER;
		}
	}
	if (r->status >= 200 && r->status < 300)
		return r->curl == CURLE_OK || r->stream_rc ? KUBE_OK :
		       (r->curl == CURLE_OPERATION_TIMEDOUT ? KUBE_FAIL_TIMEOUT : KUBE_FAIL_UNREACHABLE);
	switch (r->status) {
	case 401: return KUBE_FAIL_UNAUTHORIZED;
	case 403: return KUBE_FAIL_FORBIDDEN;
	case 404: return KUBE_FAIL_NOTFOUND;
	case 409: return KUBE_FAIL_CONFLICT;
	case 410: return KUBE_FAIL_EXPIRED;
	case 429: return KUBE_FAIL_THROTTLED;
	default: return r->status >= 500 ? KUBE_FAIL_SERVER : KUBE_FAIL_OTHER;
	}
}

void kube_resp_describe(const struct kube_resp *r, char *out, size_t n)
{
	enum kube_fail f = kube_resp_fail(r);
	const char *msg = "";
	json_t *st = NULL;

	if (r->body_len && r->status >= 300) {
		st = json_loadb(r->body, r->body_len, 0, NULL);
		if (json_is_string(json_object_get(st, "message")))
			msg = json_string_value(json_object_get(st, "message"));
	}
	switch (f) {
	case KUBE_FAIL_TLS:
		if (tls_cert_required(r))
			snprintf(out, n, "TLS handshake failed: the API server requires a client certificate "
				 "(kubeconfig client-certificate/client-key): %s", r->error);
		/* An alert naming a certificate or "unknown ca" is about ours: the
		 * server's certificate is verified here, not by the server. */
		else if (tls_alert(r) && (strstr(r->error, "certificate") || strstr(r->error, "unknown ca")))
			snprintf(out, n, "TLS handshake failed: the API server rejected the client certificate: %s",
				 r->error);
		else if (tls_alert(r))
			snprintf(out, n, "TLS handshake failed: the API server sent an alert: %s", r->error);
		else if (r->curl == CURLE_PEER_FAILED_VERIFICATION && r->error &&
			 (strstr(r->error, "host name") || strstr(r->error, "hostname")))
			snprintf(out, n, "TLS verification failed: the API server certificate does not match the host "
				 "name of the kubeconfig server URL: %s", r->error);
		else
			snprintf(out, n, "TLS verification failed (wrong CA or server name?): %s", r->error);
		break;
	case KUBE_FAIL_UNREACHABLE:
		snprintf(out, n, "API server unreachable: %s", r->error);
		break;
	case KUBE_FAIL_TIMEOUT:
		snprintf(out, n, "timed out: %s", r->error);
		break;
	case KUBE_FAIL_UNAUTHORIZED:
		snprintf(out, n, "401 Unauthorized: token or client certificate rejected%s%s",
			 *msg ? ": " : "", msg);
		break;
	case KUBE_FAIL_FORBIDDEN:
		snprintf(out, n, "403 Forbidden (check RBAC)%s%s", *msg ? ": " : "", msg);
		break;
	case KUBE_OK:
		snprintf(out, n, "HTTP %ld", r->status);
		break;
	default:
		if (r->status)
			snprintf(out, n, "HTTP %ld%s%s", r->status, *msg ? ": " : "", msg);
		else
			snprintf(out, n, "transfer failed: %s", r->error);
		break;
	}
	json_decref(st);
}

/* ---- requests ---- */

static size_t on_write(char *p, size_t sz, size_t nm, void *arg)
{
	struct kube_req *r = arg;
	size_t n = sz * nm;

	if (!r->status)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->on_data && r->status >= 200 && r->status < 300) {
		int rc = r->on_data(p, n, r->arg);

		if (rc) {
			r->stream_rc = rc;
			return 0; /* aborts with CURLE_WRITE_ERROR */
		}
		return n;
	}
	if (buf_add(&r->body, p, n) != 0) {
		r->too_big = true;
		return 0;
	}
	return n;
}

static void req_free(struct kube_req *r)
{
	if (!r)
		return;
	if (r->easy)
		curl_easy_cleanup(r->easy);
	/* The list holds a copy of the Authorization header. */
	for (struct curl_slist *h = r->hdrs; h; h = h->next)
		if (strncmp(h->data, "Authorization:", 14) == 0)
			explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(r->hdrs);
	buf_fini(&r->body);
	free(r->verb);
	free(r->resource);
	free(r);
}

static void on_done(CURL *easy, CURLcode res, void *arg)
{
	struct kube_req *r = arg;
	struct kube_client *c = r->c;
	struct kube_resp resp = { 0 };
	curl_off_t ra = -1;
	char code[16];
	enum kube_fail f;
	double secs = (double)(clock_mono_ns() - r->t0_ns) / 1e9;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp.status);
	resp.curl = res;
	resp.error = r->errbuf[0] ? r->errbuf : (res ? curl_easy_strerror(res) : "");
	resp.body = buf_cstr(&r->body);
	resp.body_len = r->body.len;
	resp.too_big = r->too_big;
	resp.stream_rc = r->stream_rc;
	resp.retry_after_ms = -1;
	if ((resp.status == 429 || resp.status == 503) &&
	    curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		resp.retry_after_ms = (int64_t)ra * 1000;
	snprintf(code, sizeof(code), "%ld", resp.status);
	kube_metrics_add(&c->metrics, KUBE_M_REQUESTS, 1, r->verb, r->resource, code);
	if (strcmp(r->verb, "WATCH") != 0)
		kube_metrics_observe(&c->metrics, r->verb, secs);
	f = kube_resp_fail(&resp);
	if (f == KUBE_FAIL_UNAUTHORIZED)
		kube_client_token_invalidate(c); /* maybe rotated: re-read now */
	if (f != KUBE_OK && res != CURLE_ABORTED_BY_CALLBACK)
		kube_metrics_add(&c->metrics, KUBE_M_ERRORS, 1, r->resource, kube_fail_name(f), NULL);
	r->done(&resp, r->arg);
	req_free(r);
}

struct kube_req *kube_req_start(struct kube_client *c, const struct kube_req_opts *o,
				kube_resp_fn done, void *arg)
{
	struct kube_req *r = calloc(1, sizeof(*r));
	const char *method = o->method ? o->method : "GET";
	const char *tok;
	struct buf url, hdr;
	bool ok = false;

	buf_init(&url, 16384);
	buf_init(&hdr, 16384);
	if (!r)
		goto out;
	r->c = c;
	r->done = done;
	r->arg = arg;
	r->on_data = o->on_data;
	buf_init(&r->body, o->max_bytes ? o->max_bytes : KUBE_BODY_MAX);
	r->verb = strdup(o->verb ? o->verb : method);
	r->resource = strdup(o->resource ? o->resource : "other");
	r->easy = curl_easy_init();
	if (!r->verb || !r->resource || !r->easy)
		goto out;
	if (buf_printf(&url, "%s%s", c->conn.server, o->path))
		goto out;
	curl_easy_setopt(r->easy, CURLOPT_URL, buf_cstr(&url));
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, "");
	/* Names us in the API server's audit log and request logs, as
	 * client-go's User-Agent does (libcurl sends none by default). */
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "k8smon/" K8SMON_VERSION);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "https,http");
	if (o->timeout_ms)
		curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	if (o->low_speed_s) {
		curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, o->low_speed_s);
	}
	/* TLS: verification is on unless the kubeconfig explicitly said
	 * insecure-skip-tls-verify. */
	curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, c->conn.insecure ? 0L : 1L);
	curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, c->conn.insecure ? 0L : 2L);
	if (c->conn.ca_pem) {
		struct curl_blob b = { c->conn.ca_pem, c->conn.ca_pem_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(r->easy, CURLOPT_CAINFO_BLOB, &b);
	} else if (c->conn.ca_file) {
		curl_easy_setopt(r->easy, CURLOPT_CAINFO, c->conn.ca_file);
	}
	if (c->conn.cert_pem) {
		struct curl_blob b = { c->conn.cert_pem, c->conn.cert_pem_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(r->easy, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(r->easy, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (c->conn.cert_file) {
		curl_easy_setopt(r->easy, CURLOPT_SSLCERT, c->conn.cert_file);
	}
	if (c->conn.key_pem) {
		struct curl_blob b = { c->conn.key_pem, c->conn.key_pem_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(r->easy, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(r->easy, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (c->conn.key_file) {
		curl_easy_setopt(r->easy, CURLOPT_SSLKEY, c->conn.key_file);
	}
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
	if (o->body) {
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)o->body_len);
		curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, o->body);
	}
	r->hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (!r->hdrs)
		goto out;
	if (o->body) {
		if (buf_printf(&hdr, "Content-Type: %s",
			       o->content_type ? o->content_type : "application/json"))
			goto out;
		if (!curl_slist_append(r->hdrs, buf_cstr(&hdr)))
			goto out;
		buf_reset(&hdr);
	}
	tok = token_get(c);
	if (tok && *tok) {
		struct curl_slist *s;

		if (buf_printf(&hdr, "Authorization: Bearer %s", tok))
			goto out;
		s = curl_slist_append(r->hdrs, buf_cstr(&hdr));
		explicit_bzero(hdr.data, hdr.len);
		if (!s)
			goto out;
	}
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
	r->t0_ns = clock_mono_ns();
	if (kube_loop_add_easy(c->loop, r->easy, on_done, r))
		goto out;
	ok = true;
out:
	buf_fini(&url);
	buf_fini(&hdr);
	if (!ok) {
		req_free(r);
		return NULL;
	}
	return r;
}

void kube_req_cancel(struct kube_req *r)
{
	if (!r)
		return;
	kube_loop_remove_easy(r->c->loop, r->easy);
	req_free(r);
}
