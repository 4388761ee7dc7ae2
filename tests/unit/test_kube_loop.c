/* The I/O loop without a server: posts run in order on the loop thread,
 * timers fire and can be cancelled, kube_loop_call waits, a failed transfer
 * reports its cause, and stop aborts what is in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/clock.h"
#include "dl/curl.h"
#include "kube/client.h"
#include "kube/loop.h"

struct ctx {
	struct kube_loop *l;
	int order[8];
	int n;
	bool on_thread;
	int fired, cancelled_fired, late_fired;
	uint64_t tid;
	long status;
	enum kube_fail fail;
	bool done;
};

static void post_a(void *arg) { struct ctx *c = arg; c->order[c->n++] = 1; c->on_thread = kube_loop_on_thread(c->l); }
static void post_b(void *arg) { struct ctx *c = arg; c->order[c->n++] = 2; }
static void timer_fn(void *arg) { ((struct ctx *)arg)->fired++; }
static void timer_bad(void *arg) { ((struct ctx *)arg)->cancelled_fired++; }
static void timer_late(void *arg) { ((struct ctx *)arg)->late_fired++; }

static void arm(void *arg)
{
	struct ctx *c = arg;

	kube_loop_timer(c->l, 50, timer_fn, c);
	c->tid = kube_loop_timer(c->l, 60, timer_bad, c);
	kube_loop_timer_cancel(c->l, c->tid);
	/* Due after the cancelled one: once it fired, the cancelled timer
	 * would have fired too. */
	kube_loop_timer(c->l, 70, timer_late, c);
}

static void read_fired(void *arg) { (void)arg; }

static void test_posts_timers(void **state)
{
	struct ctx c = { 0 };

	(void)state;
	c.l = kube_loop_new();
	assert_non_null(c.l);
	assert_int_equal(kube_loop_start(c.l), 0);
	assert_int_equal(kube_loop_post(c.l, post_a, &c), 0);
	assert_int_equal(kube_loop_post(c.l, post_b, &c), 0);
	assert_int_equal(kube_loop_call(c.l, arm, &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.order[0], 1);
	assert_int_equal(c.order[1], 2);
	assert_true(c.on_thread);
	assert_false(kube_loop_on_thread(c.l));
	/* Polled (kube_loop_call orders the reads after the loop's writes),
	 * bounded at 60 s for a loaded machine. */
	for (int64_t end = clock_mono_ms() + 60000; clock_mono_ms() < end;) {
		kube_loop_call(c.l, read_fired, &c);
		if (c.late_fired)
			break;
		usleep(10000);
	}
	assert_int_equal(c.late_fired, 1);
	assert_int_equal(c.fired, 1);
	assert_int_equal(c.cancelled_fired, 0);
	kube_loop_stop(c.l);
	assert_int_equal(kube_loop_post(c.l, post_a, &c), -11 /* KM_EAGAIN */);
	kube_loop_free(c.l);
}

static void on_resp(const struct kube_resp *r, void *arg)
{
	struct ctx *c = arg;

	c->status = r->status;
	c->fail = kube_resp_fail(r);
	c->done = true;
}

struct start_arg {
	struct kube_client *cl;
	struct ctx *c;
};

static void start_req(void *arg)
{
	struct start_arg *s = arg;
	struct kube_req_opts o = { .path = "/api/v1/pods", .resource = "pods", .verb = "LIST" };

	assert_non_null(kube_req_start(s->cl, &o, on_resp, s->c));
}

static void test_unreachable_request(void **state)
{
	struct kube_conn conn = { 0 };
	struct ctx c = { 0 };
	struct kube_client *cl;
	struct start_arg s;
	char err[256];
	struct buf out;

	(void)state;
	conn.server = (char *)"https://127.0.0.1:1";
	conn.token = (char *)"t";
	c.l = kube_loop_new();
	cl = kube_client_new(&conn, c.l, err, sizeof(err));
	assert_non_null(cl);
	assert_int_equal(kube_loop_start(c.l), 0);
	s.cl = cl;
	s.c = &c;
	kube_loop_call(c.l, start_req, &s);
	for (int i = 0; i < 100 && !c.done; i++) {
		usleep(20000);
		kube_loop_call(c.l, read_fired, &c);
	}
	assert_true(c.done);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.fail, KUBE_FAIL_UNREACHABLE);
	buf_init(&out, 1 << 16);
	assert_int_equal(kube_metrics_write(cl, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "k8smon_kube_errors_total{resource=\"pods\",cause=\"unreachable\"} 1\n"));
	assert_non_null(strstr(buf_cstr(&out), "k8smon_kube_requests_total{verb=\"LIST\",resource=\"pods\",code=\"0\"} 1\n"));
	buf_fini(&out);
	kube_loop_stop(c.l);
	kube_client_free(cl);
	kube_loop_free(c.l);
}

