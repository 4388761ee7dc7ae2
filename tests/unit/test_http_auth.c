/* Protected endpoints: Authorization header parsing, the bounded TTL cache of
 * review decisions, the authenticator without an API (401 / 503, counted),
 * the review outcomes against a loopback API that answers TokenReview and
 * SubjectAccessReview (unauthenticated -> 401, denied -> 403, allowed),
 * TLS pair validation, and the -http.auth flag. The full round trip through
 * the HTTP server is tested against the fake API server in
 * tests/integration/test_http_auth.sh and the real one in
 * test_real_apiserver.sh. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "config/flags.h"
#include "dl/curl.h"
#include "http/auth.h"
#include "http/tls.h"
#include "kube/client.h"
#include "kube/conn.h"
#include "kube/loop.h"

static void test_parse_bearer(void **state)
{
	const char *tok = NULL;
	size_t len = 0;
	char big[HTTP_AUTH_TOKEN_MAX + 16];

	(void)state;
	assert_int_equal(http_auth_parse_bearer("Bearer abc.def-ghi_~+/=", &tok, &len), 0);
	assert_int_equal(len, strlen("abc.def-ghi_~+/="));
	assert_memory_equal(tok, "abc.def-ghi_~+/=", len);
	/* Scheme is case-insensitive; extra spaces around the token are fine. */
	assert_int_equal(http_auth_parse_bearer("bearer   t0k  ", &tok, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(tok, "t0k", 3);
	assert_int_equal(http_auth_parse_bearer("BEARER\tx", &tok, &len), 0);
	assert_int_equal(len, 1);
	/* Absent vs malformed. */
	assert_int_equal(http_auth_parse_bearer(NULL, &tok, &len), KM_ENOENT);
	assert_int_equal(http_auth_parse_bearer("", &tok, &len), KM_ENOENT);
	assert_int_equal(http_auth_parse_bearer("   ", &tok, &len), KM_ENOENT);
	assert_int_equal(http_auth_parse_bearer("Basic dXNlcjpwYXNz", &tok, &len), KM_EINVAL);
	assert_int_equal(http_auth_parse_bearer("Bearer", &tok, &len), KM_EINVAL);
	assert_int_equal(http_auth_parse_bearer("Bearer ", &tok, &len), KM_EINVAL);
	assert_int_equal(http_auth_parse_bearer("Bearerabc", &tok, &len), KM_EINVAL);
	assert_int_equal(http_auth_parse_bearer("Bearer a b", &tok, &len), KM_EINVAL);
	assert_int_equal(http_auth_parse_bearer("Bearer a\x01", &tok, &len), KM_EINVAL);
	assert_int_equal(http_auth_parse_bearer("Bearer \xc3\xa9", &tok, &len), KM_EINVAL);
	/* Size cap. */
	memcpy(big, "Bearer ", 7);
	memset(big + 7, 'a', HTTP_AUTH_TOKEN_MAX + 1);
	big[7 + HTTP_AUTH_TOKEN_MAX + 1] = '\0';
	assert_int_equal(http_auth_parse_bearer(big, &tok, &len), KM_ETOOBIG);
	big[7 + HTTP_AUTH_TOKEN_MAX] = '\0';
	assert_int_equal(http_auth_parse_bearer(big, &tok, &len), 0);
	assert_int_equal(len, HTTP_AUTH_TOKEN_MAX);
}

static void test_cache_key(void **state)
{
	uint8_t s1[16] = { 1 }, s2[16] = { 2 };
	uint8_t a[HTTP_AUTH_KEY_LEN], b[HTTP_AUTH_KEY_LEN];

	(void)state;
	auth_cache_key(s1, "tok", 3, "/metrics", a);
	auth_cache_key(s1, "tok", 3, "/metrics", b);
	assert_memory_equal(a, b, sizeof(a));
	/* Token, path and salt all matter; "to"+"k/metrics" is not "tok"+"/metrics". */
	auth_cache_key(s1, "tok2", 4, "/metrics", b);
	assert_memory_not_equal(a, b, sizeof(a));
	auth_cache_key(s1, "tok", 3, "/metrics/node", b);
	assert_memory_not_equal(a, b, sizeof(a));
	auth_cache_key(s2, "tok", 3, "/metrics", b);
	assert_memory_not_equal(a, b, sizeof(a));
	auth_cache_key(s1, "to", 2, "k/metrics", b);
	assert_memory_not_equal(a, b, sizeof(a));
	/* The key is a digest: the token's bytes do not appear in it. */
	assert_null(memmem(a, sizeof(a), "tok", 3));
}

static void key_of(int i, uint8_t key[HTTP_AUTH_KEY_LEN])
{
	uint8_t salt[16] = { 7 };
	char tok[32];

	snprintf(tok, sizeof(tok), "token-%d", i);
	auth_cache_key(salt, tok, strlen(tok), "/metrics", key);
}

static void test_cache_ttl(void **state)
{
	struct auth_cache *c = auth_cache_new(64);
	uint8_t k1[HTTP_AUTH_KEY_LEN], k2[HTTP_AUTH_KEY_LEN];
	enum http_auth_result r;

	(void)state;
	assert_non_null(c);
	key_of(1, k1);
	key_of(2, k2);
	assert_false(auth_cache_get(c, k1, 1000, &r));
	auth_cache_put(c, k1, HTTP_AUTH_ALLOWED, 61000);
	auth_cache_put(c, k2, HTTP_AUTH_FORBIDDEN, 11000);
	assert_true(auth_cache_get(c, k1, 1000, &r));
	assert_int_equal(r, HTTP_AUTH_ALLOWED);
	assert_true(auth_cache_get(c, k2, 1000, &r));
	assert_int_equal(r, HTTP_AUTH_FORBIDDEN);
	assert_int_equal(auth_cache_count(c, 1000), 2);
	/* The negative answer expires first. */
	assert_false(auth_cache_get(c, k2, 11000, &r));
	assert_true(auth_cache_get(c, k1, 11000, &r));
	assert_int_equal(auth_cache_count(c, 11000), 1);
	assert_false(auth_cache_get(c, k1, 61000, &r));
	/* Re-putting a key replaces its entry (no duplicate). */
	auth_cache_put(c, k1, HTTP_AUTH_UNAUTHENTICATED, 70000);
	auth_cache_put(c, k1, HTTP_AUTH_ALLOWED, 80000);
	assert_true(auth_cache_get(c, k1, 75000, &r));
	assert_int_equal(r, HTTP_AUTH_ALLOWED);
	assert_int_equal(auth_cache_count(c, 75000), 1);
	/* A zero key (digest failure) is never stored nor found. */
	memset(k2, 0, sizeof(k2));
	auth_cache_put(c, k2, HTTP_AUTH_ALLOWED, 90000);
	assert_false(auth_cache_get(c, k2, 75000, &r));
	auth_cache_free(c);
}

static void test_bucket(void **state)
{
	struct auth_bucket b;
	int n = 0;

	(void)state;
	/* Burst 5 at 2/s: 5 at once, then one per 500 ms, never above 5. */
	auth_bucket_init(&b, 5, 2.0, 1000);
	/* Bounded loops: a bucket that never empties fails, not hangs. */
	while (n < 100 && auth_bucket_take(&b, 1000))
		n++;
	assert_int_equal(n, 5);
	assert_false(auth_bucket_take(&b, 1499));
	assert_true(auth_bucket_take(&b, 1500));
	assert_false(auth_bucket_take(&b, 1500));
	/* A long idle time refills to the burst only. */
	n = 0;
	while (n < 100 && auth_bucket_take(&b, 100000))
		n++;
	assert_int_equal(n, 5);
	/* Time going backwards takes nothing extra. */
	assert_false(auth_bucket_take(&b, 50000));
}

static void test_cache_bounded(void **state)
{
	struct auth_cache *c = auth_cache_new(32);
	uint8_t k[HTTP_AUTH_KEY_LEN];
	enum http_auth_result r;
	int found = 0;

	(void)state;
	assert_non_null(c);
	/* 10000 distinct tokens through a 32-entry cache: never more than 32
	 * live entries, and the latest insert is always findable. */
	for (int i = 0; i < 10000; i++) {
		key_of(i, k);
		auth_cache_put(c, k, HTTP_AUTH_ALLOWED, 100000 + i);
		assert_true(auth_cache_get(c, k, 0, &r));
	}
	assert_true(auth_cache_count(c, 0) <= 32);
	for (int i = 0; i < 10000; i++) {
		key_of(i, k);
		found += auth_cache_get(c, k, 0, &r);
	}
	assert_int_equal(found, (int)auth_cache_count(c, 0));
	/* Eviction prefers the entry expiring first: the oldest inserts went. */
	key_of(0, k);
	assert_false(auth_cache_get(c, k, 0, &r));
	auth_cache_free(c);
}

static void test_check_without_api(void **state)
{
	struct http_auth *a = http_auth_new(&(struct http_auth_opts){ .timeout_ms = 100 });
	struct buf out;

	(void)state;
	assert_non_null(a);
	/* No or malformed header: 401 without asking anyone. */
	assert_int_equal(http_auth_check(a, NULL, "/metrics"), HTTP_AUTH_UNAUTHENTICATED);
	assert_int_equal(http_auth_check(a, "Basic Zm9v", "/metrics"), HTTP_AUTH_UNAUTHENTICATED);
	/* A token but no API attached (still starting): error -> 503, not cached. */
	assert_int_equal(http_auth_check(a, "Bearer abc", "/metrics"), HTTP_AUTH_ERROR);
	assert_int_equal(http_auth_check(a, "Bearer abc", "/metrics"), HTTP_AUTH_ERROR);
	buf_init(&out, 1 << 16);
	assert_int_equal(http_auth_write_metrics(a, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "k8smon_http_auth_total{result=\"unauthenticated\"} 2\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_http_auth_total{result=\"error\"} 2\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_http_auth_total{result=\"allowed\"} 0\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_http_auth_cache_requests_total{result=\"miss\"} 2\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_http_auth_cache_entries 0\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_http_auth_total{result=\"rate_limited\"} 0\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_http_auth_token_reviews_total 0\n"));
	/* The token never shows up in metrics. */
	assert_null(strstr(buf_cstr(&out), "abc"));
	buf_fini(&out);
	assert_string_equal(http_auth_result_name(HTTP_AUTH_FORBIDDEN), "forbidden");
	assert_string_equal(http_auth_result_name(HTTP_AUTH_RATE_LIMITED), "rate_limited");
	http_auth_free(a);
}

/* A temp dir with two self-signed pairs made by the openssl CLI. */
static int make_pairs(char *dir, size_t n)
{
	char cmd[1024];

	snprintf(dir, n, "/tmp/k8smon-tls-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "cd %s && for i in 1 2; do openssl req -x509 -newkey rsa:2048 -nodes -keyout k$i.pem "
		 "-out c$i.pem -days 1 -subj /CN=localhost >/dev/null 2>&1 || exit 1; done && "
		 "echo garbage >bad.pem",
		 dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_tls_pair(void **state)
{
	char dir[64], c1[128], k1[128], k2[128], bad[128], nope[128], err[512], cmd[256];
	struct tls_pair p;
	struct tls_file_id id;

	(void)state;
	if (make_pairs(dir, sizeof(dir))) {
		skip();
		return;
	}
	snprintf(c1, sizeof(c1), "%s/c1.pem", dir);
	snprintf(k1, sizeof(k1), "%s/k1.pem", dir);
	snprintf(k2, sizeof(k2), "%s/k2.pem", dir);
	snprintf(bad, sizeof(bad), "%s/bad.pem", dir);
	snprintf(nope, sizeof(nope), "%s/nope.pem", dir);
	memset(&p, 0, sizeof(p));
	assert_int_equal(tls_pair_load(&p, c1, k1, err, sizeof(err)), 0);
	assert_non_null(strstr(p.cert_pem, "BEGIN CERTIFICATE"));
	assert_true(p.not_after > 1700000000);
	assert_int_equal(tls_file_id_get(c1, &id), 0);
	assert_true(tls_file_id_equal(&id, &p.cert_id));
	tls_pair_fini(&p);
	assert_null(p.key_pem);
	/* Each failure names the flag and the file. */
	assert_int_equal(tls_pair_load(&p, c1, k2, err, sizeof(err)), KM_EINVAL);
	assert_non_null(strstr(err, "-tlsKeyFile="));
	assert_non_null(strstr(err, "does not match"));
	assert_null(p.cert_pem);
	assert_int_equal(tls_pair_load(&p, bad, k1, err, sizeof(err)), KM_EINVAL);
	assert_non_null(strstr(err, "-tlsCertFile="));
	assert_int_equal(tls_pair_load(&p, c1, bad, err, sizeof(err)), KM_EINVAL);
	assert_non_null(strstr(err, "-tlsKeyFile="));
	assert_int_equal(tls_pair_load(&p, c1, nope, err, sizeof(err)), KM_ENOENT);
	assert_non_null(strstr(err, nope));
	assert_int_equal(tls_file_id_get(nope, &id), KM_ENOENT);
	if (tls_supported())
		assert_int_equal(tls_check_files(c1, k1, err, sizeof(err)), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static enum flags_result parse(struct flags *f, char *err, size_t errlen, int argc, char **argv)
{
	FILE *devnull = fopen("/dev/null", "w");
	enum flags_result r;

	memset(f, 0, sizeof(*f));
	r = flags_parse(f, argc, argv, devnull, err, errlen);
	fclose(devnull);
	return r;
}

static void test_auth_flag(void **state)
{
	struct flags f;
	char err[256];
	char *def[] = { "k8smon" };
	char *kube[] = { "k8smon", "-promscrape.kubernetes", "-http.auth=kubernetes" };
	char *host[] = { "k8smon", "-http.auth=kubernetes" };
	char *bogus[] = { "k8smon", "--http.auth=basic" };

	(void)state;
	assert_int_equal(parse(&f, err, sizeof(err), 1, def), FLAGS_RUN);
	assert_string_equal(f.http_auth, "none");
	flags_fini(&f);
	assert_int_equal(parse(&f, err, sizeof(err), 3, kube), FLAGS_RUN);
	assert_string_equal(f.http_auth, "kubernetes");
	flags_fini(&f);
	assert_int_equal(parse(&f, err, sizeof(err), 2, host), FLAGS_EXIT_USAGE);
	assert_non_null(strstr(err, "-http.auth"));
	flags_fini(&f);
	assert_int_equal(parse(&f, err, sizeof(err), 2, bogus), FLAGS_EXIT_USAGE);
	assert_non_null(strstr(err, "-http.auth"));
	flags_fini(&f);
}

/* A loopback API server for the reviews: a TokenReview of token "good" or
 * "denied" authenticates (as alice / as mallory), any other token does not;
 * a SubjectAccessReview allows alice and denies everyone else. One request
 * per connection. */
struct api {
	int lfd;
	int port;
	int stop[2];
	pthread_t th;
};

static void api_serve(int fd)
{
	char req[16384], head[256];
	const char *body;
	size_t got = 0;
	int hl;

	/* The whole request: headers and the JSON body (small, one read or a few). */
	while (got < sizeof(req) - 1) {
		ssize_t r = read(fd, req + got, sizeof(req) - 1 - got);
		char *eoh, *cl;
		if (r <= 0)
			return;
		got += (size_t)r;
		req[got] = 0;
		if (!(eoh = strstr(req, "\r\n\r\n")))
			continue;
		cl = strcasestr(req, "content-length:");
		if (!cl || strtoul(cl + 15, NULL, 10) <= got - (size_t)(eoh + 4 - req))
			break;
	}
	if (strstr(req, "/tokenreviews"))
		body = strstr(req, "\"token\":\"good\"")
			       ? "{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":true,\"user\":{\"username\":\"alice\"}}}"
		       : strstr(req, "\"token\":\"denied\"")
			       ? "{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":true,\"user\":{\"username\":\"mallory\"}}}"
			       : "{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":false,\"error\":\"invalid bearer token\"}}";
	else
		body = strstr(req, "\"user\":\"alice\"")
			       ? "{\"kind\":\"SubjectAccessReview\",\"status\":{\"allowed\":true}}"
			       : "{\"kind\":\"SubjectAccessReview\",\"status\":{\"allowed\":false}}";
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		      "Connection: close\r\n\r\n", strlen(body));
	if (send(fd, head, (size_t)hl, MSG_NOSIGNAL) == hl)
		(void)send(fd, body, strlen(body), MSG_NOSIGNAL);
}

static void *api_main(void *arg)
{
	struct api *s = arg;
	struct pollfd p[2] = { { .fd = s->lfd, .events = POLLIN }, { .fd = s->stop[0], .events = POLLIN } };

	for (;;) {
		int fd;
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents)
			return NULL;
		if ((fd = accept(s->lfd, NULL, NULL)) < 0)
			continue;
		api_serve(fd);
		close(fd);
	}
}

static void api_start(struct api *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	assert_int_equal(pipe(s->stop), 0);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, api_main, s), 0);
}

static void api_stop(struct api *s)
{
	assert_int_equal(write(s->stop[1], "x", 1), 1);
	pthread_join(s->th, NULL);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
}

static void test_review_outcomes(void **state)
{
	struct http_auth *a = http_auth_new(&(struct http_auth_opts){ .timeout_ms = 60000 });
	struct kube_conn conn = { 0 };
	struct kube_loop *loop;
	struct kube_client *client;
	char server[64], err[256];
	struct api api;
	struct buf out;

	(void)state;
	if (dl_curl_load(err, sizeof(err)) != 0)
		fail_msg("%s", err);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = kube_loop_new();
	api_start(&api);
	snprintf(server, sizeof(server), "http://127.0.0.1:%d", api.port);
	conn.server = server;
	conn.token = (char *)"agent-token";
	assert_non_null(a);
	assert_non_null(loop);
	client = kube_client_new(&conn, loop, err, sizeof(err));
	assert_non_null(client);
	assert_int_equal(kube_loop_start(loop), 0);
	http_auth_set_client(a, client);

	/* TokenReview authenticated:false is "unauthenticated" (the server's 401
	 * with the Bearer challenge), not "forbidden" (403): the client must
	 * get a new token, not a new role. */
	assert_int_equal(http_auth_check(a, "Bearer made-up", "/metrics"), HTTP_AUTH_UNAUTHENTICATED);
	/* ... remembered for the token whatever the path: no second review. */
	assert_int_equal(http_auth_check(a, "Bearer made-up", "/metrics/kube-state"), HTTP_AUTH_UNAUTHENTICATED);
	/* Authenticated, SubjectAccessReview denied: forbidden (403). */
	assert_int_equal(http_auth_check(a, "Bearer denied", "/metrics"), HTTP_AUTH_FORBIDDEN);
	/* Authenticated and allowed. */
	assert_int_equal(http_auth_check(a, "Bearer good", "/metrics"), HTTP_AUTH_ALLOWED);
	buf_init(&out, 1 << 16);
	assert_int_equal(http_auth_write_metrics(a, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "k8smon_http_auth_total{result=\"unauthenticated\"} 2\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_http_auth_total{result=\"forbidden\"} 1\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_http_auth_total{result=\"allowed\"} 1\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_http_auth_token_reviews_total 3\n"));
	buf_fini(&out);

	http_auth_close(a);
	kube_loop_stop(loop);
	http_auth_free(a);
	kube_client_free(client);
	kube_loop_free(loop);
	api_stop(&api);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_bearer),
		cmocka_unit_test(test_cache_key),
		cmocka_unit_test(test_cache_ttl),
		cmocka_unit_test(test_cache_bounded),
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_check_without_api),
		cmocka_unit_test(test_review_outcomes),
		cmocka_unit_test(test_tls_pair),
		cmocka_unit_test(test_auth_flag),
	};
	return cmocka_run_group_tests_name("http_auth", tests, NULL, NULL);
}