/* TLS failures are classified and described by cause. Under TLS 1.3 a
 * server refusing the client certificate is only seen after the handshake,
 * as a receive/send error naming the alert (libcurl 7.88 + OpenSSL 3 texts):
 * that is a TLS failure, not "API server unreachable". */
static void test_tls_failures(void **state)
{
	static const struct {
		CURLcode curl;
		const char *error;
		enum kube_fail fail;
		const char *says;
	} cases[] = {
		{ CURLE_RECV_ERROR, "OpenSSL SSL_read: OpenSSL/3.0.19: error:0A00045C:SSL routines::tlsv13 alert "
		  "certificate required, errno 0", KUBE_FAIL_TLS, "requires a client certificate" },
		{ CURLE_SSL_CLIENTCERT, "SSL Client Certificate required", KUBE_FAIL_TLS,
		  "requires a client certificate" },
		{ CURLE_RECV_ERROR, "OpenSSL SSL_read: OpenSSL/3.0.19: error:0A000418:SSL routines::tlsv1 alert "
		  "unknown ca, errno 0", KUBE_FAIL_TLS, "rejected the client certificate" },
		{ CURLE_SEND_ERROR, "OpenSSL SSL_write: error:0A000412:SSL routines::sslv3 alert bad certificate",
		  KUBE_FAIL_TLS, "rejected the client certificate" },
		{ CURLE_SSL_CONNECT_ERROR, "error:0A000410:SSL routines::sslv3 alert handshake failure",
		  KUBE_FAIL_TLS, "sent an alert" },
		{ CURLE_PEER_FAILED_VERIFICATION, "SSL: no alternative certificate subject name matches target "
		  "host name 'localhost'", KUBE_FAIL_TLS, "does not match the host name" },
		{ CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem: unable to get local issuer certificate",
		  KUBE_FAIL_TLS, "wrong CA" },
		/* A plain reset stays "unreachable". */
		{ CURLE_RECV_ERROR, "Recv failure: Connection reset by peer", KUBE_FAIL_UNREACHABLE, "unreachable" },
		{ CURLE_RECV_ERROR, "OpenSSL SSL_read: error:0A000126:SSL routines::unexpected eof while reading",
		  KUBE_FAIL_UNREACHABLE, "unreachable" },
	};
	char out[768];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kube_resp r = { .curl = cases[i].curl, .error = cases[i].error, .body = "" };

		assert_int_equal(kube_resp_fail(&r), cases[i].fail);
		kube_resp_describe(&r, out, sizeof(out));
		if (!strstr(out, cases[i].says) || !strstr(out, cases[i].error))
			fail_msg("case %zu: \"%s\" lacks \"%s\" or the transport error", i, out, cases[i].says);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_posts_timers),
		cmocka_unit_test(test_unreachable_request),
		cmocka_unit_test(test_tls_failures),
	};

	char err[256];

	if (dl_curl_load(err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
